"""Two builds of vecscale in one process (before/after a change), searched interleaved.

  /usr/bin/python3 bench/compare/vs_ab_paired.py --data DIR --lib-a A.so --index-a A.vsi \
      --lib-b B.so --index-b B.vsi --ef 10,20 [--rounds 2] [--block 20]

Each library is loaded with ctypes (RTLD_LOCAL, so each resolves its own symbols), opens its
own saved index, and searches the queries one per call on one thread; blocks of --block queries
alternate between A and B (first one, then the other), each timed by the thread's CPU clock,
so both see the same machine load. Prints recall@10, queries/s and B's q/s as a multiple of A's.
"""
import argparse
import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_ctypes import search_params  # noqa: E402
import numpy as np

K = 10




def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    d = int(raw[0])
    return np.ascontiguousarray(raw.reshape(-1, d + 1)[:, 1:]).view(dtype)


def recall(ids, gt):
    return sum(len(set(a[:K].tolist()) & set(b[:K].tolist())) for a, b in zip(ids, gt)) / float(len(gt) * K)


def open_lib(path, index):
    lib = ctypes.CDLL(os.path.abspath(path), mode=os.RTLD_LOCAL)
    lib.vs_index_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.vs_index_search.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_uint32,
                                    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.vs_last_error.restype = ctypes.c_char_p
    ix = ctypes.c_void_p()
    if lib.vs_index_load(index.encode(), ctypes.byref(ix)):
        sys.exit("%s: %s" % (index, lib.vs_last_error().decode()))
    return lib, ix


def main():
    ap = argparse.ArgumentParser()
    for k in ("--data", "--lib-a", "--index-a", "--lib-b", "--index-b"):
        ap.add_argument(k, required=True)
    ap.add_argument("--ef", default="10")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--block", type=int, default=20)
    a = ap.parse_args()
    xq = read_vecs(os.path.join(a.data, "queries.fvecs"), np.float32)
    gt = read_vecs(os.path.join(a.data, "groundtruth.ivecs"), np.int32)
    nq, d = xq.shape
    sides = [open_lib(a.lib_a, a.index_a), open_lib(a.lib_b, a.index_b)]
    ids = [np.empty((nq, K), dtype=np.int64) for _ in sides]
    dist = np.empty((nq, K), dtype=np.float32)
    qp, dp = xq.ctypes.data, dist.ctypes.data
    print("%-4s %-8s %9s %10s %7s" % ("side", "params", "recall@10", "qps", "B/A"))
    for ef in [int(v) for v in a.ef.split(",")]:
        ps = [search_params(lib, n_threads=1, filter=None, nprobe=0, ef_search=ef, k_factor=1.0) for lib, _ in sides]
        t = [0.0, 0.0]
        turn = 0
        for _ in range(a.rounds):
            for b0 in range(0, nq, a.block):
                b1 = min(nq, b0 + a.block)
                for s in ((0, 1) if turn % 2 == 0 else (1, 0)):
                    lib, ix = sides[s]
                    search, ip = lib.vs_index_search, ids[s].ctypes.data
                    t0 = time.thread_time()
                    rc = 0
                    for i in range(b0, b1):
                        rc |= search(ix, 1, qp + 4 * d * i, K, ctypes.byref(ps[s]), dp + 4 * K * i, ip + 8 * K * i)
                    t[s] += time.thread_time() - t0
                    if rc:
                        sys.exit(lib.vs_last_error().decode())
                turn += 1
        n = nq * a.rounds
        print("%-4s %-8s %9.4f %10.1f" % ("A", "ef=%d" % ef, recall(ids[0], gt), n / t[0]))
        print("%-4s %-8s %9.4f %10.1f %7.3f" % ("B", "ef=%d" % ef, recall(ids[1], gt), n / t[1], t[0] / t[1]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
