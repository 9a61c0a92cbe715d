/* AVX-512BW fast-scan block kernel: four sub-quantizers per 512-bit shuffle (one per 128-bit
 * lane), otherwise the AVX2 kernel's scheme; an odd last pair goes through 256-bit ops. */
#include <immintrin.h>

#include "quant/fastscan.h"

static inline __m128i lanes4(__m512i a)
{
    __m256i s = _mm256_add_epi16(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
    return _mm_add_epi16(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

uint32_t vs_fs_block_avx512(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint16_t thr, uint16_t *out)
{
    const __m512i nib = _mm512_set1_epi8(15), low_byte = _mm512_set1_epi16(0xff);
    __m512i ae0 = _mm512_setzero_si512(), ao0 = ae0, ae1 = ae0, ao1 = ae0;
    uint32_t p = 0;
    for (; p + 2 <= pairs; p += 2) {
        __m512i c = _mm512_loadu_si512((const void *)(block + p * 32));
        __m512i t = _mm512_loadu_si512((const void *)(lut + p * 32));
        __m512i r0 = _mm512_shuffle_epi8(t, _mm512_and_si512(c, nib));
        __m512i r1 = _mm512_shuffle_epi8(t, _mm512_and_si512(_mm512_srli_epi16(c, 4), nib));
        ae0 = _mm512_add_epi16(ae0, _mm512_and_si512(r0, low_byte));
        ao0 = _mm512_add_epi16(ao0, _mm512_srli_epi16(r0, 8));
        ae1 = _mm512_add_epi16(ae1, _mm512_and_si512(r1, low_byte));
        ao1 = _mm512_add_epi16(ao1, _mm512_srli_epi16(r1, 8));
    }
    __m128i e0 = lanes4(ae0), o0 = lanes4(ao0), e1 = lanes4(ae1), o1 = lanes4(ao1);
    if (p < pairs) {
        const __m256i nib2 = _mm256_set1_epi8(15), lb2 = _mm256_set1_epi16(0xff);
        __m256i c = _mm256_loadu_si256((const __m256i *)(block + p * 32));
        __m256i t = _mm256_loadu_si256((const __m256i *)(lut + p * 32));
        __m256i r0 = _mm256_shuffle_epi8(t, _mm256_and_si256(c, nib2));
        __m256i r1 = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), nib2));
        __m256i x;
        x = _mm256_and_si256(r0, lb2);
        e0 = _mm_add_epi16(e0, _mm_add_epi16(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1)));
        x = _mm256_srli_epi16(r0, 8);
        o0 = _mm_add_epi16(o0, _mm_add_epi16(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1)));
        x = _mm256_and_si256(r1, lb2);
        e1 = _mm_add_epi16(e1, _mm_add_epi16(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1)));
        x = _mm256_srli_epi16(r1, 8);
        o1 = _mm_add_epi16(o1, _mm_add_epi16(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1)));
    }
    __m128i v0 = _mm_unpacklo_epi16(e0, o0), v1 = _mm_unpackhi_epi16(e0, o0);
    __m128i v2 = _mm_unpacklo_epi16(e1, o1), v3 = _mm_unpackhi_epi16(e1, o1);
    _mm_storeu_si128((__m128i *)out, v0);
    _mm_storeu_si128((__m128i *)(out + 8), v1);
    _mm_storeu_si128((__m128i *)(out + 16), v2);
    _mm_storeu_si128((__m128i *)(out + 24), v3);
    if (thr == 0) return 0;
    __m512i all = _mm512_castsi128_si512(v0);
    all = _mm512_inserti32x4(all, v1, 1);
    all = _mm512_inserti32x4(all, v2, 2);
    all = _mm512_inserti32x4(all, v3, 3);
    return (uint32_t)_mm512_cmplt_epu16_mask(all, _mm512_set1_epi16((short)thr));
}
