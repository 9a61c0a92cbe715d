#!/bin/sh
# CPU time of `vecscale embed` per precision and qgemm kernel table on the MiniLM-shaped model
# that bench/embed_bench.sh makes (bench/data/embed/minilm): each spec "label|ENV=... ...|precision"
# runs REPS times on INPUT (one text a line), 1 thread, batch 32, the specs interleaved (rep 1 of
# every spec, then rep 2, ...: a load change hits every row alike); printed: the minimum user +
# sys minus the minimum of a one-text run (model load, weight conversion), as sentences per CPU
# second, and every rep's figure. KEEP=PREFIX copies each spec's output to PREFIX.LABEL.npy
# (for bench/embed_agree.py).
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
for _ in $(seq "$R"); do
    i=0
    for spec in "$@"; do
        i=$((i + 1))
        rest=${spec#*|}; envs=${rest%%|*}; p=${rest#*|}
        # shellcheck disable=SC2086 # envs is a list of VAR=value words
        env $envs /usr/bin/time -o "$T/t" -f "%U %S" "$VS" embed --model "$M" --input "$T/one.txt" --threads 1 --precision "$p" --output "$T/one.npy" >/dev/null 2>&1
        awk '{ print $1 + $2 }' "$T/t" >>"$T/fix.$i"
        # shellcheck disable=SC2086
        env $envs /usr/bin/time -o "$T/t" -f "%U %S" "$VS" embed --model "$M" --input "$IN" --threads 1 --batch-size 32 --precision "$p" --output "$T/out.$i.npy" >"$T/err.$i" 2>&1
        awk '{ print $1 + $2 }' "$T/t" >>"$T/all.$i"
    done
done
i=0
for spec in "$@"; do
    i=$((i + 1))
    lab=${spec%%|*}; rest=${spec#*|}; envs=${rest%%|*}; p=${rest#*|}
    fx=$(sort -g "$T/fix.$i" | head -1); best=$(sort -g "$T/all.$i" | head -1)
    echo "$lab [$envs $p]: CPU $best s (reps: $(tr '\n' ' ' <"$T/all.$i")), $fx s of it model load: $(awk -v n="$N" -v a="$best" -v f="$fx" 'BEGIN { printf "%.1f", n / (a - f) }') sentences per CPU second $(grep -o '([a-z0-9]* on [^)]*)' "$T/err.$i" || true)"
    [ -z "${KEEP:-}" ] || cp "$T/out.$i.npy" "$KEEP.$lab.npy"
done
