/* Scalar reference and dispatch for the HNSW{M},SQ8 integer kernel (hnsw_sq8.h). */
#include "index/hnsw_sq8.h"

#include <math.h>

#include "vecscale.h"

int64_t vs_hnsw_dot8_scalar(const int16_t *w, const uint8_t *c, uint32_t d)
{
    int64_t r = 0;
    for (uint32_t j = 0; j < d; j++) r += (int64_t)w[j] * c[j];
    return r;
}

vs_hnsw_dot8_fn vs_hnsw_dot8_pick(void)
{
    if (vs_simd_active() >= VS_SIMD_AVX2) return vs_hnsw_dot8_avx2;
    return vs_hnsw_dot8_scalar;
}

int32_t vs_hnsw_dot8_wmax(uint32_t d)
{
    /* An AVX2 int32 lane accumulates at most 2 * (d / 32 + 1) products of 255 * |w|. */
    int64_t products = 2 * ((int64_t)d / 32 + 1);
    int64_t w = (int64_t)INT32_MAX / (255 * products);
    return w > 32767 ? 32767 : (int32_t)w;
}

float vs_hnsw_node8_scalar(const uint8_t *c, const float *vmin, const float *s, uint32_t d, int l2, int32_t wlimit,
                           float *w, int16_t *w8, float *alpha)
{
    float wmax = 0, acc[4] = {0, 0, 0, 0}; /* four partial sums: no serial add chain */
    for (uint32_t j = 0; j < d; j++) {
        float cj = (float)c[j];
        if (l2) {
            float sc = s[j] * cj;
            w[j] = s[j] * sc;
            acc[j & 3] += sc * sc;
        } else {
            float c0 = vmin[j] + 0.5f * s[j], x = c0 + s[j] * cj;
            w[j] = x * s[j];
            acc[j & 3] += x * c0;
        }
        float m = fabsf(w[j]);
        wmax = m > wmax ? m : wmax;
    }
    float a = wmax > 0 ? (float)wlimit / wmax : 1.0f;
    for (uint32_t j = 0; j < d; j++) {
        float x = w[j] * a;
        w8[j] = (int16_t)(x + (x < 0 ? -0.5f : 0.5f));
    }
    *alpha = a;
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

vs_hnsw_node8_fn vs_hnsw_node8_pick(void)
{
    if (vs_simd_active() >= VS_SIMD_AVX2) return vs_hnsw_node8_avx2;
    return vs_hnsw_node8_scalar;
}
