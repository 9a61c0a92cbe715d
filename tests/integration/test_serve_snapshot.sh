#!/bin/bash
# `vecscale serve --snapshot-uri` against the fixture's radosgw: serve, add, save (published),
# add more (not saved), kill -9, start a fresh server on an empty data directory with the same
# URI -> the saved state, same search results. Then the errors: a store that refuses the
# publish (502, local save kept), wrong credentials at start (refused, data untouched).
# Usage: test_serve_snapshot.sh VECSCALE CLUSTER_CHECK TMPDIR ENVFILE
set -eu
VS="$1"; CHECK="$2"; T="$3"
set -a; . "$4"; set +a
export AWS_ENDPOINT_URL="$S3_ENDPOINT"
rm -rf "$T"; mkdir -p "$T"
. "$(dirname "$0")/cluster_lib.sh"
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

start() { # NAME DATA-DIR extra-args...: serve in the background; sets PID and URL
    local name=$1 data=$2; shift 2
    rm -f "$T/$name.port"
    "$VS" serve --data "$data" --port 0 --port-file "$T/$name.port" --dim 16 --metric l2 --index IVF16,Flat \
        "$@" >"$T/$name.log" 2>&1 &
    PID=$!; pids+=($PID); disown $PID
    # (60 s, not 10: an ASan server on a loaded machine restoring a snapshot is slow)
    for _ in $(seq 600); do [ -s "$T/$name.port" ] && break; kill -0 $PID 2>/dev/null || break; sleep 0.1; done
    URL="http://127.0.0.1:$(cat "$T/$name.port" 2>/dev/null)"
}
stop() { kill ${2:-} "$1"; for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; }
queries() { # URL OUT: the IDs and scores of 20 searches
    : >"$2"
    for i in $(seq 20); do
        v=$(perl -e "srand($i); print join(',', map { sprintf '%.4f', rand() } 1..16)")
        curl -s -XPOST "$1/search" -d "{\"vector\":[$v],\"k\":10,\"nprobe\":4}" | grep -o '"id":[0-9]*,"score":[0-9.e+-]*' | tr '\n' ' ' >>"$2"
        echo >>"$2"
    done
}

run="srv$(date +%s)-$$"
BUCKET=vs-test-serve
URI="s3://$BUCKET/$run"
mkdir -p "$T/seed" && echo seed >"$T/seed/f"
"$VS" snapshot push "$T/seed" "s3://$BUCKET/$run-seed" --create-bucket >/dev/null
"$CHECK" gen 3000 16 7 "$T/base.fvecs" >/dev/null && "$CHECK" gen 1000 16 9 "$T/more.fvecs" >/dev/null

start a "$T/a" --snapshot-uri "$URI"
check "first start: nothing published yet" "grep -q 'nothing published at $URI yet' '$T/a.log'"
"$CHECK" load "$URL" "$T/base.fvecs" >/dev/null
curl -s -XPOST "$URL/collections" -d '{"name":"notes","dimension":4}' >/dev/null
curl -s -XPOST "$URL/collections/notes/vectors" -d '{"vectors":[[1,2,3,4],[4,3,2,1]],"ids":[7,8]}' >/dev/null
save=$(curl -s -w ' HTTP %{http_code}' -XPOST "$URL/collections/notes/save")
check "saving one collection publishes generation 1" \
    "echo '$save' | grep -q '\"published\":{\"uri\":\"$URI\",\"generation\":1,.* HTTP 200$'"
save=$(curl -s -w ' HTTP %{http_code}' -XPOST "$URL/save")
echo "save: $save"
check "saving the other publishes generation 2 holding both collections (each: collection.vsc, index, payload file)" \
    "echo '$save' | grep -q '\"published\":{\"uri\":\"$URI\",\"generation\":2,\"files\":6,.* HTTP 200$'"
queries "$URL" "$T/before.txt"
curl -s -XPOST "$URL/vectors" -d '{"vectors":[[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9]],"ids":[99999]}' >/dev/null
stop $PID -9

start b "$T/b" --snapshot-uri "$URI"
check "fresh server on an empty data directory restores generation 2" \
    "grep -q 'restored $URI generation 2 into $T/b: .*checksums verified' '$T/b.log'"
check "restored: the saved 3000 vectors, not the unsaved one" \
    "curl -s '$URL/stats' | grep -q '\"total_vectors\":3000,'"
check "restored: the second collection too" "curl -s '$URL/collections/notes/stats' | grep -q '\"total_vectors\":2,'"
queries "$URL" "$T/after.txt"
check "same search results after kill -9 and restore (20 queries)" \
    "[ \$(grep -c '\"id\"' '$T/after.txt') -eq 20 ] && cmp -s '$T/before.txt' '$T/after.txt'"
"$CHECK" load "$URL" "$T/more.fvecs" >/dev/null 2>&1 || true # IDs 0..999 exist: refused, harmless
save=$(curl -s -w ' HTTP %{http_code}' -XPOST "$URL/save")
echo "save after restore: $save"
check "a save after the restore publishes generation 3; the unchanged collection is not uploaded again" \
    "echo '$save' | grep -q '\"generation\":3,\"files\":6,.* HTTP 200$' && [ \$(echo '$save' | grep -o 'uploaded_bytes\":[0-9]*' | grep -o '[0-9]*$') -lt \$(echo '$save' | grep -o '\"bytes\":[0-9]*' | grep -o '[0-9]*$') ]"
stop $PID

start c "$T/b" --snapshot-uri "$URI"
check "a data directory with collections is served as it is, not overwritten" \
    "grep -q 'already holds collections' '$T/c.log' && curl -s '$URL/stats' | grep -q '\"total_vectors\":3000,'"
stop $PID

# The store refuses the publish (no such bucket): 502, the local save stands.
start d "$T/d" --snapshot-uri "s3://vs-test-no-such-bucket-$$/x"
"$CHECK" load "$URL" "$T/more.fvecs" >/dev/null
save=$(curl -s -w ' HTTP %{http_code}' -XPOST "$URL/save")
echo "save with a failing store: $save"
check "publish failure: HTTP 502, saved:true, the store's error named" \
    "echo '$save' | grep -q '\"saved\":true,.*\"error\":\".*NoSuchBucket.*\"code\":\"publish_failed\".* HTTP 502$'"
stop $PID -9
start d2 "$T/d"
check "publish failure lost nothing: the saved 1000 vectors are there after kill -9" \
    "curl -s '$URL/stats' | grep -q '\"total_vectors\":1000,'"
stop $PID

# Saves from two clients at once while adds continue: every generation published is one
# committed state (its collection.vsc and the index file it names), in save order.
URI2="$URI-busy"
start g "$T/g" --snapshot-uri "$URI2"
G=$URL
for b in 0 1 2 3 4 5 6 7; do "$CHECK" gen 300 16 $((20 + b)) "$T/busy$b.fvecs" >/dev/null; done
( for b in 0 1 2 3 4 5 6 7; do "$CHECK" load "$G" "$T/busy$b.fvecs" $((b * 300)) >/dev/null; done ) &
adder=$!
saver() { for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{http_code}\n' -XPOST "$G/save"; done; }
saver >"$T/saves1" & s1=$!
saver >"$T/saves2" & s2=$!
wait $adder $s1 $s2
curl -s -o /dev/null -XPOST "$G/save"
check "10 concurrent saves during adds: every one published (HTTP 200)" \
    "[ \$(cat '$T/saves1' '$T/saves2' | grep -c '^200$') -eq 10 ]"
stop $PID
latest=$("$VS" snapshot latest "$URI2")
prev=-1; consistent=1; counts=""
for g in $(seq 1 "$latest"); do
    "$VS" snapshot pull "$URI2" "$T/gen$g" --generation "$g" >/dev/null || { consistent=0; continue; }
    start gen$g "$T/gen$g"
    n=$(curl -s "$URL/stats" | grep -o '"total_vectors":[0-9]*' | grep -o '[0-9]*$')
    stop $PID
    counts="$counts $n"
    { [ -n "$n" ] && [ $((n % 300)) -eq 0 ] && [ "$n" -ge "$prev" ]; } || consistent=0
    prev=${n:-0}
done
echo "vectors in generations 1..$latest:$counts"
check "each of the $latest generations opens as one committed state, in save order, the last holds all 2400" \
    "[ $consistent -eq 1 ] && [ $latest -eq 11 ] && [ $prev -eq 2400 ]"

# --snapshot-keep: each publish collects what falls out of the newest K generations.
start k "$T/k" --snapshot-uri "$URI-keep" --snapshot-keep 2
for b in 0 1 2; do
    "$CHECK" load "$URL" "$T/busy$b.fvecs" $((b * 300)) >/dev/null
    save=$(curl -s -XPOST "$URL/save")
done
echo "third save with --snapshot-keep 2: $save"
check "--snapshot-keep 2: the third publish deletes generation 1's manifest" \
    "echo '$save' | grep -q '\"generation\":3,.*\"collected\":{\"generations_kept\":2,\"manifests_deleted\":1,'"
stop $PID

# Wrong credentials at start: refused before anything changes.
set +e
AWS_SECRET_ACCESS_KEY=wrong "$VS" serve --data "$T/e" --port 0 --dim 16 --snapshot-uri "$URI" >"$T/e.log" 2>&1
rc=$?
set -e
cat "$T/e.log"
check "wrong credentials: start refused (exit 1) with the store's error" \
    "[ $rc -eq 1 ] && grep -q 'SignatureDoesNotMatch' '$T/e.log' && [ -z \"\$(ls -A '$T/e')\" ]"
set +e
"$VS" serve --data "$T/f" --snapshot-uri "http://x/y" >"$T/f.log" 2>&1; rc=$?
set -e
check "not an s3:// URI: usage error" "[ $rc -eq 2 ] && grep -q 'not an s3://bucket/prefix URI' '$T/f.log'"

finish
