#!/bin/sh
# `cmake --install` into a scratch prefix, then build and run a program against the installed
# header and library through pkg-config (shared and static). Usage: test_install.sh BUILD-DIR TMPDIR
set -eu
B="$1"
T="$2"
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$T"
mkdir -p "$T"
cmake --install "$B" --prefix "$T/prefix" >/dev/null
PKG_CONFIG_PATH=$(dirname "$(find "$T/prefix" -name vecscale.pc)")
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir vecscale)
cc -std=c11 -Wall -Werror "$HERE/install_consumer.c" $(pkg-config --cflags --libs vecscale) -Wl,-rpath,"$libdir" -o "$T/shared"
"$T/shared" | grep -q "nearest id 1"
# An index-only program links the library with just these; plus liburing when the library was
# built with it (the index's re-ranking reads, io/batch_read.c).
uring=$(pkg-config --libs --static vecscale | grep -o -- '-luring' || true)
cc -std=c11 -Wall -Werror "$HERE/install_consumer.c" $(pkg-config --cflags vecscale) "$libdir/libvecscale.a" \
    $(pkg-config --libs-only-L --libs-only-other --static vecscale) -lopenblas -lgomp -lxxhash $uring -lpthread -lm -o "$T/static"
"$T/static" | grep -q "nearest id 1"
"$T/prefix/bin/vecscale" --version | grep -q "vecscale"
echo "install: header, shared and static library, pkg-config and vecscale all work from $T/prefix"
