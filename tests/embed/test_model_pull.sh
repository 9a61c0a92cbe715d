#!/bin/sh
# `vecscale model pull` against a local hub (tests/embed/hub_server.py serving the tiny BERT
# fixture in the hub's file layout): download, size and SHA-256 checks, resume after a cut
# connection, a corrupted file, an unknown model, a stalled server, idempotence.
# Usage: test_model_pull.sh VECSCALE SOURCE-DIR TMPDIR
set -eu
. "$(dirname "$0")/../cli/expect.sh"
VS="$1"
SRC="$2"
T="$3"
rm -rf "$T"
mkdir -p "$T/hub/test-org/tiny-bert"
for f in config.json vocab.txt tokenizer_config.json model.safetensors modules.json sentence_bert_config.json; do
    cp "$SRC/tests/fixtures/embed/bert_tiny_f32/$f" "$T/hub/test-org/tiny-bert/"
done
mkdir -p "$T/hub/test-org/tiny-bert/1_Pooling"
cp "$SRC/tests/fixtures/embed/bert_tiny_f32/1_Pooling/config.json" "$T/hub/test-org/tiny-bert/1_Pooling/"
PID=""
start_hub() {
    rm -f "$T/port"
    /usr/bin/python3 "$SRC/tests/embed/hub_server.py" "$T/hub" "$T/port" --log "$T/hub.log" "$@" &
    PID=$!
    i=0
    while [ ! -s "$T/port" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "hub server did not start"; exit 1; }
        sleep 0.1
    done
    URL="http://127.0.0.1:$(cat "$T/port")"
}
stop_hub() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; fi; }
trap stop_hub EXIT INT TERM
same_files() { # DIR: every hub file arrived intact
    for f in config.json vocab.txt model.safetensors 1_Pooling/config.json; do
        cmp -s "$T/hub/test-org/tiny-bert/$f" "$1/test-org/tiny-bert/$f" || return 1
    done
}

start_hub
expect "pull" 0 "pulled test-org/tiny-bert" "$VS" model pull test-org/tiny-bert --endpoint "$URL" --dir "$T/m1"
same_files "$T/m1" && ok "files identical" || bad "files identical"
printf 'hello world\n' >"$T/t.txt"
expect "pulled model embeds by name" 0 "embedded 1 texts with tiny-bert (dimension 32)" \
    env VECSCALE_MODEL_DIR="$T/m1" "$VS" embed --model test-org/tiny-bert --input "$T/t.txt" --output "$T/v.fvecs"
: >"$T/hub.log"
expect "second pull is a no-op" 0 "pulled test-org/tiny-bert" "$VS" model pull test-org/tiny-bert --endpoint "$URL" --dir "$T/m1"
grep -q "resolve" "$T/hub.log" && bad "no file downloaded again" || ok "no file downloaded again"
expect "unknown model" 1 "not found" "$VS" model pull test-org/nope --endpoint "$URL" --dir "$T/m1"
expect "bad name" 1 "not a model name" "$VS" model pull "../etc" --endpoint "$URL" --dir "$T/m1"
stop_hub

start_hub --cut model.safetensors
expect "cut connection" 1 "run again to resume" "$VS" model pull test-org/tiny-bert --endpoint "$URL" --dir "$T/m2"
[ -s "$T/m2/test-org/tiny-bert/model.safetensors.part" ] && ok "partial file kept" || bad "partial file kept"
[ ! -e "$T/m2/test-org/tiny-bert/model.safetensors" ] && ok "no half file in place" || bad "no half file in place"
: >"$T/hub.log"
expect "resume" 0 "pulled test-org/tiny-bert" "$VS" model pull test-org/tiny-bert --endpoint "$URL" --dir "$T/m2"
grep -q "model.safetensors range=bytes=[1-9]" "$T/hub.log" && ok "resumed with a Range request" || bad "resumed with a Range request"
same_files "$T/m2" && ok "resumed files identical" || bad "resumed files identical"
stop_hub

start_hub --corrupt model.safetensors
expect "corrupted download" 1 "sha256 mismatch" "$VS" model pull test-org/tiny-bert --endpoint "$URL" --dir "$T/m3"
[ ! -e "$T/m3/test-org/tiny-bert/model.safetensors" ] && [ ! -e "$T/m3/test-org/tiny-bert/model.safetensors.part" ] \
    && ok "corrupted download deleted" || bad "corrupted download deleted"
stop_hub

start_hub --stall
t0=$(date +%s)
expect "stalled server times out" 1 "vecscale: " "$VS" model pull test-org/tiny-bert --endpoint "$URL" --dir "$T/m4" --timeout 2
[ $(( $(date +%s) - t0 )) -lt 20 ] && ok "timeout honoured" || bad "timeout honoured"
stop_hub
expect "nothing listening" 1 "vecscale: " "$VS" model pull test-org/tiny-bert --endpoint "http://127.0.0.1:9" --dir "$T/m5" --timeout 2

finish
