#!/usr/bin/env bash
# Compressed-IVF comparison (issue 3): vecscale and FAISS on the same data in one run, one
# search thread, 10,000 queries, k = 10. Each spec is built by both libraries with the same
# factory string; rows are printed in the `vecscale bench` format and logged.
#
#   bench/run_ivf.sh glove|fashion [--data-dir DIR]
#
# Searches are timed by CPU time (BENCH_CLOCK=cpu, see bench/README.md) unless BENCH_CLOCK
# is set to something else; vecscale builds on BUILD_THREADS (default 1) threads, FAISS on 1.
set -eu
set -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VECSCALE=${VECSCALE:-$ROOT/build/vecscale}
PYTHON=${PYTHON:-/usr/bin/python3}
BUILD_THREADS=${BUILD_THREADS:-1}
export BENCH_CLOCK=${BENCH_CLOCK:-cpu}
DATA_DIR=$ROOT/bench/data
set_name=${1:-}
shift || true
[ "${1:-}" = "--data-dir" ] && DATA_DIR=$2

case "$set_name" in
  glove)
    D=$DATA_DIR/glove-100 METRIC=cosine
    RUNS=(
      "IVF1024,Flat|nprobe=16,64|"
      "IVF1024,SQ8|nprobe=16,64|"
      "IVF1024,PQ50|nprobe=16,64|"
      "IVF2048,PQ50x4fs,RFlat|nprobe=48,64,96,128|k_factor=20"
    ) ;;
  fashion)
    D=$DATA_DIR/fashion-mnist-784 METRIC=l2
    RUNS=(
      "IVF256,Flat|nprobe=8|"
      "IVF256,SQ8|nprobe=8|"
      "IVF256,PQ56|nprobe=8|"
      "IVF256,PQ56x4fs,RFlat|nprobe=4,8|k_factor=10"
    ) ;;
  *) echo "usage: bench/run_ivf.sh glove|fashion [--data-dir DIR]" >&2; exit 2 ;;
esac

mkdir -p "$DATA_DIR/logs"
LOG=$DATA_DIR/logs/ivf-$set_name-$(date -u +%Y%m%dT%H%M%SZ).log
echo "# bench/run_ivf.sh $set_name  $(date -u +%FT%TZ)  BENCH_CLOCK=$BENCH_CLOCK  git $(git -C "$ROOT" rev-parse --short HEAD)" | tee -a "$LOG"
common=(--base "$D/base.fvecs" --queries "$D/queries.fvecs" --groundtruth "$D/groundtruth.ivecs" --metric "$METRIC")
header=1
for r in "${RUNS[@]}"; do
  IFS='|' read -r spec param fixed <<< "$r"
  set_v=(); set_f=()
  [ -n "$fixed" ] && set_v=(--set "$fixed") && set_f=(--set "$fixed")
  nh=(); [ $header -eq 0 ] && nh=(--no-header)
  "$VECSCALE" bench "${common[@]}" --index "$spec" --param "$param" "${set_v[@]}" --build-threads "$BUILD_THREADS" --runs 2 "${nh[@]}" 2>&1 | tee -a "$LOG"
  "$PYTHON" "$ROOT/bench/compare/faiss_bench.py" "${common[@]}" --index "$spec" --param "$param" "${set_f[@]}" --threads 1 --runs 2 --no-header 2>&1 | tee -a "$LOG"
  header=0
done
echo "log: $LOG"
