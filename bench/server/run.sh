#!/bin/sh
# Load test of `vecscale serve` on GloVe-100 (bench/datasets.sh glove-100) in an HNSW16
# collection: in-process batch search on the same index with the same thread count, then
# wrk (2 threads, 64 connections, 30 s) against POST /search, then again with 10% of the
# requests adding documents. Needs wrk and node (scripts/setup.sh --bench).
#   bench/server/run.sh [THREADS]
set -eu
cd "$(dirname "$0")/../.."
T=${1:-2}
VS=${VS:-build/vecscale}
D=bench/data/glove-100
DATA=bench/data/server-glove-hnsw16
[ -f $D/base.fvecs ] || bench/datasets.sh glove-100
mkdir -p $DATA
rm -f $DATA.port
$VS serve --data $DATA --port 0 --port-file $DATA.port --dim 100 --metric cosine --index HNSW16 --threads "$T" \
    >$DATA.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT INT TERM
while [ ! -s $DATA.port ]; do sleep 0.1; done
URL=http://127.0.0.1:$(cat $DATA.port)
N=$(curl -sf $URL/stats | sed 's/.*"total_vectors":\([0-9]*\).*/\1/')
if [ "$N" = 0 ]; then
    echo "loading $D/base.fvecs over HTTP (POST /vectors, 10,000 per request)"
    t0=$(date +%s)
    node bench/server/fvecs_http.js load $URL $D/base.fvecs 10000
    curl -sf -X POST $URL/save >/dev/null
    echo "loaded and snapshotted in $(( $(date +%s) - t0 )) s"
fi
curl -sf -X POST $URL/save >/dev/null # the in-process run reads exactly the served index
curl -sf $URL/stats; echo
INDEX=$(ls $DATA/collections/default/index-*.vsi | tail -1)
[ -s $D/search_bodies.txt ] || node bench/server/fvecs_http.js bodies $D/queries.fvecs $D/search_bodies.txt 10
# In-process and HTTP runs alternate, so both see the same machine load (quote the ratio).
inproc() {
    echo "== in-process batch search on $INDEX, $T threads, ef default (64), k=10"
    $VS search --index "$INDEX" --load --queries $D/queries.fvecs -k 10 --threads "$T" \
        --groundtruth $D/groundtruth.ivecs 2>&1 >/dev/null | tr '\n' ' '
    echo
}
http() {
    echo "== wrk -t2 -c64 -d30s POST /search (vector queries, k=10)"
    BODIES=$D/search_bodies.txt wrk -t2 -c64 -d30s --latency -s bench/server/search.lua $URL |
        grep -E "Requests/sec|requests|latency|Non-2xx|Socket"
}
inproc; http; inproc; http; inproc
echo "== same with 10% of requests adding a document (POST /vectors)"
BODIES=$D/search_bodies.txt ADD_PERCENT=10 wrk -t2 -c64 -d30s --latency -s bench/server/search.lua $URL |
    grep -E "Requests/sec|requests|latency|Non-2xx|Socket"
curl -sf $URL/stats; echo
curl -sf $URL/metrics | grep -E 'requests_total\{route="(search|vectors)"|log_syncs'
kill -TERM $PID
wait $PID
trap - EXIT
