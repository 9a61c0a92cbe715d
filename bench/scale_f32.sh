#!/bin/bash
# Scale measurements for bench/SCALE.md: N synthetic 96-d vectors (Gaussian mixture,
# bench/synth.c), IVF-PQ 4-bit fast-scan with re-ranking on the original vectors read from the
# memory-mapped index file ("refine from disk"). Prints build time, peak memory, index size on
# disk, and recall@10 / queries per second at a few nprobe values.
#   bench/scale_f32.sh N NLIST [WORKDIR]      e.g. bench/scale_f32.sh 1000000 1024 /tmp/scale
# Environment: SPEC (default IVF<NLIST>,PQ48x4fs,RFlat), MAXQ queries per row (default 1000),
# NPROBES (default "8 16 32 64"), KFACTORS re-ranking factors for ,RFlat specs (default "4 20"),
# BUILD_THREADS (default 1).
set -eu
N="$1"; NLIST="$2"; W="${3:-/tmp/vs_scale}"
MAXQ="${MAXQ:-1000}"; NPROBES="${NPROBES:-8 16 32 64}"; BUILD_THREADS="${BUILD_THREADS:-1}"
HERE=$(cd "$(dirname "$0")" && pwd)
VS="${VS:-$HERE/../build/vecscale}"
SPEC="${SPEC:-IVF${NLIST},PQ48x4fs,RFlat}"
case "$SPEC" in *RFlat*) KFACTORS="${KFACTORS:-4 20}" ;; *) KFACTORS=none ;; esac
TAG="$N-$(echo "$SPEC" | tr ',' '_')"
mkdir -p "$W"
cc -O2 "$HERE/synth.c" -lm -o "$W/synth"
[ -s "$W/base_$N.fvecs" ] || "$W/synth" "$N" 96 1000 1 >"$W/base_$N.fvecs"
[ -s "$W/q.fvecs" ] || "$W/synth" 1000 96 1000 2 >"$W/q.fvecs"
[ -s "$W/gt_$N.ivecs" ] || "$VS" groundtruth --base "$W/base_$N.fvecs" --queries "$W/q.fvecs" -k 10 \
    --output "$W/gt_$N.ivecs" >/dev/null
rm -rf "$W/idx_$TAG"
/usr/bin/time -f "build: %e s wall, %M KiB peak RSS" "$VS" build --input "$W/base_$N.fvecs" \
    --output "$W/idx_$TAG" --index "$SPEC" --metric l2 --threads "$BUILD_THREADS" 2>&1 | grep -v "^$" | tail -2
echo "disk: $(du -b "$W/idx_$TAG/index.vsi" | cut -f1) bytes for $N vectors ($(du -b "$W/base_$N.fvecs" | cut -f1) bytes of .fvecs)"
"$VS" info "$W/idx_$TAG" | grep -iE "memory|code|vectors" || true
for np in $NPROBES; do
  for kf in $KFACTORS; do
    kfopt=""; [ "$kf" = none ] || kfopt="--k-factor $kf"
    for threads in ${THREADS:-1 2}; do
        # shellcheck disable=SC2086
        /usr/bin/time -f "  peak RSS %M KiB" "$VS" search --index "$W/idx_$TAG" --queries "$W/q.fvecs" -k 10 \
            --nprobe "$np" $kfopt --threads "$threads" --max-queries "$MAXQ" --groundtruth "$W/gt_$N.ivecs" 2>&1 >/dev/null \
            | sed "s/^/nprobe=$np k_factor=$kf threads=$threads: /" | grep -iE "recall|queries/s|RSS" | tr '\n' ' '
        echo
    done
  done
done
