# Sourced by the integration tests that start servers (cluster, distributed build, snapshot
# serve): pass/fail counting from tests/cli/expect.sh, `pids` (background processes the
# script appends to, killed on exit: TERM, then KILL) with the etcd fixture stopped if one was started in "$T/etcd", and wait_file.
# The sourcing script sets T (its scratch directory) first and ends with `finish`.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../cli/expect.sh"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [ -d "$T/etcd" ] && "$HERE/etcd.sh" stop "$T/etcd" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# wait_file FILE [TENTHS]: waits until FILE is non-empty (default 60 s: a server under ASan
# on a loaded machine, restoring a snapshot or replaying its log, can take well over 15 s).
wait_file() {
    for _ in $(seq "${2:-600}"); do [ -s "$1" ] && return 0; sleep 0.1; done
    echo "no $1" >&2; return 1
}
