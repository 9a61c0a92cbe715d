#!/usr/bin/python3
"""FAISS comparator for the vecscale benchmark (same row format as `vecscale bench`).

Run with Debian's interpreter, which has python3-faiss (1.7.3) and python3-numpy:

  /usr/bin/python3 bench/compare/faiss_bench.py --base B.fvecs --queries Q.fvecs \
      --groundtruth G.ivecs --metric l2|cosine --index FACTORY \
      [--param nprobe=1,2,4,8] [--threads 1] [--runs R] [--no-header]

FACTORY is any faiss.index_factory string ("Flat", "IVF1024,Flat",
"IVF1024,PQ50x4fs,RFlat", "HNSW16", ...). --param NAME=v1,v2,... sets a search
parameter through faiss.ParameterSpace (nprobe, efSearch, k_factor, ...) and
prints one row per value. Each row times one batch search of all queries with
k=10. build_s covers train + add; memory_mb is the VmRSS growth across train +
add. cosine = inner product on L2-normalised vectors. For HNSW indexes
efConstruction is set to 200 before add.
"""
import argparse
import os
import sys
import time

ROW = "%-10s %-28s %-22s %9.4f %11.1f %9.2f %10.1f"
HEADER = "%-10s %-28s %-22s %9s %11s %9s %10s" % (
    "library", "index", "params", "recall@10", "qps", "build_s", "memory_mb")
K = 10


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--groundtruth", required=True)
    ap.add_argument("--metric", choices=("l2", "cosine"), default="l2")
    ap.add_argument("--index", default="Flat", help="faiss index_factory string")
    ap.add_argument("--param", default=None, help="NAME=v1,v2,... search parameter sweep")
    ap.add_argument("--set", action="append", default=[], help="NAME=V search parameter for every row")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--build-threads", type=int, default=0, help="OpenMP threads for train + add (default: --threads)")
    ap.add_argument("--efc", type=int, default=200, help="efConstruction for HNSW indexes")
    ap.add_argument("--runs", type=int, default=1, help="searches per value; best QPS is kept")
    ap.add_argument("--no-header", action="store_true")
    a = ap.parse_args()
    if a.threads < 1 or a.runs < 1:
        ap.error("--threads and --runs must be >= 1")
    return a


def vmrss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def read_vecs(path, dtype):
    import numpy as np
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        sys.exit("faiss_bench: empty file " + path)
    d = int(raw[0])
    if d <= 0 or raw.size % (d + 1) != 0:
        sys.exit("faiss_bench: %s is not a valid vecs file" % path)
    rows = raw.reshape(-1, d + 1)
    if not (rows[:, 0] == d).all():
        sys.exit("faiss_bench: %s has inconsistent row dimensions" % path)
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def main():
    a = parse_args()
    if a.threads == 1:
        # Must happen before numpy/faiss load OpenMP / OpenBLAS.
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import numpy as np
    import faiss

    faiss.omp_set_num_threads(a.build_threads or a.threads)

    xb = read_vecs(a.base, np.float32)
    xq = read_vecs(a.queries, np.float32)
    gt = read_vecs(a.groundtruth, np.int32)
    if xb.shape[1] != xq.shape[1]:
        sys.exit("faiss_bench: base and query dimensions differ")
    if gt.shape[0] < xq.shape[0] or gt.shape[1] < K:
        sys.exit("faiss_bench: ground truth needs >= %d neighbours for every query" % K)
    gt = gt[:xq.shape[0], :K]
    d = xb.shape[1]

    if a.metric == "cosine":
        faiss.normalize_L2(xb)
        faiss.normalize_L2(xq)
        metric = faiss.METRIC_INNER_PRODUCT
    else:
        metric = faiss.METRIC_L2

    rss0 = vmrss_kib()
    t0 = time.perf_counter()
    index = faiss.index_factory(d, a.index, metric)
    real = faiss.downcast_index(index)
    if hasattr(real, "hnsw"):
        real.hnsw.efConstruction = a.efc
    if not index.is_trained:
        index.train(xb)
    index.add(xb)
    build_s = time.perf_counter() - t0
    rss1 = vmrss_kib()
    memory_mb = (rss1 - rss0) / 1024.0
    faiss.omp_set_num_threads(a.threads)

    sweeps = [(None, None)]
    if a.param:
        if "=" not in a.param:
            sys.exit("faiss_bench: --param must be NAME=v1,v2,...")
        name, vals = a.param.split("=", 1)
        sweeps = [(name, float(v) if "." in v else int(v)) for v in vals.split(",") if v]

    if not a.no_header:
        print(HEADER, flush=True)
    ps = faiss.ParameterSpace()
    nq = xq.shape[0]
    fixed = ""

    def set_param(name, val):
        # FAISS 1.7.3's ParameterSpace calls IndexRefine's factor "k_factor_rf".
        if name == "k_factor" and isinstance(real, faiss.IndexRefine):
            real.k_factor = float(val)
        else:
            ps.set_index_parameter(index, name, val)

    for kv in a.set:
        name, val = kv.split("=", 1)
        set_param(name, float(val) if "." in val else int(val))
        fixed += "," + kv
    for name, val in sweeps:
        if name is not None:
            set_param(name, val)
        best = float("inf")
        # BENCH_CLOCK=cpu: process CPU time, as vecscale and hnswlib_bench (bench/README.md)
        clock = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter
        for _ in range(a.runs):
            s0 = clock()
            _, I = index.search(xq, K)
            best = min(best, clock() - s0)
        hits = sum(len(np.intersect1d(I[i], gt[i])) for i in range(nq))
        # -1 (missing result) never matches a ground-truth id
        recall = hits / float(nq * K)
        params = ("-" if name is None else "%s=%s" % (name, val)) + fixed
        print(ROW % ("faiss", a.index, params, recall, nq / best, build_s, memory_mb), flush=True)


if __name__ == "__main__":
    main()
