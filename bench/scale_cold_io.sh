#!/bin/bash
# Paired before/after runs of the ",Ru8" re-ranking reads (issue 18, bench/SCALE.md): the same
# searches with an old vecscale (one pread per run of rows, a query at a time) and this one
# (a batch's reads issued together and overlapping the next batch's scan: io_uring, and the
# WILLNEED + pread fallback), alternating within each round so the machine's load hits all
# alike. Cold: posix_fadvise(DONTNEED) on DIR/rerank.vsr before the run, wall clock (the index
# file stays cached). Warm: after an untimed pass, queries per CPU-second (BENCH_CLOCK=cpu).
#   VS_BEFORE=/path/to/old/vecscale bench/scale_cold_io.sh IDX_DIR QUERIES GROUNDTRUTH
# Environment: NPROBE (8), KFACTORS ("20 30"), THREADS ("1 2"), ROUNDS (2), TEMPS ("cold warm"),
# MODES ("before uring pread"), NQ (all queries of the file), VS (this build's vecscale).
set -eu
IDX="$1"; Q="$2"; GT="$3"
HERE=$(cd "$(dirname "$0")" && pwd)
VS="${VS:-$HERE/../build/vecscale}"; VS_BEFORE="${VS_BEFORE:-}"
NPROBE="${NPROBE:-8}"; KFACTORS="${KFACTORS:-20 30}"; THREADS="${THREADS:-1 2}"; ROUNDS="${ROUNDS:-2}"
TEMPS="${TEMPS:-cold warm}"; MODES="${MODES:-before uring pread}"; NQ="${NQ:-}"
echo "== $(date -u +%FT%TZ) $IDX git $(git -C "$HERE" rev-parse --short HEAD) load $(cut -d' ' -f1-3 /proc/loadavg)"
drop() { /usr/bin/python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$IDX/rerank.vsr"; }
for r in $(seq "$ROUNDS"); do
  for kf in $KFACTORS; do
    for t in $THREADS; do
      for temp in $TEMPS; do
        for mode in $MODES; do
          if [ "$mode" = before ]; then
              [ -n "$VS_BEFORE" ] || continue
              cmd=("$VS_BEFORE" search)
          else
              cmd=("$VS" search --rerank-io "$mode")
          fi
          cmd+=(--index "$IDX" --queries "$Q" -k 10 --nprobe "$NPROBE" --k-factor "$kf" --threads "$t")
          [ -z "$NQ" ] || cmd+=(--max-queries "$NQ")
          clock=cpu
          if [ "$temp" = cold ]; then clock=wall; drop; else "${cmd[@]}" >/dev/null 2>&1; fi
          BENCH_CLOCK=$clock "${cmd[@]}" --groundtruth "$GT" 2>&1 >/dev/null \
              | sed -n 's/.*(\([0-9.]*\) queries\/s.*/qps \1/p; s/recall@10: /recall /p' | tr '\n' ' ' \
              | sed "s/^/round=$r nprobe=$NPROBE k_factor=$kf threads=$t $temp ($clock clock) $mode: /"
          echo
        done
      done
    done
  done
done
