#!/bin/bash
# kill -9 in the middle of a streamed build, then `vecscale build --resume`, compared with the
# uninterrupted build of bench/scale.sh (run that first): same index.vsi and rerank.vsr bytes
# and the same recall. The checkpointed build uses --checkpoint-rows EVERY (default N/5); the
# kill comes once build.ckpt records at least KILL_AT rows (default 2 * EVERY), from outside
# the process (kill -9), wherever it is then (adding, writing rows or checkpointing).
#   bench/scale_resume.sh N NLIST [WORKDIR]
set -eu
N="$1"; NLIST="$2"; W="${3:-/work/data/scale}"
M="${M:-32}"; EVERY="${EVERY:-$((N / 5))}"; KILL_AT="${KILL_AT:-$((2 * EVERY))}"; NQ="${NQ:-10000}"
HERE=$(cd "$(dirname "$0")" && pwd)
VS="${VS:-$HERE/../build/vecscale}"
SPEC="IVF${NLIST},PQ${M}x4fs,Ru8"
B="$W/base_$N.bvecs"; Q="$W/queries_$NQ.bvecs"; GT="$W/gt_${N}_q$NQ.ivecs"
REF="$W/idx_${N}_IVF${NLIST}_PQ${M}"; R="$W/resume_${N}_IVF${NLIST}_PQ${M}"
[ -s "$REF/index.vsi" ] || { echo "run bench/scale.sh $N $NLIST $W first"; exit 2; }
rm -rf "$R"
"$VS" build --input "$B" --output "$R" --index "$SPEC" --threads 2 --checkpoint-rows "$EVERY" >"$R.log1" 2>&1 &
pid=$!
done_rows() { [ -s "$R/build.ckpt" ] && od -An -t u8 -j 144 -N 8 "$R/build.ckpt" | tr -d ' ' || echo 0; }
while kill -0 "$pid" 2>/dev/null && [ "$(done_rows)" -lt "$KILL_AT" ]; do sleep 1; done
sleep 3 # past the checkpoint, into the next chunk's adds
kill -9 "$pid" && echo "killed build (pid $pid) with kill -9; checkpoint at row $(done_rows) of $N"
wait "$pid" 2>/dev/null || true
ls -l "$R"
/usr/bin/time -f "resume: %e s wall, %M KiB peak RSS" "$VS" build --input "$B" --output "$R" --index "$SPEC" --threads 2 \
    --checkpoint-rows "$EVERY" --resume 2>&1 | grep -E "resuming|built|resume:"
cmp "$REF/index.vsi" "$R/index.vsi" && echo "index.vsi: same bytes as the uninterrupted build"
cmp "$REF/rerank.vsr" "$R/rerank.vsr" && echo "rerank.vsr: same bytes as the uninterrupted build"
for d in "$REF" "$R"; do
    BENCH_CLOCK=cpu "$VS" search --index "$d" --queries "$Q" -k 10 --nprobe 16 --k-factor 10 --groundtruth "$GT" 2>&1 >/dev/null \
        | grep recall | sed "s|^|${d##*/}: nprobe 16 k_factor 10 |"
done
