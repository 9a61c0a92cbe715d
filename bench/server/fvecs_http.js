#!/usr/bin/env node
// Feeds a vecscale server from an .fvecs file (Node.js, no packages).
//   node fvecs_http.js load URL FILE [BATCH]   POST URL/vectors in batches, IDs = row numbers
//   node fvecs_http.js bodies FILE OUT [K]      one /search body per line, for wrk
"use strict";
const fs = require("fs");
const http = require("http");

function readFvecs(path) {
  const buf = fs.readFileSync(path);
  const dim = buf.readInt32LE(0);
  const row = 4 + 4 * dim;
  const n = buf.length / row;
  if (!Number.isInteger(n)) throw new Error(path + ": not an .fvecs file");
  return { n, dim, vec: (i) => {
    const out = new Array(dim);
    for (let j = 0; j < dim; j++) out[j] = +buf.readFloatLE(i * row + 4 + 4 * j).toPrecision(8);
    return out;
  } };
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body) } }, (res) => {
      let data = "";
      res.on("data", (c) => (data += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(data) : reject(new Error(res.statusCode + " " + data))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function main() {
  const [cmd, a, b, c] = process.argv.slice(2);
  if (cmd === "load") {
    const f = readFvecs(b);
    const batch = Number(c || 10000);
    const t0 = Date.now();
    for (let i = 0; i < f.n; i += batch) {
      const m = Math.min(batch, f.n - i);
      const vectors = [], ids = [];
      for (let r = 0; r < m; r++) { vectors.push(f.vec(i + r)); ids.push(i + r); }
      const reply = JSON.parse(await post(a + "/vectors", JSON.stringify({ vectors, ids })));
      process.stderr.write(`\rloaded ${reply.total} / ${f.n} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    process.stderr.write("\n");
  } else if (cmd === "bodies") {
    const f = readFvecs(a);
    const k = Number(c || 10);
    const lines = [];
    for (let i = 0; i < f.n; i++) lines.push(JSON.stringify({ vector: f.vec(i), k }));
    fs.writeFileSync(b, lines.join("\n") + "\n");
  } else {
    console.error("usage: fvecs_http.js load URL FILE [BATCH] | bodies FILE OUT [K]");
    process.exit(2);
  }
}
main().catch((e) => { console.error(e.message); process.exit(1); });
