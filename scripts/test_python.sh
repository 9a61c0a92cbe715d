#!/bin/sh
# Builds the Python package (python/) against the CMake release build and runs its tests with
# Debian's /usr/bin/python3 (the python3 first on PATH may be another interpreter without
# numpy). The extension is built in place (python/vecscale/_vecscale*.so); the release build
# and models/glove-100.vsm and glove-100-sif.vsm are made first if missing. Prints pytest's summary; exits non-zero
# on failure. VECSCALE_BUILD_DIR picks another build directory.
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
BUILD=${VECSCALE_BUILD_DIR:-build}
JOBS=$(nproc 2>/dev/null || echo 2)

[ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$JOBS" >/dev/null
scripts/fetch_models.sh "$BUILD/vecscale"

VECSCALE_BUILD_DIR=$(cd "$BUILD" && pwd)
export VECSCALE_BUILD_DIR

echo "=== python: building vecscale._vecscale against $VECSCALE_BUILD_DIR/libvecscale.a ==="
(cd python && VECSCALE_WERROR=1 "$PY" setup.py -q build_ext --inplace)
echo "=== python: pytest python/tests ==="
"$PY" -m pytest -q -p no:cacheprovider python/tests
