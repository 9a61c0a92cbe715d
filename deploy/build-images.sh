#!/bin/sh
# Builds the deployment's images from Debian packages only (no image registry is used):
#   vecscale/base:bookworm     debootstrap --variant=minbase, imported (deploy/images/base.sh)
#   vecscale/vecscale:TAG      the command, library, header, runtime packages, glove-100 and glove-100-sif
#   vecscale/etcd:TAG          Debian's etcd-server
#   vecscale/nats:TAG          Debian's nats-server (JetStream: the cluster's write log)
#   vecscale/s3:TAG            Debian's Ceph: monitor + OSD + radosgw (deploy/images/s3-start.sh)
# Usage: deploy/build-images.sh [BUILD_DIR]   (default build/; built here if it has no vecscale)
# TAG is $VECSCALE_IMAGE_TAG (default latest). Starts a Docker engine if none runs
# (deploy/dockerd.sh). Unchanged inputs reuse every layer: a second run takes seconds.
set -eu
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
TAG="${VECSCALE_IMAGE_TAG:-latest}"
EPOCH=1704067200 # fixed file times in the staged install: same binary, same layer
log() { echo "build-images: $*" >&2; }
die() { log "$*"; exit 1; }

deploy/dockerd.sh ensure >/dev/null
deploy/images/base.sh vecscale/base:bookworm

if [ ! -x "$BUILD/vecscale" ]; then
    log "no $BUILD/vecscale: building the release"
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DVS_BUILD_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j "$(nproc)" >/dev/null
fi
[ -f models/glove-100.vsm ] && [ -f models/glove-100-sif.vsm ] || scripts/fetch_models.sh "$BUILD/vecscale"

# Every library the binary and the shared library load directly must come from a package the
# Dockerfile installs; a new dependency fails here, not at the container's first start.
pkgs=$(sed -n '/apt-get install/,/curl/p' deploy/images/vecscale.Dockerfile)
for so in $(objdump -p "$BUILD/vecscale" "$BUILD"/libvecscale.so.*.* | awk '/NEEDED/ {print $2}' | sort -u); do
    case "$so" in libc.so.*|libm.so.*|ld-linux*|libvecscale.so.*) continue ;; esac
    path=$(ldd "$BUILD/vecscale" | awk -v s="$so" '$1 == s {print $3}')
    [ -n "$path" ] || die "$so: not found by ldd $BUILD/vecscale"
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | cut -d: -f1 | head -1)
    [ -n "$pkg" ] || die "$so ($path) belongs to no Debian package"
    echo "$pkgs" | grep -qw -- "$pkg" || die "$so comes from $pkg, which deploy/images/vecscale.Dockerfile does not install"
done

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT INT TERM
cmake --install "$BUILD" --prefix "$ctx/usr/local" >/dev/null
mkdir -p "$ctx/models"
cp models/glove-100.vsm models/glove-100-sif.vsm "$ctx/models/"
chmod -R u=rwX,go=rX "$ctx"
find "$ctx" -exec touch -h -d "@$EPOCH" {} +

build() { # image dockerfile context
    log "docker build $1"
    before=$(docker images -q --no-trunc "$1")
    docker build --network host -q -t "$1" -f "$2" "$3" >"$ctx.log" 2>&1 || { cat "$ctx.log" >&2; rm -f "$ctx.log"; die "docker build $1 failed"; }
    rm -f "$ctx.log"
    # A rebuild moves the tag; the image it leaves behind would stay as a dangling copy
    # (~390 MB for vecscale/vecscale) after every test run. Still in use by a container: kept.
    after=$(docker images -q --no-trunc "$1")
    if [ -n "$before" ] && [ "$before" != "$after" ]; then
        docker rmi "$before" >/dev/null 2>&1 && log "removed the previous $1 ($before)" || true
    fi
}
build "vecscale/vecscale:$TAG" deploy/images/vecscale.Dockerfile "$ctx"
empty="$ctx/empty"; mkdir "$empty"
build "vecscale/etcd:$TAG" deploy/images/etcd.Dockerfile "$empty"
build "vecscale/nats:$TAG" deploy/images/nats.Dockerfile "$empty"
mkdir "$ctx/s3"; cp deploy/images/s3-start.sh deploy/images/s3-health.sh scripts/ceph_single_conf.sh "$ctx/s3/"
touch -d "@$EPOCH" "$ctx/s3"/*
build "vecscale/s3:$TAG" deploy/images/s3.Dockerfile "$ctx/s3"

# The images start: the command, its model, etcd, and Ceph's daemons are where expected.
for m in glove-100 glove-100-sif; do
    docker run --rm "vecscale/vecscale:$TAG" model info $m >/dev/null || die "vecscale/vecscale:$TAG cannot open $m"
done
docker run --rm --entrypoint etcd "vecscale/etcd:$TAG" --version >/dev/null || die "vecscale/etcd:$TAG: etcd does not run"
docker run --rm "vecscale/nats:$TAG" --version >/dev/null || die "vecscale/nats:$TAG: nats-server does not run"
docker run --rm --entrypoint sh "vecscale/s3:$TAG" -c 'command -v ceph-mon && command -v ceph-osd && command -v radosgw' >/dev/null \
    || die "vecscale/s3:$TAG lacks a Ceph daemon"
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}} {{.ID}}' | grep -E "^vecscale/(base:bookworm|[a-z0-9]+:$TAG) " | sort >&2
