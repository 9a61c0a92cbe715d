#!/bin/sh
# Reruns every row of issue 21's must-show table in one go: vecscale beside native FAISS (its
# Python module from a source build, outside this repository) and hnswlib (-march=native), each
# pair or triple searched interleaved in one process, one search thread, batch and one query
# per call. Prints the raw rows; bench/RESULTS.md (issue 21) says how to read them (each
# library at its lowest grid point reaching the recall).
#
#   FAISS_PY=/opt/faiss-py bench/issue21.sh [OUT.log]
#
# Environment: DATA (default bench/data: glove-100/ and fashion-mnist-784/ with base.fvecs,
# queries.fvecs, groundtruth.ivecs), IDX (default $DATA/idx: saved indexes, built here when
# missing), LIB (default build/libvecscale.so), FAISS_PY (directory holding the faiss
# package; FAISS_OPT_LEVEL=avx512 is set, as that build needs), RUNS (IVF rounds, default 3),
# ROUNDS (HNSW rounds, default 2), NQ (queries of the one-per-call IVF rows, default 2000).
# With every index present it takes about 20 minutes on the 2-core VM of bench/RESULTS.md
# (quiet); building the missing ones adds up to an hour (FAISS's GloVe HNSW about 8 min,
# hnswlib's about 10, FAISS's GloVe IVF2048 about 9).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DATA=${DATA:-$ROOT/bench/data}
IDX=${IDX:-$DATA/idx}
LIB=${LIB:-$ROOT/build/libvecscale.so}
RUNS=${RUNS:-3}
ROUNDS=${ROUNDS:-2}
NQ=${NQ:-2000}
: "${FAISS_PY:?set FAISS_PY to the directory holding the native FAISS python package}"
export PYTHONPATH="$FAISS_PY" FAISS_OPT_LEVEL=avx512
PY=/usr/bin/python3
G=$DATA/glove-100
F=$DATA/fashion-mnist-784
VS=$ROOT/build/vecscale
OUT=${1:-/dev/stdout}
mkdir -p "$IDX"
if [ ! -x "$VS" ] || [ ! -f "$LIB" ]; then echo "issue21.sh: build vecscale first (cmake --build build)" >&2; exit 1; fi
sh bench/compare/build.sh >&2

say() { echo "== $* $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"; }

# Indexes, built once (the FAISS ones are built by the harnesses when their file is missing).
vs_build() { # data metric factory file [vecscale bench options]
    [ -f "$4" ] && return 0
    d=$1 m=$2 f=$3 o=$4
    shift 4
    "$VS" bench --base "$d/base.fvecs" --queries "$d/queries.fvecs" --groundtruth "$d/groundtruth.ivecs" \
        --metric "$m" --index "$f" --build-threads 2 --threads 1 "$@" --save "$o" >&2
}
vs_build "$F" l2 IVF256,PQ196x4fs,RFlat "$IDX/issue21-f196.vsi" --param nprobe=5 --set k_factor=4
vs_build "$F" l2 IVF256,PQ392x4fs,RFlat "$IDX/issue21-f392.vsi" --param nprobe=4 --set k_factor=1
vs_build "$G" cosine IVF2048,PQ50x4fs,RFlat "$IDX/issue21-g50.vsi" --param nprobe=80 --set k_factor=15
vs_build "$G" cosine Flat "$IDX/issue21-gflat.vsi"
vs_build "$G" cosine HNSW16 "$IDX/glove-HNSW16-bfs.vsi" --efc 200 --param ef=160
vs_build "$F" l2 HNSW16 "$IDX/fashion-HNSW16-bfs.vsi" --efc 200 --param ef=10
[ -f "$IDX/glove-hnswlib16.bin" ] || bench/build/hnswlib_bench --base "$G/base.fvecs" --queries "$G/queries.fvecs" \
    --groundtruth "$G/groundtruth.ivecs" --metric cosine --M 16 --efc 200 --ef 160 --threads 2 \
    --save "$IDX/glove-hnswlib16.bin" >&2
[ -f "$IDX/fashion-hnswlib16.bin" ] || bench/build/hnswlib_bench --base "$F/base.fvecs" --queries "$F/queries.fvecs" \
    --groundtruth "$F/groundtruth.ivecs" --metric l2 --M 16 --efc 200 --ef 20 --threads 2 \
    --save "$IDX/fashion-hnswlib16.bin" >&2

{
    grep -m1 'model name' /proc/cpuinfo
    grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512[a-z_0-9]*|amx[a-z_0-9]*)$' | tr '\n' ' '
    echo
    echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo '?'), LIB $LIB"
    for mode in single batch; do
        nq=0
        [ $mode = single ] && nq=$NQ
        say "IVF Fashion PQ196 $mode"
        $PY bench/compare/ivf_paired.py --lib "$LIB" --data "$F" --metric l2 --vs-index "$IDX/issue21-f196.vsi" \
            --faiss-index "$IDX/issue21-f196.faiss" --factory IVF256,PQ196x4fs,RFlat --nprobe 3,4,5,6 --k-factor 4 \
            --runs "$RUNS" --mode $mode --nq "$nq"
        say "IVF Fashion PQ392 $mode"
        $PY bench/compare/ivf_paired.py --lib "$LIB" --data "$F" --metric l2 --vs-index "$IDX/issue21-f392.vsi" \
            --faiss-index "$IDX/issue21-f392.faiss" --factory IVF256,PQ392x4fs,RFlat --nprobe 4,8 --k-factor 1 \
            --runs "$RUNS" --mode $mode --nq "$nq"
        say "IVF GloVe PQ50 $mode"
        $PY bench/compare/ivf_paired.py --lib "$LIB" --data "$G" --metric cosine --vs-index "$IDX/issue21-g50.vsi" \
            --faiss-index "$IDX/issue21-g50.faiss" --factory IVF2048,PQ50x4fs,RFlat --nprobe 48,64,80,96,112,128 \
            --k-factor 15 --runs "$RUNS" --mode $mode --nq "$nq"
        say "Flat GloVe $mode"
        $PY bench/compare/ivf_paired.py --lib "$LIB" --data "$G" --metric cosine --vs-index "$IDX/issue21-gflat.vsi" \
            --faiss-index "$IDX/issue21-gflat.faiss" --factory Flat --nprobe 1 --runs "$RUNS" --mode $mode --nq "$nq"
    done
    for mode in block single; do
        say "HNSW16 GloVe $mode (vecscale, FAISS, hnswlib)"
        $PY bench/compare/hnsw_faiss_paired.py --lib "$LIB" --data "$G" --metric cosine \
            --vs-index "$IDX/glove-HNSW16-bfs.vsi" --faiss-index "$IDX/glove-faiss16.index" \
            --hnswlib "$IDX/glove-hnswlib16.bin" --M 16 --efc 200 --ef 120,140,160,180,200,220 --rounds "$ROUNDS" --mode $mode
        say "HNSW16 Fashion $mode (vecscale, FAISS, hnswlib)"
        $PY bench/compare/hnsw_faiss_paired.py --lib "$LIB" --data "$F" --metric l2 \
            --vs-index "$IDX/fashion-HNSW16-bfs.vsi" --faiss-index "$IDX/fashion-faiss16.index" \
            --hnswlib "$IDX/fashion-hnswlib16.bin" --M 16 --efc 200 --ef 10,20,30 --rounds "$ROUNDS" --mode $mode
    done
    say "done"
} 2>&1 | tee "$OUT"
