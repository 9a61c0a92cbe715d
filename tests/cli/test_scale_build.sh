#!/bin/sh
# The streaming build (`vecscale build` on .bvecs), the ",Ru8" re-ranking store and resuming
# after a kill -9. Usage: test_scale_build.sh VECSCALE FIXTURES TMPDIR
set -eu
. "$(dirname "$0")/expect.sh"
VS="$1"
FIX="$2"
T="$3"
rm -rf "$T"
mkdir -p "$T"

# 3000 uint8 rows of 16 dimensions around 24 centres, and 40 queries from the same centres.
gen() { # gen SEED ROWS
    perl -e 'my ($s, $n) = @ARGV; srand(11); my @c = map { [map { int(rand(200)) } 1..16] } 1..24; srand($s);
             for (1..$n) { my $k = $c[int(rand(24))];
                 print pack("l<", 16), pack("C16", map { my $v = $_ + int(rand(40)) - 20; $v < 0 ? 0 : $v > 255 ? 255 : $v } @$k) }' "$1" "$2"
}
gen 5 3000 >"$T/base.bvecs"
gen 6 40 >"$T/q.bvecs"
# The first 20 base rows as queries: each must find itself at distance 0 after re-ranking.
head -c $((20 * 20)) "$T/base.bvecs" >"$T/self.bvecs"

SPEC="IVF8,PQ8x4fs,Ru8"
OPTS="--chunk 256 --checkpoint-rows 512 --threads 2"

# Exact ground truth, streamed in chunks, against a Flat index built by the streaming build.
expect "groundtruth (streamed)" 0 "top-10 of 40 queries over 3000 base vectors (l2, streamed)" \
    "$VS" groundtruth --base "$T/base.bvecs" --queries "$T/q.bvecs" -k 10 --output "$T/gt.ivecs"
expect "streamed Flat build" 0 "3000 vectors of dimension 16" "$VS" build --input "$T/base.bvecs" --output "$T/flat" --chunk 700
expect "Flat agrees with the streamed ground truth" 0 "recall@10: 1.0000" \
    "$VS" search --index "$T/flat" --queries "$T/q.bvecs" -k 10 --groundtruth "$T/gt.ivecs"

# An uninterrupted build, and one killed (SIGKILL) after row 1300, between two checkpoints.
expect "build with ,Ru8" 0 "re-ranking store .*3000 uint8 vectors" \
    "$VS" build --input "$T/base.bvecs" --output "$T/a" --index "$SPEC" $OPTS
[ ! -e "$T/a/build.ckpt" ] && [ ! -e "$T/a/partial.vsi" ] && [ ! -e "$T/a/rerank.vsr.part" ] \
    && ok "a finished build leaves no checkpoint files" || bad "a finished build leaves no checkpoint files"
set +e
VS_BUILD_CRASH_AT_ROW=1300 "$VS" build --input "$T/base.bvecs" --output "$T/b" --index "$SPEC" $OPTS >"$T/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 137 ] && ok "build killed by SIGKILL mid-way" || bad "build killed by SIGKILL mid-way (exit $rc)"
[ -e "$T/b/build.ckpt" ] && [ -e "$T/b/partial.vsi" ] && [ ! -e "$T/b/index.vsi" ] \
    && ok "the killed build left a checkpoint and no finished index" || bad "the killed build left a checkpoint and no finished index"
# Rows 1024..1279 were appended to the store after the last checkpoint committed 1024: resume
# must cut them off.
[ "$(stat -c %s "$T/b/rerank.vsr")" -gt $((4096 + 1024 * 16)) ] \
    && ok "rows past the checkpoint are in the store, uncommitted" || bad "rows past the checkpoint are in the store, uncommitted"
expect "resume refuses other parameters" 1 "other parameters" \
    "$VS" build --input "$T/base.bvecs" --output "$T/b" --index "IVF8,PQ4x4fs,Ru8" $OPTS --resume
expect "resume" 0 "resuming .* at row 1024 of 3000" "$VS" build --input "$T/base.bvecs" --output "$T/b" --index "$SPEC" $OPTS --resume
cmp -s "$T/a/index.vsi" "$T/b/index.vsi" && ok "resumed index.vsi = uninterrupted, byte for byte" \
    || bad "resumed index.vsi = uninterrupted, byte for byte"
cmp -s "$T/a/rerank.vsr" "$T/b/rerank.vsr" && ok "resumed rerank.vsr = uninterrupted, byte for byte" \
    || bad "resumed rerank.vsr = uninterrupted, byte for byte"
expect "resume with nothing to resume" 1 "no checkpoint" "$VS" build --input "$T/base.bvecs" --output "$T/b" --index "$SPEC" $OPTS --resume

# A changed input is refused: same bytes, newer mtime.
set +e
VS_BUILD_CRASH_AT_ROW=600 "$VS" build --input "$T/base.bvecs" --output "$T/c" --index "$SPEC" $OPTS >/dev/null 2>&1
set -e
cp -p "$T/base.bvecs" "$T/base2.bvecs" && touch -d "2001-01-01" "$T/base.bvecs"
expect "resume refuses a changed input" 1 "input changed" "$VS" build --input "$T/base.bvecs" --output "$T/c" --index "$SPEC" $OPTS --resume

# Search: the re-ranked results come from the stored rows (each row finds itself at 0), and
# re-ranking more candidates finds more true neighbours.
expect "self-search through the store" 0 "^19: 19:0 " "$VS" search --index "$T/a" --queries "$T/self.bvecs" -k 3 --nprobe 8
bad_self=$("$VS" search --index "$T/a" --queries "$T/self.bvecs" -k 1 --nprobe 8 2>/dev/null | awk -F'[: ]+' '$1 != $2 || $3 != 0' | wc -l)
[ "$bad_self" -eq 0 ] && ok "all 20 rows find themselves at distance 0" || bad "all 20 rows find themselves at distance 0 ($bad_self do not)"
r1=$("$VS" search --index "$T/a" --queries "$T/q.bvecs" -k 10 --nprobe 2 --k-factor 1 --groundtruth "$T/gt.ivecs" 2>&1 >/dev/null | sed -n 's/recall@10: //p')
r8=$("$VS" search --index "$T/a" --queries "$T/q.bvecs" -k 10 --nprobe 2 --k-factor 8 --groundtruth "$T/gt.ivecs" 2>&1 >/dev/null | sed -n 's/recall@10: //p')
awk -v a="$r1" -v b="$r8" 'BEGIN { exit !(b > a) }' && ok "re-ranking 8x lifts recall ($r1 -> $r8)" || bad "re-ranking 8x lifts recall ($r1 -> $r8)"
# The re-ranking reads: io_uring (when built with it), the pread fallback, the mapped store, one query or many per
# batch of reads in flight: the same answers, byte for byte (a build without liburing refuses
# uring, and its files are left out).
for io in auto uring pread mmap; do
    for b in 1 7 64; do
        "$VS" search --index "$T/a" --queries "$T/q.bvecs" -k 10 --nprobe 2 --k-factor 8 --rerank-io $io \
            --rerank-batch $b >"$T/io_$io.$b" 2>"$T/io_err" || { [ $io = uring ] && grep -q "without liburing" "$T/io_err" && rm -f "$T/io_$io.$b"; } \
            || bad "search --rerank-io $io --rerank-batch $b: $(cat "$T/io_err")"
    done
done
same=1
for f in "$T"/io_*.*; do cmp -s "$f" "$T/io_pread.64" || same=0; done
[ $same = 1 ] && [ -s "$T/io_pread.64" ] && ok "re-ranking reads: io_uring = pread = mmap, any batch size" \
    || bad "re-ranking reads: io_uring = pread = mmap, any batch size"
expect "bad --rerank-io" 2 "must be auto, uring, pread or mmap" "$VS" search --index "$T/a" --queries "$T/q.bvecs" --rerank-io map
expect "info: RAM per vector" 0 "RAM to serve: [0-9.]* bytes per vector" "$VS" info "$T/a"
expect "info: store on disk" 0 "3000 uint8 vectors, 16.00 bytes per vector on disk" "$VS" info "$T/a"
expect "info --verify checks the store" 0 "checksum verified" "$VS" info --verify "$T/a"
cp -r "$T/a" "$T/d"
printf '\377' | dd of="$T/d/rerank.vsr" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect "info --verify: flipped store byte" 1 "data checksum mismatch" "$VS" info --verify "$T/d"
# The store's header has two slots (0 and 2048): the newer one damaged (a torn write), the
# reader takes the older one, which commits fewer rows than the index holds; both damaged, none.
cp "$T/a/rerank.vsr" "$T/d/rerank.vsr"
newer=$(perl -e 'open F, "<", $ARGV[0]; binmode F; my ($a, $b); seek F, 48, 0; read F, $a, 8; seek F, 2048 + 48, 0; read F, $b, 8;
                 print unpack("Q<", $b) > unpack("Q<", $a) ? 2048 : 0' "$T/d/rerank.vsr")
printf 'X' | dd of="$T/d/rerank.vsr" bs=1 seek=$((newer + 20)) conv=notrunc 2>/dev/null
expect "search: torn newer header slot falls back to the older" 1 "committed rows, fewer than the 3000" \
    "$VS" search --index "$T/d" --queries "$T/q.bvecs"
printf 'X' | dd of="$T/d/rerank.vsr" bs=1 seek=$((2048 - newer + 20)) conv=notrunc 2>/dev/null
expect "search: damaged store header" 1 "header checksum mismatch" "$VS" search --index "$T/d" --queries "$T/q.bvecs"
head -c 30000 "$T/a/rerank.vsr" >"$T/d/rerank.vsr"
expect "search: truncated store" 1 "does not match" "$VS" search --index "$T/d" --queries "$T/q.bvecs"

# Bad input: a truncated .bvecs names the incomplete row; a float input cannot have ,Ru8.
head -c $((3000 * 20 - 7)) "$T/base2.bvecs" >"$T/trunc.bvecs"
expect "truncated .bvecs (build)" 1 "truncated at row 2999 (13 of its 20 bytes present" \
    "$VS" build --input "$T/trunc.bvecs" --output "$T/e" --index "$SPEC"
expect "truncated .bvecs (groundtruth)" 1 "truncated at row 2999" \
    "$VS" groundtruth --base "$T/trunc.bvecs" --queries "$T/q.bvecs" --output "$T/e.ivecs"
perl -e 'print pack("l<", 16), pack("C16", 1..16), pack("l<", 15), pack("C16", 1..16)' >"$T/baddim.bvecs"
expect "row with another dimension" 1 "row 1 has dimension 15" "$VS" build --input "$T/baddim.bvecs" --output "$T/e"
perl -e 'srand(3); for (1..300) { print pack("l<", 16), pack("f<16", map { rand() } 1..16) }' >"$T/f.fvecs"
expect ",Ru8 needs uint8 input" 2 "uint8" "$VS" build --input "$T/f.fvecs" --output "$T/e" --index "$SPEC"
: >"$T/empty.bvecs"
expect "empty .bvecs" 1 "empty" "$VS" build --input "$T/empty.bvecs" --output "$T/e"

# Format fixtures (tests/fixtures/README.md): a version-1 store with its index, and a
# version-1 build checkpoint.
expect "fixture ru8_v1: info --verify" 0 "300 uint8 vectors, 16.00 bytes per vector on disk.*checksum verified" \
    "$VS" info --verify "$FIX/ru8_v1"
bad_self=$("$VS" search --index "$FIX/ru8_v1" --queries "$FIX/ru8_v1/base.bvecs" -k 1 --nprobe 4 2>/dev/null | awk -F'[: ]+' '$1 != $2 || $3 != 0' | wc -l)
n_self=$("$VS" search --index "$FIX/ru8_v1" --queries "$FIX/ru8_v1/base.bvecs" -k 1 --nprobe 4 2>/dev/null | wc -l)
[ "$bad_self" -eq 0 ] && [ "$n_self" -eq 300 ] && ok "fixture ru8_v1: all 300 rows find themselves at 0" \
    || bad "fixture ru8_v1: all 300 rows find themselves at 0 ($bad_self of $n_self do not)"
# A version-1 store (attached read-only) through both read paths and batch sizes: the same bytes.
for io in uring pread mmap; do
    for b in 1 64; do
        "$VS" search --index "$FIX/ru8_v1" --queries "$FIX/ru8_v1/base.bvecs" -k 5 --nprobe 2 --rerank-io $io \
            --rerank-batch $b >"$T/v1_$io.$b" 2>"$T/io_err" || { [ $io = uring ] && grep -q "without liburing" "$T/io_err" && rm -f "$T/v1_$io.$b"; } \
            || bad "fixture ru8_v1: search --rerank-io $io --rerank-batch $b: $(cat "$T/io_err")"
    done
done
same=1
for f in "$T"/v1_*.*; do cmp -s "$f" "$T/v1_pread.1" || same=0; done
[ $same = 1 ] && [ -s "$T/v1_pread.1" ] && ok "fixture ru8_v1: io_uring = pread = mmap, any batch size" \
    || bad "fixture ru8_v1: io_uring = pread = mmap, any batch size"
mkdir -p "$T/f1"
cp "$FIX/build_ckpt_v1.ckpt" "$T/f1/build.ckpt"
# The fixture names the fixture's base.bvecs as it was when written (size 6000, 300 rows, dim
# 16, IVF4,PQ4x4fs,Ru8): a copy has another mtime, so the loaded checkpoint is refused for that.
cp "$FIX/ru8_v1/base.bvecs" "$T/f1base.bvecs"
expect "fixture build_ckpt_v1 loads (and names the input's identity)" 1 "input changed since the checkpoint (checkpoint: 6000 bytes, 300 rows of 16, " \
    "$VS" build --input "$T/f1base.bvecs" --output "$T/f1" --index "IVF4,PQ4x4fs,Ru8" --chunk 64 --checkpoint-rows 128 --resume
printf 'Z' | dd of="$T/f1/build.ckpt" bs=1 seek=100 conv=notrunc 2>/dev/null
expect "damaged checkpoint" 1 "checksum mismatch" \
    "$VS" build --input "$T/f1base.bvecs" --output "$T/f1" --index "IVF4,PQ4x4fs,Ru8" --chunk 64 --checkpoint-rows 128 --resume
finish scale_build
