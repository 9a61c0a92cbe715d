#!/usr/bin/python3
"""FAISS beside vecscale on the same uint8 base (issue 18, bench/SCALE.md), in one run.

Builds FAISS `IVF<nlist>,PQ<m>x4fsr` + a re-ranking index (fast-scan 4-bit PQ of the residual to
the list's centroid, re-ranked on the uint8 values themselves: `SQ8_direct`, 1 byte per dimension
and exact on this data like vecscale's ",Ru8" store, but held in RAM) from the .bvecs file
converted to float32 one chunk at a time (the float copy of the whole base never exists),
training on the same even-stride sample vecscale's streamed build uses
(min(N, max(65536, 64 * nlist)) rows), on --build-threads OpenMP threads.
--by-residual 0 gives the factory's plain `x4fs` (codes of the vectors: FAISS's default, which
on this clustered data ranks far worse; vecscale's indexes here code residuals), --refine SQ8
the factory's `Refine(SQ8)` (min/max per dimension from the sample, lossy), both as the
2026-12-05 rows of bench/SCALE.md were first run; the output names what was built.
Then searches the same queries with both, interleaved:
each round runs every k_factor once with vecscale (`vecscale search` on the existing index
directory, BENCH_CLOCK=cpu after an untimed pass) and once with FAISS (process CPU time), so
the machine's load falls on both alike. Queries/s are per CPU-second of the searching process.
--candidates also prints the recall of FAISS's k*k_factor candidates before re-ranking.

  /usr/bin/time -v /usr/bin/python3 bench/scale_faiss.py --base B.bvecs --queries Q.bvecs \
      --gt GT.ivecs --index IDX_DIR [--nlist 4096] [--m 32] [--nprobe 8] [--kfactors 20,30,40]
      [--threads 1] [--rounds 2] [--vs build/vecscale] [--by-residual 1] [--refine SQ8_direct]
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
_KEEP = []


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
    # The factory's `PQ<m>x4fs` codes the vectors (by_residual = false, "because it's faster");
    # `x4fsr` codes the residual to the list's centroid, as vecscale's PQ codes do whenever that
    # has the lower training error (both scale indexes here: by-residual byte of IVFH = 1).
    spec = f"IVF{args.nlist},PQ{args.m}x4fs{'r' if args.by_residual else ''},Refine({args.refine})"
    if args.refine == "SQ8_direct":
        # The uint8 values themselves, 1 B/dim, exact like vecscale's Ru8 store; FAISS 1.7.3's
        # factory does not know SQ8_direct inside Refine(), so the two parts are joined here.
        base = faiss.index_factory(dim, spec[:spec.index(",Refine(")])
        refine = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit_direct)
        index = faiss.IndexRefine(base, refine)
        _KEEP.extend((base, refine))  # IndexRefine does not own them
    else:
        index = faiss.index_factory(dim, spec)
    ivf = faiss.downcast_index(index.base_index)
    if bool(ivf.by_residual) != bool(args.by_residual):
        raise SystemExit(f"{spec}: by_residual is {ivf.by_residual}, asked {args.by_residual}")
    ivf.implem = args.implem
    print(f"faiss index: {spec}, {type(ivf).__name__} by_residual={bool(ivf.by_residual)} implem={ivf.implem} "
          f"bbs={ivf.bbs}", flush=True)
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
    if abs(index.k_factor - kf) > 1e-6:
        raise SystemExit(f"k_factor {kf} not set ({index.k_factor})")
    c0, t0 = time.process_time(), time.time()
    _, ids = index.search(q, K)
    c1, t1 = time.process_time(), time.time()
    return ids, len(q) / (c1 - c0), len(q) / (t1 - t0)


def candidate_recall(index, q, gt, nprobe, kf):
    """Share of the true top 10 among the k * k_factor candidates the fast-scan codes pass to
    the re-ranking: what the codes alone are worth, whatever the re-ranking store."""
    faiss.extract_index_ivf(index.base_index).nprobe = nprobe
    _, ids = index.base_index.search(q, int(K * kf))
    return recall(ids, gt)


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
    ap.add_argument("--by-residual", type=int, choices=(0, 1), default=1,
                    help="1: PQ codes of the residual to the list centroid (`x4fsr`, as vecscale's "
                    "indexes here); 0: codes of the vectors (the factory's plain `x4fs`)")
    ap.add_argument("--refine", default="SQ8_direct", choices=("SQ8_direct", "SQ8", "Flat"),
                    help="FAISS re-ranking data: SQ8_direct (the uint8 values, exact, 1 B/dim like Ru8), "
                    "SQ8 (trained min/max per dimension, 1 B/dim, lossy), Flat (float32, 4 B/dim)")
    ap.add_argument("--implem", type=int, default=0,
                    help="IndexIVFFastScan implem (0: FAISS picks 12, a heap, for k <= 20, else 13, a "
                    "reservoir; same candidates at 1M). 1.7.3's reservoir failed an assertion "
                    "(compress_array n_eq == 0) on a 20k-row base: 12 avoids it")
    ap.add_argument("--candidates", action="store_true",
                    help="also print the recall of FAISS's candidates before re-ranking")
    ap.add_argument("--no-vecscale", action="store_true", help="FAISS only (variant screening)")
    args = ap.parse_args()
    n, dim = bvecs_shape(args.base)
    nq, _ = bvecs_shape(args.queries)
    q = bvecs_rows(args.queries, 0, nq, dim).astype(np.float32)
    gt = np.fromfile(args.gt, dtype=np.int32)
    gt = gt.reshape(-1, gt[0] + 1)[:, 1:]
    print(f"== faiss {faiss.__version__} ({faiss.get_compile_options().strip()}), N={n}, {nq} queries, "
          f"load {os.getloadavg()}", flush=True)
    index = build(args, n, dim)
    rbytes = {"SQ8": 1, "SQ8_direct": 1, "Flat": 4}.get(args.refine, 0)
    print(f"faiss in RAM: codes+ids {n * (args.m // 2 + 8) / 2**20:.0f} MiB, {args.refine} refine "
          f"{n * dim * rbytes / 2**20:.0f} MiB", flush=True)
    kfs = [float(x) for x in args.kfactors.split(",")]
    fkfs = [float(x) for x in (args.faiss_kfactors or args.kfactors).split(",")]
    for r in range(1, args.rounds + 1):
        for t in [int(x) for x in args.threads.split(",")]:
            for i in range(max(len(kfs), len(fkfs))):
                if i < len(kfs) and not args.no_vecscale:
                    rec, qps = vs_search(args, args.nprobe, kfs[i], t)
                    print(f"round={r} nprobe={args.nprobe} k_factor={kfs[i]:g} threads={t} vecscale: recall {rec:.4f} "
                          f"qps_cpu {qps:.0f}", flush=True)
                if i < len(fkfs):
                    ids, qps_cpu, qps_wall = faiss_search(index, q, args.nprobe, fkfs[i], t)
                    print(f"round={r} nprobe={args.nprobe} k_factor={fkfs[i]:g} threads={t} faiss: recall "
                          f"{recall(ids, gt):.4f} qps_cpu {qps_cpu:.0f} qps_wall {qps_wall:.0f}", flush=True)
                    if args.candidates and r == 1:
                        print(f"  faiss candidates k*k_factor={int(K * fkfs[i])}: recall of the true top 10 "
                              f"{candidate_recall(index, q, gt, args.nprobe, fkfs[i]):.4f}", flush=True)
    print(f"faiss process peak RSS {peak_rss_mib():.0f} MiB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
