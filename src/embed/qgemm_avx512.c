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

/* The accumulators are named registers, not an array: GCC 12 kept acc[MR][2] in registers but
 * copied every one of them on each k step (perf: 16 vmovdqa per 16 vpdpbusd, plus a spill).
 * ar is the activation rows with the sign bit already flipped (a + 128 as u8, xored once per
 * row block by the caller), so each row costs one broadcast load per k step; flip: ar is a8
 * itself and each broadcast is flipped (the fallback without memory for the copy). */
#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define T8_DECL(r) __m512i c##r##a = _mm512_setzero_si512(), c##r##b = _mm512_setzero_si512();
#define T8_STEP(r)                                                                                          \
    if ((r) < mr) {                                                                                         \
        int32_t av;                                                                                         \
        memcpy(&av, ar + (size_t)(r) * kp + 4 * g, 4);                                                      \
        __m512i ab = _mm512_set1_epi32(av);                                                                 \
        if (flip) ab = _mm512_xor_si512(ab, _mm512_set1_epi8((char)0x80));                                  \
        c##r##a = _mm512_dpbusd_epi32(c##r##a, ab, b0);                                                     \
        c##r##b = _mm512_dpbusd_epi32(c##r##b, ab, b1);                                                     \
    }
#define T8_OUT(r)                                                                                           \
    if ((r) < mr) {                                                                                         \
        epi8(h ? c##r##b : c##r##a, i + (size_t)(r), j, mk, comp, sw, wf, bias, sa, za, c, ldc);            \
    }

static inline __attribute__((always_inline)) void epi8(__m512i acc, size_t row, size_t j, __mmask16 mk, __m512i comp,
                                                      __m512 sw, __m512 wf, __m512 bias, const float *sa,
                                                      const float *za, float *c, size_t ldc)
{
    __m512i rr = _mm512_sub_epi32(acc, comp);
    __m512 s = _mm512_mul_ps(_mm512_set1_ps(sa[row]), sw);
    __m512 zp = _mm512_mul_ps(_mm512_set1_ps(za[row]), wf);
    __m512 v = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(rr), s), zp), bias);
    _mm512_mask_storeu_ps(c + row * ldc + j, mk, v);
}

static inline __attribute__((always_inline)) void tile8(int mr, int flip, size_t i, size_t jb, const uint8_t *ar,
                                                       const float *sa, const float *za, const vs_qlinear *q, float *c,
                                                       size_t ldc)
{
    const size_t kq = q->kp / 4, kp = q->kp;
    const int8_t *w0 = q->w8 + jb * kq * 64, *w1 = w0 + kq * 64;
    ROWS8(T8_DECL)
    for (size_t g = 0; g < kq; g++) {
        __m512i b0 = _mm512_load_si512(w0 + 64 * g), b1 = _mm512_load_si512(w1 + 64 * g);
        ROWS8(T8_STEP)
    }
    for (int h = 0; h < 2; h++) {
        size_t j = (jb + (size_t)h) * 16;
        __mmask16 mk = tail_mask(q, j);
        if (!mk) break;
        __m512i comp = _mm512_slli_epi32(_mm512_loadu_si512(q->wsum + j), 7); /* np % 32 == 0: in bounds */
        __m512 sw = _mm512_loadu_ps(q->sw + j), bias = _mm512_loadu_ps(q->bias + j), wf = _mm512_loadu_ps(q->wf + j);
        ROWS8(T8_OUT)
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

/* Rows i0..i1 of the a + 128 rows ar (or of a8 itself, flip), every channel pair. */
static inline __attribute__((always_inline)) void sweep8(int flip, size_t i0, size_t i1, const uint8_t *ar,
                                                        const float *sa, const float *za, const vs_qlinear *q, float *c,
                                                        size_t ldc)
{
    for (size_t jb = 0; jb < q->np / 16; jb += 2) {
        size_t i = i0;
        const uint8_t *r = ar;
        for (; i + MR <= i1; i += MR, r += MR * q->kp) tile8(MR, flip, i, jb, r, sa, za, q, c, ldc);
        switch (i1 - i) {
        case 7: tile8(7, flip, i, jb, r, sa, za, q, c, ldc); break;
        case 6: tile8(6, flip, i, jb, r, sa, za, q, c, ldc); break;
        case 5: tile8(5, flip, i, jb, r, sa, za, q, c, ldc); break;
        case 4: tile8(4, flip, i, jb, r, sa, za, q, c, ldc); break;
        case 3: tile8(3, flip, i, jb, r, sa, za, q, c, ldc); break;
        case 2: tile8(2, flip, i, jb, r, sa, za, q, c, ldc); break;
        case 1: tile8(1, flip, i, jb, r, sa, za, q, c, ldc); break;
        default: break;
        }
    }
}

/* Rows in blocks of up to 64: their a + 128 copy (32 KB on the stack: 64 rows up to k = 512,
 * fewer beyond) stays in L1/L2 while every channel pair sweeps it, the pair's weights in L1.
 * Rows longer than 4 KB (k > 4096) flip each broadcast instead (slower, same result). */
static void linear_s8s8(size_t m, const int8_t *a, const float *sa, const float *za, const vs_qlinear *q, float *c,
                        size_t ldc)
{
    const size_t kp = q->kp;
    _Alignas(64) uint8_t buf[32768];
    size_t ib = sizeof buf / kp;
    ib = ib >= 64 ? 64 : ib / MR * MR;
    if (!ib) {
        for (size_t i0 = 0; i0 < m; i0 += 64)
            sweep8(1, i0, i0 + 64 < m ? i0 + 64 : m, (const uint8_t *)a + i0 * kp, sa, za, q, c, ldc);
        return;
    }
    const __m512i sign = _mm512_set1_epi8((char)0x80);
    for (size_t i0 = 0; i0 < m; i0 += ib) {
        size_t i1 = i0 + ib < m ? i0 + ib : m, nb = (i1 - i0) * kp, t = 0;
        const int8_t *src = a + i0 * kp;
        for (; t + 64 <= nb; t += 64)
            _mm512_store_si512(buf + t, _mm512_xor_si512(_mm512_loadu_si512(src + t), sign));
        for (; t < nb; t++) buf[t] = (uint8_t)(src[t] ^ 0x80);
        sweep8(0, i0, i1, buf, sa, za, q, c, ldc);
    }
}

static void linear_bf16(size_t m, const uint16_t *a, const vs_qlinear *q, float *c, size_t ldc)
{
    SWEEP(tilebf, a, q, c, ldc)
}

const vs_qgemm_kernels vs_qgemm_avx512 = {"avx512-vnni+bf16", quant_rows, linear_s8s8, linear_bf16,
                                       vs_qgemm_avx2_quant_rows16, vs_qgemm_avx2_linear_s16, 0};
const vs_qgemm_kernels vs_qgemm_avx512_nobf16 = {"avx512-vnni", quant_rows, linear_s8s8, NULL,
                                       vs_qgemm_avx2_quant_rows16, vs_qgemm_avx2_linear_s16, 0};
