# Sourced by the shell tests (cli, embed, integration): TAP-like pass/fail counting and
# `expect`. The sourcing script sets T (its scratch directory) first and ends with
# `finish`, whose status is the test's.
pass=0
fails=0

ok() { pass=$((pass + 1)); echo "ok   - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }

# expect NAME EXIT-CODE NEEDLE COMMAND...: runs COMMAND, checks its exit code and that
# stdout+stderr contains NEEDLE.
expect() {
    name="$1"; code="$2"; needle="$3"; shift 3
    set +e
    "$@" >"$T/out" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne "$code" ]; then bad "$name (exit $rc, want $code)"; sed 's/^/     /' "$T/out" | head -5; return; fi
    if ! grep -q -- "$needle" "$T/out"; then bad "$name (no '$needle' in output)"; sed 's/^/     /' "$T/out" | head -5; return; fi
    ok "$name"
}

# finish [PREFIX]: prints the summary; fails when any check failed.
finish() {
    echo "${1:+$1: }$pass passed, $fails failed"
    [ "$fails" -eq 0 ]
}
