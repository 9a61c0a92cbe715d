#!/bin/sh
# Add latency while snapshots and an IVF training run (issue 14; bench/maint_bench.c).
#   bench/maint.sh BUILD_DIR [seconds=20] [threads=4] [snap_ms=1000]
# BUILD_DIR holds libvecscale.so of the build to measure (its include/ is taken from the
# source tree two levels up from this script unless VS_INCLUDE says otherwise). The collection
# lives under $TMPDIR (a real disk: the log's fdatasync is part of every add).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "$1" && pwd)
shift
INC=${VS_INCLUDE:-$HERE/../include}
W=$(mktemp -d "${TMPDIR:-/tmp}/maint_bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -I"$INC" -I"$B/include" "$HERE/maint_bench.c" -L"$B" -lvecscale -Wl,-rpath,"$B" -lpthread -lm -ldl -o "$W/maint_bench"
"$W/maint_bench" "$W/coll" "$@"
