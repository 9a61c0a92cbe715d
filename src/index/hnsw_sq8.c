/* Scalar reference and dispatch for the HNSW{M},SQ8 integer kernel (hnsw_sq8.h). */
#include "index/hnsw_sq8.h"

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
