#!/usr/bin/python3
"""The Python package's overhead against the C library, beside FAISS's and hnswlib's Python
modules, in one process on GloVe-100 (issue 13). Not a test: it prints numbers.

    /usr/bin/python3 bench/python/overhead.py [--data bench/data/glove-100] [--ef 64]
        [--queries 10000] [--block 50] [--rounds 2] [--add-n 20000] [--skip faiss,hnswlib]
        [--only single,batch,add,threads]

Needs: the Release build (build/libvecscale.so, for the C loops of bench/python/cloop.c,
compiled here into bench/build/python/), the vecscale package importable, the data set
(bench/datasets.sh glove-100), Debian's python3-faiss and python3-hnswlib.

The HNSW16 indexes (efConstruction 200; cosine: FAISS on inner product over normalised
vectors, hnswlib's "cosine" space) are built once and kept in bench/data/idx/. vecscale's index
is loaded twice: by the Python package and by the C loop (its own copy, no sharing).

Measurements (k = 10):
 (a) single: one query per call on one thread, ef = --ef. The queries are cut into blocks of
     --block; every block is searched by each library back to back in rotating order, each
     timed by the thread's CPU clock (other tenants of a shared machine do not count) and the
     wall clock. vecscale-python and vecscale-C must return the same ids (checked).
 (b) batch: all queries in one call, 1 thread (thread CPU time) and 2 threads (process CPU
     time, and wall time beside); add: --add-n vectors into an empty HNSW16 and a Flat index
     over the whole base, 1 thread (thread CPU time), rotating order, --rounds rounds, best
     time kept.
 (d) threads: single-query searches from 1 and from 2 Python threads (wall clock q/s), and the
     same from 1 and 2 POSIX threads in C (what the machine allows right now), alternating
     short runs (--thread-queries, --thread-rounds), medians reported.

On a machine shared with other work, (d) and the wall-clock rows need two free cores: as root,
run it in its own scheduler autogroup at high priority (bench/RESULTS.md, issue 13):
    B='echo -20 > /proc/self/autogroup && exec nice -n -20 /usr/bin/python3 bench/python/overhead.py'
    PYTHONPATH=python setsid sh -c "$B --only threads --skip faiss,hnswlib"
"""
import argparse
import ctypes
import os
import subprocess
import sys
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K = 10


def read_vecs(path, dtype=np.float32):
    raw = np.fromfile(path, dtype=np.int32)
    d = int(raw[0])
    return raw.reshape(-1, d + 1)[:, 1:].view(dtype).copy()


def log(*a):
    print(*a, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- the C side -----------------------------------------------------------------------------
class CLoop:
    """bench/python/cloop.c through ctypes; every loop times itself in C."""

    def __init__(self, build_dir):
        src = os.path.join(ROOT, "bench", "python", "cloop.c")
        out_dir = os.path.join(ROOT, "bench", "build", "python")
        so = os.path.join(out_dir, "libcloop.so")
        if not os.path.exists(so) or os.path.getmtime(so) < max(
                os.path.getmtime(src), os.path.getmtime(os.path.join(build_dir, "libvecscale.so"))):
            os.makedirs(out_dir, exist_ok=True)
            cmd = ["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O2", "-shared", "-fPIC",
                   "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(build_dir, "include"), "-o", so, src,
                   "-L" + build_dir,
                   "-lvecscale", "-Wl,-rpath," + build_dir, "-lpthread"]
            log("# " + " ".join(cmd))
            subprocess.check_call(cmd)
        lib = ctypes.CDLL(so)
        P, S, U, D = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_double
        lib.cl_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(P)]
        lib.cl_free.argtypes = [P]
        lib.cl_error.restype = ctypes.c_char_p
        lib.cl_single.argtypes = [P, P, S, U, U, P, P]
        lib.cl_batch.argtypes = [P, P, S, U, U, U, P, P]
        lib.cl_build.argtypes = [U, ctypes.c_int, ctypes.c_char_p, U, U, P, S, P]
        lib.cl_threads.argtypes = [P, P, S, U, U, U, P]
        self.lib = lib

    def check(self, rc):
        if rc:
            raise RuntimeError("C loop: %s" % self.lib.cl_error().decode())

    def load(self, path):
        h = ctypes.c_void_p()
        self.check(self.lib.cl_load(path.encode(), ctypes.byref(h)))
        return h

    def single(self, h, q, ef):
        ids = np.empty((len(q), K), dtype=np.int64)
        t = np.zeros(2)
        self.check(self.lib.cl_single(h, q.ctypes.data, len(q), K, ef, ids.ctypes.data, t.ctypes.data))
        return t, ids

    def batch(self, h, q, ef, threads):
        ids = np.empty((len(q), K), dtype=np.int64)
        t = np.zeros(2)
        self.check(self.lib.cl_batch(h, q.ctypes.data, len(q), K, ef, threads, ids.ctypes.data,
                                     t.ctypes.data))
        return t, ids

    def build(self, dim, metric, factory, threads, x):
        t = np.zeros(2)
        self.check(self.lib.cl_build(dim, metric, factory.encode(), threads, 0, x.ctypes.data,
                                     len(x), t.ctypes.data))
        return t

    def threads(self, h, q, ef, n):
        t = np.zeros(2)
        self.check(self.lib.cl_threads(h, q.ctypes.data, len(q), K, ef, n, t.ctypes.data))
        return t[1]


def clocks():
    return np.array([time.thread_time(), time.perf_counter()])


def recall(ids, gt):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, gt[:, :K])]))


# ---- indexes --------------------------------------------------------------------------------
def build_indexes(args, base, base_n, libs):
    import vecscale
    idx = os.path.join(ROOT, "bench", "data", "idx")
    os.makedirs(idx, exist_ok=True)
    paths = {"vecscale": os.path.join(idx, "glove-100-HNSW16.vsi"),
             "faiss": os.path.join(idx, "glove-100-faiss-HNSW16.index"),
             "hnswlib": os.path.join(idx, "glove-100-hnswlib-HNSW16.bin")}
    d = base.shape[1]
    if not os.path.exists(paths["vecscale"]):
        log("# building vecscale HNSW16 (2 threads) ...")
        t0 = time.perf_counter()
        ix = vecscale.Index(d, "HNSW16", "cosine", threads=2)
        ix.add(base)
        ix.save(paths["vecscale"])
        ix.close()
        log("#   %.1f s" % (time.perf_counter() - t0))
    if "faiss" in libs and not os.path.exists(paths["faiss"]):
        import faiss
        log("# building FAISS HNSW16 (2 threads) ...")
        faiss.omp_set_num_threads(2)
        t0 = time.perf_counter()
        fx = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
        fx.hnsw.efConstruction = 200
        fx.add(base_n)
        faiss.write_index(fx, paths["faiss"] + ".tmp")
        os.replace(paths["faiss"] + ".tmp", paths["faiss"])
        log("#   %.1f s" % (time.perf_counter() - t0))
    if "hnswlib" in libs and not os.path.exists(paths["hnswlib"]):
        import hnswlib
        log("# building hnswlib HNSW16 (2 threads) ...")
        t0 = time.perf_counter()
        hx = hnswlib.Index(space="cosine", dim=d)
        hx.init_index(max_elements=len(base), M=16, ef_construction=200, random_seed=100)
        hx.add_items(base, np.arange(len(base)), num_threads=2)
        hx.save_index(paths["hnswlib"] + ".tmp")
        os.replace(paths["hnswlib"] + ".tmp", paths["hnswlib"])
        log("#   %.1f s" % (time.perf_counter() - t0))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "bench", "data", "glove-100"))
    ap.add_argument("--build-dir", default=os.environ.get("VECSCALE_BUILD_DIR",
                                                          os.path.join(ROOT, "build")))
    ap.add_argument("--ef", type=int, default=64)
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--add-n", type=int, default=20000)
    ap.add_argument("--thread-queries", type=int, default=2000)
    ap.add_argument("--thread-rounds", type=int, default=10)
    ap.add_argument("--skip", default="")
    ap.add_argument("--only", default="single,batch,add,threads")
    args = ap.parse_args()
    libs = [x for x in ("faiss", "hnswlib") if x not in args.skip.split(",")]
    only = set(args.only.split(","))

    import vecscale
    log("# bench/python/overhead.py %s, git %s, load %s, vecscale %s, python %s" % (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True).stdout.strip(),
        loadavg(), vecscale.__file__, sys.version.split()[0]))
    base = read_vecs(os.path.join(args.data, "base.fvecs"))
    queries = read_vecs(os.path.join(args.data, "queries.fvecs"))[:args.queries]
    gt = read_vecs(os.path.join(args.data, "groundtruth.ivecs"), np.int32)[:args.queries]
    base_n = base / np.linalg.norm(base, axis=1, keepdims=True)
    queries_n = np.ascontiguousarray(queries / np.linalg.norm(queries, axis=1, keepdims=True),
                                     dtype=np.float32)
    paths = build_indexes(args, base, base_n.astype(np.float32), libs)

    c = CLoop(args.build_dir)
    ch = c.load(paths["vecscale"])
    vx = vecscale.Index.load(paths["vecscale"])
    searchers = {}
    fx = hx = None
    if "faiss" in libs:
        import faiss
        faiss.omp_set_num_threads(1)
        fx = faiss.read_index(paths["faiss"])
        fx.hnsw.efSearch = args.ef
    if "hnswlib" in libs:
        import hnswlib
        hx = hnswlib.Index(space="cosine", dim=base.shape[1])
        hx.load_index(paths["hnswlib"], max_elements=len(base))
        hx.set_ef(args.ef)
        hx.set_num_threads(1)
    ef = args.ef
    nq = len(queries)

    # (a) single queries ------------------------------------------------------------------
    if "single" in only:
        def py_block(b0, b1, out):
            s = vx.search
            q = queries
            t0 = clocks()
            for i in range(b0, b1):
                out[i] = s(q[i], K, ef=ef)[1]
            return clocks() - t0

        def c_block(b0, b1, out):
            t, ids = c.single(ch, queries[b0:b1], ef)
            out[b0:b1] = ids
            return t

        def faiss_block(b0, b1, out):
            s = fx.search
            q = queries_n
            t0 = clocks()
            for i in range(b0, b1):
                out[i] = s(q[i:i + 1], K)[1]
            return clocks() - t0

        def hnswlib_block(b0, b1, out):
            s = hx.knn_query
            q = queries
            t0 = clocks()
            for i in range(b0, b1):
                out[i] = s(q[i], k=K)[0]
            return clocks() - t0

        runners = {"vecscale-python": py_block, "vecscale-C": c_block}
        if fx is not None:
            runners["faiss-python"] = faiss_block
        if hx is not None:
            runners["hnswlib-python"] = hnswlib_block
        names = list(runners)
        tot = {n: np.zeros(2) for n in names}
        ids = {n: np.full((nq, K), -1, dtype=np.int64) for n in names}
        blocks = [(b, min(b + args.block, nq)) for b in range(0, nq, args.block)]
        for r in range(args.rounds):
            for j, (b0, b1) in enumerate(blocks):
                for o in range(len(names)):
                    n = names[(j + o + r) % len(names)]
                    tot[n] += runners[n](b0, b1, ids[n])
        assert np.array_equal(ids["vecscale-python"], ids["vecscale-C"]), "Python and C ids differ"
        log("\n## (a) single-query search, HNSW16 ef=%d k=%d, %d queries x %d rounds, blocks of %d, "
            "rotating order; us/query by thread CPU time (wall)" % (ef, K, nq, args.rounds, args.block))
        n_calls = nq * args.rounds
        cref = tot["vecscale-C"][0] / n_calls
        for n in names:
            cpu, wall = tot[n] / n_calls
            log("%-16s %8.1f us  (%7.1f us wall)  %8.0f q/s  recall@10 %.4f  x%.3f of vecscale-C" % (
                n, 1e6 * cpu, 1e6 * wall, 1 / cpu, recall(ids[n], gt), cpu / cref))
        log("vecscale-python ids == vecscale-C ids for all %d queries: True" % nq)

    # (b) batch search and add -----------------------------------------------------------
    if "batch" in only:
        log("\n## (b) batch search: %d queries in one call, HNSW16 ef=%d; best of %d rounds, "
            "rotating order; q/s by the calling thread's CPU time (1 thread), by the process's "
            "CPU time (2 threads: the work done, which the machine's load does not distort) and "
            "by the wall clock" % (nq, ef, args.rounds))
        for threads in (1, 2):
            runs = {"vecscale-python": lambda: vx.search(queries, K, ef=ef, threads=threads),
                    "vecscale-C": lambda: c.batch(ch, queries, ef, threads)}
            if fx is not None:
                runs["faiss-python"] = lambda: fx.search(queries_n, K)
            if hx is not None:
                runs["hnswlib-python"] = lambda: hx.knn_query(queries, k=K)
            if fx is not None:
                faiss.omp_set_num_threads(threads)
            if hx is not None:
                hx.set_num_threads(threads)
            names = list(runs)
            best = {n: np.full(3, np.inf) for n in names}
            for r in range(args.rounds):
                for o in range(len(names)):
                    n = names[(o + r) % len(names)]
                    t0 = np.array([time.thread_time(), time.process_time(), time.perf_counter()])
                    runs[n]()
                    t = np.array([time.thread_time(), time.process_time(), time.perf_counter()]) - t0
                    best[n] = np.minimum(best[n], t)
            clock = 0 if threads == 1 else 1
            log("threads=%d:" % threads)
            for n in names:
                log("  %-16s %9.0f q/s (%s)  x%.3f of vecscale-C   %9.0f q/s wall  x%.3f" % (
                    n, nq / best[n][clock], "thread CPU" if clock == 0 else "process CPU",
                    best["vecscale-C"][clock] / best[n][clock], nq / best[n][2],
                    best["vecscale-C"][2] / best[n][2]))
            if fx is not None:
                faiss.omp_set_num_threads(1)
            if hx is not None:
                hx.set_num_threads(1)

    if "add" in only:
        if "faiss" in libs:
            import faiss as _f
        if "hnswlib" in libs:
            import hnswlib as _h
        sub = np.ascontiguousarray(base[:args.add_n])
        sub_n = np.ascontiguousarray(base_n[:args.add_n], dtype=np.float32)
        d = base.shape[1]

        def py_add(factory, threads, x):
            ix = vecscale.Index(d, factory, "cosine", threads=threads)
            t0 = clocks()
            if not ix.is_trained:
                ix.train(x)
            ix.add(x)
            t = clocks() - t0
            ix.close()
            return t

        def faiss_add(threads, x):
            _f.omp_set_num_threads(threads)
            ix = _f.IndexHNSWFlat(d, 16, _f.METRIC_INNER_PRODUCT)
            ix.hnsw.efConstruction = 200
            t0 = clocks()
            ix.add(x)
            t = clocks() - t0
            _f.omp_set_num_threads(1)
            return t

        def hnswlib_add(threads, x):
            ix = _h.Index(space="cosine", dim=d)
            ix.init_index(max_elements=len(x), M=16, ef_construction=200, random_seed=100)
            t0 = clocks()
            ix.add_items(x, num_threads=threads)
            return clocks() - t0

        cases = [("HNSW16", 1, sub, 0), ("Flat", 1, base, 0)]
        log("\n## (b) add: vectors/s, best of %d rounds, rotating order" % args.rounds)
        for factory, threads, x, clock in cases:
            runs = {"vecscale-python": lambda: py_add(factory, threads, x),
                    "vecscale-C": lambda: c.build(d, 2, factory, threads, x)}
            if factory.startswith("HNSW"):
                if "faiss" in libs:
                    runs["faiss-python"] = lambda: faiss_add(threads, sub_n)
                if "hnswlib" in libs:
                    runs["hnswlib-python"] = lambda: hnswlib_add(threads, x)
            names = list(runs)
            best = {n: np.inf for n in names}
            for r in range(args.rounds):
                for o in range(len(names)):
                    n = names[(o + r) % len(names)]
                    best[n] = min(best[n], runs[n]()[clock])
            log("%s, %d vectors, %d thread (%s):" % (factory, len(x), threads,
                                                    "thread CPU time" if clock == 0 else "wall time"))
            for n in names:
                log("  %-16s %10.0f vectors/s  x%.3f of vecscale-C" % (
                    n, len(x) / best[n], best["vecscale-C"] / best[n]))

    # (d) Python threads -----------------------------------------------------------------
    if "threads" in only:
        tq = min(args.thread_queries, nq)

        def py_threads(n):
            share = tq // n
            def work(t):
                s = vx.search
                for i in range(t * share, (t + 1) * share):
                    s(queries[i], K, ef=ef)
            th = [threading.Thread(target=work, args=(t,)) for t in range(n)]
            t0 = time.perf_counter()
            for t in th:
                t.start()
            for t in th:
                t.join()
            return (share * n) / (time.perf_counter() - t0)

        def c_threads(n):
            share = tq // n
            return share * n / c.threads(ch, queries[:tq], ef, n)

        log("\n## (d) single-query searches from 1 and 2 threads, HNSW16 ef=%d, wall-clock q/s, "
            "%d queries per run, %d rounds of [python 1, python 2, C 1, C 2] (load %s)"
            % (ef, tq, args.thread_rounds, loadavg()))
        res = {k: [] for k in ("py1", "py2", "c1", "c2")}
        for r in range(args.thread_rounds):
            res["py1"].append(py_threads(1))
            res["py2"].append(py_threads(2))
            res["c1"].append(c_threads(1))
            res["c2"].append(c_threads(2))
            log("round %d: python 1 thread %7.0f q/s, 2 threads %7.0f q/s (x%.2f); C pthreads 1: %7.0f, "
                "2: %7.0f (x%.2f)" % (r, res["py1"][r], res["py2"][r], res["py2"][r] / res["py1"][r],
                                       res["c1"][r], res["c2"][r], res["c2"][r] / res["c1"][r]))
        py = np.array(res["py2"]) / np.array(res["py1"])
        cc = np.array(res["c2"]) / np.array(res["c1"])
        log("python 2 threads / 1 thread: median x%.2f, best rounds x%.2f; C pthreads: median x%.2f, "
            "best rounds x%.2f (load after %s)" % (np.median(py), max(res["py2"]) / max(res["py1"]),
                                                  np.median(cc), max(res["c2"]) / max(res["c1"]),
                                                  loadavg()))

    c.lib.cl_free(ch)


if __name__ == "__main__":
    main()
