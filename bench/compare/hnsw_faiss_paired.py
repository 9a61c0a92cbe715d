"""Paired HNSW comparison (issue 21): vecscale (through ctypes) and FAISS (its Python module) in
one process, interleaved in blocks of queries so both see the same machine
load. One search thread each.

  PYTHONPATH=/opt/faiss-py FAISS_OPT_LEVEL=avx512 /usr/bin/python3 bench/compare/hnsw_faiss_paired.py \
      --data DIR --metric l2|cosine --vs-index IDX.vsi --faiss-index IDX.faiss \
      [--M 16] [--efc 200] [--build-threads 2] [--ef 10,20,40] [--ef-faiss 20,30,50] [--rounds 2] [--block 20] \
      [--mode block|single] [--lib build/libvecscale.so] \
      [--hnswlib IDX.bin --ef-hnswlib 20,30,50 [--hnswlib-shim bench/build/libhnswlib_shim.so]]

DIR holds base.fvecs, queries.fvecs, groundtruth.ivecs. The vecscale index is a saved one
(`vecscale bench --save`); the FAISS index is read from --faiss-index, or built as
IndexHNSWFlat(M) with efConstruction --efc on --build-threads threads and written there first.
cosine: vecscale searches the raw queries with its cosine metric; FAISS gets L2-normalised
vectors and inner product (as bench/hnsw.sh's faiss_bench.py). The queries are cut into blocks
of --block; each block is searched by both libraries back to back, first one then the other in
alternating order, each timed by the thread's CPU clock (time.thread_time). --mode block (the
default): one call per block for each library (one thread), so Python's per-call cost (a few
µs, more for FAISS's SWIG and numpy slicing than for ctypes) is spread over the block; single:
one call per query. --ef-faiss gives FAISS its own efSearch in each pass, so each library can be
measured at its lowest ef reaching a recall in the same interleaved pass. --hnswlib adds a third
library: an hnswlib index (hnswlib_bench --save) searched through bench/build/libhnswlib_shim.so
(bench/compare/build.sh: -O3 -march=native), one query after another inside each block call,
with its own ef per pass (--ef-hnswlib); the three take turns in rotating order. Rows:
library, index, params, recall@10, queries/s, and vecscale's queries/s as a multiple of
FAISS's (and of hnswlib's on the hnswlib row).
"""
import argparse
import ctypes
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_ctypes import K, read_vecs, recall, search_params  # noqa: E402
import numpy as np  # noqa: E402
import faiss  # noqa: E402



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--metric", choices=("l2", "cosine"), required=True)
    ap.add_argument("--vs-index", required=True)
    ap.add_argument("--faiss-index", required=True)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--ef", default="10,20,40")
    ap.add_argument("--ef-faiss", default="", help="FAISS's own efSearch per pass (as many as --ef)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--block", type=int, default=20)
    ap.add_argument("--mode", choices=("block", "single"), default="block")
    ap.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "..", "..", "build", "libvecscale.so"))
    ap.add_argument("--hnswlib", default="", help="an hnswlib index file: a third library in the same pass")
    ap.add_argument("--ef-hnswlib", default="", help="hnswlib's ef per pass (as many as --ef)")
    ap.add_argument("--hnswlib-shim", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                            "libhnswlib_shim.so"))
    a = ap.parse_args()

    print("# faiss %s from %s; compile options: %s" % (faiss.__version__, os.path.dirname(faiss.__file__),
                                                        faiss.get_compile_options()))
    lib = ctypes.CDLL(os.path.abspath(a.lib))
    lib.vs_index_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.vs_index_search.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_uint32,
                                    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.vs_last_error.restype = ctypes.c_char_p

    xq = read_vecs(os.path.join(a.data, "queries.fvecs"), np.float32)
    gt = read_vecs(os.path.join(a.data, "groundtruth.ivecs"), np.int32)
    xq_f = xq.copy()
    if a.metric == "cosine":
        faiss.normalize_L2(xq_f)

    vs = ctypes.c_void_p()
    if lib.vs_index_load(a.vs_index.encode(), ctypes.byref(vs)):
        sys.exit("vs_index_load: %s" % lib.vs_last_error().decode())
    if os.path.exists(a.faiss_index):
        fx = faiss.read_index(a.faiss_index)
    else:
        faiss.omp_set_num_threads(a.build_threads)
        xb = read_vecs(os.path.join(a.data, "base.fvecs"), np.float32)
        m = faiss.METRIC_L2
        if a.metric == "cosine":
            faiss.normalize_L2(xb)
            m = faiss.METRIC_INNER_PRODUCT
        fx = faiss.IndexHNSWFlat(xb.shape[1], a.M, m)
        fx.hnsw.efConstruction = a.efc
        t0 = time.perf_counter()
        fx.add(xb)
        print("# faiss build %.1f s on %d threads" % (time.perf_counter() - t0, a.build_threads))
        faiss.write_index(fx, a.faiss_index)
    faiss.omp_set_num_threads(1)

    nq, d = xq.shape
    hl = None
    if a.hnswlib:
        shim = ctypes.CDLL(os.path.abspath(a.hnswlib_shim))
        shim.hl_load.restype = ctypes.c_void_p
        shim.hl_load.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        shim.hl_set_ef.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        shim.hl_search.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                   ctypes.c_size_t, ctypes.c_void_p]
        hl = shim.hl_load(a.hnswlib.encode(), d, 1 if a.metric == "cosine" else 0)
        if not hl:
            sys.exit("hl_load failed: %s" % a.hnswlib)
    xq_h = np.ascontiguousarray(xq_f)
    h_ids = np.empty((nq, K), dtype=np.int64)
    hqptr = xq_h.ctypes.data
    hiptr = h_ids.ctypes.data
    vs_ids = np.empty((nq, K), dtype=np.int64)
    vs_dist = np.empty((nq, K), dtype=np.float32)
    f_ids = np.empty((nq, K), dtype=np.int64)
    search = lib.vs_index_search
    single = a.mode == "single"
    qptr = xq.ctypes.data
    dptr = vs_dist.ctypes.data
    iptr = vs_ids.ctypes.data

    print("%-9s %-10s %-8s %9s %10s %7s" % ("library", "index", "params", "recall@10", "qps", "ratio"))
    efs = [int(v) for v in a.ef.split(",")]
    f_efs = [int(v) for v in a.ef_faiss.split(",")] if a.ef_faiss else efs
    if len(f_efs) != len(efs):
        sys.exit("--ef-faiss needs as many values as --ef")
    h_efs = [int(v) for v in a.ef_hnswlib.split(",")] if a.ef_hnswlib else efs
    if len(h_efs) != len(efs):
        sys.exit("--ef-hnswlib needs as many values as --ef")
    libs = (0, 1, 2) if hl else (0, 1)
    for ef, f_ef, h_ef in zip(efs, f_efs, h_efs):
        p = search_params(lib, n_threads=1, filter=None, nprobe=0, ef_search=ef, k_factor=1.0)
        pref = ctypes.byref(p)
        fx.hnsw.efSearch = f_ef
        if hl:
            shim.hl_set_ef(hl, h_ef)
        t_vs = t_f = t_h = 0.0
        turn = 0
        for _ in range(a.rounds):
            for b0 in range(0, nq, a.block):
                b1 = min(nq, b0 + a.block)
                order = libs[turn % len(libs):] + libs[:turn % len(libs)]
                for who in order:
                    t0 = time.thread_time()
                    if who == 2:
                        if single:
                            for i in range(b0, b1):
                                shim.hl_search(hl, hqptr + 4 * d * i, 1, d, K, hiptr + 8 * K * i)
                        else:
                            shim.hl_search(hl, hqptr + 4 * d * b0, b1 - b0, d, K, hiptr + 8 * K * b0)
                        t_h += time.thread_time() - t0
                    elif who == 0:
                        if single:
                            rc = 0
                            for i in range(b0, b1):
                                rc |= search(vs, 1, qptr + 4 * d * i, K, pref, dptr + 4 * K * i, iptr + 8 * K * i)
                        else:
                            rc = search(vs, b1 - b0, qptr + 4 * d * b0, K, pref, dptr + 4 * K * b0, iptr + 8 * K * b0)
                        if rc:
                            sys.exit("vs_index_search: %s" % lib.vs_last_error().decode())
                        t_vs += time.thread_time() - t0
                    else:
                        if single:
                            for i in range(b0, b1):
                                _, f_ids[i:i + 1] = fx.search(xq_f[i:i + 1], K)
                        else:
                            _, f_ids[b0:b1] = fx.search(xq_f[b0:b1], K)
                        t_f += time.thread_time() - t0
                turn += 1
        n = nq * a.rounds
        print("%-9s %-10s %-8s %9.4f %10.1f %7.3f" % ("vecscale", "HNSW%d" % a.M, "ef=%d" % ef, recall(vs_ids, gt),
                                                     n / t_vs, t_f / t_vs))
        print("%-9s %-10s %-8s %9.4f %10.1f" % ("faiss", "HNSW%d" % a.M, "ef=%d" % f_ef, recall(f_ids, gt), n / t_f))
        if hl:
            print("%-9s %-10s %-8s %9.4f %10.1f %7.3f" % ("hnswlib", "HNSW%d" % a.M, "ef=%d" % h_ef, recall(h_ids, gt),
                                                         n / t_h, t_h / t_vs))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
