#!/bin/sh
# Text-embedding throughput on a real corpus: WordNet glosses (Debian wordnet-base), the
# MiniLM-L6 shape (random weights, tools/bert_reference.py), `vecscale embed` on 1 and 2
# threads beside the PyTorch reference (bench/embed_torch.py, same token IDs, 1 and 2 threads)
# in the same run; then the agreement of the two outputs (cosine) and the GloVe model's rate.
# Usage: bench/embed_bench.sh [N-GLOSSES]   (default 5000; needs scripts/setup.sh --bench)
set -eu
cd "$(dirname "$0")/.."
VS="${VS:-build/vecscale}"
N="${1:-5000}"
D=bench/data/embed
mkdir -p "$D"
bench/wordnet_glosses.sh "$D" "$N"
if [ ! -f "$D/minilm/model.safetensors" ]; then
    /usr/bin/python3 tools/bert_reference.py --shape minilm --out "$D/minilm"
fi
echo "== corpus: $N WordNet glosses, $(wc -c <"$D/glosses.txt") bytes; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
"$VS" model tokenize --model "$D/minilm" --input "$D/glosses.txt" >"$D/ids.txt"
awk '{ n += NF } END { printf "== tokens: %d (%.1f per gloss incl. [CLS]/[SEP])\n", n, n / NR }' "$D/ids.txt"
/usr/bin/python3 bench/embed_torch.py --model "$D/minilm" --ids "$D/ids.txt" --threads 1,2 --out "$D/torch.npy"
for t in 1 2; do
    "$VS" embed --model "$D/minilm" --input "$D/glosses.txt" --threads "$t" --batch-size 4096 --output "$D/vs$t.npy"
done
/usr/bin/python3 -c '
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print("== vecscale vs PyTorch: min cosine %.7f, max |diff| %.2e" % (cos.min(), np.abs(a - b).max()))
' "$D/vs1.npy" "$D/torch.npy"
for t in 1 2; do
    "$VS" embed --model glove-100 --input "$D/glosses.txt" --threads "$t" --batch-size 4096 --output "$D/glove$t.npy"
done
