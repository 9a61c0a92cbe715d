#!/bin/sh
# Filtered search (issue 14): bench/filter_bench.c on GloVe-100 with a synthetic payload
# (1%, 10%, 50% selectivity) and on the WordNet collection, against unfiltered search.
#   bench/filtered.sh glove [--data-dir DIR] [NQ] [EF]     (bench/datasets.sh glove-100 first)
#   bench/filtered.sh wordnet COLLECTION_DIR [NQ] [EF]    (scripts/run.sh's data/wordnet-glove100,
#                                                           or vecscale build --input ...; copied first)
# Environment: BUILD (default build: a Release build with libvecscale.a).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/filter_bench
libs="-L/usr/lib/x86_64-linux-gnu/openblas-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp"
libs="$libs -lopenblas -lgomp -lxxhash -lm -lcurl -lxml2 -lcjson -lroaring -lutf8proc -lcrypto -lpthread"
cmake --build "$BUILD" --target vecscale_static -j2 >/dev/null
cc -O2 -I"$ROOT/include" "$ROOT/bench/filter_bench.c" "$BUILD/libvecscale.a" $libs -o "$BIN"
echo "# bench/filtered.sh $* $(date -u +%Y-%m-%dT%H:%M:%SZ) git $(git -C "$ROOT" rev-parse --short HEAD) load $(cut -d' ' -f1-3 /proc/loadavg)"
case "${1:-}" in
glove)
    shift
    DATA=$ROOT/bench/data
    if [ "${1:-}" = --data-dir ]; then DATA=$2; shift 2; fi
    D=$DATA/glove-100
    mkdir -p "$DATA/idx"
    "$BIN" glove "$D/base.fvecs" "$D/queries.fvecs" "$DATA/idx/glove-100-filtered" "$@" ;;
wordnet)
    src=$2
    shift 2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp -r "$src" "$tmp/c"
    rm -f "$tmp/c/LOCK"
    "$BIN" wordnet "$tmp/c" "$@" ;;
*) echo "usage: bench/filtered.sh glove [--data-dir DIR] [NQ] [EF] | wordnet DIR [NQ] [EF]" >&2; exit 2 ;;
esac
