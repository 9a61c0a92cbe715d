# The ceph.conf of a one-host Ceph cluster serving S3 on 127.0.0.1 (a monitor, one OSD,
# radosgw), shared by the tests' fixture (tests/integration/radosgw.sh: memstore, thrown away)
# and the deployment's S3 image (deploy/images/s3-start.sh: BlueStore on a volume, which
# build-images.sh copies this file into). Sourced, not run; sh and bash.
#   ceph_single_conf FILE DIR FSID MON_PORT PORT_MIN PORT_MAX RGW_PORT
# writes FILE. DIR holds mon/, osd/, rgw/, run/ and log/. What differs between the two
# callers comes in these variables, each a block of "key = value" lines (may be empty):
#   CEPH_GLOBAL_EXTRA  more [global] (the full ratios)
#   CEPH_OSD_EXTRA     the object store and its settings
#   CEPH_SECTIONS      whole further sections ([mgr])
# Why "auth none": every daemon listens on loopback only; S3 requests are still checked by
# radosgw against its user's keys.
ceph_single_conf() {
    cat > "$1" <<CONF
[global]
fsid = $3
mon host = v1:127.0.0.1:$4
public addr = 127.0.0.1
ms bind msgr2 = false
ms bind port min = $5
ms bind port max = $6
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
run dir = $2/run
admin socket =
log file = $2/log/\$name.log
pid file = $2/run/\$name.pid
log to stderr = false
err to stderr = true
mon cluster log file = $2/log/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail crit = 1
mon data avail warn = 2
${CEPH_GLOBAL_EXTRA:-}
[mon]
mon data = $2/mon
mon initial members = a
# Each map change (osd new, the OSD's boot, every pool radosgw creates) otherwise waits out the
# default 1 s gathering window: 13 s -> ~8 s per start.
paxos propose interval = 0.1
[osd]
osd data = $2/osd
osd max object size = 134217728
osd heartbeat grace = 60
${CEPH_OSD_EXTRA:-}
${CEPH_SECTIONS:-}
[client]
rgw frontends = beast endpoint=127.0.0.1:$7
rgw data = $2/rgw
rgw dns name = localhost
rgw enable usage log = false
rgw crypt require ssl = false
rgw thread pool size = 32
CONF
}
