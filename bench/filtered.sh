#!/bin/sh
# Filtered search (issue 14): bench/filter_bench.c on GloVe-100 with a synthetic payload
# (1%, 10%, 50% selectivity) and on the WordNet collection, against unfiltered search.
#   bench/filtered.sh glove [--data-dir DIR] [NQ] [EF]     (bench/datasets.sh glove-100 first)
#   bench/filtered.sh wordnet COLLECTION_DIR [NQ] [EF]    (scripts/run.sh's data/wordnet-glove100,
#                                                           or the one below; copied first)
#   bench/filtered.sh wordnet-build OUT_DIR               WordNet as scripts/run.sh indexes it (same
#       documents, ids, text, metadata pos/synset/words) plus a synthetic payload "b" = h(id) % 100,
#       built with `vecscale build --input` (HNSW16, glove-100): filters b < 1, 10, 50 then run too.
# Environment: BUILD (default build: a Release build with libvecscale.a).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/filter_bench
libs="-L/usr/lib/x86_64-linux-gnu/openblas-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp"
libs="$libs -lopenblas -lgomp -lxxhash -lm -lcurl -lxml2 -lcjson -lroaring -lutf8proc -lcrypto -lpthread"
cmake --build "$BUILD" --target vecscale_static -j2 >/dev/null
cc -O2 -I"$ROOT/include" -I"$BUILD/include" "$ROOT/bench/filter_bench.c" "$BUILD/libvecscale.a" $libs -o "$BIN"
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
wordnet-build)
    out=$2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    awk -v prefix="$tmp/batch" -v batch=5000 -f "$ROOT/scripts/wordnet_batches.awk" /usr/share/wordnet/data.noun \
        /usr/share/wordnet/data.verb /usr/share/wordnet/data.adj /usr/share/wordnet/data.adv
    /usr/bin/python3 - "$tmp" <<'PY'
import glob, json, sys
M = (1 << 64) - 1
def mix(x):  # filter_bench.c's mix()
    x = (x + 0x9e3779b97f4a7c15) & M
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M
    return x ^ (x >> 31)
with open(sys.argv[1] + "/wordnet.jsonl", "w") as out:
    for f in sorted(glob.glob(sys.argv[1] + "/batch.*")):
        for d in json.load(open(f))["documents"]:
            o = {"id": d["id"], "text": d["text"]}
            o.update(d["metadata"])
            o["b"] = mix(d["id"]) % 100
            out.write(json.dumps(o) + "\n")
PY
    "$BUILD/vecscale" build --input "$tmp/wordnet.jsonl" --output "$out" --model glove-100 --index HNSW16 --threads 2 ;;
*) echo "usage: bench/filtered.sh glove [--data-dir DIR] [NQ] [EF] | wordnet DIR [NQ] [EF] | wordnet-build OUT" >&2; exit 2 ;;
esac
