/* AVX2+FMA(+F16C) distance kernels from a prepared query to one scalar-quantizer code,
 * eight dimensions per step; the tail (d % 8) uses the same formula in scalar code. */
#include <immintrin.h>
#include <string.h>

#include "quant/sq.h"

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* Eight code units of dimensions j..j+7 as floats, per code kind. */
static inline __m256 units_sq8(const uint8_t *c, uint32_t j)
{
    __m128i b = _mm_loadl_epi64((const __m128i *)(c + j));
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
}

static inline __m256 units_sq4(const uint8_t *c, uint32_t j)
{
    uint32_t w;
    memcpy(&w, c + j / 2, 4); /* dims j..j+7 are bytes j/2..j/2+3, j a multiple of 8 */
    __m128i b = _mm_cvtsi32_si128((int)w);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(15));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(15));
    __m128i inter = _mm_unpacklo_epi8(lo, hi); /* dim order: low nibble first */
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(inter));
}

static inline __m256 units_fp16(const uint8_t *c, uint32_t j)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(c + 2 * j)));
}

static inline __m256 units_bf16(const uint8_t *c, uint32_t j)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(c + 2 * j)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

#define DEFINE_KERNELS(NAME, UNITS, SCALED)                                                   \
    static float l2_##NAME(const vs_sq_query *pq, const uint8_t *c)                           \
    {                                                                                         \
        const uint32_t d = pq->sq->d, d8 = d & ~7u;                                           \
        __m256 acc = _mm256_setzero_ps();                                                     \
        for (uint32_t j = 0; j < d8; j += 8) {                                                \
            __m256 u = UNITS(c, j);                                                           \
            __m256 t = SCALED ? _mm256_fnmadd_ps(u, _mm256_loadu_ps(pq->s + j), _mm256_loadu_ps(pq->a + j)) \
                              : _mm256_sub_ps(_mm256_loadu_ps(pq->a + j), u);                 \
            acc = _mm256_fmadd_ps(t, t, acc);                                                 \
        }                                                                                     \
        float r = hsum(acc);                                                                  \
        if (d8 < d) r += tail_##NAME(pq, c, d8);                                              \
        return r;                                                                             \
    }                                                                                         \
    static float ip_##NAME(const vs_sq_query *pq, const uint8_t *c)                           \
    {                                                                                         \
        const uint32_t d = pq->sq->d, d8 = d & ~7u;                                           \
        __m256 acc = _mm256_setzero_ps();                                                     \
        for (uint32_t j = 0; j < d8; j += 8) acc = _mm256_fmadd_ps(UNITS(c, j), _mm256_loadu_ps(pq->a + j), acc); \
        float r = hsum(acc);                                                                  \
        if (d8 < d) r += tail_##NAME(pq, c, d8);                                              \
        return -(pq->bias + r);                                                               \
    }

/* Tails: the scalar kernel's formula on dimensions from j0, returning the partial sum (L2) or
 * partial dot product (inner product) without bias or sign. */
static float unit_scalar(const vs_sq *sq, const uint8_t *c, uint32_t j)
{
    uint16_t h;
    uint32_t x;
    float f;
    switch (sq->kind) {
    case VS_CODE_SQ8: return (float)c[j];
    case VS_CODE_SQ4: return (float)((c[j / 2] >> ((j & 1) * 4)) & 15);
    case VS_CODE_SQBF16:
        memcpy(&h, c + 2 * j, 2);
        x = (uint32_t)h << 16;
        memcpy(&f, &x, 4);
        return f;
    default:
        memcpy(&h, c + 2 * j, 2);
        return _cvtsh_ss(h);
    }
}

static float tail_generic(const vs_sq_query *pq, const uint8_t *c, uint32_t j0, int scaled)
{
    float acc = 0;
    for (uint32_t j = j0; j < pq->sq->d; j++) {
        float u = unit_scalar(pq->sq, c, j);
        if (pq->l2) {
            float t = pq->a[j] - (scaled ? u * pq->s[j] : u);
            acc += t * t;
        } else {
            acc += pq->a[j] * u;
        }
    }
    return acc;
}

static float tail_sq8(const vs_sq_query *pq, const uint8_t *c, uint32_t j0) { return tail_generic(pq, c, j0, 1); }
static float tail_sq4(const vs_sq_query *pq, const uint8_t *c, uint32_t j0) { return tail_generic(pq, c, j0, 1); }
static float tail_fp16(const vs_sq_query *pq, const uint8_t *c, uint32_t j0) { return tail_generic(pq, c, j0, 0); }
static float tail_bf16(const vs_sq_query *pq, const uint8_t *c, uint32_t j0) { return tail_generic(pq, c, j0, 0); }

DEFINE_KERNELS(sq8, units_sq8, 1)
DEFINE_KERNELS(sq4, units_sq4, 1)
DEFINE_KERNELS(fp16, units_fp16, 0)
DEFINE_KERNELS(bf16, units_bf16, 0)

vs_sq_key_fn vs_sq_key_avx2_for(vs_code_kind kind, int l2)
{
    switch (kind) {
    case VS_CODE_SQ8: return l2 ? l2_sq8 : ip_sq8;
    case VS_CODE_SQ4: return l2 ? l2_sq4 : ip_sq4;
    case VS_CODE_SQFP16: return l2 ? l2_fp16 : ip_fp16;
    case VS_CODE_SQBF16: return l2 ? l2_bf16 : ip_bf16;
    default: return NULL;
    }
}

int vs_sq_decode_avx2(const vs_sq *sq, const uint8_t *code, float *x)
{
    if (sq->kind != VS_CODE_SQFP16 && sq->kind != VS_CODE_SQBF16) return 0;
    uint32_t j = 0;
    for (; j + 8 <= sq->d; j += 8)
        _mm256_storeu_ps(x + j, sq->kind == VS_CODE_SQFP16 ? units_fp16(code, j) : units_bf16(code, j));
    for (; j < sq->d; j++) {
        uint16_t h;
        memcpy(&h, code + 2 * j, 2);
        if (sq->kind == VS_CODE_SQFP16) {
            x[j] = _cvtsh_ss(h);
        } else {
            uint32_t u = (uint32_t)h << 16;
            memcpy(x + j, &u, 4);
        }
    }
    return 1;
}
