/* AVX512-VNNI int8 and AVX512-BF16 kernels (built with -mavx512f -mavx512bw -mavx512vl
 * -mavx512vnni -mavx512bf16): tiles of MR rows x 32 channels (two packed blocks, one 16-lane
 * vector each), MR * 2 accumulators in registers; a block of 64 rows is swept per pair of
 * channel blocks so their weights stay in L1. vpdpbusd adds four u8 x s8 products into each
 * int32 lane (a + 128, compensated: qgemm.h); vdpbf16ps two bf16 products into each fp32 lane. Epilogues as the scalar
 * reference's, lane-wise, in its order. */
#include <immintrin.h>
#include <string.h>

#include "embed/qgemm_kernels.h"
#define QROWS quant_rows
#include "embed/qgemm_quant_impl.h"

#define MR 8

static inline __mmask16 tail_mask(const vs_qlinear *q, size_t j)
{
    size_t nn = q->n > j ? q->n - j : 0;
    return nn >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nn) - 1);
}

static inline __attribute__((always_inline)) void tile8(int mr, size_t i, size_t jb, const int8_t *a,
                                                       const float *sa, const float *za, const vs_qlinear *q, float *c,
                                                       size_t ldc)
{
    const size_t kq = q->kp / 4;
    const int8_t *w0 = q->w8 + jb * kq * 64, *w1 = w0 + kq * 64;
    const __m512i sign = _mm512_set1_epi8((char)0x80);
    __m512i acc[MR][2];
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (size_t g = 0; g < kq; g++) {
        __m512i b0 = _mm512_load_si512(w0 + 64 * g), b1 = _mm512_load_si512(w1 + 64 * g);
        for (int r = 0; r < mr; r++) {
            int32_t av;
            memcpy(&av, a + (i + (size_t)r) * q->kp + 4 * g, 4);
            __m512i ab = _mm512_xor_si512(_mm512_set1_epi32(av), sign); /* a + 128 as u8 */
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], ab, b0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], ab, b1);
        }
    }
    for (int h = 0; h < 2; h++) {
        size_t j = (jb + (size_t)h) * 16;
        __mmask16 mk = tail_mask(q, j);
        if (!mk) break;
        __m512i comp = _mm512_slli_epi32(_mm512_loadu_si512(q->wsum + j), 7); /* np % 32 == 0: in bounds */
        __m512 sw = _mm512_loadu_ps(q->sw + j), bias = _mm512_loadu_ps(q->bias + j), wf = _mm512_loadu_ps(q->wf + j);
        for (int r = 0; r < mr; r++) {
            size_t row = i + (size_t)r;
            __m512i rr = _mm512_sub_epi32(acc[r][h], comp);
            __m512 s = _mm512_mul_ps(_mm512_set1_ps(sa[row]), sw);
            __m512 zp = _mm512_mul_ps(_mm512_set1_ps(za[row]), wf);
            __m512 v = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(rr), s), zp), bias);
            _mm512_mask_storeu_ps(c + row * ldc + j, mk, v);
        }
    }
}

static inline __attribute__((always_inline)) void tilebf(int mr, size_t i, size_t jb, const uint16_t *a,
                                                        const vs_qlinear *q, float *c, size_t ldc)
{
    const size_t kq = q->kp / 2;
    const uint16_t *w0 = q->wbf + jb * kq * 32, *w1 = w0 + kq * 32;
    __m512 acc[MR][2];
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t g = 0; g < kq; g++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(w0 + 32 * g), b1 = (__m512bh)_mm512_load_si512(w1 + 32 * g);
        for (int r = 0; r < mr; r++) {
            int32_t av;
            memcpy(&av, a + (i + (size_t)r) * q->kp + 2 * g, 4);
            __m512bh ab = (__m512bh)_mm512_set1_epi32(av);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ab, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ab, b1);
        }
    }
    for (int h = 0; h < 2; h++) {
        size_t j = (jb + (size_t)h) * 16;
        __mmask16 mk = tail_mask(q, j);
        if (!mk) break;
        __m512 bias = _mm512_loadu_ps(q->bias + j);
        for (int r = 0; r < mr; r++)
            _mm512_mask_storeu_ps(c + (i + (size_t)r) * ldc + j, mk, _mm512_add_ps(acc[r][h], bias));
    }
}

/* Rows in blocks of 64, channel pairs of blocks, MR-row tiles; the tail tile by its size. */
#define SWEEP(TILE, ...)                                                                                   \
    for (size_t i0 = 0; i0 < m; i0 += 64) {                                                                \
        size_t i1 = i0 + 64 < m ? i0 + 64 : m;                                                             \
        for (size_t jb = 0; jb < q->np / 16; jb += 2) {                                                    \
            size_t i = i0;                                                                                 \
            for (; i + MR <= i1; i += MR) TILE(MR, i, jb, __VA_ARGS__);                                    \
            switch (i1 - i) {                                                                              \
            case 7: TILE(7, i, jb, __VA_ARGS__); break;                                                    \
            case 6: TILE(6, i, jb, __VA_ARGS__); break;                                                    \
            case 5: TILE(5, i, jb, __VA_ARGS__); break;                                                    \
            case 4: TILE(4, i, jb, __VA_ARGS__); break;                                                    \
            case 3: TILE(3, i, jb, __VA_ARGS__); break;                                                    \
            case 2: TILE(2, i, jb, __VA_ARGS__); break;                                                    \
            case 1: TILE(1, i, jb, __VA_ARGS__); break;                                                    \
            default: break;                                                                                \
            }                                                                                              \
        }                                                                                                  \
    }

static void linear_s8s8(size_t m, const int8_t *a, const float *sa, const float *za, const vs_qlinear *q, float *c,
                        size_t ldc)
{
    SWEEP(tile8, a, sa, za, q, c, ldc)
}

static void linear_bf16(size_t m, const uint16_t *a, const vs_qlinear *q, float *c, size_t ldc)
{
    SWEEP(tilebf, a, q, c, ldc)
}

const vs_qgemm_kernels vs_qgemm_avx512 = {"avx512-vnni+bf16", quant_rows, linear_s8s8, linear_bf16};
const vs_qgemm_kernels vs_qgemm_avx512_nobf16 = {"avx512-vnni", quant_rows, linear_s8s8, NULL};
