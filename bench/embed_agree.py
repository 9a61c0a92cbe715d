"""Agreement of low-precision embeddings with fp32 ones: the measure of bench/embed_bench.sh
(mean and min cosine per text, recall@10 of the first 1000 low-precision rows as queries among
the fp32 rows against the fp32 queries' own neighbours).
Usage: /usr/bin/python3 bench/embed_agree.py FP32.npy OTHER.npy [LABEL]"""
import sys

import numpy as np


def norm(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def agree(ref, x, nq=1000):
    r, q = norm(np.load(ref)), norm(np.load(x))
    cos = (r * q).sum(1)
    nq = min(nq, len(r))
    t0 = np.argsort(-(r[:nq] @ r.T), 1)[:, :10]
    t1 = np.argsort(-(q[:nq] @ r.T), 1)[:, :10]
    rec = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(t0, t1)])
    return "mean cosine %.6f, min %.6f, recall@10 %.4f (%d queries)" % (cos.mean(), cos.min(), rec, nq)


if __name__ == "__main__":
    print("== %s vs fp32: %s" % (sys.argv[3] if len(sys.argv) > 3 else sys.argv[2], agree(sys.argv[1], sys.argv[2])))
