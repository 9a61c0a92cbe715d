/* AVX-512BW fast-scan kernels: four sub-quantizers per 512-bit shuffle (one per 128-bit lane),
 * otherwise the AVX2 kernels' scheme (whole and shifted 16-bit sums, 32-bit chunk totals);
 * an odd last pair goes through 256-bit ops. The query-block kernel splits each code vector
 * into nibbles once and shuffles it with up to VS_FS_QB tables. */
#include <immintrin.h>

#include "quant/fastscan.h"

static inline __m128i lanes4(__m512i a)
{
    __m256i s = _mm256_add_epi16(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
    return _mm_add_epi16(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

static inline __m128i lanes2(__m256i a)
{
    return _mm_add_epi16(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}

/* Per-query accumulators of one chunk: whole-word and odd-byte sums of vectors 0..15 (x0)
 * and 16..31 (x1). */
typedef struct {
    __m512i a0, h0, a1, h1;
} acc4;

/* Even / odd 16-bit sums of a chunk to the 32-bit totals of the 32 vectors. */
static inline void chunk_done(__m128i a0, __m128i h0, __m128i a1, __m128i h1, __m512i *lo, __m512i *hi)
{
    __m128i e0 = _mm_sub_epi16(a0, _mm_slli_epi16(h0, 8)), e1 = _mm_sub_epi16(a1, _mm_slli_epi16(h1, 8));
    __m256i v01 = _mm256_set_m128i(_mm_unpackhi_epi16(e0, h0), _mm_unpacklo_epi16(e0, h0)); /* vectors 0..15 */
    __m256i v23 = _mm256_set_m128i(_mm_unpackhi_epi16(e1, h1), _mm_unpacklo_epi16(e1, h1)); /* 16..31 */
    *lo = _mm512_add_epi32(*lo, _mm512_cvtepu16_epi32(v01));
    *hi = _mm512_add_epi32(*hi, _mm512_cvtepu16_epi32(v23));
}

static inline __attribute__((always_inline)) void scan_qb(const uint8_t *block, const uint8_t *const *lut,
                                                          const unsigned nq, uint32_t pairs, __m512i *lo,
                                                          __m512i *hi)
{
    const __m512i nib = _mm512_set1_epi8(15);
    for (uint32_t p0 = 0; p0 < pairs; p0 += VS_FS_CHUNK_PAIRS) {
        uint32_t p1 = pairs - p0 < VS_FS_CHUNK_PAIRS ? pairs : p0 + VS_FS_CHUNK_PAIRS;
        acc4 A[VS_FS_QB];
        for (unsigned i = 0; i < nq; i++) A[i].a0 = A[i].h0 = A[i].a1 = A[i].h1 = _mm512_setzero_si512();
        uint32_t p = p0;
        for (; p + 2 <= p1; p += 2) {
            __m512i c = _mm512_loadu_si512((const void *)(block + p * 32));
            __m512i c0 = _mm512_and_si512(c, nib), c1 = _mm512_and_si512(_mm512_srli_epi16(c, 4), nib);
            for (unsigned i = 0; i < nq; i++) {
                __m512i t = _mm512_loadu_si512((const void *)(lut[i] + p * 32));
                __m512i r0 = _mm512_shuffle_epi8(t, c0), r1 = _mm512_shuffle_epi8(t, c1);
                A[i].a0 = _mm512_add_epi16(A[i].a0, r0);
                A[i].h0 = _mm512_add_epi16(A[i].h0, _mm512_srli_epi16(r0, 8));
                A[i].a1 = _mm512_add_epi16(A[i].a1, r1);
                A[i].h1 = _mm512_add_epi16(A[i].h1, _mm512_srli_epi16(r1, 8));
            }
        }
        for (unsigned i = 0; i < nq; i++) {
            __m128i a0 = lanes4(A[i].a0), h0 = lanes4(A[i].h0), a1 = lanes4(A[i].a1), h1 = lanes4(A[i].h1);
            if (p < p1) { /* an odd last pair (only in the last chunk) */
                const __m256i nib2 = _mm256_set1_epi8(15);
                __m256i c = _mm256_loadu_si256((const __m256i *)(block + p * 32));
                __m256i t = _mm256_loadu_si256((const __m256i *)(lut[i] + p * 32));
                __m256i r0 = _mm256_shuffle_epi8(t, _mm256_and_si256(c, nib2));
                __m256i r1 = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), nib2));
                a0 = _mm_add_epi16(a0, lanes2(r0));
                h0 = _mm_add_epi16(h0, lanes2(_mm256_srli_epi16(r0, 8)));
                a1 = _mm_add_epi16(a1, lanes2(r1));
                h1 = _mm_add_epi16(h1, lanes2(_mm256_srli_epi16(r1, 8)));
            }
            chunk_done(a0, h0, a1, h1, &lo[i], &hi[i]);
        }
    }
}

static inline uint32_t finish(__m512i lo, __m512i hi, uint32_t thr, uint32_t *out)
{
    _mm512_storeu_si512((void *)out, lo);
    _mm512_storeu_si512((void *)(out + 16), hi);
    const __m512i t = _mm512_set1_epi32((int)thr);
    return (uint32_t)_mm512_cmplt_epu32_mask(lo, t) | (uint32_t)_mm512_cmplt_epu32_mask(hi, t) << 16;
}

uint32_t vs_fs_block_avx512(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint32_t thr, uint32_t *out)
{
    __m512i lo = _mm512_setzero_si512(), hi = lo;
    scan_qb(block, &lut, 1, pairs, &lo, &hi);
    return finish(lo, hi, thr, out);
}

void vs_fs_block_qb_avx512(const uint8_t *block, const uint8_t *const *lut, unsigned nq, uint32_t pairs,
                           const uint32_t *thr, uint32_t *out, uint32_t *masks)
{
    __m512i lo[VS_FS_QB], hi[VS_FS_QB];
    for (unsigned i = 0; i < VS_FS_QB; i++) lo[i] = hi[i] = _mm512_setzero_si512();
    /* Constant nq per call so each count gets its own unrolled loop. */
    switch (nq) {
    case 1: scan_qb(block, lut, 1, pairs, lo, hi); break;
    case 2: scan_qb(block, lut, 2, pairs, lo, hi); break;
    case 3: scan_qb(block, lut, 3, pairs, lo, hi); break;
    default: scan_qb(block, lut, 4, pairs, lo, hi); nq = 4; break;
    }
    for (unsigned i = 0; i < nq; i++) masks[i] = finish(lo[i], hi[i], thr[i], out + i * VS_FS_BLOCK);
}

void vs_fs_lut_avx512(const float *a, const float *b, uint32_t m, float *work, uint8_t *lut, float *bias, float *scale)
{
    const float *tab = b ? work : a;
    float mins[VS_FS_MAX_M], bsum = 0;
    __m512 span = _mm512_setzero_ps();
    for (uint32_t j = 0; j < m; j++) {
        __m512 r = _mm512_loadu_ps(a + j * 16);
        if (b) {
            r = _mm512_add_ps(r, _mm512_loadu_ps(b + j * 16));
            _mm512_storeu_ps(work + j * 16, r);
        }
        float lo = _mm512_reduce_min_ps(r);
        span = _mm512_max_ps(span, _mm512_sub_ps(r, _mm512_set1_ps(lo)));
        mins[j] = lo;
        bsum += lo;
    }
    float sp = _mm512_reduce_max_ps(span);
    float s = sp > 0 ? 255.0f / sp : 1.0f;
    const __m512 vs = _mm512_set1_ps(s), half = _mm512_set1_ps(0.5f), top = _mm512_set1_ps(255.0f);
    for (uint32_t j = 0; j < m; j++) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(tab + j * 16), _mm512_set1_ps(mins[j]));
        /* min(e, 255) first: NaN and overflow become 255, as in the scalar reference. */
        __m512 e = _mm512_min_ps(_mm512_add_ps(_mm512_mul_ps(d, vs), half), top);
        _mm_storeu_si128((__m128i *)(lut + (j >> 1) * 32 + (j & 1) * 16), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(e)));
    }
    if (m & 1) _mm_storeu_si128((__m128i *)(lut + (m >> 1) * 32 + 16), _mm_setzero_si128());
    *bias = bsum;
    *scale = s;
}

void vs_fs_table_avx512(const float *ct, const float *q, uint32_t m, uint32_t dsub, float mul, float *tab)
{
    const __m512 vm = _mm512_set1_ps(mul);
    for (uint32_t j = 0; j < m; j++) {
        __m512 a = _mm512_setzero_ps();
        for (uint32_t t = 0; t < dsub; t++)
            a = _mm512_add_ps(a, _mm512_mul_ps(_mm512_set1_ps(q[(size_t)j * dsub + t]),
                                               _mm512_loadu_ps(ct + ((size_t)j * dsub + t) * 16)));
        _mm512_storeu_ps(tab + (size_t)j * 16, _mm512_mul_ps(vm, a));
    }
}

size_t vs_fs_collect_avx512(const uint32_t *sums, uint32_t mask, float bias, float inv, float thr, const int64_t *ids,
                            float *keys, int64_t *labels)
{
    const __m512 vb = _mm512_set1_ps(bias), vi = _mm512_set1_ps(inv), vt = _mm512_set1_ps(thr);
    size_t n = 0;
    for (unsigned h = 0; h < 2; h++) {
        __mmask16 m = (__mmask16)(mask >> (16 * h));
        if (!m) continue;
        /* The sums are below 2^24 (255 x 2048 sub-quantizers): the conversion is exact, and
         * multiply then add (no fused form) rounds as the scalar reference does. */
        __m512 s = _mm512_cvtepu32_ps(_mm512_maskz_loadu_epi32(m, sums + 16 * h));
        __m512 key = _mm512_add_ps(vb, _mm512_mul_ps(s, vi));
        m = _mm512_mask_cmp_ps_mask(m, key, vt, _CMP_LE_OQ);
        if (!m) continue;
        _mm512_storeu_ps(keys + n, _mm512_maskz_compress_ps(m, key));
        for (unsigned g = 0; g < 2; g++) {
            __mmask8 mg = (__mmask8)(m >> (8 * g));
            __m512i id = _mm512_maskz_loadu_epi64(mg, ids + 16 * h + 8 * g);
            _mm512_storeu_si512((void *)(labels + n), _mm512_maskz_compress_epi64(mg, id));
            n += (size_t)__builtin_popcount(mg);
        }
    }
    return n;
}
