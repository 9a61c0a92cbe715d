#!/bin/bash
# Starts a throw-away Ceph cluster serving S3 on 127.0.0.1 for the integration tests:
# one monitor, one OSD on memstore (RAM only, nothing on disk but logs), one mgr, and
# radosgw with the beast frontend. Auth is "none" between the daemons (they only listen on
# loopback); S3 requests are still SigV4-checked by radosgw against the user it creates.
#
#   radosgw.sh start DIR   -> prints shell assignments: S3_ENDPOINT, AWS_ACCESS_KEY_ID, ...
#                             (also written to DIR/env); daemons' pids go to DIR/pids
#   radosgw.sh stop DIR    -> kills exactly the daemons it started, removes DIR
#
# Ports are picked free at start so two runs (or a developer's cluster) do not collide.
#
# Why the start used to fail (the OSD exited with "mon_cmd_maybe_osd_create fail: 'wrong
# fsid'", ~1 start in 3 on a fresh machine): with "auth none" on the v1 protocol, a Ceph 16
# client's authentication ends at the monitor's first reply, before its dispatch thread has
# decoded the monmap that follows it, and its own first monmap has no fsid when it was built
# from the mon addresses that the config bootstrap (global_init, librados connect) cached. A
# mon command sent in that window carries fsid 0 and the monitor refuses it (wrong fsid). The
# OSD sends one (osd crush set-device-class) the moment it is authenticated and gives up its
# init when refused; the `ceph` CLI is hit the same way (19 of 200 connects in a loop). Hence:
#   - ceph-osd and ceph-mgr run with --no-mon-config: everything they need is in ceph.conf,
#     and without the bootstrap their first monmap is built from the conf, fsid included;
#   - mon commands go through ceph_cmd.py (librados always bootstraps), which waits until
#     the client holds the monitor's fsid before it sends anything.
# radosgw and radosgw-admin need the osdmap before any monitor operation, and the osdmap
# reaches them after the monmap on the same connection: they cannot hit the window.
#
# A failed start prints one line saying which daemon did not come up and its own last error
# (it stops waiting as soon as that daemon has exited); its logs are kept in DIR.failed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/ceph_single_conf.sh"

cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop() {
    # A failed start's logs outlive the fixture's cleanup: ctest runs stop right after.
    if [ -f "$dir/failed" ] && [ -d "$dir/log" ]; then
        rm -rf "$dir.failed"; cp -r "$dir/log" "$dir.failed" 2>/dev/null || true
    fi
    [ -f "$dir/pids" ] || { rm -rf "$dir"; return 0; }
    # Everything lives in memory and is thrown away: no need to wait for a clean shutdown.
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$dir/pids"
    i=0
    while [ $i -lt 10 ]; do
        alive=0
        while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$dir/pids"
        [ $alive -eq 0 ] && break
        sleep 0.1; i=$((i + 1))
    done
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done < "$dir/pids"
    rm -rf "$dir"
}

pick_port() { # base: first free port in [base, base+200)
    p=$1
    while [ "$p" -lt $(($1 + 200)) ]; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then p=$((p + 1)); else echo "$p"; return 0; fi
    done
    echo "radosgw.sh: no free port near $1" >&2; return 1
}

last_errors() { # FILE: the daemon's last two error lines (level -1 or an uncaught exception),
    # without time and thread, on one line: the cause usually precedes the final "init failed".
    grep -aE ' -1 |terminate called|what\(\)|Caught signal' "$1" 2>/dev/null |
        grep -av 'Falling back to public interface\|log_to_monitors\|NOTIFY_TYPES' |
        tail -n 2 | sed 's/^[^ ]* [0-9a-f]* -1 //' | tr -d '\r' | paste -sd '|' | sed 's/|/", then "/'
}

fail() { # daemon-name out-file reason: the one line a failed start ends with
    local err; err=$(last_errors "$2")
    : > "$dir/failed"
    echo "radosgw.sh: $1 did not come up: ${3}${err:+; its last errors: \"$err\"} (logs: $dir/log, kept in $dir.failed by stop)" >&2
    exit 1
}

# wait_for seconds daemon out-file pid command...: runs command until it succeeds, giving up
# at a deadline in seconds (whatever each try costs) or as soon as the daemon's pid is gone.
wait_for() {
    local secs=$1 what="$2" out="$3" pid=$4; local deadline=$((SECONDS + secs)); shift 4
    while [ $SECONDS -lt $deadline ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        kill -0 "$pid" 2>/dev/null || fail "$what" "$out" "it exited"
        sleep 0.1
    done
    fail "$what" "$out" "not ready after $secs s"
}

mon_cmd() { "$here/ceph_cmd.py" "$conf" "$1"; }   # JSON command: output on stdout
osd_up() { mon_cmd '{"prefix": "osd dump"}' | grep -q "^osd.$1 up"; }

start() {
    for b in ceph-mon ceph-osd ceph-mgr radosgw radosgw-admin monmaptool; do
        command -v "$b" >/dev/null 2>&1 || { echo "radosgw.sh: $b missing: run scripts/setup.sh" >&2; exit 3; }
    done
    /usr/bin/python3 -c 'import rados' 2>/dev/null ||
        { echo "radosgw.sh: python3-rados missing: run scripts/setup.sh" >&2; exit 3; }
    rm -rf "$dir"; mkdir -p "$dir/mon" "$dir/osd" "$dir/mgr" "$dir/rgw" "$dir/log" "$dir/run"
    : > "$dir/pids"
    # Several test runs may start clusters at once (parallel worktrees, CI): hold a lock from
    # picking free ports until every daemon has bound them. Daemons do not inherit it (9>&-).
    # Lock wait (at most 100 s) plus the start's own waits (at most 120 s) stay below the ctest
    # fixture's TIMEOUT (300 s), so a stuck holder gives this message, not a bare ctest timeout.
    lock="${TMPDIR:-/tmp}/vecscale-radosgw-ports.lock"
    exec 9>"$lock"
    flock -w 100 9 || {
        echo "radosgw.sh: gave up after 100 s waiting for $lock: another radosgw.sh start still holds it" \
             "(a concurrent test run, or a stuck one: see 'fuser $lock')" >&2
        exit 1
    }
    echo "radosgw.sh: port lock taken after ${SECONDS} s" >&2
    mon_port=$(pick_port $((20000 + $$ % 5000)))
    rgw_port=$(pick_port $((mon_port + 1)))
    fsid=$(cat /proc/sys/kernel/random/uuid)
    conf="$dir/ceph.conf"
    # The settings the deployment's S3 image shares (scripts/ceph_single_conf.sh), and this
    # fixture's own: nothing on disk (memstore), a mgr, full only when memory is.
    CEPH_GLOBAL_EXTRA="mon osd full ratio = 0.99
mon osd backfillfull ratio = 0.99
mon osd nearfull ratio = 0.99"
    CEPH_OSD_EXTRA="osd objectstore = memstore
# Room for the 1 GiB round-trip test plus radosgw's own pools; allocated only as written.
memstore device bytes = 3221225472"
    CEPH_SECTIONS="[mgr]
mgr data = $dir/mgr
# Only what status needs: the always-on python modules would cost seconds of start-up.
mgr initial modules ="
    ceph_single_conf "$conf" "$dir" "$fsid" "$mon_port" "$((rgw_port + 1))" "$((rgw_port + 400))" "$rgw_port"
    export CEPH_CONF="$conf"
    monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" \
        >"$dir/log/monmaptool.out" 2>&1 || fail "the monitor" "$dir/log/monmaptool.out" "monmaptool failed"
    ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >"$dir/log/mkfs-mon.out" 2>&1 ||
        fail "the monitor" "$dir/log/mkfs-mon.out" "its mkfs failed"
    ceph-mon -c "$conf" -i a -f >"$dir/log/mon.out" 2>&1 9>&- &
    mon_pid=$!; echo $mon_pid >> "$dir/pids"
    echo "radosgw.sh: starting the monitor at ${SECONDS} s" >&2
    wait_for 30 "the monitor" "$dir/log/mon.out" $mon_pid mon_cmd '{"prefix": "mon stat"}'
    # The monitor answering must be ours, not another cluster's on a port taken meanwhile.
    got=$(mon_cmd '{"prefix": "fsid"}' 2>"$dir/log/fsid.out") ||
        fail "the monitor" "$dir/log/mon.out" "'fsid' failed: $(tail -n 1 "$dir/log/fsid.out")"
    [ "$got" = "$fsid" ] || fail "the monitor" "$dir/log/mon.out" "port $mon_port answers for cluster '$got', not ours"

    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    osd_id=$(mon_cmd '{"prefix": "osd new", "uuid": "'"$osd_uuid"'"}' 2>"$dir/log/osd-new.out") ||
        fail "the OSD" "$dir/log/osd-new.out" "'osd new' failed: $(tail -n 1 "$dir/log/osd-new.out")"
    ceph-osd -c "$conf" --no-mon-config -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" \
        >"$dir/log/mkfs-osd.out" 2>&1 || fail "the OSD" "$dir/log/mkfs-osd.out" "its mkfs failed"
    ceph-osd -c "$conf" --no-mon-config -i "$osd_id" -f >"$dir/log/osd.out" 2>&1 9>&- &
    osd_pid=$!; echo $osd_pid >> "$dir/pids"
    ceph-mgr -c "$conf" --no-mon-config -i x -f >"$dir/log/mgr.out" 2>&1 9>&- &
    echo $! >> "$dir/pids"
    echo "radosgw.sh: monitor up at ${SECONDS} s; starting the OSD" >&2
    wait_for 120 "the OSD" "$dir/log/osd.out" $osd_pid osd_up "$osd_id"

    radosgw -c "$conf" -n client.rgw -f >"$dir/log/rgw.out" 2>&1 9>&- &
    rgw_pid=$!; echo $rgw_pid >> "$dir/pids"
    echo "radosgw.sh: OSD up at ${SECONDS} s; starting radosgw" >&2
    wait_for 60 "radosgw (port $rgw_port)" "$dir/log/rgw.out" $rgw_pid curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/"

    access=VSTESTACCESSKEY$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
    secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
    flock -u 9
    echo "radosgw.sh: radosgw answers at ${SECONDS} s" >&2
    radosgw-admin -c "$conf" -n client.rgw user create --uid=vstest --display-name=vstest \
        --access-key="$access" --secret-key="$secret" >"$dir/log/user.out" 2>&1 ||
        fail "the S3 user" "$dir/log/user.out" "radosgw-admin user create failed"
    cat > "$dir/env" <<ENV
S3_ENDPOINT=http://127.0.0.1:$rgw_port
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
AWS_REGION=us-east-1
ENV
    cat "$dir/env"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
