"""Compares index types on embedded vectors: build time, queries/s, recall@10.

    python3 benchmark.py vectors.npz [--factory Flat HNSW32 IVF64,Flat]

(The seed's benchmark script, without FAISS: bench/python/ has the full comparison.)
"""
import argparse
import time

import numpy as np

import vecscale


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vectors")
    ap.add_argument("--factory", nargs="+", default=["Flat", "HNSW32", "IVF64,Flat"])
    ap.add_argument("--queries", type=int, default=500)
    args = ap.parse_args()
    x = np.load(args.vectors)["vectors"]
    q = x[:: max(1, len(x) // args.queries)][: args.queries] + 0.01
    exact = vecscale.Index(x.shape[1], "Flat", "cosine")
    exact.add(x)
    _, gt = exact.search(q, 10)

    print("%-14s %8s %10s %9s" % ("index", "build_s", "queries/s", "recall@10"))
    for factory in args.factory:
        t0 = time.perf_counter()
        index = vecscale.Index(x.shape[1], factory, "cosine")
        if not index.is_trained:
            index.train(x)
        index.add(x)
        build = time.perf_counter() - t0
        params = {"ef": 64} if factory.startswith("HNSW") else (
            {"nprobe": 8} if factory.startswith("IVF") else {})
        t0 = time.perf_counter()
        for row in q:  # one query per call, as a service sees them
            index.search(row, 10, **params)
        qps = len(q) / (time.perf_counter() - t0)
        _, I = index.search(q, 10, **params)
        r = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(I, gt)])
        print("%-14s %8.2f %10.0f %9.3f" % (factory, build, qps, r))


if __name__ == "__main__":
    main()
