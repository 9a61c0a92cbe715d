/* AVX2 fast-scan kernels. Block: two sub-quantizers per 256-bit shuffle (one per 128-bit
 * lane). Each shuffle result is added twice into 16-bit words, whole and shifted right by 8
 * (as FAISS's accumulate kernels): the shifted sums are the odd vectors' and the whole sums
 * minus the odd sums << 8 are the even vectors' (mod 2^16, exact while a chunk's sums fit).
 * Chunks of VS_FS_CHUNK_PAIRS pairs are then widened and added in 32 bits. */
#include <immintrin.h>

#include "quant/fastscan.h"

/* acc holds whole-word sums, hi the odd bytes' sums, per lane; returns vectors 0..7 and 8..15
 * of the half as 32-bit sums. */
static inline void finish_half(__m256i acc, __m256i hi, __m256i *v0, __m256i *v1)
{
    __m256i even = _mm256_sub_epi16(acc, _mm256_slli_epi16(hi, 8));
    __m128i e = _mm_add_epi16(_mm256_castsi256_si128(even), _mm256_extracti128_si256(even, 1));
    __m128i o = _mm_add_epi16(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
    *v0 = _mm256_cvtepu16_epi32(_mm_unpacklo_epi16(e, o));
    *v1 = _mm256_cvtepu16_epi32(_mm_unpackhi_epi16(e, o));
}

static inline uint32_t below(__m256i x, __m256i t1)
{
    /* x < thr  <=>  min(x, thr - 1) == x, unsigned. */
    __m256i m = _mm256_cmpeq_epi32(_mm256_min_epu32(x, t1), x);
    return (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(m));
}

uint32_t vs_fs_block_avx2(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint32_t thr, uint32_t *out)
{
    const __m256i nib = _mm256_set1_epi8(15);
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (uint32_t p0 = 0; p0 < pairs; p0 += VS_FS_CHUNK_PAIRS) {
        uint32_t p1 = pairs - p0 < VS_FS_CHUNK_PAIRS ? pairs : p0 + VS_FS_CHUNK_PAIRS;
        __m256i a0 = _mm256_setzero_si256(), h0 = a0, a1 = a0, h1 = a0;
        for (uint32_t p = p0; p < p1; p++) {
            __m256i c = _mm256_loadu_si256((const __m256i *)(block + p * 32));
            __m256i t = _mm256_loadu_si256((const __m256i *)(lut + p * 32));
            __m256i r0 = _mm256_shuffle_epi8(t, _mm256_and_si256(c, nib));                       /* vectors 0..15 */
            __m256i r1 = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), nib)); /* 16..31 */
            a0 = _mm256_add_epi16(a0, r0);
            h0 = _mm256_add_epi16(h0, _mm256_srli_epi16(r0, 8));
            a1 = _mm256_add_epi16(a1, r1);
            h1 = _mm256_add_epi16(h1, _mm256_srli_epi16(r1, 8));
        }
        __m256i v0, v1, v2, v3;
        finish_half(a0, h0, &v0, &v1);
        finish_half(a1, h1, &v2, &v3);
        s0 = _mm256_add_epi32(s0, v0);
        s1 = _mm256_add_epi32(s1, v1);
        s2 = _mm256_add_epi32(s2, v2);
        s3 = _mm256_add_epi32(s3, v3);
    }
    _mm256_storeu_si256((__m256i *)out, s0);
    _mm256_storeu_si256((__m256i *)(out + 8), s1);
    _mm256_storeu_si256((__m256i *)(out + 16), s2);
    _mm256_storeu_si256((__m256i *)(out + 24), s3);
    if (thr == 0) return 0;
    __m256i t1 = _mm256_set1_epi32((int)(thr - 1));
    return below(s0, t1) | below(s1, t1) << 8 | below(s2, t1) << 16 | below(s3, t1) << 24;
}

static inline float hmin8(__m256 x)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

void vs_fs_lut_avx2(const float *a, const float *b, uint32_t m, float *work, uint8_t *lut, float *bias, float *scale)
{
    const float *tab = a;
    float mins[VS_FS_MAX_M], bsum = 0;
    __m256 span = _mm256_setzero_ps();
    for (uint32_t j = 0; j < m; j++) {
        __m256 r0 = _mm256_loadu_ps(a + j * 16), r1 = _mm256_loadu_ps(a + j * 16 + 8);
        if (b) {
            r0 = _mm256_add_ps(r0, _mm256_loadu_ps(b + j * 16));
            r1 = _mm256_add_ps(r1, _mm256_loadu_ps(b + j * 16 + 8));
            _mm256_storeu_ps(work + j * 16, r0);
            _mm256_storeu_ps(work + j * 16 + 8, r1);
        }
        float lo = hmin8(_mm256_min_ps(r0, r1));
        __m256 vlo = _mm256_set1_ps(lo);
        span = _mm256_max_ps(span, _mm256_max_ps(_mm256_sub_ps(r0, vlo), _mm256_sub_ps(r1, vlo)));
        mins[j] = lo;
        bsum += lo;
    }
    if (b) tab = work;
    __m128 sm = _mm_max_ps(_mm256_castps256_ps128(span), _mm256_extractf128_ps(span, 1));
    sm = _mm_max_ps(sm, _mm_movehl_ps(sm, sm));
    sm = _mm_max_ss(sm, _mm_shuffle_ps(sm, sm, 1));
    float sp = _mm_cvtss_f32(sm);
    float s = sp > 0 ? 255.0f / sp : 1.0f;
    const __m256 vs = _mm256_set1_ps(s), half = _mm256_set1_ps(0.5f), top = _mm256_set1_ps(255.0f);
    for (uint32_t j = 0; j < m; j++) {
        __m256 vlo = _mm256_set1_ps(mins[j]);
        /* min(e, 255) first: NaN and overflow become 255, as in the scalar reference. */
        __m256 e0 = _mm256_min_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(tab + j * 16), vlo), vs), half), top);
        __m256 e1 = _mm256_min_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(tab + j * 16 + 8), vlo), vs), half), top);
        __m256i p = _mm256_packus_epi32(_mm256_cvttps_epi32(e0), _mm256_cvttps_epi32(e1));
        p = _mm256_permute4x64_epi64(p, 0xD8);
        __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        _mm_storeu_si128((__m128i *)(lut + (j >> 1) * 32 + (j & 1) * 16), bytes);
    }
    if (m & 1) _mm_storeu_si128((__m128i *)(lut + (m >> 1) * 32 + 16), _mm_setzero_si128());
    *bias = bsum;
    *scale = s;
}

void vs_fs_table_avx2(const float *ct, const float *q, uint32_t m, uint32_t dsub, float mul, float *tab)
{
    const __m256 vm = _mm256_set1_ps(mul);
    for (uint32_t j = 0; j < m; j++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        for (uint32_t t = 0; t < dsub; t++) {
            __m256 x = _mm256_set1_ps(q[(size_t)j * dsub + t]);
            const float *row = ct + ((size_t)j * dsub + t) * 16;
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(x, _mm256_loadu_ps(row)));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(x, _mm256_loadu_ps(row + 8)));
        }
        _mm256_storeu_ps(tab + (size_t)j * 16, _mm256_mul_ps(vm, a0));
        _mm256_storeu_ps(tab + (size_t)j * 16 + 8, _mm256_mul_ps(vm, a1));
    }
}
