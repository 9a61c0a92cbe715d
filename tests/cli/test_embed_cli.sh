#!/bin/sh
# `vecscale embed` and `vecscale model` end to end on the tiny committed GloVe fixture: output
# formats, order, stdin/stdout, and the errors a user meets.
# Usage: test_embed_cli.sh VECSCALE FIXTURE-DIR TMPDIR
set -eu
. "$(dirname "$0")/expect.sh"
VS="$1"
FIX="$2"
T="$3"
rm -rf "$T"
mkdir -p "$T"

expect "import-glove" 0 "dimension 4" "$VS" model import-glove --input "$FIX/glove_tiny.txt" --output "$T/tiny.vsm"
expect "import-glove from stdin" 0 "model tiny2" sh -c "\"$VS\" model import-glove --input - --output \"$T/tiny2.vsm\" <\"$FIX/glove_tiny.txt\""
expect "model info" 0 "dimension: 4" "$VS" model info "$T/tiny.vsm"
expect "model info by name" 0 "model: tiny" env VECSCALE_MODEL_DIR="$T" "$VS" model info tiny
expect "missing model" 1 "model 'nope' not found" "$VS" model info nope
printf 'cat\ndog\nthe cat\n' >"$T/texts.txt"
expect "embed to .fvecs" 0 "embedded 3 texts with tiny (dimension 4)" "$VS" embed --model "$T/tiny.vsm" --input "$T/texts.txt" --output "$T/v.fvecs"
[ "$(wc -c <"$T/v.fvecs")" -eq $((3 * (4 + 16))) ] && ok ".fvecs size" || bad ".fvecs size"
# Row 1 is "dog" = (0, 1, 0, 0): bytes 20..39 are dim 4 then floats 0 1 0 0.
row1=$(od -An -tx1 -j20 -N20 "$T/v.fvecs" | tr -d ' \n')
[ "$row1" = "04000000000000000000803f0000000000000000" ] && ok "rows in input order" || bad "rows in input order ($row1)"
expect "embed to .npy" 0 "embedded 3" "$VS" embed --model "$T/tiny.vsm" --input "$T/texts.txt" --output "$T/v.npy"
head -c 6 "$T/v.npy" | od -c | grep -q "N   U   M   P   Y" && ok ".npy magic" || bad ".npy magic"
"$VS" embed --model "$T/tiny.vsm" <"$T/texts.txt" >"$T/stdout.fvecs" 2>/dev/null
cmp -s "$T/stdout.fvecs" "$T/v.fvecs" && ok "stdin -> stdout fvecs" || bad "stdin -> stdout fvecs"
"$VS" embed --model "$T/tiny.vsm" --format npy --threads 2 --batch-size 1 <"$T/texts.txt" >"$T/stdout.npy" 2>/dev/null
cmp -s "$T/stdout.npy" "$T/v.npy" && ok "stdout npy, 2 threads, batch 1" || bad "stdout npy, 2 threads, batch 1"
printf 'cat\n\ndog\n' >"$T/empty_line.txt"
expect "empty line" 1 "line 2 is empty" "$VS" embed --model "$T/tiny.vsm" --input "$T/empty_line.txt" --output "$T/x.fvecs"
printf 'cat\ndog\377\n' >"$T/bad_utf8.txt"
expect "invalid UTF-8" 1 "line 2 is not valid UTF-8" "$VS" embed --model "$T/tiny.vsm" --input "$T/bad_utf8.txt" --output "$T/x.fvecs"
[ ! -e "$T/x.fvecs" ] && ok "no output on error" || bad "no output on error"
perl -e 'print "a" x (1024 * 1024 + 1), "\n"' >"$T/long.txt"
expect "over-long line" 1 "line 1 is longer than" "$VS" embed --model "$T/tiny.vsm" --input "$T/long.txt" --output "$T/x.fvecs"
: >"$T/none.txt"
expect "no input" 1 "no input lines" "$VS" embed --model "$T/tiny.vsm" --input "$T/none.txt" --output "$T/x.fvecs"
expect "bad format" 2 "--format must be" "$VS" embed --model "$T/tiny.vsm" --format csv
expect "bad output extension" 1 "x.csv" "$VS" embed --model "$T/tiny.vsm" --input "$T/texts.txt" --output "$T/x.csv"
head -c $(($(wc -c <"$T/tiny.vsm") / 2)) "$T/tiny.vsm" >"$T/cut.vsm"
expect "truncated model" 1 "cut.vsm" "$VS" embed --model "$T/cut.vsm" --input "$T/texts.txt"
printf 'a 1 2\nb 1\n' >"$T/bad_glove.txt"
expect "bad GloVe text" 1 "bad_glove.txt:2: 1 values, expected 2" "$VS" model import-glove --input "$T/bad_glove.txt" --output "$T/b.vsm"
printf 'a 70000 1\n' >"$T/big_glove.txt"
expect "value beyond float16" 1 "word 'a' value 1 (70000) is not a finite float16 (import with --f32)" "$VS" model import-glove --input "$T/big_glove.txt" --output "$T/b.vsm"
expect "value beyond float16 with --f32" 0 "dimension 2" "$VS" model import-glove --input "$T/big_glove.txt" --output "$T/b32.vsm" --f32
printf 'Hello, World!\n' >"$T/hello.txt"
expect "model tokenize" 0 "^2 110 78 139 67 3$" "$VS" model tokenize --model "$FIX/bert_tiny_f32" --input "$T/hello.txt"
expect "model tokenize needs BERT" 1 "is not a BERT model" "$VS" model tokenize --model "$T/tiny.vsm" --input "$T/hello.txt"
# --precision: int8 on a BERT model says which kernels ran; a GloVe model or an unknown name is refused.
expect "embed --precision int8" 0 "(int8 on " "$VS" embed --model "$FIX/bert_tiny_f32" --precision int8 --input "$T/hello.txt" --output "$T/i8.npy"
expect "--precision on GloVe" 2 "computes in fp32 only (--precision int8 is for BERT models)" "$VS" embed --model "$T/tiny.vsm" --precision int8 --input "$T/texts.txt"
expect "--precision unknown" 2 "unknown precision 'int4'" "$VS" embed --model "$FIX/bert_tiny_f32" --precision int4 --input "$T/hello.txt"
expect "build --precision on GloVe" 2 "computes in fp32 only" sh -c "printf '{\"text\": \"cat\"}\n' >\"$T/d.jsonl\" && \"$VS\" build --input \"$T/d.jsonl\" --output \"$T/coll\" --model \"$T/tiny.vsm\" --precision bf16"
expect "embed --help" 0 "usage: vecscale embed" "$VS" embed --help
expect "model --help" 0 "import-glove" "$VS" model --help

finish
