#!/usr/bin/python3
"""FAISS beside vecscale on the same uint8 base (issue 18, bench/SCALE.md), in one run.

Builds FAISS `IVF<nlist>,PQ<m>x4fs,Refine(SQ8)` (FAISS 1.7.3's factory spelling of ",RSQ8":
fast-scan 4-bit PQ, re-ranked on an 8-bit scalar quantizer of the vectors, 1 byte per
dimension like vecscale's ",Ru8" store, but held in RAM) from the .bvecs file converted to
float32 one chunk at a time (the float copy of the whole base never exists), training on the
same even-stride sample vecscale's streamed build uses (min(N, max(65536, 64 * nlist)) rows),
on --build-threads OpenMP threads. Then searches the same queries with both, interleaved:
each round runs every k_factor once with vecscale (`vecscale search` on the existing index
directory, BENCH_CLOCK=cpu after an untimed pass) and once with FAISS (process CPU time), so
the machine's load falls on both alike. Queries/s are per CPU-second of the searching process.

  /usr/bin/time -v /usr/bin/python3 bench/scale_faiss.py --base B.bvecs --queries Q.bvecs \
      --gt GT.ivecs --index IDX_DIR [--nlist 4096] [--m 32] [--nprobe 8] [--kfactors 20,30,40]
      [--threads 1] [--rounds 2] [--vs build/vecscale]
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import time

import faiss
import numpy as np

K = 10


def bvecs_rows(path, start, n, dim):
    """Rows [start, start + n) of a .bvecs file as uint8, read (not mapped: mapped pages would
    count in this process's RSS)."""
    rec = 4 + dim
    with open(path, "rb") as f:
        f.seek(start * rec)
        raw = np.fromfile(f, dtype=np.uint8, count=n * rec)
    return raw.reshape(n, rec)[:, 4:]


def bvecs_shape(path):
    with open(path, "rb") as f:
        dim = int(np.fromfile(f, dtype=np.int32, count=1)[0])
    return os.path.getsize(path) // (4 + dim), dim


def recall(ids, gt):
    hit = 0
    for a, b in zip(ids, gt[:, :K]):
        hit += len(set(a[a >= 0].tolist()) & set(b.tolist()))
    return hit / (len(ids) * K)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(args, n, dim):
    faiss.omp_set_num_threads(args.build_threads)
    spec = f"IVF{args.nlist},PQ{args.m}x4fs,Refine(SQ8)"
    index = faiss.index_factory(dim, spec)
    ntrain = min(n, max(65536, 64 * args.nlist))
    stride = n / ntrain
    t0, c0 = time.time(), time.process_time()
    rows = (np.arange(ntrain) * stride).astype(np.int64)
    train = np.empty((ntrain, dim), dtype=np.float32)
    for j, r in enumerate(rows):  # even-stride sample, a row at a time from the file
        if j % 65536 == 0:
            seg = rows[j:j + 65536]
            block = bvecs_rows(args.base, int(seg[0]), int(seg[-1] - seg[0]) + 1, dim)
            train[j:j + len(seg)] = block[seg - seg[0]]
    index.train(train)
    del train
    t1, c1 = time.time(), time.process_time()
    print(f"faiss build {spec}: trained on {ntrain} rows in {t1 - t0:.1f} s wall, {c1 - c0:.1f} s CPU", flush=True)
    for s in range(0, n, args.chunk):
        x = bvecs_rows(args.base, s, min(args.chunk, n - s), dim).astype(np.float32)
        index.add(x)
    t2, c2 = time.time(), time.process_time()
    print(f"faiss build: added {index.ntotal} in {t2 - t1:.1f} s wall, {c2 - c1:.1f} s CPU; total {t2 - t0:.1f} s "
          f"wall, {c2 - c0:.1f} s CPU; peak RSS so far {peak_rss_mib():.0f} MiB", flush=True)
    return index


def faiss_search(index, q, nprobe, kf, threads):
    faiss.omp_set_num_threads(threads)
    faiss.extract_index_ivf(index.base_index).nprobe = nprobe  # 1.7.3 does not look inside IndexRefine
    index.k_factor = kf
    c0, t0 = time.process_time(), time.time()
    _, ids = index.search(q, K)
    c1, t1 = time.process_time(), time.time()
    return ids, len(q) / (c1 - c0), len(q) / (t1 - t0)


def vs_search(args, nprobe, kf, threads):
    cmd = [args.vs, "search", "--index", args.index, "--queries", args.queries, "-k", str(K), "--nprobe",
           str(nprobe), "--k-factor", str(kf), "--threads", str(threads)]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # warm pass
    env = dict(os.environ, BENCH_CLOCK="cpu")
    out = subprocess.run(cmd + ["--groundtruth", args.gt], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=env, check=True, text=True).stderr
    qps = float(re.search(r"\(([0-9.]+) queries/s", out).group(1))
    rec = float(re.search(r"recall@10: ([0-9.]+)", out).group(1))
    return rec, qps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--index", required=True, help="vecscale index directory (IVF...,Ru8)")
    ap.add_argument("--vs", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "vecscale"))
    ap.add_argument("--nlist", type=int, default=4096)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--nprobe", type=int, default=8)
    ap.add_argument("--kfactors", default="20,30,40")
    ap.add_argument("--faiss-kfactors", default=None, help="FAISS's own k_factors (default: --kfactors); "
                    "rounds pair the i-th of each list")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=262144)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    n, dim = bvecs_shape(args.base)
    nq, _ = bvecs_shape(args.queries)
    q = bvecs_rows(args.queries, 0, nq, dim).astype(np.float32)
    gt = np.fromfile(args.gt, dtype=np.int32)
    gt = gt.reshape(-1, gt[0] + 1)[:, 1:]
    print(f"== faiss {faiss.__version__}, N={n}, {nq} queries, load {os.getloadavg()}", flush=True)
    index = build(args, n, dim)
    print(f"faiss in RAM: codes+ids {n * (args.m // 2 + 8) / 2**20:.0f} MiB, SQ8 refine {n * dim / 2**20:.0f} MiB",
          flush=True)
    kfs = [float(x) for x in args.kfactors.split(",")]
    fkfs = [float(x) for x in (args.faiss_kfactors or args.kfactors).split(",")]
    for r in range(1, args.rounds + 1):
        for t in [int(x) for x in args.threads.split(",")]:
            for i in range(max(len(kfs), len(fkfs))):
                if i < len(kfs):
                    rec, qps = vs_search(args, args.nprobe, kfs[i], t)
                    print(f"round={r} nprobe={args.nprobe} k_factor={kfs[i]:g} threads={t} vecscale: recall {rec:.4f} "
                          f"qps_cpu {qps:.0f}", flush=True)
                if i < len(fkfs):
                    ids, qps_cpu, qps_wall = faiss_search(index, q, args.nprobe, fkfs[i], t)
                    print(f"round={r} nprobe={args.nprobe} k_factor={fkfs[i]:g} threads={t} faiss: recall "
                          f"{recall(ids, gt):.4f} qps_cpu {qps_cpu:.0f} qps_wall {qps_wall:.0f}", flush=True)
    print(f"faiss process peak RSS {peak_rss_mib():.0f} MiB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
