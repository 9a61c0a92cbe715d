#!/bin/sh
# CPU time of `vecscale embed` per precision and qgemm kernel table on the MiniLM-shaped model
# that bench/embed_bench.sh makes (bench/data/embed/minilm): each spec "label|ENV=... ...|precision"
# runs REPS times on INPUT (one text a line), 1 thread, batch 32; printed: the minimum user + sys
# minus that of a one-text run (model load, weight conversion), as sentences per CPU second.
# Usage: bench/embed_kernels.sh INPUT REPS SPEC...
#   e.g. bench/embed_kernels.sh g500.txt 2 "fp32|X=0|fp32" "int8-amx|X=0|int8" \
#        "int8-avx512|VECSCALE_NO_AMX=1|int8" "int8-avx2|VECSCALE_SIMD=avx2 VECSCALE_QGEMM=avx2|int8"
set -eu
cd "$(dirname "$0")/.."
VS="${VS:-build/vecscale}"
IN=$1; R=$2; shift 2
M=bench/data/embed/minilm
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
N=$(wc -l <"$IN")
head -1 "$IN" >"$T/one.txt"
for spec in "$@"; do
    lab=${spec%%|*}; rest=${spec#*|}; envs=${rest%%|*}; p=${rest#*|}
    best=; fx=
    for _ in $(seq "$R"); do
        # shellcheck disable=SC2086 # envs is a list of VAR=value words
        env $envs /usr/bin/time -o "$T/t" -f "%U %S" "$VS" embed --model "$M" --input "$T/one.txt" --threads 1 --precision "$p" --output "$T/one.npy" >/dev/null 2>&1
        fx=$(awk -v b="$fx" '{ s = $1 + $2; print (b == "" || s < b) ? s : b }' "$T/t")
        # shellcheck disable=SC2086
        env $envs /usr/bin/time -o "$T/t" -f "%U %S" "$VS" embed --model "$M" --input "$IN" --threads 1 --batch-size 32 --precision "$p" --output "$T/$lab.npy" >"$T/err" 2>&1
        best=$(awk -v b="$best" '{ s = $1 + $2; print (b == "" || s < b) ? s : b }' "$T/t")
    done
    echo "$lab [$envs $p]: CPU $best s, $fx s of it model load: $(awk -v n="$N" -v a="$best" -v f="$fx" 'BEGIN { printf "%.1f", n / (a - f) }') sentences per CPU second $(grep -o '([a-z0-9]* on [^)]*)' "$T/err" || true)"
done
