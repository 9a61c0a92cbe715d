#!/usr/bin/env bash
# The layer rule of src/LAYERS: every `#include "folder/..."` in src/FOLDER/ names FOLDER or a
# folder listed before it, every folder of src/ is listed, and the core folders include no
# network library header. Prints each violation; exit 1 if there is any.
#   check_layers.sh SRC_DIR
set -eu
src=${1:?usage: check_layers.sh SRC_DIR}
layers=$(grep -v '^[[:space:]]*\(#\|$\)' "$src/LAYERS")
declare -A rank
i=0
core_end=-1
for l in $layers; do
  rank[$l]=$i
  [ "$l" = collection ] && core_end=$i
  i=$((i + 1))
done
ranks=""
for l in $layers; do ranks="$ranks $l ${rank[$l]}"; done
[ "$core_end" -ge 0 ] || { echo "LAYERS: no 'collection' line (the core's last layer)"; exit 1; }
bad=0
for d in "$src"/*/; do
  f=$(basename "$d")
  if [ -z "${rank[$f]+x}" ]; then
    echo "src/$f/: not in src/LAYERS (place the folder in the layer order)"
    bad=1
  fi
done
for d in "$src"/*/; do
  f=$(basename "$d")
  [ -n "${rank[$f]+x}" ] || continue
  out=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"/]+/' "$d" --include='*.c' --include='*.h' |
    awk -v self="$f" -v ranks="$ranks" -v src="$src/" '
      BEGIN { n = split(ranks, r, " "); for (i = 1; i <= n; i += 2) rank[r[i]] = r[i + 1] }
      {
        split($0, p, ":"); file = substr(p[1], length(src) + 1)
        inc = $0; sub(/^[^"]*"/, "", inc); sub(/\/.*/, "", inc)
        if (!(inc in rank)) print file ":" p[2] ": includes from \047" inc "\047, which is not a layer"
        else if (rank[inc] > rank[self]) print file ":" p[2] ": " self " includes from " inc ", a layer above it"
      }' || true)
  if [ -n "$out" ]; then
    printf '%s\n' "$out"
    bad=1
  fi
  if [ "${rank[$f]}" -le "$core_end" ]; then
    while IFS= read -r hit; do
      echo "${hit#$src/}: the core library includes a network library header"
      bad=1
    done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(curl/|libxml/|openssl/|microhttpd\.h)' "$d" \
               --include='*.c' --include='*.h' || true)
  fi
done
if [ "$bad" -ne 0 ]; then
  echo "check_layers: the layer rule of src/LAYERS is broken"
  exit 1
fi
echo "check_layers: $(echo $layers | wc -w) layers, every include of src/ goes down or sideways within a folder"
