"""The Python package and `vecscale search` answer the same ids on the same saved GloVe-100 indexes
(issue 13): Flat, IVF1024,PQ50x4fs,RFlat and HNSW16, 1,000 queries, k 10.

  bench/python/cli_parity.py DATA_DIR WORK_DIR [HNSW_INDEX]
DATA_DIR holds bench/datasets.sh glove-100's base.fvecs and queries.fvecs; the Flat and IVF-PQ
indexes are built into WORK_DIR with build/vecscale; HNSW_INDEX (optional) is a saved HNSW16
index (bench/python/overhead.py keeps one in bench/data/idx/). Run with PYTHONPATH=python."""
import json
import os
import subprocess
import sys

import numpy as np

import vecscale

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VS = os.environ.get("VECSCALE", os.path.join(ROOT, "build", "vecscale"))


def fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:].view(np.float32)


def main():
    data, work = sys.argv[1], sys.argv[2]
    cases = [("Flat", os.path.join(work, "flat"), {}, []),
             ("IVF1024,PQ50x4fs,RFlat", os.path.join(work, "ivfpq"), {"nprobe": 32, "k_factor": 4},
              ["--nprobe", "32", "--k-factor", "4"])]
    if len(sys.argv) > 3:
        cases.append(("HNSW16", sys.argv[3], {"ef": 64}, ["--ef", "64"]))
    q = np.ascontiguousarray(fvecs(os.path.join(data, "queries.fvecs"))[:1000])
    bad = 0
    for factory, where, kw, flags in cases:
        if factory != "HNSW16" and not os.path.exists(os.path.join(where, "index.vsi")):
            subprocess.run([VS, "build", "--input", os.path.join(data, "base.fvecs"), "--output", where,
                            "--index", factory, "--metric", "cosine"], check=True, capture_output=True)
        out = subprocess.run([VS, "search", "--index", where, "--queries", os.path.join(data, "queries.fvecs"),
                              "-k", "10", "--max-queries", "1000", "--json"] + flags,
                             check=True, capture_output=True, text=True).stdout
        cli = json.loads(out)["results"]
        ix = vecscale.Index.load(where if where.endswith(".vsi") else os.path.join(where, "index.vsi"))
        scores, ids = ix.search(q, 10, **kw)
        cli_ids = np.array([r["ids"] for r in cli])
        same = int((cli_ids == ids).all(axis=1).sum())
        diff = float(np.abs(np.array([r["scores"] for r in cli]) - scores).max())
        print("%-24s %d/%d queries with identical id lists, max |score difference| %.1e" % (factory, same, len(cli), diff))
        bad += same != len(cli)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
