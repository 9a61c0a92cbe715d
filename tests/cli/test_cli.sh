#!/bin/sh
# End-to-end test of the `vecscale` command: build, info, search (text and JSON), ground
# truth, bench, convert, --help, and the errors a user meets. Usage: test_cli.sh VECSCALE TMPDIR
set -eu
. "$(dirname "$0")/expect.sh"
VS="$1"
T="$2"
rm -rf "$T"
mkdir -p "$T"

# perl-base is Essential in Debian, so it is always there to make binary fixtures.
perl -e 'srand(7); for (1..500) { print pack("l<", 16), pack("f<16", map { rand() } 1..16) }' >"$T/base.fvecs"
perl -e 'srand(8); for (1..20) { print pack("l<", 16), pack("f<16", map { rand() } 1..16) }' >"$T/q.fvecs"
perl -e 'srand(9); for (1..5) { print pack("l<", 8), pack("f<8", map { rand() } 1..8) }' >"$T/q8.fvecs"

expect "build" 0 "500 vectors of dimension 16" "$VS" build --input "$T/base.fvecs" --output "$T/idx" --index Flat --metric l2
[ -f "$T/idx/index.vsi" ] && ok "index file written" || bad "index file written"
[ -z "$(ls "$T/idx" | grep tmp || true)" ] && ok "no temporary files left" || bad "no temporary files left"
expect "info" 0 "vectors: 500" "$VS" info "$T/idx"
expect "info --verify" 0 "all verified" "$VS" info --verify "$T/idx"
expect "info --json" 0 '"dimension":16' "$VS" info --json "$T/idx"
expect "groundtruth" 0 "top-10 of 20 queries" "$VS" groundtruth --base "$T/base.fvecs" --queries "$T/q.fvecs" -k 10 --output "$T/gt.ivecs"
expect "search recall" 0 "recall@10: 1.0000" "$VS" search --index "$T/idx" --queries "$T/q.fvecs" -k 10 --groundtruth "$T/gt.ivecs"
expect "search --load, 2 threads" 0 "recall@10: 1.0000" "$VS" search --index "$T/idx" --queries "$T/q.fvecs" --load --threads 2 --groundtruth "$T/gt.ivecs"
expect "search text output" 0 "^19:" "$VS" search --index "$T/idx" --queries "$T/q.fvecs" -k 3
expect "search --json" 0 '"results":\[{"query":0,"ids":\[' "$VS" search --index "$T/idx" --queries "$T/q.fvecs" -k 3 --json
expect "bench row" 0 "vecscale   Flat .* 1.0000" "$VS" bench --base "$T/base.fvecs" --queries "$T/q.fvecs" --groundtruth "$T/gt.ivecs" --index Flat --single
expect "convert to npy" 0 "wrote" "$VS" convert --input "$T/base.fvecs" --output "$T/base.npy"
expect "convert back" 0 "500 x 16" "$VS" convert --input "$T/base.npy" --output "$T/again.fvecs"
cmp -s "$T/base.fvecs" "$T/again.fvecs" && ok "fvecs -> npy -> fvecs is lossless" || bad "fvecs -> npy -> fvecs is lossless"
expect "cosine build" 0 "cosine" "$VS" build --input "$T/base.npy" --output "$T/cos" --metric cosine

for cmd in build search info convert groundtruth bench bench-flat bench-view; do
    expect "$cmd --help" 0 "usage: vecscale $cmd" "$VS" "$cmd" --help
done
expect "top-level --help" 0 "commands:" "$VS" --help
expect "unknown command" 2 "unknown command" "$VS" frobnicate
expect "missing --input" 2 "required" "$VS" build --output "$T/x"
expect "k = 0" 2 "-k must be" "$VS" search --index "$T/idx" --queries "$T/q.fvecs" -k 0
expect "unknown factory string" 1 "factory string" "$VS" build --input "$T/base.fvecs" --output "$T/x" --index Falt
expect "unknown metric" 1 "unknown metric" "$VS" build --input "$T/base.fvecs" --output "$T/x" --metric manhattan
expect "wrong query dimension" 1 "dimension 8 but the index has 16" "$VS" search --index "$T/idx" --queries "$T/q8.fvecs"
expect "missing input file" 1 "VS_ERR_NOT_FOUND" "$VS" build --input "$T/nope.fvecs" --output "$T/x"
head -c 1000 "$T/idx/index.vsi" >"$T/trunc.vsi"
expect "truncated index" 1 "truncated" "$VS" search --index "$T/trunc.vsi" --queries "$T/q.fvecs"
cp "$T/idx/index.vsi" "$T/flip.vsi"
printf '\377' | dd of="$T/flip.vsi" bs=1 seek=300 conv=notrunc 2>/dev/null
expect "corrupt index found by --verify" 1 "checksum" "$VS" info --verify "$T/flip.vsi"
head -c 100 "$T/base.fvecs" >"$T/short.fvecs"
expect "truncated vector file" 1 "truncated" "$VS" build --input "$T/short.fvecs" --output "$T/x"

expect "ivf build" 0 "IVF8,Flat" "$VS" build --input "$T/base.fvecs" --output "$T/ivf" --index IVF8,Flat
expect "ivf build, 2 threads" 0 "IVF8,Flat" "$VS" build --input "$T/base.fvecs" --output "$T/ivf2" --index IVF8,Flat --threads 2
expect "bad --threads" 2 "bad --threads" "$VS" build --input "$T/base.fvecs" --output "$T/x" --threads 0
expect "ivf search --nprobe 8 is exact" 0 "recall@10: 1.0000" "$VS" search --index "$T/ivf" --queries "$T/q.fvecs" --nprobe 8 --groundtruth "$T/gt.ivecs"
expect "hnsw build" 0 "HNSW8,Flat" "$VS" build --input "$T/base.fvecs" --output "$T/hnsw" --index HNSW8
expect "hnsw search --ef 200" 0 "recall@10: 1.0000" "$VS" search --index "$T/hnsw" --queries "$T/q.fvecs" --ef 200 --groundtruth "$T/gt.ivecs"
expect "bad --nprobe" 2 "bad --nprobe" "$VS" search --index "$T/ivf" --queries "$T/q.fvecs" --nprobe 0
expect "bench-view small" 0 "vs_index_view:" "$VS" bench-view --path "$T/view.vsi" --vectors 3000 --dim 8

finish cli
