/* AVX2 fast-scan block kernel: two sub-quantizers per 256-bit shuffle (one per 128-bit lane),
 * 16-bit accumulation split into even and odd bytes so no lookup overflows. */
#include <immintrin.h>

#include "quant/fastscan.h"

/* acc_even / acc_odd hold, per lane, the sums of even / odd vectors of a half block; adding
 * the two lanes joins the two sub-quantizers of each pair. Returns vectors 0..15 of the half. */
static inline void finish_half(__m256i acc_even, __m256i acc_odd, __m128i *lo8, __m128i *hi8)
{
    __m128i e = _mm_add_epi16(_mm256_castsi256_si128(acc_even), _mm256_extracti128_si256(acc_even, 1));
    __m128i o = _mm_add_epi16(_mm256_castsi256_si128(acc_odd), _mm256_extracti128_si256(acc_odd, 1));
    *lo8 = _mm_unpacklo_epi16(e, o); /* vectors 0..7 */
    *hi8 = _mm_unpackhi_epi16(e, o); /* vectors 8..15 */
}

static inline uint32_t below(__m128i a, __m128i b, __m128i t1)
{
    /* x < thr  <=>  min(x, thr - 1) == x, unsigned; packs keeps -1 and 0. */
    __m128i ma = _mm_cmpeq_epi16(_mm_min_epu16(a, t1), a);
    __m128i mb = _mm_cmpeq_epi16(_mm_min_epu16(b, t1), b);
    return (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(ma, mb));
}

uint32_t vs_fs_block_avx2(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint16_t thr, uint16_t *out)
{
    const __m256i nib = _mm256_set1_epi8(15), low_byte = _mm256_set1_epi16(0xff);
    __m256i ae0 = _mm256_setzero_si256(), ao0 = ae0, ae1 = ae0, ao1 = ae0;
    for (uint32_t p = 0; p < pairs; p++) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(block + p * 32));
        __m256i t = _mm256_loadu_si256((const __m256i *)(lut + p * 32));
        __m256i r0 = _mm256_shuffle_epi8(t, _mm256_and_si256(c, nib));                       /* vectors 0..15 */
        __m256i r1 = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), nib)); /* 16..31 */
        ae0 = _mm256_add_epi16(ae0, _mm256_and_si256(r0, low_byte));
        ao0 = _mm256_add_epi16(ao0, _mm256_srli_epi16(r0, 8));
        ae1 = _mm256_add_epi16(ae1, _mm256_and_si256(r1, low_byte));
        ao1 = _mm256_add_epi16(ao1, _mm256_srli_epi16(r1, 8));
    }
    __m128i v0, v1, v2, v3;
    finish_half(ae0, ao0, &v0, &v1);
    finish_half(ae1, ao1, &v2, &v3);
    _mm_storeu_si128((__m128i *)out, v0);
    _mm_storeu_si128((__m128i *)(out + 8), v1);
    _mm_storeu_si128((__m128i *)(out + 16), v2);
    _mm_storeu_si128((__m128i *)(out + 24), v3);
    if (thr == 0) return 0;
    __m128i t1 = _mm_set1_epi16((short)(thr - 1));
    return below(v0, v1, t1) | below(v2, v3, t1) << 16;
}
