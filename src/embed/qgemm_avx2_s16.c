/* AVX2 kernel of int16 layers (qgemm.h, built with -mavx2): vpmaddwd multiplies 16 int16 pairs
 * and adds each pair into an int32 lane (exact: kp * lv^2 < 2^31), vpaddd accumulates. Per 32
 * products: 2 vpmaddwd (multiply ports 0/1) + 2 vpaddd (ports 0/1/5), where the exact s8 x s8
 * path needs vpsignb + vpmaddubsw + vpmaddwd on ports 0/1 + vpaddd. Tiles of MR rows x 16
 * channels (one packed block: two vectors of 8 channels x 2 k), 2 MR accumulators; rows in
 * blocks of 64 swept per channel block so the block's weights stay in L1. The epilogue is the
 * scalar reference's, lane-wise, in its order. */
#include <immintrin.h>
#include <string.h>

#include "embed/qgemm_kernels.h"
#define QROWS16 quant_rows16
#include "embed/qgemm_quant16_impl.h"

#define MR 6

static inline __attribute__((always_inline)) void tile(int mr, size_t i, size_t jb, const int16_t *a, const float *sa,
                                                      const float *za, const vs_qlinear *q, float *c, size_t ldc)
{
    const size_t kq = q->kp / 2, kp = q->kp;
    const int16_t *w = q->w16 + jb * kq * 32;
    const int16_t *ar = a + i * kp;
    /* named registers, not an array (qgemm_x86_256.h: GCC 12 copied an array every k step) */
#define R6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define S_DECL(r) __m256i c##r##a = _mm256_setzero_si256(), c##r##b = _mm256_setzero_si256();
#define S_STEP(r)                                                                                           \
    if ((r) < mr) {                                                                                         \
        int32_t av;                                                                                         \
        memcpy(&av, ar + (size_t)(r) * kp + 2 * g, 4);                                                     \
        __m256i ab = _mm256_set1_epi32(av);                                                                 \
        c##r##a = _mm256_add_epi32(c##r##a, _mm256_madd_epi16(ab, b0));                                     \
        c##r##b = _mm256_add_epi32(c##r##b, _mm256_madd_epi16(ab, b1));                                     \
    }
    R6(S_DECL)
    for (size_t g = 0; g < kq; g++, w += 32) {
        __m256i b0 = _mm256_load_si256((const __m256i *)w), b1 = _mm256_load_si256((const __m256i *)(w + 16));
        R6(S_STEP)
    }
    __m256i acc[MR][2];
#define S_SAVE(r) if ((r) < mr) acc[r][0] = c##r##a, acc[r][1] = c##r##b;
    R6(S_SAVE)
    const size_t j0 = jb * 16;
    for (int r = 0; r < mr; r++) {
        size_t row = i + (size_t)r;
        float out[16];
        for (int h = 0; h < 2; h++) {
            size_t j = j0 + 8 * (size_t)h;
            __m256 s = _mm256_mul_ps(_mm256_set1_ps(sa[row]), _mm256_loadu_ps(q->sw + j));
            __m256 zp = _mm256_mul_ps(_mm256_set1_ps(za[row]), _mm256_loadu_ps(q->wf + j));
            __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][h]), s), zp),
                                     _mm256_loadu_ps(q->bias + j));
            _mm256_storeu_ps(out + 8 * h, v);
        }
        size_t nn = q->n - j0 < 16 ? q->n - j0 : 16;
        memcpy(c + row * ldc + j0, out, nn * sizeof(float));
    }
}

void vs_qgemm_avx2_linear_s16(size_t m, const int16_t *a, const float *sa, const float *za, const vs_qlinear *q,
                              float *c, size_t ldc)
{
    const size_t nb = (q->n + 15) / 16;
    for (size_t i0 = 0; i0 < m; i0 += 64) {
        size_t i1 = i0 + 64 < m ? i0 + 64 : m;
        for (size_t jb = 0; jb < nb; jb++) {
            size_t i = i0;
            for (; i + MR <= i1; i += MR) tile(MR, i, jb, a, sa, za, q, c, ldc);
            switch (i1 - i) {
            case 5: tile(5, i, jb, a, sa, za, q, c, ldc); break;
            case 4: tile(4, i, jb, a, sa, za, q, c, ldc); break;
            case 3: tile(3, i, jb, a, sa, za, q, c, ldc); break;
            case 2: tile(2, i, jb, a, sa, za, q, c, ldc); break;
            case 1: tile(1, i, jb, a, sa, za, q, c, ldc); break;
            default: break;
            }
        }
    }
}

void vs_qgemm_avx2_quant_rows16(size_t m, size_t k, const float *a, size_t lda, int16_t *q, size_t kp, int lv,
                                float *sa, float *za)
{
    quant_rows16(m, k, a, lda, q, kp, lv, sa, za);
}
