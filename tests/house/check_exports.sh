#!/usr/bin/env bash
# Every global name an archive defines carries the library's prefix (vs_), so linking vecscale
# into a program cannot collide with the program's own names. Prints the offenders; exit 1 if any.
#   check_exports.sh LIBRARY.a...
set -eu
[ $# -ge 1 ] || { echo "usage: check_exports.sh LIBRARY.a..." >&2; exit 2; }
bad=0
for lib in "$@"; do
  syms=$(nm -g --defined-only "$lib") || { echo "nm failed on $lib"; exit 1; }
  n=$(printf '%s\n' "$syms" | awk 'NF == 3 { n++ } END { print n + 0 }')
  [ "$n" -gt 0 ] || { echo "$lib: defines no global name (not the library?)"; exit 1; }
  # AddressSanitizer adds __odr_asan.NAME beside each global NAME: NAME is what must be vs_.
  off=$(printf '%s\n' "$syms" | awk 'NF == 3 { n = $3; sub(/^__odr_asan\./, "", n); if (n !~ /^vs_/) print "  " $3 " (" $2 ")" }')
  if [ -n "$off" ]; then
    echo "$lib: global names without the vs_ prefix:"
    printf '%s\n' "$off"
    bad=1
  else
    echo "$lib: $n global names, all vs_"
  fi
done
exit $bad
