#!/usr/bin/env bash
# Runs vecscale and the reference libraries on the same data sets in one run.
#
#   bench/run.sh [--quick] [--data-dir DIR]
#
#   --quick   only Fashion-MNIST-784 (default: Fashion-MNIST-784 and GloVe-100)
#
# Steps: build the comparators (bench/compare/build.sh), make sure the data
# sets exist (bench/datasets.sh), then per data set:
#   vecscale bench  --index Flat            --threads 1
#   faiss_bench.py  --index Flat            --threads 1
#   hnswlib_bench   --M 16 --efc 200 --ef 10,20,40,80,120,200,400 (build on
#                   $BUILD_THREADS threads, search on one)
# Output goes to stdout and is appended to DIR/logs/run-<UTC timestamp>.log.
# A failing step is reported and the run goes on; the exit status is non-zero
# if any step failed.
#
# Environment: VECSCALE (default build/vecscale), PYTHON (default
# /usr/bin/python3, which has python3-faiss), BUILD_THREADS (default nproc),
# HNSW_EF (default 10,20,40,80,120,200,400).
set -eu
set -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VECSCALE=${VECSCALE:-$ROOT/build/vecscale}
PYTHON=${PYTHON:-/usr/bin/python3}
BUILD_THREADS=${BUILD_THREADS:-$(nproc)}
HNSW_EF=${HNSW_EF:-10,20,40,80,120,200,400}
DATA_DIR=$ROOT/bench/data
QUICK=0

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --data-dir) [ $# -ge 2 ] || { echo "run.sh: --data-dir needs a value" >&2; exit 2; }; DATA_DIR=$2; shift ;;
    --data-dir=*) DATA_DIR=${1#--data-dir=} ;;
    -h|--help) echo "usage: bench/run.sh [--quick] [--data-dir DIR]" >&2; exit 2 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
export VECSCALE

mkdir -p "$DATA_DIR/logs"
LOG=$DATA_DIR/logs/run-$(date -u +%Y%m%dT%H%M%SZ).log
FAILED=""

# out: print to stdout and append to the log
out() { echo "$*" | tee -a "$LOG"; }

# step NAME CMD...: runs CMD with stdout+stderr shown and logged; records failures
step() {
  local name=$1 rc=0
  shift
  out "## $name"
  out "\$ $*"
  "$@" 2>&1 | tee -a "$LOG" || rc=$?
  if [ "$rc" -ne 0 ]; then
    out "!! $name failed (exit $rc)"
    FAILED="$FAILED $name"
  fi
  out ""
  return 0
}

out "# vecscale benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
out "# host: $(uname -srm); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); cores: $(nproc); mem: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
out "# git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (dirty)')"
out "# vecscale: $VECSCALE; hnswlib $(dpkg-query -W -f='${Version}' libhnswlib-dev 2>/dev/null || echo '?'); faiss $("$PYTHON" -c 'import faiss; print(faiss.__version__)' 2>/dev/null || echo '?')"
out "# log: $LOG"
out ""

step build-comparators "$ROOT/bench/compare/build.sh"
if [ "$QUICK" = 1 ]; then
  SETS="fashion-mnist"
else
  SETS="fashion-mnist glove-100"
fi
for s in $SETS; do
  step "datasets-$s" "$ROOT/bench/datasets.sh" "$s" --data-dir "$DATA_DIR"
done

for s in $SETS; do
  case "$s" in
    fashion-mnist) dir=$DATA_DIR/fashion-mnist-784; metric=l2 ;;
    glove-100) dir=$DATA_DIR/glove-100; metric=cosine ;;
  esac
  if [ ! -s "$dir/groundtruth.ivecs" ]; then
    out "!! $s: data set incomplete in $dir, skipping"
    FAILED="$FAILED $s-data"
    continue
  fi
  files=(--base "$dir/base.fvecs" --queries "$dir/queries.fvecs" --groundtruth "$dir/groundtruth.ivecs" --metric "$metric")
  out "=== $s ($metric) ==="
  step "$s-vecscale-flat" "$VECSCALE" bench "${files[@]}" --index Flat --threads 1 --runs 3
  step "$s-vecscale-bench-flat" "$VECSCALE" bench-flat --base "$dir/base.fvecs" --queries "$dir/queries.fvecs" \
    --metric "$metric" --repeat 2 --verify 100 --single 500
  step "$s-faiss-flat" "$PYTHON" "$ROOT/bench/compare/faiss_bench.py" "${files[@]}" --index Flat --threads 1 --runs 3
  step "$s-hnswlib" "$ROOT/bench/build/hnswlib_bench" "${files[@]}" \
    --M 16 --efc 200 --ef "$HNSW_EF" --threads "$BUILD_THREADS" --runs 3
done

if [ -n "$FAILED" ]; then
  out "# FAILED:$FAILED"
  out "# log: $LOG"
  exit 1
fi
out "# all steps passed; log: $LOG"
