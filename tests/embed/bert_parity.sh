#!/bin/sh
# Full MiniLM-L6 shape parity (hidden 384, 6 layers, 12 heads, FFN 1536, vocab 30,522): writes
# the random-weight model (90 MB, so not committed) and its PyTorch embeddings with
# tools/bert_reference.py (Debian python3-torch), then runs test_bert against it.
# Usage: bert_parity.sh TEST_BERT SOURCE_DIR TMPDIR
set -eu
BIN="$1"
SRC="$2"
T="$3"
rm -rf "$T"
mkdir -p "$T"
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "bert_parity: /usr/bin/python3 cannot import torch: run scripts/setup.sh (python3-torch)" >&2
    exit 1
fi
/usr/bin/python3 "$SRC/tools/bert_reference.py" --shape minilm --out "$T/minilm" \
    --vocab "$SRC/tests/fixtures/embed/minilm/vocab.txt"
VS_BERT_PARITY_DIR="$T/minilm" "$BIN" >"$T/out" 2>&1 || { cat "$T/out"; exit 1; }
cat "$T/out"
grep -q "$T/minilm: 12 texts, dimension 384" "$T/out" || { echo "bert_parity: the full-shape check did not run" >&2; exit 1; }
rm -rf "$T/minilm"
