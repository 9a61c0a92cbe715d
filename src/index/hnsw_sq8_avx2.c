/* AVX2 integer dot product of int16 weights with 8-bit codes (hnsw_sq8.h). Codes are
 * zero-extended to 16 bits and multiplied pairwise into int32 lanes by madd; the lanes are
 * summed in 64 bits at the end. The tail (d % 16) is scalar, so nothing is read past c[d-1]
 * (a viewed file may end right after the last code). */
#include <immintrin.h>

#include "index/hnsw_sq8.h"

int64_t vs_hnsw_dot8_avx2(const int16_t *w, const uint8_t *c, uint32_t d)
{
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    uint32_t j = 0;
    for (; j + 32 <= d; j += 32) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j)));
        __m256i c1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j + 16)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(w + j))));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(c1, _mm256_loadu_si256((const __m256i *)(w + j + 16))));
    }
    if (j + 16 <= d) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(w + j))));
        j += 16;
    }
    __m128i t = _mm_setzero_si128();
    if (j + 8 <= d) {
        __m128i c0 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(c + j)));
        t = _mm_madd_epi16(c0, _mm_loadu_si128((const __m128i *)(w + j)));
        j += 8;
    }
    /* Lanes to 64 bits before adding: one lane is bounded, their sum may not be. */
    __m256i lo = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc0)),
                                  _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc0, 1)));
    __m256i hi = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc1)),
                                  _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc1, 1)));
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(lo, hi), _mm256_cvtepi32_epi64(t));
    __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    int64_t r = _mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1);
    for (; j < d; j++) r += (int64_t)w[j] * c[j];
    return r;
}

float vs_hnsw_node8_avx2(const uint8_t *c, const float *vmin, const float *s, uint32_t d, int l2, int32_t wlimit,
                         float *w, int16_t *w8, float *alpha)
{
    const __m256 half = _mm256_set1_ps(0.5f);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 signmask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    __m256 acc = _mm256_setzero_ps(), vmax = _mm256_setzero_ps();
    uint32_t j = 0;
    for (; j + 8 <= d; j += 8) {
        __m256 cf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(c + j))));
        __m256 sv = _mm256_loadu_ps(s + j), wv;
        if (l2) {
            __m256 sc = _mm256_mul_ps(sv, cf);
            wv = _mm256_mul_ps(sv, sc);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(sc, sc));
        } else {
            __m256 c0 = _mm256_add_ps(_mm256_loadu_ps(vmin + j), _mm256_mul_ps(half, sv));
            __m256 x = _mm256_add_ps(c0, _mm256_mul_ps(sv, cf));
            wv = _mm256_mul_ps(x, sv);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, c0));
        }
        _mm256_storeu_ps(w + j, wv);
        vmax = _mm256_max_ps(vmax, _mm256_and_ps(wv, absmask));
    }
    float lanes[8], m[8];
    _mm256_storeu_ps(lanes, acc);
    _mm256_storeu_ps(m, vmax);
    float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    float wmax = 0;
    for (int i = 0; i < 8; i++) wmax = m[i] > wmax ? m[i] : wmax;
    for (; j < d; j++) {
        float cj = (float)c[j];
        if (l2) {
            float sc = s[j] * cj;
            w[j] = s[j] * sc;
            sum += sc * sc;
        } else {
            float c0 = vmin[j] + 0.5f * s[j], x = c0 + s[j] * cj;
            w[j] = x * s[j];
            sum += x * c0;
        }
        float a = w[j] < 0 ? -w[j] : w[j];
        wmax = a > wmax ? a : wmax;
    }
    float a = wmax > 0 ? (float)wlimit / wmax : 1.0f;
    const __m256 av = _mm256_set1_ps(a);
    for (j = 0; j + 8 <= d; j += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(w + j), av);
        /* x + copysign(1/2, x), truncated: half away from zero, as the scalar code rounds. */
        x = _mm256_add_ps(x, _mm256_or_ps(_mm256_and_ps(x, signmask), half));
        __m256i i = _mm256_cvttps_epi32(x);
        __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_storeu_si128((__m128i *)(w8 + j), p);
    }
    for (; j < d; j++) {
        float x = w[j] * a;
        w8[j] = (int16_t)(x + (x < 0 ? -0.5f : 0.5f));
    }
    *alpha = a;
    return sum;
}
