/* Fast-scan block packing, table quantisation, the scalar reference kernel and dispatch. */
#include "quant/fastscan.h"

#include <math.h>
#include <string.h>

#include "vecscale.h"

void vs_fs_put(uint8_t *blocks, uint32_t m, size_t i, const uint8_t *code)
{
    uint8_t *blk = blocks + (i / VS_FS_BLOCK) * vs_fs_block_bytes(m);
    unsigned v = (unsigned)(i % VS_FS_BLOCK), b = v & 15, shift = (v >> 4) * 4;
    for (uint32_t j = 0; j < m; j++) {
        unsigned c = (code[j >> 1] >> ((j & 1) * 4)) & 15u;
        uint8_t *byte = blk + (j >> 1) * 32 + (j & 1) * 16 + b;
        *byte = (uint8_t)((*byte & ~(15u << shift)) | (c << shift));
    }
}

void vs_fs_get(const uint8_t *blocks, uint32_t m, size_t i, uint8_t *code)
{
    const uint8_t *blk = blocks + (i / VS_FS_BLOCK) * vs_fs_block_bytes(m);
    unsigned v = (unsigned)(i % VS_FS_BLOCK), b = v & 15, shift = (v >> 4) * 4;
    memset(code, 0, (m + 1) / 2);
    for (uint32_t j = 0; j < m; j++) {
        unsigned c = (blk[(j >> 1) * 32 + (j & 1) * 16 + b] >> shift) & 15u;
        code[j >> 1] |= (uint8_t)(c << ((j & 1) * 4));
    }
}

void vs_fs_lut_scalar(const float *a, const float *b, uint32_t m, float *work, uint8_t *lut, float *bias, float *scale)
{
    const float *tab = a;
    if (b) {
        for (size_t i = 0; i < (size_t)m * 16; i++) work[i] = a[i] + b[i];
        tab = work;
    }
    float mins[VS_FS_MAX_M], span = 0, bsum = 0;
    for (uint32_t j = 0; j < m; j++) {
        float lo = tab[j * 16], hi = lo;
        for (int c = 1; c < 16; c++) {
            float t = tab[j * 16 + c];
            lo = t < lo ? t : lo;
            hi = t > hi ? t : hi;
        }
        mins[j] = lo;
        bsum += lo;
        span = hi - lo > span ? hi - lo : span;
    }
    /* One scale for all sub-quantizers, so the 8-bit sums stay comparable. */
    float s = span > 0 ? 255.0f / span : 1.0f;
    for (uint32_t j = 0; j < m; j++) {
        uint8_t *out = lut + (j >> 1) * 32 + (j & 1) * 16;
        for (int c = 0; c < 16; c++) {
            float e = (tab[j * 16 + c] - mins[j]) * s + 0.5f; /* >= 0.5: truncation rounds */
            /* NaN (a table holding infinities, from a loaded file's huge centroids) must not
             * reach the int conversion, which is undefined for it: it takes 255. */
            out[c] = (uint8_t)(e < 255.0f ? (int)e : 255);
        }
    }
    if (m & 1) memset(lut + (m >> 1) * 32 + 16, 0, 16); /* the padding sub-quantizer adds 0 */
    *bias = bsum;
    *scale = s;
}

void vs_fs_quantize(const float *tab, uint32_t m, uint8_t *lut, float *bias, float *scale)
{
    vs_fs_lut_scalar(tab, NULL, m, NULL, lut, bias, scale);
}

uint32_t vs_fs_block_scalar(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint32_t thr, uint32_t *out)
{
    uint32_t mask = 0;
    for (unsigned v = 0; v < VS_FS_BLOCK; v++) {
        unsigned b = v & 15, shift = (v >> 4) * 4;
        uint32_t s = 0;
        for (uint32_t p = 0; p < pairs; p++) {
            const uint8_t *c = block + p * 32, *t = lut + p * 32;
            s += t[(c[b] >> shift) & 15] + t[16 + ((c[16 + b] >> shift) & 15)];
        }
        out[v] = s;
        if (s < thr) mask |= 1u << v;
    }
    return mask;
}

void vs_fs_block_qb_generic(const uint8_t *block, const uint8_t *const *lut, unsigned nq, uint32_t pairs,
                            const uint32_t *thr, uint32_t *out, uint32_t *masks)
{
    vs_fs_block_fn kern = vs_fs_block_kernel();
    for (unsigned i = 0; i < nq; i++) masks[i] = kern(block, lut[i], pairs, thr[i], out + i * VS_FS_BLOCK);
}

vs_fs_block_qb_fn vs_fs_block_qb_kernel(void)
{
    return vs_simd_active() == VS_SIMD_AVX512 ? vs_fs_block_qb_avx512 : vs_fs_block_qb_generic;
}

void vs_fs_transpose_centroids(const float *centroids, uint32_t m, uint32_t dsub, float *ct)
{
    for (uint32_t j = 0; j < m; j++)
        for (uint32_t c = 0; c < 16; c++)
            for (uint32_t t = 0; t < dsub; t++)
                ct[((size_t)j * dsub + t) * 16 + c] = centroids[((size_t)j * 16 + c) * dsub + t];
}

void vs_fs_table_scalar(const float *ct, const float *q, uint32_t m, uint32_t dsub, float mul, float *tab)
{
    for (uint32_t j = 0; j < m; j++) {
        float acc[16] = {0};
        for (uint32_t t = 0; t < dsub; t++) {
            float x = q[(size_t)j * dsub + t];
            const float *row = ct + ((size_t)j * dsub + t) * 16;
            for (int c = 0; c < 16; c++) acc[c] = acc[c] + x * row[c];
        }
        for (int c = 0; c < 16; c++) tab[(size_t)j * 16 + c] = mul * acc[c];
    }
}

vs_fs_table_fn vs_fs_table_kernel(void)
{
    switch (vs_simd_active()) {
    case VS_SIMD_AVX512: return vs_fs_table_avx512;
    case VS_SIMD_AVX2: return vs_fs_table_avx2;
    default: return vs_fs_table_scalar;
    }
}

vs_fs_lut_fn vs_fs_lut_kernel(void)
{
    switch (vs_simd_active()) {
    case VS_SIMD_AVX512: return vs_fs_lut_avx512;
    case VS_SIMD_AVX2: return vs_fs_lut_avx2;
    default: return vs_fs_lut_scalar;
    }
}

size_t vs_fs_collect_scalar(const uint32_t *sums, uint32_t mask, float bias, float inv, float thr, const int64_t *ids,
                            float *keys, int64_t *labels)
{
    size_t n = 0;
    while (mask) {
        unsigned u = (unsigned)__builtin_ctz(mask);
        mask &= mask - 1;
        float key = bias + (float)sums[u] * inv;
        if (key <= thr) {
            keys[n] = key;
            labels[n++] = ids[u];
        }
    }
    return n;
}

vs_fs_collect_fn vs_fs_collect_kernel(void)
{
    return vs_simd_active() == VS_SIMD_AVX512 ? vs_fs_collect_avx512 : vs_fs_collect_scalar;
}

vs_fs_block_fn vs_fs_block_kernel(void)
{
    switch (vs_simd_active()) {
    case VS_SIMD_AVX512: return vs_fs_block_avx512;
    case VS_SIMD_AVX2: return vs_fs_block_avx2;
    default: return vs_fs_block_scalar;
    }
}
