#!/bin/sh
# An index whose inverted lists are several times larger than the memory the process may use
# still answers queries through a view (mmap): the kernel drops clean file pages the search
# has finished with, while a full load of the same file under the same limit is killed.
#
# The limit is a memory cgroup (v2 memory.max or v1 memory.limit_in_bytes) around the search
# process only. Without a writable memory cgroup the test reports SKIP (exit 77), never a
# pass. usage: test_view_memlimit.sh VECSCALE GEN_FVECS WORKDIR
set -eu
V=$1 GEN=$2 W=$3
LIMIT_MB=64
rm -rf "$W"
mkdir -p "$W"
cd "$W"

cg=""
cleanup() {
    [ -n "$cg" ] && rmdir "$cg" 2>/dev/null || true
    cd / && rm -rf "$W"
}
trap cleanup EXIT

# A memory cgroup we may write: v2 (a leaf under the unified root) or v1.
for root in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/memory; do
    d="$root/vecscale-memlimit-$$"
    if mkdir "$d" 2>/dev/null; then
        if [ -w "$d/memory.max" ]; then
            echo $((LIMIT_MB << 20)) > "$d/memory.max" && echo 0 > "$d/memory.swap.max" 2>/dev/null || true
            [ "$(cat "$d/memory.max")" = $((LIMIT_MB << 20)) ] && { cg=$d; peak=memory.peak; break; }
        elif [ -w "$d/memory.limit_in_bytes" ]; then
            echo $((LIMIT_MB << 20)) > "$d/memory.limit_in_bytes"
            echo $((LIMIT_MB << 20)) > "$d/memory.memsw.limit_in_bytes" 2>/dev/null || true
            cg=$d; peak=memory.max_usage_in_bytes; break
        fi
        rmdir "$d" 2>/dev/null || true
    fi
done
if [ -z "$cg" ]; then
    echo "SKIP: no writable memory cgroup on this machine; the view-under-a-memory-limit check did not run"
    exit 77
fi
echo "memory cgroup: $cg (limit ${LIMIT_MB} MiB)"

# 600,000 x 100 floats: 229 MiB of inverted lists, 3.6x the limit.
"$GEN" 600000 100 1 > base.fvecs
"$GEN" 4 100 2 > queries.fvecs # each query reads the whole file: keep the I/O small
"$V" build --input base.fvecs --output ix --index IVF16,Flat > build.log
"$V" groundtruth --base base.fvecs --queries queries.fvecs --output gt.ivecs -k 10 > /dev/null
rm base.fvecs
size=$(stat -c %s ix/index.vsi)
echo "index file: $((size >> 20)) MiB"
[ "$size" -gt $((3 * (LIMIT_MB << 20))) ] || { echo "FAIL: index is not larger than 3x the limit"; exit 1; }
# Push the file out of the page cache so the searches below must read it under the limit.
sync
dd if=ix/index.vsi iflag=nocache count=0 status=none 2>/dev/null || true


in_cgroup() { sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$cg" "$@"; }

# nprobe = nlist: every list is read, so the whole file passes through the limited memory.
in_cgroup "$V" search --index ix --queries queries.fvecs --nprobe 16 --groundtruth gt.ivecs > view.out 2> view.err
cat view.err
grep -q "recall@10: 1.0000" view.err || { echo "FAIL: view search under the limit is not exact"; exit 1; }
used=$(cat "$cg/$peak" 2>/dev/null || echo 0)
echo "peak cgroup memory during the view search: $((used >> 20)) MiB (limit ${LIMIT_MB} MiB)"
[ "$used" -le $((LIMIT_MB << 20)) ] || { echo "FAIL: the cgroup went over its limit"; exit 1; }

# Control: loading the same file into memory under the same limit must fail, or the limit
# proved nothing.
if in_cgroup "$V" search --index ix --queries queries.fvecs --nprobe 16 --load > load.out 2> load.err; then
    echo "FAIL: a full load fit under the limit, so the limit does not constrain this index"
    exit 1
fi
echo "control: --load under the same limit failed as it must ($(tail -c 200 load.err | tr '\n' ' '))"
echo "PASS"
