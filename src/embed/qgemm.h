/* Low-precision Linear layers of the BERT encoder: int8 (weights per output channel, activations
 * per row) and bf16, with kernels chosen at run time (qgemm_kernels.h).
 *
 * int8: a weight row W[j] is quantized symmetrically, w8 = round(W / sw[j]) in [-127, 127],
 * sw[j] = max|W[j]| / 127. An activation row A[i] is quantized asymmetrically around the
 * middle of its range (dynamic, per row and call): za[i] = (max + min) / 2,
 * sa[i] = (max - min) / 254, a8 = round((A - za[i]) / sa[i]) in [-127, 127], so the 255 levels
 * span the row's range whatever its offset (a GELU output, >= -0.17, used only half of a
 * symmetric range: one bit lost). The zero point is compensated in float, exactly as the
 * algebra says, with wf[j] = sw[j] * sum_k w8[j][k] (the quantized row's sum):
 *   C[i][j] = (float)(sum_k a8[i][k] w8[j][k]) * (sa[i] * sw[j]) + za[i] * wf[j] + bias[j]
 * with the sum in int32 (K * 127 * 127 fits for K < 133,000). Both operands are signed, the
 * instructions want u8 x s8:
 *  - AVX2 vpmaddubsw adds two u8 x s8 products into a *saturating* int16 (255 * 127 * 2 = 64,770
 *    would overflow). We feed it |a8| (at most 127) and w8 with a8's sign moved onto it
 *    (vpsignb), so a pair is at most 127 * 127 * 2 = 32,258 < 32,767: exact, then vpmaddwd by ones
 *    widens to int32 sums of four. (FBGEMM's alternative, 7-bit u7 activations, halves the
 *    activation resolution: on the MiniLM-shaped test its embeddings were 1.6x further from fp32,
 *    1 - mean cosine 0.00104 against 0.00065.)
 *  - VNNI vpdpbusd (no saturation) gets a8 + 128 as u8 (an xor of the sign bit) and subtracts
 *    128 * wsum[j], wsum[j] = sum_k w8[j][k], afterwards: the zero-point compensation, exact.
 * Every SIMD level so computes the same int32 sums and the same floats: embeddings do not
 * depend on the machine.
 *
 * Split int8 (vs_qlinear_split, for the layers whose error costs most): the rounding residuals
 * are quantized once more, one level down (weights wr8 = round((W - sw w8) / (sw / 254)),
 * activations r8 = round((A - za - sa a8) / (sa / 254)), both in [-127, 127]), and the GEMM
 * adds sum_k (a8 wr8 + r8 w8) at scale sa sw / 254: the same kernels on rows [a8 | r8] against
 * [wr8 | w8] (K doubled), a second vs_qlinear (lo) with zero points 0 and no bias. The term
 * r8 wr8 / 254^2 is dropped. Three int8 products per weight instead of one, for an operand
 * resolution of about 16 bits; results still identical at every SIMD level.
 *
 * bf16: weights and activations rounded to bfloat16 (nearest even), products summed in fp32 by
 * vdpbf16ps (AVX512-BF16) or tdpbf16ps (AMX-BF16, another summation order). Only offered where
 * the CPU has AVX512-BF16.
 *
 * Where Linux grants AMX, both run on tiles (qgemm_amx.c): tdpbssd multiplies s8 x s8 directly,
 * so int8 stays bit-identical to every other level.
 *
 * int16 (vs_qlinear_init_s16), what --precision int8 loads on AVX2-only machines: AVX2 has no
 * non-saturating u8 x s8 dot product, and its exact s8 x s8 above costs vpsignb + vpmaddubsw +
 * vpmaddwd + vpaddd per 32 products, 3 of them on the two multiply ports; vpmaddwd on int16
 * operands does 16 products with 1 such instruction (+ vpaddd on any of three ports), so per
 * product it is as fast, and its operands carry lv levels either side of zero instead of 127:
 * lv = min(16383, floor(sqrt((2^31 - 1) / kp))), so kp * lv^2 bounds the int32 sum (2364 at
 * k = 384, 1182 at k = 1536: 11-12 bits). No split layer is then needed (~16-bit operands at 3
 * int8 products a weight: the int16 single pass is the cheaper way to the accuracy bar).
 * Same formulas as int8 with 127 -> lv: weights symmetric per channel (sw = max|W| / lv),
 * activations per row around the middle of their range (sa = (max - min) / (2 lv)), the zero
 * point through wf = sw * sum_k w16. Its results differ from the int8 scheme's (so embeddings on
 * an AVX2-only machine differ from other machines', by less than int8's own error); the scalar
 * reference and the AVX2 kernel agree bit for bit.
 *
 * Packed weight layout (both kinds): blocks of 16 output channels, and inside a block groups of
 * G consecutive k (G = 4 int8 / 2 bf16) of each channel: w[jb][k / G][16][G]. One 64-byte line
 * then feeds one vpdpbusd / vdpbf16ps of 16 lanes (or two 8-lane AVX2 steps). np is a multiple
 * of 32 and kp of 4; padding is zero. */
#ifndef VS_EMBED_QGEMM_H
#define VS_EMBED_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct vs_qlinear {
    size_t n, k, np, kp;
    int8_t *w8;     /* int8 */
    int16_t *w16;   /* int16 (vs_qlinear_init_s16); sw, wf, bias as int8 */
    int lv;         /* int16: levels either side of zero */
    uint16_t *wbf;  /* bf16 */
    float *sw;      /* int8: per-channel weight scale [np] */
    int32_t *wsum;  /* int8: per-channel sum of w8 [np], for the VNNI +128 offset */
    float *wf;      /* int8: sw[j] * wsum[j] [np], for the activations' zero point */
    float *bias;    /* [np], zero-padded */
    struct vs_qlinear *lo; /* int8 split: the residual pass (qgemm.h above), else NULL */
} vs_qlinear;

/* Quantizes / rounds W (n x k, a PyTorch Linear weight) and bias (n, may be NULL). */
int vs_qlinear_init(vs_qlinear *q, vs_precision p, const float *w, const float *bias, size_t n, size_t k);
/* The int16 form of an int8 layer (above): for tables with .wide set (vs_qgemm_kernels_get()). */
int vs_qlinear_init_s16(vs_qlinear *q, const float *w, const float *bias, size_t n, size_t k);
/* Levels either side of zero of an int16 layer with k inputs (above). */
int vs_qlinear_s16_levels(size_t k);
/* Makes an int8 vs_qlinear (initialised from the same w) a split one. */
int vs_qlinear_split(vs_qlinear *q, const float *w);
void vs_qlinear_free(vs_qlinear *q);

/* Bytes of scratch vs_qlinear_forward needs for m rows of at most k inputs and n outputs. */
size_t vs_qlinear_scratch_bytes(size_t m, size_t k, size_t n);

/* C (m x n, row stride ldc) = A (m x k, stride lda) W^T + bias in precision p, using scratch
 * (vs_qlinear_scratch_bytes, 64-byte aligned). VS_ERR_UNSUPPORTED if the kernels for p are
 * not available at the current SIMD level. */
int vs_qlinear_forward(const vs_qlinear *q, vs_precision p, size_t m, const float *a, size_t lda, float *c,
                       size_t ldc, void *scratch);

/* Row quantization of activations (exposed for the tests): a8 rows of kp bytes (zero-padded),
 * row scales sa and zero points za. */
void vs_quant_rows_s8(size_t m, size_t k, const float *a, size_t lda, int8_t *q, size_t kp, float *sa, float *za);
/* float -> bfloat16, round to nearest even (inputs are finite). */
static inline uint16_t vs_f32_to_bf16(float f)
{
    union { float f; uint32_t u; } v = {f};
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float vs_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

#endif
