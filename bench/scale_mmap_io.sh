#!/bin/sh
# Paired: `,Ru8` re-ranking reads from the mapped store (--rerank-io mmap) against io_uring,
# one search thread (bench/SCALE.md, "Re-ranking from a mapped store"). Warm: an untimed
# pass per mode, then ROUNDS rounds alternating the modes, queries per CPU-second
# (BENCH_CLOCK=cpu) and /usr/bin/time's user/sys. Cold: posix_fadvise(DONTNEED) on the store
# before one run per mode, wall clock. The data is only read.
# usage: bench/scale_mmap_io.sh VECSCALE INDEX_DIR QUERIES GROUNDTRUTH ["25 40"] [ROUNDS]
set -eu
VS=$1 IDX=$2 Q=$3 GT=$4 KFS=${5:-"25 40"} ROUNDS=${6:-3}
run() { # mode k_factor clock
    BENCH_CLOCK=$3 /usr/bin/time -f "time %U user %S sys %M KiB" nice -n 19 "$VS" search --index "$IDX" --queries "$Q" \
        -k 10 --nprobe 8 --k-factor "$2" --groundtruth "$GT" --rerank-io "$1" 2>&1 >/dev/null | tr '\r' '\n' |
        sed -n 's/.*(\([0-9.]*\) queries\/s.*/\1/p; s/^recall@10: //p; s/^time //p' | tr '\n' ' '
}
drop() { /usr/bin/python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$IDX/rerank.vsr"; }
for kf in $KFS; do
    for io in mmap uring; do run $io "$kf" cpu >/dev/null; done
    r=1
    while [ $r -le "$ROUNDS" ]; do
        for io in mmap uring; do echo "warm kf=$kf round=$r $io: $(run $io "$kf" cpu)"; done
        r=$((r + 1))
    done
    for io in mmap uring; do drop; echo "cold kf=$kf $io: $(run $io "$kf" wall)"; done
done
