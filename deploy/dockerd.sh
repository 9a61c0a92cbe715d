#!/bin/sh
# Makes sure a Docker engine answers, starting one when none runs (as on a machine without
# systemd, or a container): `dockerd` with host networking only (no bridge, no iptables rules:
# every vecscale container uses the host's network on 127.0.0.1).
#   deploy/dockerd.sh ensure    exit 0 once `docker info` answers; prints "started" if it
#                               started dockerd (pid in $PIDFILE), "running" if one was there
#   deploy/dockerd.sh stop      stops the dockerd that `ensure` started, nothing else
# Fails with the reason when the engine cannot run here (no dockerd, not root, or dockerd's
# own error from its log).
set -eu
PIDFILE="${VS_DOCKERD_PIDFILE:-/run/vecscale-dockerd.pid}"
LOG="${VS_DOCKERD_LOG:-/var/log/vecscale-dockerd.log}"
say() { echo "dockerd.sh: $*" >&2; }

answers() { docker info >/dev/null 2>&1; }

ensure() {
    command -v docker >/dev/null 2>&1 || { say "no docker client: apt-get install docker.io docker-compose"; exit 3; }
    if answers; then echo running; return 0; fi
    command -v dockerd >/dev/null 2>&1 || { say "no Docker engine answers and dockerd is not installed: apt-get install docker.io"; exit 3; }
    [ "$(id -u)" -eq 0 ] || { say "no Docker engine answers, and starting dockerd needs root (or: sudo systemctl start docker)"; exit 3; }
    # A systemd machine starts it the usual way.
    if [ -d /run/systemd/system ] && systemctl start docker >/dev/null 2>&1; then
        for _ in $(seq 100); do answers && { echo running; return 0; }; sleep 0.2; done
    fi
    say "starting dockerd (log: $LOG)"
    dockerd --iptables=false --ip6tables=false --bridge=none >"$LOG" 2>&1 &
    pid=$!
    echo "$pid" > "$PIDFILE"
    for _ in $(seq 150); do
        if answers; then echo started; return 0; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    say "dockerd did not start; the end of its log ($LOG):"
    tail -n 15 "$LOG" >&2
    # The usual reasons, named: no cgroup hierarchy, no overlay or namespaces.
    grep -qw cgroup /proc/mounts || grep -qw cgroup2 /proc/mounts || say "no cgroup filesystem is mounted"
    [ -e /proc/self/ns/mnt ] || say "this kernel has no mount namespaces"
    exit 1
}

stop() {
    [ -f "$PIDFILE" ] || return 0
    pid=$(cat "$PIDFILE")
    # Only the dockerd this script started, and only if that pid is still a dockerd.
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$(command -v dockerd)" ]; then
        kill "$pid"
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && { say "dockerd $pid still running after 30 s"; exit 1; }
    fi
    rm -f "$PIDFILE"
}

case "${1:-}" in
    ensure) ensure ;;
    stop) stop ;;
    *) echo "usage: $0 ensure|stop" >&2; exit 2 ;;
esac
