#!/bin/sh
# The main job on the embedded default: installs what is missing, builds, fetches
# Fashion-MNIST-784 from Debian's dataset-fashion-mnist package, builds an exact index over
# its 60,000 images, searches it with the 10,000 test images and reports recall@10 against
# the exact ground truth.
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS" >/dev/null
VS=build/vecscale

bench/datasets.sh fashion-mnist
D=bench/data/fashion-mnist-784
$VS build --input $D/base.fvecs --output data/fashion-mnist-flat --index Flat --metric l2
$VS info data/fashion-mnist-flat
$VS search --index data/fashion-mnist-flat --queries $D/queries.fvecs -k 10 --threads "$JOBS" \
    --groundtruth $D/groundtruth.ivecs >data/fashion-mnist-results.txt
echo "first results (query: id:squared-distance ...):"
head -3 data/fashion-mnist-results.txt
echo "all results: data/fashion-mnist-results.txt"
