#!/bin/bash
# Runs the S3 store of the compose files: a one-host Ceph cluster (monitor, one OSD on BlueStore
# in a sparse file, radosgw) on 127.0.0.1, its state in /var/lib/vecscale-s3 (a named volume).
# The first start creates the cluster, the S3 user and the bucket; later starts reuse them, so
# the monitor's port is fixed once the volume exists. If any daemon exits, the others are
# stopped and this script exits 1, so the container's restart policy restarts the whole store;
# SIGTERM stops all three and exits 0.
# Its ceph.conf is tests/integration/radosgw.sh's (both from scripts/ceph_single_conf.sh, which
# the image holds), except for the object store (BlueStore: what is written stays written across
# restarts and crashes; the tests' memstore keeps it in RAM only).
set -eu
. "${VS_CEPH_CONF_SH:-/usr/local/lib/vecscale/ceph_single_conf.sh}"
: "${S3_PORT:?}" "${S3_MON_PORT:?}" "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}" "${S3_BUCKET:?}"
PMIN="${S3_CEPH_PORT_MIN:-$((S3_MON_PORT + 1))}"
PMAX="${S3_CEPH_PORT_MAX:-$((PMIN + 99))}"
D=/var/lib/vecscale-s3
log() { echo "s3-start: [${SECONDS} s] $*" >&2; }

conf="$D/ceph.conf"
mkdir -p "$D/mon" "$D/osd" "$D/rgw" "$D/log" "$D/run"
[ -s "$D/fsid" ] || { cat /proc/sys/kernel/random/uuid > "$D/fsid.tmp"; mv "$D/fsid.tmp" "$D/fsid"; }
fsid=$(cat "$D/fsid")
# Written on every start from the environment; the monitor's own map keeps its first address.
# The settings shared with the tests' fixture are in ceph_single_conf.sh (scripts/ in the
# source tree); this store's own: BlueStore on the volume, Ceph's default full ratio.
CEPH_GLOBAL_EXTRA="mon osd full ratio = 0.95"
CEPH_OSD_EXTRA="osd objectstore = bluestore
bluestore block path = $D/bluestore.img
bluestore block create = true
bluestore block size = ${S3_OSD_BYTES:-10737418240}
bluestore fsck on mkfs = false
osd memory target = ${S3_OSD_MEMORY:-939524096}
# Placed in the CRUSH map once, at creation (below), not by the OSD at each start: its start-up
# commands could reach the monitor before the OSD knew the cluster's fsid ('wrong fsid', EPERM,
# the OSD exits; about one first start in five here).
osd crush update on start = false
osd class update on start = false"
ceph_single_conf "$conf" "$D" "$fsid" "$S3_MON_PORT" "$PMIN" "$PMAX" "$S3_PORT"
export CEPH_CONF="$conf"

wait_for() { # seconds pid what command...: until command succeeds, while the daemon pid lives
    local deadline=$((SECONDS + $1)) pid=$2 what="$3"; shift 3
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$pid" 2>/dev/null; then
            log "gave up waiting for $what ($(kill -0 "$pid" 2>/dev/null && echo "timed out" || echo "its daemon exited"))"
            tail -n 20 "$D"/log/*.log >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait || true; }
trap 'log "stopping"; stop_all; exit 0' TERM INT

if [ ! -f "$D/mon/done" ]; then
    log "creating the monitor (fsid $fsid)"
    rm -rf "$D/mon"; mkdir -p "$D/mon"
    monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$S3_MON_PORT]" "$D/monmap" >/dev/null
    ceph-mon --mkfs -i a --monmap "$D/monmap"
    touch "$D/mon/done"
fi
ceph-mon -i a -f & pids+=($!)
wait_for 60 $! "the monitor on port $S3_MON_PORT" ceph --connect-timeout 2 mon stat

if [ ! -s "$D/osd/whoami" ] || [ ! -f "$D/osd/ready" ]; then
    log "creating the OSD (BlueStore in $D/bluestore.img, sparse)"
    rm -rf "$D/osd" "$D/bluestore.img"; mkdir -p "$D/osd"
    uuid=$(cat /proc/sys/kernel/random/uuid)
    # A creation that did not finish leaves its id behind (down, outside CRUSH, holding no
    # data); this one takes the next id.
    id=$(ceph osd new "$uuid")
    ceph-osd -i "$id" --mkfs --osd-uuid "$uuid" >"$D/log/mkfs-osd.out" 2>&1 \
        || { cat "$D/log/mkfs-osd.out" >&2; exit 1; }
    ceph osd crush add "osd.$id" 1.0 root=default host=vecscale-s3 >/dev/null
    touch "$D/osd/ready"
fi
id=$(cat "$D/osd/whoami")
ceph-osd -i "$id" -f & pids+=($!)
wait_for 120 $! "osd.$id to come up" sh -c "ceph osd dump | grep -q '^osd.$id up'"

radosgw -n client.rgw -f & pids+=($!)
wait_for 120 $! "radosgw on port $S3_PORT" curl -sf -o /dev/null "http://127.0.0.1:$S3_PORT/"

if ! radosgw-admin -n client.rgw user info --uid=vecscale >/dev/null 2>&1; then
    log "creating the S3 user"
    radosgw-admin -n client.rgw user create --uid=vecscale --display-name=vecscale \
        --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >/dev/null
fi
# Creating a bucket one already owns answers 200 or 409 (by version); the HEAD decides.
curl -s -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" || true
/usr/local/bin/s3-health.sh || { log "bucket $S3_BUCKET is not reachable with the configured keys"; stop_all; exit 1; }
log "ready: http://127.0.0.1:$S3_PORT bucket $S3_BUCKET"

# Any daemon exiting ends the store (wait -n returns when the first child ends).
set +e
wait -n "${pids[@]}"
rc=$?
log "a daemon exited ($rc): stopping the others"
stop_all
exit 1
