#!/bin/bash
# The sharded cluster on loopback: etcd, a 3-node NATS JetStream cluster (the write log, one
# stream per collection and shard), 4 shards x 2 replicas of `vecscale serve --cluster --nats`
# (each registers itself under an etcd lease and applies its shard's stream), and `vecscale
# route --nats`.
#  1. recall@10 through the router equals a single node's on the same data;
#  2. under a wrk search load, kill -9 one replica of every shard: zero failed searches;
#  3. kill the second replica of shard 0: answers are partial and name shard 0, nothing crashes;
#     while one replica per shard is down, 2000 more vectors are added: the log stores them
#     (the router keeps nothing) and the live replicas apply them;
#  4. restart the five: each resumes its shard's stream where it stopped, every replica pair
#     holds the same vectors, full answers again, same recall as the single node holding all 22000.
# Usage: test_cluster.sh VECSCALE CLUSTER_CHECK TMPDIR
set -eu
VS="$1"; CHECK="$2"; T="$3"
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$T"; mkdir -p "$T"
. "$(dirname "$0")/cluster_lib.sh"

eval "$("$HERE/etcd.sh" start "$T/etcd")"
E="$ETCD_ENDPOINT"
eval "$("$HERE/nats.sh" start "$T/nats")"
trap 'cleanup; "$HERE/nats.sh" stop "$T/nats" >/dev/null 2>&1' EXIT
nodes=n0,n1,n2,n3,n4,n5,n6,n7
"$VS" cluster init --etcd "$E" --shards 4 --replicas 2 --nodes $nodes --metric l2

declare -A serve_pid port
start_node() { # i: serve on a free port with its own data dir, registered as node n<i>
    local i=$1
    rm -f "$T/n$i.port"
    "$VS" serve --data "$T/n$i" --port 0 --port-file "$T/n$i.port" --dim 32 --metric l2 --index Flat \
        --threads 4 --cluster "$E" --node-id "n$i" --ttl 2 --nats "$NATS_URL" >"$T/n$i.log" 2>&1 &
    serve_pid[$i]=$!; pids+=($!); disown $!
    wait_file "$T/n$i.port"
    port[$i]=$(cat "$T/n$i.port")
}
for i in 0 1 2 3 4 5 6 7; do start_node $i; done
# A killed replica is seen at once (connection reset or refused), not by the attempt timeout;
# that timeout only has to outlast a slow answer. At 500 ms a search on a replica taking the
# killed one's share (up to 1.9 s under ASan on a loaded machine) timed out on both replicas
# and answered partial; at 2000 ms that left 0.1 s of room, so 4000. Below wrk's 10 s, so a retried
# search still counts as answered.
"$VS" route --cluster "$E" --nats "$NATS_URL" --port 0 --port-file "$T/router.port" --attempt-timeout 4000 \
    --request-timeout 9000 >"$T/router.log" 2>&1 &
pids+=($!); disown $!
wait_file "$T/router.port"
R="http://127.0.0.1:$(cat "$T/router.port")"
# the single node the router is compared with
"$VS" serve --data "$T/single" --port 0 --port-file "$T/single.port" --dim 32 --metric l2 --index Flat >"$T/single.log" 2>&1 &
pids+=($!); disown $!
wait_file "$T/single.port"
S="http://127.0.0.1:$(cat "$T/single.port")"

all_live() { [ "$(curl -s "$R/cluster" | grep -o '"live":true' | wc -l)" -eq "$1" ]; }
# (deadlines, not counts of tries: ASan servers on a loaded machine register and apply slowly)
wait_live() { local end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do all_live "$1" && return 0; sleep 0.1; done; return 1; }
wait_live 8 && ok "8 replicas registered" || bad "8 replicas registered"

"$CHECK" gen 20000 32 7 "$T/base.fvecs" && "$CHECK" gen 200 32 8 "$T/q.fvecs"
"$CHECK" load "$R" "$T/base.fvecs" && ok "20000 vectors added through the router" || bad "add through the router"
"$CHECK" load "$S" "$T/base.fvecs" >/dev/null
count() { curl -s "http://127.0.0.1:${port[$1]}/collections/default" | grep -o '"total_vectors":[0-9]*' | grep -o '[0-9]*$'; }
# applied N: every replica pair holds the same count and the pairs hold N in all (120 s at most)
applied() {
    local end=$((SECONDS + 120))
    while [ $SECONDS -lt $end ]; do
        local t=0 same=1 a b
        for s in 0 1 2 3; do
            a=$(count $((2 * s))); b=$(count $((2 * s + 1)))
            [ -n "$a" ] && [ "$a" = "$b" ] || same=0
            t=$((t + ${a:-0}))
        done
        [ $same -eq 1 ] && [ $t -eq "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
applied 20000 || echo "the replicas did not apply the 20000 adds within 120 s"
total=0; same=1; even=1; line=""
for s in 0 1 2 3; do
    a=$(count $((2 * s))); b=$(count $((2 * s + 1)))
    line="$line shard $s: n$((2 * s))=$a n$((2 * s + 1))=$b;"
    [ "$a" = "$b" ] || same=0
    [ "$a" -gt 4000 ] && [ "$a" -lt 6000 ] || even=0
    total=$((total + a))
done
echo "vectors per node:$line"
[ $same -eq 1 ] && [ $even -eq 1 ] && [ $total -eq 20000 ] \
    && ok "each ID stored once per shard, on both replicas (shards hold $total in all)" || bad "placement of adds"

r_router=$("$CHECK" recall "$R" "$T/base.fvecs" "$T/q.fvecs" 10)
r_single=$("$CHECK" recall "$S" "$T/base.fvecs" "$T/q.fvecs" 10)
echo "router: $r_router"; echo "single: $r_single"
[ "$r_router" = "$r_single" ] && echo "$r_router" | grep -q "partial 0 failed 0" \
    && ok "recall@10 through the router equals the single node's" || bad "recall through the router"

# 2. load, then kill -9 one replica of every shard in the middle of it
perl -e 'print "{\"k\":10,\"vector\":[", join(",", map { sprintf "%.4f", ($_ * 37 % 100) / 100 } 1..32), "]}"' >"$T/q.json"
VS_WRK_BODY="$T/q.json" wrk -t2 -c8 -d8s --timeout 10s -s "$HERE/search_load.lua" "$R/search" >"$T/wrk1.log" 2>&1 &
wrk_pid=$!
sleep 2.5
for i in 0 2 4 6; do kill -9 "${serve_pid[$i]}"; done
wait $wrk_pid || true
cat "$T/wrk1.log" | grep -E "Requests/sec|searches|Non-2xx|Socket errors" || true
if grep -q "searches ok [1-9][0-9]* partial 0 failed 0 socket_errors 0" "$T/wrk1.log" && ! grep -q "Non-2xx" "$T/wrk1.log"; then
    ok "kill -9 of one replica per shard under load: zero failed searches"
else
    bad "kill -9 of one replica per shard under load"; cat "$T/wrk1.log"
fi
wait_live 4 && ok "killed replicas dropped out of the cluster" || bad "killed replicas dropped out"
"$CHECK" gen 2000 32 9 "$T/extra.fvecs"
"$CHECK" load "$R" "$T/extra.fvecs" 20000 >/dev/null && "$CHECK" load "$S" "$T/extra.fvecs" 20000 >/dev/null \
    && ok "2000 adds with one replica per shard down are accepted" || bad "adds with one replica per shard down"
live_total=0
end=$((SECONDS + 120))
while [ $SECONDS -lt $end ]; do
    live_total=0
    for i in 1 3 5 7; do live_total=$((live_total + $(count $i))); done
    [ $live_total -eq 22000 ] && break; sleep 0.1
done
[ $live_total -eq 22000 ] && ok "the live replica of every shard applied them from the log (22000 in all)" \
    || bad "the live replicas applied the adds ($live_total)"
cat "$T/base.fvecs" "$T/extra.fvecs" >"$T/all.fvecs"

# 3. both replicas of shard 0 down
kill -9 "${serve_pid[1]}"
sleep 0.3
"$CHECK" partial "$R" "$T/q.fvecs" 0 >"$T/partial.log" && ok "shard 0 down: answers are partial and name shard 0" \
    || { bad "partial answers"; cat "$T/partial.log"; }
VS_WRK_BODY="$T/q.json" wrk -t1 -c4 -d2s -s "$HERE/search_load.lua" "$R/search" >"$T/wrk2.log" 2>&1 || true
grep -q "searches ok 0 partial [1-9][0-9]* failed 0" "$T/wrk2.log" && curl -sf "$R/health" >/dev/null \
    && ok "under load with a shard down: every answer partial, router alive" || { bad "load with a shard down"; cat "$T/wrk2.log"; }

# 4. restart the five killed nodes on their data; they register again (on new ports: the
#    old one may have been taken meanwhile by any outgoing connection, being in the
#    ephemeral range, and the node would then fail to start)
for i in 0 1 2 4 6; do
    rm -f "$T/n$i.port"
    "$VS" serve --data "$T/n$i" --port 0 --port-file "$T/n$i.port" --dim 32 --metric l2 --index Flat \
        --cluster "$E" --node-id "n$i" --ttl 2 --nats "$NATS_URL" >>"$T/n$i.log" 2>&1 &
    serve_pid[$i]=$!; pids+=($!); disown $!
done
for i in 0 1 2 4 6; do wait_file "$T/n$i.port"; port[$i]=$(cat "$T/n$i.port"); done
wait_live 8 && ok "restarted replicas registered again" || bad "restarted replicas registered again"
applied 22000 || echo "the restarted replicas did not catch up within 120 s"
total=0; same=1; line=""
for s in 0 1 2 3; do
    a=$(count $((2 * s))); b=$(count $((2 * s + 1)))
    line="$line shard $s: n$((2 * s))=$a n$((2 * s + 1))=$b;"
    [ "$a" = "$b" ] || same=0
    total=$((total + a))
done
echo "vectors per node after the restart:$line"
[ $same -eq 1 ] && [ $total -eq 22000 ] && ok "restarted replicas caught up from their streams (22000 in all)" \
    || bad "restarted replicas caught up"
r_back=$("$CHECK" recall "$R" "$T/all.fvecs" "$T/q.fvecs" 10)
r_single=$("$CHECK" recall "$S" "$T/all.fvecs" "$T/q.fvecs" 10)
echo "router after restart: $r_back"; echo "single: $r_single"
[ "$r_back" = "$r_single" ] && echo "$r_back" | grep -q "partial 0 failed 0" \
    && ok "full answers again after the restart, equal to the single node's" || bad "full answers after restart"

# 5. string ids through the router (vecscale.h "Document ids"): routed by vs_shard_of_key, found
#    by their vectors and shown as given; "17"-style integers and invalid ids as on one node.
far() { v="$1"; for _ in $(seq 31); do v="$v,$1"; done; echo "[$v]"; }
add=$(curl -s "$R/vectors" -d "{\"vectors\":[$(far 50),$(far -50),$(far 70)],\"ids\":[\"doc-a\",\"caf\u00e9/b\",\"900017\"],\"wait\":\"applied\"}")
echo "$add" | grep -q '"added":3,' && ok "string ids added through the router" || bad "string ids through the router: $add"
hit() { curl -s "$R/search" -d "{\"vector\":$(far "$1"),\"k\":1}" | grep -o '"results":\[{"id":[^,]*' | sed 's/.*"id"://'; }
[ "$(hit 50)" = '"doc-a"' ] && [ "$(hit -50)" = "\"caf$(printf '\303\251')/b\"" ] && [ "$(hit 70)" = 900017 ] \
    && ok "router search shows string ids as given" || bad "router search with string ids: $(hit 50) $(hit -50) $(hit 70)"
bad_id=$(curl -s -o /dev/null -w '%{http_code}' "$R/vectors" -d "{\"vectors\":[$(far 1)],\"ids\":[\"\"]}")
[ "$bad_id" = 400 ] && ok "an empty string id is refused by the router (400)" || bad "empty string id through the router: $bad_id"

finish
