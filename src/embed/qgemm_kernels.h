/* The int8 and bf16 GEMM kernels behind vs_qlinear (qgemm.h), one table per instruction set:
 * scalar reference (qgemm_scalar.c), AVX2 vpmaddubsw + vpmaddwd (qgemm_avx2.c; int16 layers:
 * qgemm_avx2_s16.c), AVX-VNNI and
 * AVX512-VNNI vpdpbusd (qgemm_avxvnni.c, qgemm_avx512.c; the latter also AVX512-BF16 vdpbf16ps),
 * AMX tdpbssd / tdpbf16ps (qgemm_amx.c; its bf16 alone is not bit-identical, see there).
 * Every kernel computes the integer sums exactly and then the same float epilogue in the same
 * order (files built with -ffp-contract=off), so all levels give bit-identical results (per
 * scheme: an int16 layer, what the AVX2 table loads, has results of its own, qgemm.h). */
#ifndef VS_EMBED_QGEMM_KERNELS_H
#define VS_EMBED_QGEMM_KERNELS_H

#include "embed/qgemm.h"

typedef struct {
    const char *name; /* "scalar", "avx2", "avx-vnni", "avx512-vnni" */
    /* vs_quant_rows_s8 (qgemm.h), vectorised for this instruction set; same bytes everywhere. */
    void (*quant_rows)(size_t m, size_t k, const float *a, size_t lda, int8_t *q, size_t kp, float *sa, float *za);
    /* C[i][j] = ((float)(sum_k a[i][k] w8[j][k]) * (sa[i] * sw[j]) + za[i] * wf[j]) + bias[j],
     * i < m, j < q->n, each operation rounded to float in that order; a has rows of q->kp int8
     * values in -127..127. */
    void (*linear_s8s8)(size_t m, const int8_t *a, const float *sa, const float *za, const vs_qlinear *q, float *c,
                        size_t ldc);
    /* C[i][j] = sum over k pairs, in order, of acc += a[2t+1] w[2t+1]; acc += a[2t] w[2t] (each
     * product exact in fp32), then + bias[j]; a has rows of q->kp bf16 values. NULL: no bf16. */
    void (*linear_bf16)(size_t m, const uint16_t *a, const vs_qlinear *q, float *c, size_t ldc);
    /* int16 layers (qgemm.h; the tables above AVX2 use the AVX2 kernels): rows quantized to
     * lv levels, and
     * C[i][j] = ((float)(sum_k a[i][k] w16[j][k]) * (sa[i] * sw[j]) + za[i] * wf[j]) + bias[j]. */
    void (*quant_rows16)(size_t m, size_t k, const float *a, size_t lda, int16_t *q, size_t kp, int lv, float *sa,
                         float *za);
    void (*linear_s16)(size_t m, const int16_t *a, const float *sa, const float *za, const vs_qlinear *q, float *c,
                       size_t ldc);
    /* 1: int8 models load their layers as int16 here (vs_qlinear_init_s16): the AVX2 table. */
    int wide;
} vs_qgemm_kernels;

/* The AVX2 int16 kernels (qgemm_avx2_s16.c), also used by the tables above AVX2. */
void vs_qgemm_avx2_quant_rows16(size_t m, size_t k, const float *a, size_t lda, int16_t *q, size_t kp, int lv,
                                float *sa, float *za);
void vs_qgemm_avx2_linear_s16(size_t m, const int16_t *a, const float *sa, const float *za, const vs_qlinear *q,
                              float *c, size_t ldc);

extern const vs_qgemm_kernels vs_qgemm_scalar, vs_qgemm_avx2, vs_qgemm_avxvnni, vs_qgemm_avx512;
/* AMX int8 + AMX-BF16 (qgemm_amx.c): at the AVX512 level where the CPU has AMX and the kernel
 * grants the tile state (vs_qgemm_amx_ready; VECSCALE_NO_AMX=1 in the environment keeps the
 * AVX512 kernels, for comparisons). Its int8 is bit-identical to the reference, its bf16 is not
 * (another summation order inside a tile instruction). */
extern const vs_qgemm_kernels vs_qgemm_amx;
int vs_qgemm_amx_ready(void);
/* Bytes of zeros after packed weights: an AMX B tile of the last block reads up to 15 groups of
 * 64 bytes past it (qgemm_amx.c). */
#define VS_QPACK_SLACK 1024
/* The AVX512-VNNI table without bf16, for CPUs that have VNNI but not AVX512-BF16. */
extern const vs_qgemm_kernels vs_qgemm_avx512_nobf16;

/* The bf16 definition (scalar, slow): what linear_bf16 must compute; tests only. */
void vs_qgemm_bf16_reference(size_t m, const uint16_t *a, const vs_qlinear *q, float *c, size_t ldc);

/* The table for the current SIMD level (vs_simd_active, so VECSCALE_SIMD and vs_simd_force
 * count) and the CPU's VNNI / BF16 flags. */
const vs_qgemm_kernels *vs_qgemm_kernels_get(void);
/* Whether a table's instructions exist on this CPU (for tests that run every table). */
int vs_qgemm_kernels_usable(const vs_qgemm_kernels *k);
/* Whether the bf16 kernels exist on this CPU (whatever the SIMD level). */
int vs_qgemm_bf16_supported(void);
/* Whether a model may run in bf16 on table k: only where bf16 beats fp32, i.e. on AMX-BF16
 * (tdpbf16ps); AVX512-BF16 alone (vdpbf16ps) measured 0.8x fp32 (193 vs 239 sentences per CPU
 * second, bench/RESULTS_embeddings.md), so it is refused rather than silently slower, unless
 * VECSCALE_QGEMM names k (benchmarks). */
int vs_qgemm_bf16_offered(const vs_qgemm_kernels *k);

/* Index of weight (j, k) in the packed layout, G values per group. */
static inline size_t vs_qpack_at(size_t j, size_t k, size_t kp, size_t g)
{
    return ((j / 16) * (kp / g) + k / g) * 16 * g + (j % 16) * g + k % g;
}

#endif
