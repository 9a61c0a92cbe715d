#!/bin/bash
# The distributed build end to end: `vecscale build --shards 4 --output s3://...` against the
# fixture's radosgw, then a loopback cluster (etcd, a 3-node NATS cluster for the write log, 4
# shards x 2 replicas of `vecscale serve --cluster --nats --snapshot-uri` on empty data
# directories, `vecscale route --nats`) that restores the shards from the store. Recall@10
# through the router equals that of one node serving the same data built with the same index
# spec (--shards 1). A replica wiped while down (and the router restarted meanwhile) comes
# back from the build's snapshot plus its shard's stream to what its peer holds.
# Usage: test_build_shards.sh VECSCALE CLUSTER_CHECK TMPDIR ENVFILE
set -eu
VS="$1"; CHECK="$2"; T="$3"
HERE=$(cd "$(dirname "$0")" && pwd)
set -a; . "$4"; set +a
export AWS_ENDPOINT_URL="$S3_ENDPOINT"
rm -rf "$T"; mkdir -p "$T"
. "$(dirname "$0")/cluster_lib.sh"

run="build$(date +%s)-$$"
U="s3://vs-test-build/$run"
SPEC="IVF64,PQ8x8"
"$CHECK" gen 20000 32 11 "$T/base.fvecs" && "$CHECK" gen 200 32 12 "$T/q.fvecs"

if "$VS" build --input "$T/base.fvecs" --shards 4 --index "$SPEC" --train-size 8000 --output "$U/c" --create-bucket \
    >"$T/build.log" 2>&1; then
    cat "$T/build.log"
    n=$(grep -c "^published $U/c/shard-[0-3] generation 1: 3 files" "$T/build.log" || true)
    sum=$(grep -o '^shard [0-3]: [0-9]* vectors' "$T/build.log" | awk '{s += $3} END {print s}')
    [ "$n" -eq 4 ] && [ "$sum" -eq 20000 ] && grep -q "trained IVF64,PQ8 on 8000 of 20000 rows" "$T/build.log" \
        && ok "4 shards built from one training and published ($sum vectors)" || bad "4 shards built and published"
else
    bad "build --shards 4"; cat "$T/build.log"
fi
"$VS" build --input "$T/base.fvecs" --shards 1 --index "$SPEC" --train-size 8000 --output "$U/one" >"$T/build1.log" 2>&1 \
    && ok "the same build as one shard" || { bad "build --shards 1"; cat "$T/build1.log"; }

eval "$("$HERE/etcd.sh" start "$T/etcd")"
E="$ETCD_ENDPOINT"
eval "$("$HERE/nats.sh" start "$T/nats")"
trap 'cleanup; "$HERE/nats.sh" stop "$T/nats" >/dev/null 2>&1' EXIT
"$VS" cluster init --etcd "$E" --shards 4 --replicas 2 --nodes n0,n1,n2,n3,n4,n5,n6,n7 --metric l2 >/dev/null
declare -A node_pid
for i in 0 1 2 3 4 5 6 7; do
    "$VS" serve --data "$T/n$i" --port 0 --port-file "$T/n$i.port" --threads 2 --cluster "$E" --node-id "n$i" \
        --ttl 2 --snapshot-uri "$U/c" --nats "$NATS_URL" >"$T/n$i.log" 2>&1 &
    node_pid[$i]=$!; pids+=($!); disown $!
done
"$VS" serve --data "$T/one" --port 0 --port-file "$T/one.port" --snapshot-uri "$U/one/shard-0" >"$T/one.log" 2>&1 &
pids+=($!); disown $!
"$VS" route --cluster "$E" --nats "$NATS_URL" --port 0 --port-file "$T/router.port" >"$T/router.log" 2>&1 &
router_pid=$!; pids+=($!); disown $!
for f in n0 n1 n2 n3 n4 n5 n6 n7 one router; do wait_file "$T/$f.port"; done
R="http://127.0.0.1:$(cat "$T/router.port")"
S="http://127.0.0.1:$(cat "$T/one.port")"
restored=0
for i in 0 1 2 3 4 5 6 7; do grep -q "restored $U/c/shard-$((i / 2)) generation 1" "$T/n$i.log" && restored=$((restored + 1)); done
[ $restored -eq 8 ] && ok "each node restored the shard the map assigns it (n0,n1: shard 0 ... n6,n7: shard 3)" \
    || { bad "nodes restored their shards ($restored of 8)"; cat "$T/n0.log"; }
# (deadlines, not counts of tries: 8 ASan servers on a loaded machine register and replay slowly)
live=0; end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
    live=$(curl -s "$R/cluster" | grep -o '"live":true' | wc -l)
    [ "$live" -eq 8 ] && break; sleep 0.1
done
[ "$live" -eq 8 ] && ok "8 nodes registered themselves (serve --cluster)" || bad "8 nodes registered ($live)"

r_router=$("$CHECK" recall "$R" "$T/base.fvecs" "$T/q.fvecs" 10)
r_single=$("$CHECK" recall "$S" "$T/base.fvecs" "$T/q.fvecs" 10)
echo "router: $r_router"; echo "single: $r_single"
[ "$r_router" = "$r_single" ] && echo "$r_router" | grep -q "partial 0 failed 0" \
    && ok "recall@10 through the router equals the single node's ($SPEC)" || bad "recall through the router"

# n0 is down while adds arrive through the log and the router restarts; n0's data directory
# is wiped; it comes back from the build's snapshot (stream position 0) and replays its shard's
# stream to what n1 holds.
live_count() { curl -s "$R/cluster" | grep -o '"live":true' | wc -l; }
count() { curl -s "http://127.0.0.1:$(cat "$T/n$1.port")/collections/default" | grep -o '"total_vectors":[0-9]*' | grep -o '[0-9]*$'; }
before=$(count 0)
kill -9 "${node_pid[0]}"
end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do [ "$(live_count)" -eq 7 ] && break; sleep 0.1; done
"$CHECK" gen 400 32 13 "$T/extra.fvecs" >/dev/null
"$CHECK" load "$R" "$T/extra.fvecs" 20000 >/dev/null || bad "adds with n0 down"
kill "$router_pid"
rm -f "$T/router.port"
"$VS" route --cluster "$E" --nats "$NATS_URL" --port 0 --port-file "$T/router.port" >"$T/router2.log" 2>&1 &
pids+=($!); disown $!
wait_file "$T/router.port"
R="http://127.0.0.1:$(cat "$T/router.port")"
rm -rf "$T/n0" "$T/n0.port"
"$VS" serve --data "$T/n0" --port 0 --port-file "$T/n0.port" --threads 2 --cluster "$E" --node-id n0 --ttl 2 \
    --snapshot-uri "$U/c" --nats "$NATS_URL" >"$T/n0b.log" 2>&1 &
pids+=($!); disown $!
wait_file "$T/n0.port"
end=$((SECONDS + 120))
while [ $SECONDS -lt $end ]; do
    after=$(count 0); peer=$(count 1)
    [ -n "$after" ] && [ "$after" = "$peer" ] && [ "$after" -gt "$before" ] && break; sleep 0.1
done
# The adds were acknowledged once the log stored them; the other shards apply them meanwhile.
end=$((SECONDS + 120))
while [ $SECONDS -lt $end ]; do
    all=$(curl -s "$R/stats" | grep -o '"total_vectors":[0-9]*' | head -1 | grep -o '[0-9]*$')
    [ "$all" = 20400 ] && break; sleep 0.1
done
echo "n0: $before vectors before, $after after coming back wiped; n1 holds $peer; the cluster $all"
grep -q "restored $U/c/shard-0 generation 1" "$T/n0b.log" && [ "$after" = "$peer" ] && [ "$after" -gt "$before" ] \
    && [ "$all" = 20400 ] \
    && ok "a wiped replica restores the snapshot and replays its stream to what its peer holds" \
    || { bad "wiped replica back from snapshot + stream"; cat "$T/n0b.log"; }

"$VS" build --input "$T/base.fvecs" --shards 2 --output "/tmp/not-s3" >"$T/e1.log" 2>&1 && bad "local --output refused" \
    || { grep -q "writes to object storage" "$T/e1.log" && ok "--shards with a local --output: clear usage error" \
        || { bad "local --output refused"; cat "$T/e1.log"; }; }

finish
