#!/usr/bin/env bash
# HNSW side by side: vecscale, hnswlib and FAISS on the same data set in one run, the same
# M and efConstruction, builds on $BUILD_THREADS threads, searches on one thread, one query
# at a time for vecscale (--single) and hnswlib, one batch for FAISS (one OpenMP thread).
#
#   bench/hnsw.sh fashion-mnist|glove-100 [--data-dir DIR] [--index SPEC]
#
# Environment: VECSCALE (default build/vecscale), PYTHON (default /usr/bin/python3),
# BUILD_THREADS (default 2), M (16), EFC (200), EF (10,20,40,80,120,200,400), RUNS (1),
# SKIP (space-separated: vecscale hnswlib faiss), BENCH_CLOCK (default cpu: searches timed by
# process CPU time in all three harnesses, see bench/README.md). --index overrides vecscale's factory
# string (default HNSW$M), e.g. "HNSW16,SQ8,RFlat"; repeat it to build and measure several in the
# same run (e.g. --index HNSW16 --index HNSW16,SQ8). The log goes to DIR/logs/hnsw-*.log.
# PAIRED=1 also saves the vecscale and hnswlib indexes (in DIR/idx) and then measures them
# again with bench/compare/hnsw_paired.cpp: both libraries in one process, interleaved in
# blocks of 20 queries, so their queries/s ratio is free of the machine's drift.
set -eu
set -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VECSCALE=${VECSCALE:-$ROOT/build/vecscale}
PYTHON=${PYTHON:-/usr/bin/python3}
BUILD_THREADS=${BUILD_THREADS:-2}
M=${M:-16}
EFC=${EFC:-200}
EF=${EF:-10,20,40,80,120,200,400}
RUNS=${RUNS:-1}
SKIP=${SKIP:-}
PAIRED=${PAIRED:-0}
export BENCH_CLOCK=${BENCH_CLOCK:-cpu}
DATA_DIR=$ROOT/bench/data
SET=""
INDEXES=()

while [ $# -gt 0 ]; do
  case "$1" in
    fashion-mnist|glove-100) SET=$1 ;;
    --data-dir) DATA_DIR=$2; shift ;;
    --index) INDEXES+=("$2"); shift ;;
    *) echo "usage: bench/hnsw.sh fashion-mnist|glove-100 [--data-dir DIR] [--index SPEC]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$SET" ] || { echo "bench/hnsw.sh: name a data set (fashion-mnist or glove-100)" >&2; exit 2; }
[ ${#INDEXES[@]} -gt 0 ] || INDEXES=("HNSW$M")
case "$SET" in
  fashion-mnist) dir=$DATA_DIR/fashion-mnist-784; metric=l2 ;;
  glove-100) dir=$DATA_DIR/glove-100; metric=cosine ;;
esac
[ -s "$dir/groundtruth.ivecs" ] || { echo "bench/hnsw.sh: $dir is incomplete: run bench/datasets.sh $SET" >&2; exit 1; }
mkdir -p "$DATA_DIR/logs"
LOG=$DATA_DIR/logs/hnsw-$SET-$(date -u +%Y%m%dT%H%M%SZ).log
files=(--base "$dir/base.fvecs" --queries "$dir/queries.fvecs" --groundtruth "$dir/groundtruth.ivecs" --metric "$metric")
skip() { case " $SKIP " in *" $1 "*) return 0 ;; esac; return 1; }

{
  echo "# bench/hnsw.sh $SET $(date -u +%Y-%m-%dT%H:%M:%SZ) git $(git -C "$ROOT" rev-parse --short HEAD) BENCH_CLOCK=$BENCH_CLOCK load $(cut -d' ' -f1-3 /proc/loadavg)"
  lib=""
  [ "$PAIRED" = 1 ] && lib=$(dirname "$VECSCALE")/libvecscale.a
  VECSCALE_LIB=$lib "$ROOT/bench/compare/build.sh" >&2
  header=()
  saved=()
  for index in "${INDEXES[@]}"; do
    save=()
    if [ "$PAIRED" = 1 ]; then
      saved+=("$DATA_DIR/idx/$SET-$(echo "$index" | tr ',' '-').vsi"); save=(--save "${saved[-1]}")
      mkdir -p "$DATA_DIR/idx"
    fi
    skip vecscale || "$VECSCALE" bench "${files[@]}" --index "$index" --efc "$EFC" --build-threads "$BUILD_THREADS" \
      --threads 1 --param "ef=$EF" --single --runs "$RUNS" "${header[@]}" "${save[@]}"
    header=(--no-header)
  done
  save=()
  [ "$PAIRED" = 1 ] && save=(--save "$DATA_DIR/idx/$SET-hnswlib$M.bin")
  skip hnswlib || "$ROOT/bench/build/hnswlib_bench" "${files[@]}" --M "$M" --efc "$EFC" --ef "$EF" \
    --threads "$BUILD_THREADS" --runs "$RUNS" --no-header "${save[@]}"
  skip faiss || "$PYTHON" "$ROOT/bench/compare/faiss_bench.py" "${files[@]}" --index "HNSW$M" --efc "$EFC" \
    --param "efSearch=$EF" --threads 1 --build-threads "$BUILD_THREADS" --runs "$RUNS" --no-header
  if [ "$PAIRED" = 1 ]; then
    echo "# paired (bench/build/hnsw_paired, same process, interleaved blocks of 20 queries, $((RUNS > 1 ? RUNS : 2)) rounds):"
    "$ROOT/bench/build/hnsw_paired" --queries "$dir/queries.fvecs" --groundtruth "$dir/groundtruth.ivecs" \
      --metric "$metric" --vecscale "$(IFS=,; echo "${saved[*]}")" --hnswlib "$DATA_DIR/idx/$SET-hnswlib$M.bin" \
      --ef "$EF" --rounds $((RUNS > 1 ? RUNS : 2)) | grep -v '^library'
  fi
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$LOG"
