#!/bin/bash
# A 3-node NATS cluster with JetStream (Debian's nats-server) on loopback for the cluster's
# replicated write log (issue 16), and stops exactly the processes it started.
#   nats.sh start DIR       -> prints NATS_URL=nats://127.0.0.1:P1,... (also in DIR/env)
#   nats.sh kill DIR I      -> kill -9 of node I (1..3), as a crash would
#   nats.sh restart DIR I   -> starts node I again on its ports and store (bounded wait)
#   nats.sh stop DIR        -> stops every node, removes DIR (a failed start's logs are kept
#                              in DIR.failed)
# Each node's JetStream store is DIR/nI/store: a restarted node recovers its streams from it
# and catches up from the others through Raft.
set -eu
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|kill|restart|stop DIR [NODE]" >&2; exit 2; }

pick_port() {
    p=$1
    while [ "$p" -lt $(($1 + 300)) ]; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then p=$((p + 1)); else echo "$p"; return 0; fi
    done
    echo "nats.sh: no free port near $1" >&2; return 1
}

fail() { # the one line a failed start ends with
    : > "$dir/failed"
    echo "nats.sh: $1 (last log line: \"$(tail -n 1 "$2" 2>/dev/null | cut -c1-200)\"; logs in $dir, kept in $dir.failed by stop)" >&2
    exit 1
}

# healthy I [QUERY]: node I answers its monitor's /healthz with ok. Plain /healthz (first start)
# also wants every stream and consumer replica on the node current; a restart waits only for
# the node's JetStream and meta group (?js-server-only=true): its streams and consumers catch
# up through Raft afterwards, which under load can take longer than any fixed wait (a
# consumer re-created meanwhile by its replica stays "not current" on the restarted node).
healthy() { curl -sf -m 1 "http://127.0.0.1:$(cat "$dir/n$1/mon_port")/healthz${2:-}" 2>/dev/null | grep -q '"ok"'; }

launch() { # I: start node I from its config, detached from the caller's lock fd
    nats-server -c "$dir/n$1/server.conf" >>"$dir/n$1/server.log" 2>&1 9>&- &
    echo $! > "$dir/n$1/pid"
}

wait_healthy() { # I SECONDS [QUERY]
    local deadline=$((SECONDS + $2)) pid; pid=$(cat "$dir/n$1/pid")
    while [ $SECONDS -lt $deadline ]; do
        healthy "$1" "${3:-}" && return 0
        kill -0 "$pid" 2>/dev/null || fail "node $1 exited during start" "$dir/n$1/server.log"
        sleep 0.1
    done
    fail "node $1 not healthy after $2 s" "$dir/n$1/server.log"
}

# meta_leader: some node knows the JetStream meta group's leader (streams can be created).
meta_leader() {
    local i
    for i in 1 2 3; do
        curl -sf -m 1 "http://127.0.0.1:$(cat "$dir/n$i/mon_port")/jsz" 2>/dev/null |
            grep -q '"leader": *"n[123]"' && return 0
    done
    return 1
}

case "$cmd" in
start)
    command -v nats-server >/dev/null || { echo "nats.sh: nats-server missing: run scripts/setup.sh" >&2; exit 3; }
    rm -rf "$dir" "$dir.failed"; mkdir -p "$dir"
    exec 9>"${TMPDIR:-/tmp}/vecscale-nats-ports.lock"   # concurrent runs: pick ports one at a time
    flock -w 120 9 || { echo "nats.sh: could not take the port lock in 120 s" >&2; exit 1; }
    # Below Linux's ephemeral range and apart from the etcd (27000+) and radosgw (20000+)
    # fixtures' bases.
    p=$((14000 + $$ % 5000))
    for i in 1 2 3; do
        mkdir -p "$dir/n$i/store"
        for k in client cluster mon; do p=$(pick_port "$p"); echo "$p" > "$dir/n$i/${k}_port"; p=$((p + 1)); done
    done
    routes=""
    for i in 1 2 3; do routes="$routes${routes:+, }nats-route://127.0.0.1:$(cat "$dir/n$i/cluster_port")"; done
    url=""
    for i in 1 2 3; do
        cat > "$dir/n$i/server.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$(cat "$dir/n$i/client_port")
http: 127.0.0.1:$(cat "$dir/n$i/mon_port")
jetstream {
  store_dir: "$dir/n$i/store"
  max_memory_store: 64MB
  max_file_store: 2GB
}
cluster {
  name: vs
  listen: 127.0.0.1:$(cat "$dir/n$i/cluster_port")
  routes: [ $routes ]
}
CONF
        url="$url${url:+,}nats://127.0.0.1:$(cat "$dir/n$i/client_port")"
        launch "$i"
    done
    for i in 1 2 3; do wait_healthy "$i" 60; done
    deadline=$((SECONDS + 60))
    until meta_leader; do
        [ $SECONDS -lt $deadline ] || fail "no JetStream meta leader after 60 s" "$dir/n1/server.log"
        sleep 0.2
    done
    echo "NATS_URL=$url" | tee "$dir/env" ;;
kill)
    i="${3:?node}"; [ -f "$dir/n$i/pid" ] || { echo "nats.sh: no node $i in $dir" >&2; exit 2; }
    pid=$(cat "$dir/n$i/pid")
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    echo "nats.sh: node $i (pid $pid) survived kill -9" >&2; exit 1 ;;
restart)
    i="${3:?node}"; [ -f "$dir/n$i/server.conf" ] || { echo "nats.sh: no node $i in $dir" >&2; exit 2; }
    pid=$(cat "$dir/n$i/pid")
    if kill -0 "$pid" 2>/dev/null; then echo "nats.sh: node $i still runs (pid $pid)" >&2; exit 1; fi
    launch "$i"
    wait_healthy "$i" 60 "?js-server-only=true" ;;
stop)
    if [ -f "$dir/failed" ]; then rm -rf "$dir.failed"; cp -r "$dir" "$dir.failed" 2>/dev/null || true; fi
    for i in 1 2 3; do
        [ -f "$dir/n$i/pid" ] && kill "$(cat "$dir/n$i/pid")" 2>/dev/null || true
    done
    for i in 1 2 3; do
        [ -f "$dir/n$i/pid" ] || continue
        pid=$(cat "$dir/n$i/pid")
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$dir" ;;
*) echo "usage: $0 start|kill|restart|stop DIR [NODE]" >&2; exit 2 ;;
esac
