"""Paired IVF comparison (issue 21): vecscale (through ctypes) and FAISS (its Python module) in
one process, searches interleaved so both see the same machine load. One search thread each.

  /usr/bin/python3 bench/compare/ivf_paired.py --data DIR --metric l2|cosine \
      --vs-index IDX.vsi --faiss-index IDX.faiss --factory FACTORY \
      [--faiss-metric l2|ip] [--nprobe 4,8,16] [--k-factor 1] [--runs 3] \
      [--mode batch|single] [--nq N] [--lib build/libvecscale.so]

DIR holds base.fvecs, queries.fvecs, groundtruth.ivecs (bench/datasets.sh). The vecscale
index is a saved one (`vecscale bench --save`); the FAISS index is read from --faiss-index,
or built with faiss.index_factory (train + add, one thread) and written there first.
cosine: vecscale searches the raw queries with its cosine metric; FAISS gets L2-normalised
vectors and --faiss-metric l2 (default: L2 on normalised vectors, the form the issue's
table used) or ip. Timing is CPU time (time.process_time) of each search call, best of
--runs rounds; in every round each nprobe is searched by vecscale, then FAISS. batch: all
queries (or the first --nq) in one call; single: one query per call. FAISS's module is the
one `import faiss` finds (PYTHONPATH selects a source build); its version and compile
options are printed first. Rows: library, factory, params, recall@10, queries/s, ratio.
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
    ap.add_argument("--faiss-metric", choices=("l2", "ip"), default="l2")
    ap.add_argument("--vs-index", required=True)
    ap.add_argument("--faiss-index", required=True)
    ap.add_argument("--factory", required=True)
    ap.add_argument("--nprobe", default="8")
    ap.add_argument("--k-factor", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", choices=("batch", "single"), default="batch")
    ap.add_argument("--nq", type=int, default=0)
    ap.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "..", "..", "build", "libvecscale.so"))
    a = ap.parse_args()

    print("# faiss %s from %s; compile options: %s" % (faiss.__version__, os.path.dirname(faiss.__file__),
                                                        faiss.get_compile_options()))
    lib = ctypes.CDLL(os.path.abspath(a.lib))
    lib.vs_index_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.vs_index_search.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_uint32,
                                    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.vs_last_error.restype = ctypes.c_char_p
    faiss.omp_set_num_threads(1)

    xq = read_vecs(os.path.join(a.data, "queries.fvecs"), np.float32)
    gt = read_vecs(os.path.join(a.data, "groundtruth.ivecs"), np.int32)
    if a.nq:
        xq, gt = xq[:a.nq], gt[:a.nq]
    xq_vs = np.ascontiguousarray(xq)
    xq_f = xq.copy()
    if a.metric == "cosine":
        faiss.normalize_L2(xq_f)

    vs = ctypes.c_void_p()
    if lib.vs_index_load(a.vs_index.encode(), ctypes.byref(vs)):
        sys.exit("vs_index_load: %s" % lib.vs_last_error().decode())
    if os.path.exists(a.faiss_index):
        fx = faiss.read_index(a.faiss_index)
    else:
        xb = read_vecs(os.path.join(a.data, "base.fvecs"), np.float32)
        m = faiss.METRIC_L2
        if a.metric == "cosine":
            faiss.normalize_L2(xb)
            m = faiss.METRIC_L2 if a.faiss_metric == "l2" else faiss.METRIC_INNER_PRODUCT
        fx = faiss.index_factory(xb.shape[1], a.factory, m)
        t0 = time.perf_counter()
        fx.train(xb)
        fx.add(xb)
        print("# faiss build %.1f s" % (time.perf_counter() - t0))
        faiss.write_index(fx, a.faiss_index)
    top = faiss.downcast_index(fx)
    ivf = faiss.downcast_index(top.base_index) if hasattr(top, "k_factor") else top

    nq = xq.shape[0]
    dist = np.empty((nq, K), dtype=np.float32)
    ids = np.empty((nq, K), dtype=np.int64)

    def run_vs(nprobe):
        p = search_params(lib, n_threads=1, filter=None, nprobe=nprobe, ef_search=0, k_factor=a.k_factor)
        d = xq_vs.shape[1]
        t0 = time.process_time()
        if a.mode == "batch":
            rc = lib.vs_index_search(vs, nq, xq_vs.ctypes.data, K, ctypes.byref(p), dist.ctypes.data, ids.ctypes.data)
        else:
            rc = 0
            for i in range(nq):
                rc |= lib.vs_index_search(vs, 1, xq_vs.ctypes.data + 4 * d * i, K, ctypes.byref(p),
                                          dist.ctypes.data + 4 * K * i, ids.ctypes.data + 8 * K * i)
        t = time.process_time() - t0
        if rc:
            sys.exit("vs_index_search: %s" % lib.vs_last_error().decode())
        return t, recall(ids, gt)

    def run_faiss(nprobe):
        if hasattr(ivf, "nprobe"):  # not for Flat (--factory Flat: exact search, nprobe ignored)
            ivf.nprobe = nprobe
        if hasattr(top, "k_factor"):
            top.k_factor = a.k_factor
        t0 = time.process_time()
        if a.mode == "batch":
            D, I = fx.search(xq_f, K)
        else:
            I = np.empty((nq, K), dtype=np.int64)
            for i in range(nq):
                _, I[i:i + 1] = fx.search(xq_f[i:i + 1], K)
        t = time.process_time() - t0
        return t, recall(I, gt)

    nprobes = [int(v) for v in a.nprobe.split(",")]
    best = {}
    for _ in range(a.runs):
        for npb in nprobes:
            for name, fn in (("vecscale", run_vs), ("faiss", run_faiss)):
                t, r = fn(npb)
                key = (name, npb)
                if key not in best or t < best[key][0]:
                    best[key] = (t, r)
    print("%-9s %-26s %-22s %9s %10s %6s" % ("library", "index", "params", "recall@10", "qps", "ratio"))
    for npb in nprobes:
        tv, rv = best[("vecscale", npb)]
        tf, rf = best[("faiss", npb)]
        par = "nprobe=%d,k_factor=%g,%s" % (npb, a.k_factor, a.mode)
        print("%-9s %-26s %-22s %9.4f %10.1f %6.2f" % ("vecscale", a.factory, par, rv, nq / tv, tf / tv))
        print("%-9s %-26s %-22s %9.4f %10.1f" % ("faiss", a.factory, par, rf, nq / tf))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
