#!/bin/bash
# Starts a single-member etcd (Debian's etcd-server) on free loopback ports for the cluster
# tests, and stops exactly that process.
#   etcd.sh start DIR  -> prints ETCD_ENDPOINT=http://127.0.0.1:PORT (also in DIR/env)
#   etcd.sh stop DIR
set -eu
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

pick_port() {
    p=$1
    while [ "$p" -lt $(($1 + 200)) ]; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then p=$((p + 1)); else echo "$p"; return 0; fi
    done
    echo "etcd.sh: no free port near $1" >&2; return 1
}

case "$cmd" in
start)
    command -v etcd >/dev/null || { echo "etcd.sh: etcd missing: run scripts/setup.sh" >&2; exit 3; }
    rm -rf "$dir"; mkdir -p "$dir"
    exec 9>"${TMPDIR:-/tmp}/vecscale-etcd-ports.lock"   # concurrent runs: pick ports one at a time
    flock -w 120 9 || { echo "etcd.sh: could not take the port lock" >&2; exit 1; }
    # Below Linux's ephemeral range (32768+), where outgoing connections take ports at random,
    # and above the radosgw fixture's; a port taken between the pick and etcd's bind anyway
    # makes etcd exit at once: pick again.
    base=$((27000 + $$ % 5000))
    for attempt in 1 2 3; do
        client=$(pick_port "$base")
        peer=$(pick_port $((client + 1)))
        etcd --name vs --data-dir "$dir/data" \
            --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
            --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
            --initial-cluster "vs=http://127.0.0.1:$peer" --log-level warn >"$dir/etcd.log" 2>&1 9>&- &
        pid=$!
        echo $pid > "$dir/pid"
        # A deadline, not a count of tries (100 tries of a fast refusal were 10 s: short for a
        # start under load). Below the etcd_start fixture's TIMEOUT (60 s); a port taken
        # meanwhile makes etcd exit at once, which ends the wait early.
        deadline=$((SECONDS + 45))
        while [ $SECONDS -lt $deadline ]; do
            if curl -sf -m 1 "http://127.0.0.1:$client/health" 2>/dev/null | grep -q true; then
                echo "ETCD_ENDPOINT=http://127.0.0.1:$client" | tee "$dir/env"
                exit 0
            fi
            kill -0 $pid 2>/dev/null || break
            sleep 0.1
        done
        kill $pid 2>/dev/null || true
        grep -q "address already in use" "$dir/etcd.log" || break
        echo "etcd.sh: port $client or $peer was taken meanwhile (attempt $attempt); picking others" >&2
        rm -rf "$dir/data"
        base=$((peer + 1))
    done
    echo "etcd.sh: etcd did not become healthy; log:" >&2; tail -20 "$dir/etcd.log" >&2
    exit 1 ;;
stop)
    if [ -f "$dir/pid" ]; then
        pid=$(cat "$dir/pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir" ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
