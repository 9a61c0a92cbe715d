#!/bin/sh
# The base image every vecscale image starts from, made from Debian packages only (no image
# registry): `debootstrap --variant=minbase bookworm`, trimmed of caches and per-machine files,
# packed with a fixed order, owner and time, and `docker import`ed.
# The same packages give the same tar, hence the same layer digest (docker import keeps the
# tar's sha256 as the layer's DiffID). debootstrap's output is cached (it takes ~2 minutes);
# delete the cache directory to take newer packages from the mirror.
#   deploy/images/base.sh [TAG]      (default vecscale/base:bookworm)
# Environment: VS_DEPLOY_CACHE (default /var/cache/vecscale-deploy), DEBIAN_MIRROR.
set -eu
TAG="${1:-vecscale/base:bookworm}"
CACHE="${VS_DEPLOY_CACHE:-/var/cache/vecscale-deploy}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Fixed file times in the tar; the packages' own versions are what distinguishes two builds.
EPOCH=1704067200 # 2024-01-01T00:00:00Z
log() { echo "base.sh: $*" >&2; }
die() { log "$*"; exit 1; }

raw="$CACHE/bookworm-minbase.debootstrap.tar"
mkdir -p "$CACHE"
root=""
trap '[ -z "$root" ] || rm -rf "$root"' EXIT INT TERM
if [ ! -s "$raw" ]; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing: apt-get install debootstrap"
    root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    log "debootstrap --variant=minbase bookworm from $MIRROR (about 2 minutes)"
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    tar -C "$root" --numeric-owner -cf "$raw.tmp" . && mv "$raw.tmp" "$raw"
    rm -rf "$root"; root=""
fi

# The image's identity: debootstrap's output and this script (which decides the trimming).
key=$( (sha256sum < "$raw"; sha256sum < "$0") | sha256sum | cut -c1-64)
if [ "$(docker image inspect -f '{{index .Config.Labels "org.vecscale.base-key"}}' "$TAG" 2>/dev/null)" = "$key" ]; then
    log "$TAG present (key $(echo "$key" | cut -c1-12))"
    exit 0
fi

root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
tar -C "$root" --numeric-owner -xf "$raw"
# Updates and security fixes, as on a Debian host; apt in a build step fetches the lists.
cat > "$root/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
# Images stay small: no recommends, no downloaded .debs, no docs or man pages.
cat > "$root/etc/apt/apt.conf.d/90vecscale-image" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT
cat > "$root/etc/dpkg/dpkg.cfg.d/90vecscale-nodoc" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
DPKG
# No init system runs in a container: packages must not try to start their services.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
# Per-run and per-machine files, which would differ between two debootstraps.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
    "$root"/var/log/* "$root"/var/cache/ldconfig/aux-cache "$root"/var/lib/dpkg/*-old \
    "$root"/etc/hostname "$root"/etc/resolv.conf "$root"/tmp/* "$root"/root/.bash_history \
    "$root"/etc/shadow- "$root"/etc/gshadow- "$root"/etc/passwd- "$root"/etc/group-
: > "$root/etc/machine-id"
# The days-since-epoch of the last password change: fixed, not the day of the build.
sed -i -E 's/^([^:]*:[^:]*:)[0-9]+:/\119723:/' "$root/etc/shadow"
tar -C "$root" --sort=name --numeric-owner --mtime="@$EPOCH" --clamp-mtime \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$CACHE/rootfs.tar" .
rm -rf "$root"; root=""
sum=$(sha256sum "$CACHE/rootfs.tar" | cut -d' ' -f1)
log "docker import: rootfs sha256 $sum as $TAG"
docker import --change "LABEL org.vecscale.base-key=$key" --change "LABEL org.vecscale.rootfs-sha256=$sum" \
    --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' "$CACHE/rootfs.tar" "$TAG" >/dev/null
rm -f "$CACHE/rootfs.tar"
