#!/bin/sh
# Text-embedding throughput and agreement on a real corpus: WordNet glosses (Debian
# wordnet-base), the MiniLM-L6 shape (random weights, tools/bert_reference.py). For each thread
# count, interleaved: PyTorch fp32 / bf16 autocast / dynamic int8 (bench/embed_torch.py, same
# token IDs, batches of 32) and `vecscale embed --precision fp32|bf16|int8` (batches of
# $VS_BATCH texts per call, default 32); then every output against its engine's fp32 (cosine,
# and recall@10 of the low-precision queries among the fp32 corpus vs the fp32 queries'
# neighbours); then the GloVe model's rate.
# Usage: bench/embed_bench.sh [N-GLOSSES] [THREADS...]  (default 2000, "1 2"; needs scripts/setup.sh --bench)
set -eu
cd "$(dirname "$0")/.."
VS="${VS:-build/vecscale}"
N="${1:-2000}"
[ $# -gt 0 ] && shift
THREADS="${*:-1 2}"
VS_BATCH="${VS_BATCH:-32}"
D=bench/data/embed
mkdir -p "$D"
bench/wordnet_glosses.sh "$D" "$N"
if [ ! -f "$D/minilm/model.safetensors" ]; then
    /usr/bin/python3 tools/bert_reference.py --shape minilm --out "$D/minilm"
fi
echo "== corpus: $N WordNet glosses, $(wc -c <"$D/glosses.txt") bytes; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "== CPU flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_vnni|avx_vnni|avx512_bf16|amx_bf16|amx_int8)$' | tr '\n' ' ')"
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: rows of one run compare, absolute rates are noisy)"
"$VS" model tokenize --model "$D/minilm" --input "$D/glosses.txt" >"$D/ids.txt"
awk '{ n += NF } END { printf "== tokens: %d (%.1f per gloss incl. [CLS]/[SEP])\n", n, n / NR }' "$D/ids.txt"
PRECS="fp32 int8"
if "$VS" embed --model "$D/minilm" --precision bf16 --output /dev/null </dev/null 2>&1 | grep -q AVX512-BF16; then
    echo "== bf16: not offered on this CPU (no AVX512-BF16): no vecscale bf16 row"
else
    PRECS="fp32 bf16 int8"
fi
for t in $THREADS; do
    for mode in fp32 bf16 int8; do
        /usr/bin/python3 bench/embed_torch.py --model "$D/minilm" --ids "$D/ids.txt" --threads "$t" --modes "$mode" --out "$D/torch$t" | grep -v "quantized engine" || true
        case " $PRECS " in *" $mode "*)
            # CPU time as PyTorch's (the encoding only): the whole run's user + sys minus a
            # one-text run's (model load, weight conversion, tokenizer)
            head -1 "$D/glosses.txt" >"$D/one.txt"
            /usr/bin/time -o "$D/cpu1" -f "%U %S" "$VS" embed --model "$D/minilm" --input "$D/one.txt" --threads "$t" --precision "$mode" --output "$D/one.npy" 2>/dev/null
            /usr/bin/time -o "$D/cpu" -f "%U %S" "$VS" embed --model "$D/minilm" --input "$D/glosses.txt" --threads "$t" --batch-size "$VS_BATCH" --precision "$mode" --output "$D/vs$t.$mode.npy"
            awk -v n="$N" -v m="$mode" -v t="$t" 'NR == FNR { fixed = $1 + $2; next } { all = $1 + $2 }
                END { printf "vecscale %s threads=%s: CPU %.2f s, %.2f s of it model load: %.1f sentences per CPU second\n", m, t, all, fixed, n / (all - fixed) }' "$D/cpu1" "$D/cpu" ;;
        esac
    done
done
/usr/bin/python3 - "$D" $THREADS <<'PY'
import os, sys
import numpy as np
d, ts = sys.argv[1], sys.argv[2:]
def norm(x): return x / np.linalg.norm(x, axis=1, keepdims=True)
def agree(ref, x, nq=1000):
    r, q = norm(np.load(ref)), norm(np.load(x))
    cos = (r * q).sum(1)
    nq = min(nq, len(r))
    t0 = np.argsort(-(r[:nq] @ r.T), 1)[:, :10]
    t1 = np.argsort(-(q[:nq] @ r.T), 1)[:, :10]
    rec = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(t0, t1)])
    return "mean cosine %.6f, min %.6f, recall@10 %.4f (%d queries)" % (cos.mean(), cos.min(), rec, nq)
t = ts[0]
a, b = np.load("%s/vs%s.fp32.npy" % (d, t)), np.load("%s/torch%s.fp32.npy" % (d, t))
print("== vecscale fp32 vs PyTorch fp32: min cosine %.7f, max |diff| %.2e" % (((norm(a) * norm(b)).sum(1)).min(), np.abs(a - b).max()))
for eng in ("vs", "torch"):
    for m in ("bf16", "int8"):
        f = "%s/%s%s.%s.npy" % (d, eng, t, m)
        if os.path.exists(f):
            print("== %s %s vs its fp32: %s" % ("vecscale" if eng == "vs" else "PyTorch", m, agree("%s/%s%s.fp32.npy" % (d, eng, t), f)))
PY
for t in $THREADS; do
    "$VS" embed --model glove-100 --input "$D/glosses.txt" --threads "$t" --batch-size 4096 --output "$D/glove$t.npy" || true
done
