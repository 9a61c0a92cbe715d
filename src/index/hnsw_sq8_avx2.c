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
