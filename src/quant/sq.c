/* Scalar quantizer: training, encode/decode, prepared queries and the scalar reference
 * distance kernels (the AVX2 ones are in sq_avx2.c). */
#include "quant/sq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int vs_sq_kind_ok(vs_code_kind kind)
{
    return kind == VS_CODE_SQ8 || kind == VS_CODE_SQ4 || kind == VS_CODE_SQFP16 || kind == VS_CODE_SQBF16;
}

static int has_ranges(const vs_sq *sq) { return sq->kind == VS_CODE_SQ8 || sq->kind == VS_CODE_SQ4; }
/* Code units per range: a value falls in one of `levels` equal buckets and decodes to its centre. */
static float levels(const vs_sq *sq) { return sq->kind == VS_CODE_SQ8 ? 256.0f : 16.0f; }

int vs_sq_init(vs_sq *sq, vs_code_kind kind, uint32_t d)
{
    memset(sq, 0, sizeof *sq);
    if (!vs_sq_kind_ok(kind)) return vs_fail(VS_ERR_INVALID_ARG, "code kind %d is not a scalar quantizer", (int)kind);
    if (d == 0) return vs_fail(VS_ERR_INVALID_ARG, "scalar quantizer dimension must be positive");
    sq->kind = kind;
    sq->d = d;
    if (has_ranges(sq)) {
        sq->vmin = calloc(d, sizeof *sq->vmin);
        sq->vdiff = calloc(d, sizeof *sq->vdiff);
        if (!sq->vmin || !sq->vdiff) {
            vs_sq_destroy(sq);
            return vs_fail(VS_ERR_NOMEM, "out of memory");
        }
    } else {
        sq->trained = 1;
    }
    return VS_OK;
}

void vs_sq_destroy(vs_sq *sq)
{
    free(sq->vmin);
    free(sq->vdiff);
    sq->vmin = sq->vdiff = NULL;
}

int vs_sq_train(vs_sq *sq, size_t n, const float *x)
{
    if (!has_ranges(sq)) return VS_OK;
    if (n == 0) return vs_fail(VS_ERR_INVALID_ARG, "scalar quantizer training needs at least one vector");
    const uint32_t d = sq->d;
    for (uint32_t j = 0; j < d; j++) sq->vmin[j] = sq->vdiff[j] = x[j]; /* vdiff holds max for now */
    for (size_t i = 1; i < n; i++)
        for (uint32_t j = 0; j < d; j++) {
            float v = x[i * d + j];
            if (v < sq->vmin[j]) sq->vmin[j] = v;
            if (v > sq->vdiff[j]) sq->vdiff[j] = v;
        }
    for (uint32_t j = 0; j < d; j++) sq->vdiff[j] -= sq->vmin[j];
    sq->trained = 1;
    return VS_OK;
}

int vs_sq_set_ranges(vs_sq *sq, const float *vmin, const float *vdiff)
{
    if (!has_ranges(sq)) return VS_OK;
    for (uint32_t j = 0; j < sq->d; j++)
        if (!isfinite(vmin[j]) || !isfinite(vdiff[j]) || vdiff[j] < 0)
            return vs_fail(VS_ERR_CORRUPT, "scalar quantizer range of dimension %u is invalid", j);
    memcpy(sq->vmin, vmin, sq->d * sizeof *vmin);
    memcpy(sq->vdiff, vdiff, sq->d * sizeof *vdiff);
    sq->trained = 1;
    return VS_OK;
}

size_t vs_sq_code_size(const vs_sq *sq)
{
    switch (sq->kind) {
    case VS_CODE_SQ8: return sq->d;
    case VS_CODE_SQ4: return (sq->d + 1) / 2;
    default: return (size_t)sq->d * 2;
    }
}

/* IEEE binary16 with round-to-nearest-even; overflow saturates to the largest finite value
 * so a code never decodes to infinity. */
static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x477fefffu) return (uint16_t)(sign | 0x7bffu); /* >= 65520 rounds past max */
    if (mag < 0x38800000u) {                                  /* subnormal or zero in fp16 */
        if (mag < 0x33000000u) return (uint16_t)sign;
        uint32_t m = (mag & 0x7fffffu) | 0x800000u;
        /* value = m * 2^(e - 150) and a subnormal code counts 2^-24: r = m >> (126 - e). */
        int shift = 126 - (int)(mag >> 23);
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((mag >> 13) - (112u << 10));
    uint32_t rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu, x;
    if (e == 0) {
        float f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    x = sign | ((e + 112u) << 23) | (m << 13); /* e == 31 never occurs: encode saturates */
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static uint16_t f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t r = x + 0x7fffu + ((x >> 16) & 1);
    if ((r & 0x7f800000u) == 0x7f800000u) r = (x & 0x80000000u) | 0x7f7f0000u; /* saturate */
    return (uint16_t)(r >> 16);
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static unsigned code_unit(const vs_sq *sq, uint32_t j, float v)
{
    float L = levels(sq);
    if (sq->vdiff[j] <= 0) return 0;
    float t = (v - sq->vmin[j]) / sq->vdiff[j] * L;
    if (!(t > 0)) return 0;
    if (t >= L - 1) return (unsigned)L - 1;
    return (unsigned)t;
}

void vs_sq_encode(const vs_sq *sq, size_t n, const float *x, uint8_t *codes)
{
    const uint32_t d = sq->d;
    const size_t cs = vs_sq_code_size(sq);
    for (size_t i = 0; i < n; i++) {
        const float *v = x + i * d;
        uint8_t *c = codes + i * cs;
        switch (sq->kind) {
        case VS_CODE_SQ8:
            for (uint32_t j = 0; j < d; j++) c[j] = (uint8_t)code_unit(sq, j, v[j]);
            break;
        case VS_CODE_SQ4:
            memset(c, 0, cs);
            for (uint32_t j = 0; j < d; j++) c[j / 2] |= (uint8_t)(code_unit(sq, j, v[j]) << ((j & 1) * 4));
            break;
        case VS_CODE_SQFP16:
            for (uint32_t j = 0; j < d; j++) {
                uint16_t h = f32_to_f16(v[j]);
                memcpy(c + 2 * j, &h, 2);
            }
            break;
        default:
            for (uint32_t j = 0; j < d; j++) {
                uint16_t h = f32_to_bf16(v[j]);
                memcpy(c + 2 * j, &h, 2);
            }
        }
    }
}

static unsigned unit_at(const vs_sq *sq, const uint8_t *c, uint32_t j)
{
    return sq->kind == VS_CODE_SQ8 ? c[j] : (unsigned)(c[j / 2] >> ((j & 1) * 4)) & 15u;
}

void vs_sq_decode(const vs_sq *sq, size_t n, const uint8_t *codes, float *x)
{
    const uint32_t d = sq->d;
    const size_t cs = vs_sq_code_size(sq);
    /* HNSW decodes a stored node for every anchor it prepares while building: the
     * per-element switch below cost as much as the distances. */
    const int simd = vs_simd_active() >= VS_SIMD_AVX2;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * cs;
        float *v = x + i * d;
        if (simd && vs_sq_decode_avx2(sq, c, v)) continue;
        for (uint32_t j = 0; j < d; j++) {
            uint16_t h;
            switch (sq->kind) {
            case VS_CODE_SQFP16:
                memcpy(&h, c + 2 * j, 2);
                v[j] = f16_to_f32(h);
                break;
            case VS_CODE_SQBF16:
                memcpy(&h, c + 2 * j, 2);
                v[j] = bf16_to_f32(h);
                break;
            default:
                v[j] = sq->vmin[j] + ((float)unit_at(sq, c, j) + 0.5f) * (sq->vdiff[j] / levels(sq));
            }
        }
    }
}

int vs_sq_query_init(vs_sq_query *pq, const vs_sq *sq, int l2)
{
    memset(pq, 0, sizeof *pq);
    pq->sq = sq;
    pq->l2 = l2;
    pq->fn = vs_simd_active() >= VS_SIMD_AVX2 ? vs_sq_key_avx2_for(sq->kind, l2) : NULL;
    if (!pq->fn) pq->fn = vs_sq_key_scalar_for(sq->kind, l2);
    pq->a = malloc(sq->d * sizeof *pq->a);
    pq->s = malloc(sq->d * sizeof *pq->s);
    if (!pq->a || !pq->s) {
        vs_sq_query_destroy(pq);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    if (has_ranges(sq))
        for (uint32_t j = 0; j < sq->d; j++) pq->s[j] = sq->vdiff[j] / levels(sq);
    else
        for (uint32_t j = 0; j < sq->d; j++) pq->s[j] = 1.0f;
    return VS_OK;
}

void vs_sq_query_set(vs_sq_query *pq, const float *q)
{
    const vs_sq *sq = pq->sq;
    pq->bias = 0;
    if (!has_ranges(sq)) {
        memcpy(pq->a, q, sq->d * sizeof *q);
        return;
    }
    for (uint32_t j = 0; j < sq->d; j++) {
        float centre0 = sq->vmin[j] + 0.5f * pq->s[j];
        if (pq->l2) {
            pq->a[j] = q[j] - centre0;
        } else {
            pq->a[j] = q[j] * pq->s[j];
            pq->bias += q[j] * centre0;
        }
    }
}

void vs_sq_query_destroy(vs_sq_query *pq)
{
    free(pq->a);
    free(pq->s);
    pq->a = pq->s = NULL;
}

/* Scalar reference kernels: one per (kind, metric). */
#define UNIT_LOOP(EXPR_L2, EXPR_IP)                                                       \
    do {                                                                                  \
        float acc = 0;                                                                    \
        if (pq->l2) {                                                                     \
            for (uint32_t j = 0; j < d; j++) {                                            \
                float t = EXPR_L2;                                                        \
                acc += t * t;                                                             \
            }                                                                             \
            return acc;                                                                   \
        }                                                                                 \
        for (uint32_t j = 0; j < d; j++) acc += EXPR_IP;                                  \
        return -(pq->bias + acc);                                                         \
    } while (0)

static float key_sq8(const vs_sq_query *pq, const uint8_t *c)
{
    const uint32_t d = pq->sq->d;
    UNIT_LOOP(pq->a[j] - (float)c[j] * pq->s[j], pq->a[j] * (float)c[j]);
}

static float key_sq4(const vs_sq_query *pq, const uint8_t *c)
{
    const uint32_t d = pq->sq->d;
    UNIT_LOOP(pq->a[j] - (float)((c[j / 2] >> ((j & 1) * 4)) & 15) * pq->s[j],
              pq->a[j] * (float)((c[j / 2] >> ((j & 1) * 4)) & 15));
}

static float half_at(const uint8_t *c, uint32_t j)
{
    uint16_t h;
    memcpy(&h, c + 2 * j, 2);
    return f16_to_f32(h);
}

static float bhalf_at(const uint8_t *c, uint32_t j)
{
    uint16_t h;
    memcpy(&h, c + 2 * j, 2);
    return bf16_to_f32(h);
}

static float key_fp16(const vs_sq_query *pq, const uint8_t *c)
{
    const uint32_t d = pq->sq->d;
    UNIT_LOOP(pq->a[j] - half_at(c, j), pq->a[j] * half_at(c, j));
}

static float key_bf16(const vs_sq_query *pq, const uint8_t *c)
{
    const uint32_t d = pq->sq->d;
    UNIT_LOOP(pq->a[j] - bhalf_at(c, j), pq->a[j] * bhalf_at(c, j));
}

vs_sq_key_fn vs_sq_key_scalar_for(vs_code_kind kind, int l2)
{
    (void)l2;
    switch (kind) {
    case VS_CODE_SQ8: return key_sq8;
    case VS_CODE_SQ4: return key_sq4;
    case VS_CODE_SQFP16: return key_fp16;
    default: return key_bf16;
    }
}

void vs_sq_keys(const vs_sq_query *pq, const uint8_t *codes, size_t n, float *keys)
{
    vs_sq_key_fn f = pq->fn;
    const size_t cs = vs_sq_code_size(pq->sq);
    for (size_t i = 0; i < n; i++) keys[i] = f(pq, codes + i * cs);
}
