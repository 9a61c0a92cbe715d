#!/bin/sh
# Installs the Debian 12 packages vecscale needs to build, test and benchmark.
# Idempotent: packages already present are skipped, so a second run does nothing.
set -eu

BUILD_PKGS="build-essential cmake pkg-config git ca-certificates curl libopenblas-openmp-dev libxxhash-dev libcmocka-dev libcurl4-openssl-dev libxml2-dev libcjson-dev libmicrohttpd-dev libutf8proc-dev libssl-dev libroaring-dev"
TEST_PKGS="clang libclang-rt-14-dev valgrind ceph-mon ceph-osd ceph-mgr radosgw ceph-common etcd-server etcd-client wrk python3-torch"
BENCH_PKGS="libhnswlib-dev python3-faiss python3-numpy wordnet-base"

# The Python package (python/, scripts/test_python.sh): the C extension builds against
# python3-dev + python3-numpy with python3-setuptools; pip/venv for the documented install.
TEST_PKGS="$TEST_PKGS python3-dev python3-numpy python3-setuptools python3-pytest python3-pip python3-venv"

# vecscale.faiss is compared with the real FAISS (python/tests/test_faiss_compat.py);
# bench/python/overhead.py also runs hnswlib's Python module.
TEST_PKGS="$TEST_PKGS python3-faiss python3-mypy"  # mypy: stubtest of vecscale/faiss.pyi
BENCH_PKGS="$BENCH_PKGS python3-hnswlib"

# The server's page test runs in Debian's chromium; its default collection (scripts/run.sh)
# embeds WordNet glosses.
TEST_PKGS="$TEST_PKGS chromium"
RUN_PKGS="wordnet-base"
# tests/deploy builds deploy/'s images (debootstrap) and runs its compose files in Docker.
TEST_PKGS="$TEST_PKGS docker.io docker-compose debootstrap"

# The cluster's write path is a NATS JetStream log (issue 16): its C client to build against,
# the server for the test fixture (tests/integration/nats.sh).
BUILD_PKGS="$BUILD_PKGS libnats-dev"
# io_uring for the re-ranking reads of a search from SSD (issue 18; optional in CMake).
BUILD_PKGS="$BUILD_PKGS liburing-dev"
TEST_PKGS="$TEST_PKGS nats-server"

want="$BUILD_PKGS $TEST_PKGS $RUN_PKGS"
# scripts/fetch_models.sh makes the default embedding model from an npm package with Node.js;
# a NodeSource node (bundling npm) counts as present.
command -v npm >/dev/null 2>&1 || want="$want nodejs npm"
case "${1:-}" in
  --bench)
    want="$want $BENCH_PKGS" ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--bench]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "setup: all packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
