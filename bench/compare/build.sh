#!/bin/sh
# Builds the C++ comparators into bench/build/. Rebuilds only when a source is
# newer than its binary (or FORCE=1). Needs g++ and libhnswlib-dev
# (scripts/setup.sh --bench installs them).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench/build
CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:--O3 -march=native -std=c++17 -pthread}

[ -f /usr/include/hnswlib/hnswlib.h ] || {
  echo "build.sh: /usr/include/hnswlib/hnswlib.h missing (apt-get install libhnswlib-dev)" >&2
  exit 1
}
mkdir -p "$OUT"

src=$ROOT/bench/compare/hnswlib_bench.cpp
bin=$OUT/hnswlib_bench
if [ "${FORCE:-0}" = 1 ] || [ ! -x "$bin" ] || [ -n "$(find "$src" -newer "$bin")" ]; then
  echo "build.sh: $CXX $CXXFLAGS -o $bin $src" >&2
  # shellcheck disable=SC2086 # CXXFLAGS is a word list on purpose
  $CXX $CXXFLAGS -o "$bin.tmp" "$src"
  mv "$bin.tmp" "$bin"
else
  echo "build.sh: $bin is up to date" >&2
fi

# The C entry point into hnswlib that hnsw_faiss_paired.py --hnswlib loads.
src=$ROOT/bench/compare/hnswlib_shim.cpp
bin=$OUT/libhnswlib_shim.so
if [ "${FORCE:-0}" = 1 ] || [ ! -f "$bin" ] || [ -n "$(find "$src" -newer "$bin")" ]; then
  echo "build.sh: $CXX $CXXFLAGS -shared -fPIC -o $bin $src" >&2
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS -shared -fPIC -o "$bin.tmp" "$src"
  mv "$bin.tmp" "$bin"
else
  echo "build.sh: $bin is up to date" >&2
fi

# hnsw_paired links vecscale's static library: built only when VECSCALE_LIB names one.
if [ -n "${VECSCALE_LIB:-}" ]; then
  src=$ROOT/bench/compare/hnsw_paired.cpp
  bin=$OUT/hnsw_paired
  if [ "${FORCE:-0}" = 1 ] || [ ! -x "$bin" ] || [ -n "$(find "$src" "$VECSCALE_LIB" -newer "$bin")" ]; then
    echo "build.sh: $CXX $CXXFLAGS -o $bin $src $VECSCALE_LIB" >&2
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -I"$ROOT/include" -I"$(dirname "$VECSCALE_LIB")/include" -o "$bin.tmp" "$src" "$VECSCALE_LIB" -lopenblas -lgomp -lxxhash -lutf8proc \
      -lcjson -lcurl -lcrypto -lxml2 -lm
    mv "$bin.tmp" "$bin"
  else
    echo "build.sh: $bin is up to date" >&2
  fi
fi
