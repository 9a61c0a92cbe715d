/* The 256-bit int8 kernel, included by qgemm_avx2.c and qgemm_avxvnni.c, which define
 *   PREP(ab)      the broadcast activations in the form QDOT wants,
 *   QDOT(acc, ab, b) acc += the four-product sums,
 *   COMP          1 if the sums carry the +128 offset to subtract (128 * wsum).
 *   ROWPREP(v) / ROWPREP1(x) the per-byte transform of the activations the u8 operand wants (|a|, a + 128),
 * Tiles of MR rows x 16 channels (one packed block, two 8-lane vectors); a block of 64 rows is
 * swept per channel block so the block's weights stay in L1. The epilogue is the scalar
 * reference's, lane-wise, in its order. */
#include <immintrin.h>
#include <string.h>

#include "embed/qgemm_kernels.h"
#define QROWS quant_rows
#include "embed/qgemm_quant_impl.h"

#define MR 4

static inline __attribute__((always_inline)) void tile(int mr, int pre, size_t i, size_t jb, const int8_t *a,
                                                      const uint8_t *p, const float *sa, const float *za, const vs_qlinear *q, float *c,
                                                      size_t ldc)
{
    const size_t kq = q->kp / 4;
    const int8_t *w = q->w8 + jb * kq * 64;
    QDOT_SETUP;
    /* named registers, not an array: GCC 12 copied an accumulator array on every k step */
#define R4(X) X(0) X(1) X(2) X(3)
#define T4_DECL(r) __m256i c##r##a = _mm256_setzero_si256(), c##r##b = _mm256_setzero_si256();
#define T4_STEP(r)                                                                                          \
    if ((r) < mr) {                                                                                         \
        int32_t av, pv;                                                                                     \
        memcpy(&av, a + (i + (size_t)(r)) * q->kp + 4 * g, 4);                                             \
        __m256i ao = _mm256_set1_epi32(av), ap = ao;                                                        \
        if (pre) {                                                                                          \
            memcpy(&pv, p + (size_t)(r) * q->kp + 4 * g, 4);                                                \
            ap = _mm256_set1_epi32(pv);                                                                     \
        } else {                                                                                            \
            ap = ROWPREP(ap);                                                                               \
        }                                                                                                   \
        c##r##a = QDOT(c##r##a, ap, ao, b0);                                                                \
        c##r##b = QDOT(c##r##b, ap, ao, b1);                                                                \
    }
    R4(T4_DECL)
    for (size_t g = 0; g < kq; g++, w += 64) {
        __m256i b0 = _mm256_load_si256((const __m256i *)w), b1 = _mm256_load_si256((const __m256i *)(w + 32));
        R4(T4_STEP)
    }
    __m256i acc[MR][2];
#define T4_SAVE(r) if ((r) < mr) acc[r][0] = c##r##a, acc[r][1] = c##r##b;
    R4(T4_SAVE)
    const size_t j0 = jb * 16;
    for (int r = 0; r < mr; r++) {
        size_t row = i + (size_t)r;
        float out[16];
        for (int h = 0; h < 2; h++) {
            size_t j = j0 + 8 * (size_t)h;
            __m256i rr = acc[r][h];
            if (COMP)
                rr = _mm256_sub_epi32(rr, _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(q->wsum + j)), 7));
            __m256 s = _mm256_mul_ps(_mm256_set1_ps(sa[row]), _mm256_loadu_ps(q->sw + j));
            __m256 zp = _mm256_mul_ps(_mm256_set1_ps(za[row]), _mm256_loadu_ps(q->wf + j));
            __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(rr), s), zp),
                                     _mm256_loadu_ps(q->bias + j));
            _mm256_storeu_ps(out + 8 * h, v);
        }
        size_t nn = q->n - j0 < 16 ? q->n - j0 : 16;
        memcpy(c + row * ldc + j0, out, nn * sizeof(float));
    }
}

/* Rows i0..i1, every channel block; p: their prepared copy (pre) or unused. */
static inline __attribute__((always_inline)) void sweep(int pre, size_t i0, size_t i1, const int8_t *a,
                                                       const uint8_t *p, const float *sa, const float *za,
                                                       const vs_qlinear *q, float *c, size_t ldc)
{
    const size_t nb = (q->n + 15) / 16;
    for (size_t jb = 0; jb < nb; jb++) {
        size_t i = i0;
        const uint8_t *pr = p;
        for (; i + MR <= i1; i += MR, pr += MR * q->kp) tile(MR, pre, i, jb, a, pr, sa, za, q, c, ldc);
        switch (i1 - i) {
        case 3: tile(3, pre, i, jb, a, pr, sa, za, q, c, ldc); break;
        case 2: tile(2, pre, i, jb, a, pr, sa, za, q, c, ldc); break;
        case 1: tile(1, pre, i, jb, a, pr, sa, za, q, c, ldc); break;
        default: break;
        }
    }
}

/* Rows in blocks of up to 64, their ROWPREP'd copy (32 KB on the stack: 64 rows up to k = 512,
 * fewer beyond) made once per block, not once per row, k step and channel block (that was one
 * of the three vector operations per vpdpbusd pair); the block's weights stay in L1. Rows
 * longer than 8 KB get ROWPREP per broadcast instead (same result). */
static void linear_s8s8(size_t m, const int8_t *a, const float *sa, const float *za, const vs_qlinear *q, float *c,
                        size_t ldc)
{
    const size_t kp = q->kp;
    _Alignas(32) uint8_t buf[32768];
    size_t ib = sizeof buf / kp;
    ib = ib >= 64 ? 64 : ib / MR * MR;
    if (!ib) {
        for (size_t i0 = 0; i0 < m; i0 += 64) sweep(0, i0, i0 + 64 < m ? i0 + 64 : m, a, NULL, sa, za, q, c, ldc);
        return;
    }
    for (size_t i0 = 0; i0 < m; i0 += ib) {
        size_t i1 = i0 + ib < m ? i0 + ib : m, nb = (i1 - i0) * kp, t = 0;
        const int8_t *src = a + i0 * kp;
        for (; t + 32 <= nb; t += 32)
            _mm256_store_si256((__m256i *)(buf + t), ROWPREP(_mm256_loadu_si256((const __m256i *)(src + t))));
        for (; t < nb; t++) buf[t] = ROWPREP1(src[t]);
        sweep(1, i0, i1, a, buf, sa, za, q, c, ldc);
    }
}
