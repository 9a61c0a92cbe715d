/* HNSW{M},SQ8 traversal on integers. Every distance from a prepared point to an 8-bit code
 * is an affine function of one integer dot product sum_i w_i c_i, with the query's weights
 * rounded to int16 once per query:
 *   inner product / cosine: key = -(bias + sum_i q_i s_i c_i)
 *   L2: key = sum_i a_i^2 - 2 sum_i a_i s_i c_i + sum_i (s_i c_i)^2
 * where s_i is the step of dimension i and a_i the query minus the centre of code 0 (sq.h).
 * The last L2 term depends on the code only: it is stored after the code in each record
 * (vs_hnsw_sq8_norm). AVX2 does 16 dimensions per madd against 4 float ops per 8 before;
 * rounding the weights to 1/32767 of the largest is far below the codes' own error. */
#ifndef VS_INDEX_HNSW_SQ8_H
#define VS_INDEX_HNSW_SQ8_H

#include <stddef.h>
#include <stdint.h>

/* sum_i w[i] * c[i] exactly (AVX2 when available, else scalar: the same integer). */
typedef int64_t (*vs_hnsw_dot8_fn)(const int16_t *w, const uint8_t *c, uint32_t d);
vs_hnsw_dot8_fn vs_hnsw_dot8_pick(void);
int64_t vs_hnsw_dot8_scalar(const int16_t *w, const uint8_t *c, uint32_t d);
int64_t vs_hnsw_dot8_avx2(const int16_t *w, const uint8_t *c, uint32_t d); /* AVX2 builds only */
/* The largest |w_i| that keeps every int32 lane of the AVX2 kernel from overflowing. */
int32_t vs_hnsw_dot8_wmax(uint32_t d);

/* Prepares the anchor of a stored node from its code c (hnsw.c, anchor_sq8_node): float
 * weights w (L2: s_j^2 c_j; IP: x_j s_j with x_j = vmin_j + (c_j + 1/2) s_j), then w8[j] = w[j]
 * * alpha rounded half away from zero, alpha = wlimit / max|w|. Returns the anchor's sum term
 * (L2: sum (s_j c_j)^2; IP: sum x_j (vmin_j + s_j / 2)). AVX2 and scalar agree up to float
 * summation order. */
typedef float (*vs_hnsw_node8_fn)(const uint8_t *c, const float *vmin, const float *s, uint32_t d, int l2,
                                  int32_t wlimit, float *w, int16_t *w8, float *alpha);
vs_hnsw_node8_fn vs_hnsw_node8_pick(void);
float vs_hnsw_node8_scalar(const uint8_t *c, const float *vmin, const float *s, uint32_t d, int l2, int32_t wlimit,
                           float *w, int16_t *w8, float *alpha);
float vs_hnsw_node8_avx2(const uint8_t *c, const float *vmin, const float *s, uint32_t d, int l2, int32_t wlimit,
                         float *w, int16_t *w8, float *alpha); /* AVX2 builds only */

#endif
