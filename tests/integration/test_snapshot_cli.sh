#!/bin/sh
# `vecscale snapshot` end to end against the fixture's radosgw: build an index, push it, pull
# it elsewhere, search both, and the errors a user meets (wrong keys, corrupt store, bad URI,
# non-empty target). Usage: test_snapshot_cli.sh VECSCALE TMPDIR ENVFILE
set -eu
. "$(dirname "$0")/../cli/expect.sh"
VS="$1"
T="$2"
set -a
. "$3"
set +a
AWS_ENDPOINT_URL="$S3_ENDPOINT"
export AWS_ENDPOINT_URL
rm -rf "$T"
mkdir -p "$T"

run="cli$(date +%s)-$$"
URI="s3://vs-test-cli/$run/idx"
perl -e 'srand(7); for (1..2000) { print pack("l<", 32), pack("f<32", map { rand() } 1..32) }' >"$T/base.fvecs"
perl -e 'srand(8); for (1..50) { print pack("l<", 32), pack("f<32", map { rand() } 1..32) }' >"$T/q.fvecs"
"$VS" build --input "$T/base.fvecs" --output "$T/idx" --index IVF16,Flat --metric l2 >/dev/null

expect "push" 0 "generation 1, 1 files" "$VS" snapshot push "$T/idx" "$URI" --create-bucket
expect "push again uploads nothing" 0 "(0.0 MiB uploaded)" "$VS" snapshot push "$T/idx" "$URI"
expect "latest" 0 "^2$" "$VS" snapshot latest "$URI"
expect "pull" 0 "checksums verified" "$VS" snapshot pull "$URI" "$T/pulled"
cmp "$T/idx/index.vsi" "$T/pulled/index.vsi" && ok "pulled file is identical" || bad "pulled file is identical"
"$VS" search --index "$T/idx" --queries "$T/q.fvecs" -k 5 --nprobe 4 >"$T/s1" 2>/dev/null
"$VS" search --index "$T/pulled" --queries "$T/q.fvecs" -k 5 --nprobe 4 >"$T/s2" 2>/dev/null
[ "$(wc -l <"$T/s1")" -eq 50 ] && diff "$T/s1" "$T/s2" >/dev/null && ok "same search results" || bad "same search results"
expect "pull an old generation" 0 "generation 1 to" "$VS" snapshot pull "$URI" "$T/gen1" --generation 1
expect "pull into a non-empty directory" 1 "not empty" "$VS" snapshot pull "$URI" "$T/pulled"
expect "missing generation" 1 "has no generation 9" "$VS" snapshot pull "$URI" "$T/nine" --generation 9
expect "nothing published" 1 "no snapshot published" "$VS" snapshot pull "s3://vs-test-cli/$run/none" "$T/none"
expect "wrong secret key" 1 "SignatureDoesNotMatch" env AWS_SECRET_ACCESS_KEY=wrong "$VS" snapshot pull "$URI" "$T/w"
expect "unknown access key" 1 "InvalidAccessKeyId" env AWS_ACCESS_KEY_ID=NOBODY "$VS" snapshot latest "$URI"
expect "no credentials" 1 "no credentials" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$T" "$VS" snapshot latest "$URI"
expect "unreachable endpoint" 1 "VS_ERR_NETWORK" "$VS" snapshot latest "$URI" --endpoint http://127.0.0.1:1 --timeout 2
# gc: three generations of different contents; keep the newest.
"$VS" build --input "$T/base.fvecs" --output "$T/idx2" --index IVF8,Flat --metric l2 >/dev/null
"$VS" snapshot push "$T/idx2" "$URI" >/dev/null
"$VS" search --index "$T/idx2" --queries "$T/q.fvecs" -k 5 --nprobe 4 >"$T/s3" 2>/dev/null
expect "gc --dry-run deletes nothing" 0 "would delete 2 manifests and 0 segments" \
    "$VS" snapshot gc "$URI" --keep 1 --dry-run
expect "gc within the grace period: old manifests go, segments stay" 0 \
    "kept 1 generations (from 3), deleted 2 manifests and 0 segments (0.0 MiB); 1 unreferenced" \
    "$VS" snapshot gc "$URI" --keep 1
expect "gc after the grace period: the unreferenced segment goes" 0 "deleted 0 manifests and 1 segments" \
    "$VS" snapshot gc "$URI" --keep 1 --grace 0
expect "gc again: nothing left to collect" 0 "deleted 0 manifests and 0 segments" \
    "$VS" snapshot gc "$URI" --keep 1 --grace 0
expect "a collected generation is gone" 1 "has no generation 1" "$VS" snapshot pull "$URI" "$T/g1" --generation 1
expect "the kept generation pulls intact" 0 "generation 3 to" "$VS" snapshot pull "$URI" "$T/g3"
"$VS" search --index "$T/g3" --queries "$T/q.fvecs" -k 5 --nprobe 4 >"$T/s4" 2>/dev/null
[ "$(wc -l <"$T/s3")" -eq 50 ] && diff "$T/s3" "$T/s4" >/dev/null && ok "kept generation searches as before" \
    || bad "kept generation searches as before"
expect "gc needs --keep" 2 "needs --keep" "$VS" snapshot gc "$URI"
expect "gc of an empty prefix" 1 "no snapshot published" "$VS" snapshot gc "s3://vs-test-cli/$run/none" --keep 2
expect "not an s3 URI" 2 "not an s3://bucket/prefix URI" "$VS" snapshot push "$T/idx" "http://x/y"
expect "missing directory" 1 "open directory" "$VS" snapshot push "$T/nope" "$URI"
expect "unknown action" 2 "unknown action" "$VS" snapshot frobnicate
[ ! -e "$T/w" ] && ok "failed pull left nothing" || bad "failed pull left nothing"

finish
