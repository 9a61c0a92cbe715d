"""Quantizes embedded vectors (SQ8, SQ4, fp16, bf16, PQ) and shows what it saves and costs.

    python3 quantize.py vectors.npz

For each quantizer: bytes per vector, memory reduction against float32, the relative error of
the decoded vectors; then indexes built on the codes: memory and recall@10 against exact search.
"""
import argparse

import numpy as np

import vecscale


def recall(I, gt):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(I, gt)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vectors")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    x = np.load(args.vectors)["vectors"]
    dim = x.shape[1]
    norm = np.linalg.norm(x)

    print("%-10s %6s %9s %9s" % ("quantizer", "bytes", "reduction", "rel_error"))
    quantizers = [("SQ8", vecscale.ScalarQuantizer(dim, "SQ8")),
                  ("SQ4", vecscale.ScalarQuantizer(dim, "SQ4")),
                  ("fp16", vecscale.ScalarQuantizer(dim, "fp16")),
                  ("bf16", vecscale.ScalarQuantizer(dim, "bf16")),
                  ("PQ%dx8" % (dim // 4), vecscale.ProductQuantizer(dim, dim // 4, bits=8))]
    for name, q in quantizers:
        q.train(x)
        codes = q.encode(x)
        err = np.linalg.norm(q.decode(codes) - x) / norm
        print("%-10s %6d %8.1fx %9.4f" % (name, codes.shape[1], q.memory_reduction, err))

    queries = x[:: max(1, len(x) // args.queries)][: args.queries]
    exact = vecscale.Index(dim, "Flat", "cosine")
    exact.add(x)
    _, gt = exact.search(queries, 10)
    print("%-22s %9s %9s" % ("index", "memory_mb", "recall@10"))
    for factory, params in [("Flat", {}), ("SQ8", {}), ("SQ4", {}),
                            ("PQ%d" % (dim // 4), {}),
                            ("IVF32,PQ%dx4fs,RFlat" % (dim // 2), {"nprobe": 8, "k_factor": 4})]:
        index = vecscale.Index(dim, factory, "cosine")
        if not index.is_trained:
            index.train(x)
        index.add(x)
        _, I = index.search(queries, 10, **params)
        print("%-22s %9.2f %9.3f" % (factory, index.memory_bytes / 1e6, recall(I, gt)))


if __name__ == "__main__":
    main()
