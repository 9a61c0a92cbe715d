#!/bin/bash
# Scale pipeline for bench/SCALE.md (issue 18): N BIGANN-like uint8 vectors of 128 dimensions
# (bench/synth_u8.c), 10k queries, exact ground truth streamed over the base
# (`vecscale groundtruth`: Flat sgemm per 262144-row chunk, per-query top-k heap), the
# streaming build `IVF<NLIST>,PQ<M>x4fs,Ru8` (uint8 re-ranking store on disk), and searches
# warm and cold (cold: posix_fadvise(DONTNEED) on rerank.vsr before the run, so the
# re-ranking reads go to the disk; the index file stays cached).
#   bench/scale.sh N NLIST [WORKDIR]        e.g. bench/scale.sh 1000000 1024 /work/data/scale
# Environment: M (PQ sub-quantizers, default 32), NPROBES (default "8 16 32"), KFACTORS
# (default "10 20"), THREADS (search threads, default "1 2"), BUILD_THREADS (default 2),
# NQ (queries, default 10000: the first NQ of the same 10k-query stream), COLD (1 = also cold
# rows, default 1),
# BUILD_OPTS (extra `vecscale build` options, e.g. --resume), SEARCH_OPTS (extra `vecscale search`
# options, e.g. "--rerank-io pread" or "--rerank-batch 16").
# Base files are prefixes of each other (row r depends only on the seed and r), so a larger
# base_<N>.bvecs already present is cut rather than generated again.
set -eu
N="$1"; NLIST="$2"; W="${3:-/work/data/scale}"
M="${M:-32}"; NPROBES="${NPROBES:-8 16 32}"; KFACTORS="${KFACTORS:-10 20}"; THREADS="${THREADS:-1 2}"
BUILD_THREADS="${BUILD_THREADS:-2}"; NQ="${NQ:-10000}"; COLD="${COLD:-1}"; BUILD_OPTS="${BUILD_OPTS:-}"; SEARCH_OPTS="${SEARCH_OPTS:-}"
HERE=$(cd "$(dirname "$0")" && pwd)
VS="${VS:-$HERE/../build/vecscale}"
SPEC="IVF${NLIST},PQ${M}x4fs,Ru8"
B="$W/base_$N.bvecs"; Q="$W/queries_$NQ.bvecs"; GT="$W/gt_${N}_q$NQ.ivecs"; IDX="$W/idx_${N}_IVF${NLIST}_PQ${M}"
mkdir -p "$W"
[ "$W/synth_u8" -nt "$HERE/synth_u8.c" ] || gcc -O3 -march=native -fopenmp "$HERE/synth_u8.c" -lm -o "$W/synth_u8"
echo "== $(date -u +%FT%TZ) N=$N $SPEC git $(git -C "$HERE" rev-parse --short HEAD) load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -s "$B" ]; then
    bigger=$(ls "$W"/base_*.bvecs 2>/dev/null | while read -r f; do
        n=${f##*/base_}; n=${n%.bvecs}; [ "$n" -gt "$N" ] && echo "$f"; done | head -1)
    smaller=$(ls "$W"/base_*.bvecs 2>/dev/null | while read -r f; do
        n=${f##*/base_}; n=${n%.bvecs}; [ "$n" -lt "$N" ] && echo "$n"; done | sort -n | tail -1)
    if [ -n "$bigger" ]; then head -c $((N * 132)) "$bigger" >"$B.tmp"
    elif [ -n "$smaller" ]; then # the smaller base, then its continuation
        { cat "$W/base_$smaller.bvecs"; "$W/synth_u8" $((N - smaller)) 128 1000 1 1 "$smaller"; } >"$B.tmp"
    else /usr/bin/time -f "generate: %e s" "$W/synth_u8" "$N" 128 1000 1 1 >"$B.tmp"; fi
    mv "$B.tmp" "$B"
fi
[ -s "$Q" ] || "$W/synth_u8" "$NQ" 128 1000 1 2 >"$Q"
[ -s "$GT" ] || /usr/bin/time -f "groundtruth: %e s wall, %U s user, %M KiB peak RSS" "$VS" groundtruth \
    --base "$B" --queries "$Q" -k 10 --threads 2 --output "$GT" 2>&1 | grep -v '^$' | tail -2
if [ ! -s "$IDX/index.vsi" ] || [ -n "$BUILD_OPTS" ]; then
    [ -n "$BUILD_OPTS" ] || rm -rf "$IDX"
    # shellcheck disable=SC2086
    /usr/bin/time -v "$VS" build --input "$B" --output "$IDX" --index "$SPEC" --threads "$BUILD_THREADS" $BUILD_OPTS \
        2>"$IDX.time" | tail -2
    grep -E "trained on|resuming" "$IDX.time" || true
    awk -F': ' '/Elapsed \(wall/ {w=$2} /User time/ {u=$2} /Maximum resident/ {r=$2}
        END {printf "build: %s wall, %s s user, peak RSS %.0f MiB\n", w, u, r/1024}' "$IDX.time"
fi
"$VS" info "$IDX" | grep -E "vectors:|file size|RAM to serve|re-ranking store"
for np in $NPROBES; do
  for kf in $KFACTORS; do
    for t in $THREADS; do
      for temp in warm $([ "$COLD" = 1 ] && echo cold); do
        # Warm rows time by CPU time (BENCH_CLOCK=cpu: queries per CPU-second, robust to other
        # jobs on the machine); cold rows by the wall clock, since their cost is waiting for reads.
        clock=cpu
        if [ "$temp" = cold ]; then
            clock=wall
            /usr/bin/python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$IDX/rerank.vsr"
        else # warm: one untimed pass first
            # shellcheck disable=SC2086
            "$VS" search --index "$IDX" --queries "$Q" -k 10 --nprobe "$np" --k-factor "$kf" --threads "$t" $SEARCH_OPTS \
                >/dev/null 2>&1
        fi
        # shellcheck disable=SC2086
        BENCH_CLOCK=$clock /usr/bin/time -f "RSS %M KiB" "$VS" search --index "$IDX" --queries "$Q" -k 10 --nprobe "$np" --k-factor "$kf" \
            --threads "$t" --groundtruth "$GT" $SEARCH_OPTS 2>&1 >/dev/null \
            | sed -n 's/.*(\([0-9.]*\) queries\/s.*/qps \1/p; s/recall@10: /recall /p; s/^RSS/rss/p' | tr '\n' ' ' \
            | sed "s/^/N=$N nprobe=$np k_factor=$kf threads=$t $temp ($clock clock): /"
        echo
      done
    done
  done
done
if [ "$N" -ge 10000000 ]; then
    echo "next sizes (same pipeline):"
    echo "  bench/scale.sh 30000000 8192 $W"
    echo "  bench/scale.sh 100000000 16384 $W     # resumable: BUILD_OPTS=--resume continues a killed build"
fi
