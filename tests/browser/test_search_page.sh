#!/bin/sh
# Browser test of the search page (ctest label integration): starts `vecscale serve` on a free
# loopback port with a small text collection (the 4-dimensional GloVe fixture model of the
# embedding tests), then search_page.mjs types a text query in Debian's chromium and checks
# the results; the screenshot is left in OUT/search_page.png.
# usage: test_search_page.sh path/to/vecscale OUT
set -eu
VS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/bin/chromium ] || { echo "chromium missing: run scripts/setup.sh" >&2; exit 1; }
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --silent)
fi
rm -rf "$OUT"
mkdir -p "$OUT"
MODEL=$HERE/../fixtures/embed/glove_tiny_v1.vsm
"$VS" serve --data "$OUT/data" --port 0 --port-file "$OUT/port" --model "$MODEL" --threads 2 >"$OUT/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT INT TERM
i=0
while [ ! -s "$OUT/port" ]; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }
    sleep 0.1
done
URL=http://127.0.0.1:$(cat "$OUT/port")
curl -sf "$URL/index" -d '{"documents":[{"id":1,"text":"a cat","metadata":{"kind":"pet"}},
  {"id":2,"text":"the big cat sat on the mat"},{"id":3,"text":"a dog"},{"id":4,"text":"the mat"}]}' >/dev/null
node "$HERE/search_page.mjs" "$URL/" "$OUT/search_page.png" "cat" "a cat"
kill -TERM $PID
wait $PID
trap - EXIT
