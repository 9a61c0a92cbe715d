/* Reference kernels: the plainest loops, so they are obviously correct. Every SIMD level is
 * tested against these. */
#include "kernels/kernels.h"

static float scalar_l2sq(const float *a, const float *b, size_t d)
{
    float acc = 0.0f;
    for (size_t i = 0; i < d; i++) {
        float t = a[i] - b[i];
        acc += t * t;
    }
    return acc;
}

static float scalar_dot(const float *a, const float *b, size_t d)
{
    float acc = 0.0f;
    for (size_t i = 0; i < d; i++)
        acc += a[i] * b[i];
    return acc;
}

static float scalar_norm_sq(const float *a, size_t d)
{
    float acc = 0.0f;
    for (size_t i = 0; i < d; i++)
        acc += a[i] * a[i];
    return acc;
}

static void scalar_dot_many(const float *q, const float *x, size_t n, size_t d, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = scalar_dot(q, x + i * d, d);
}

static void scalar_l2sq_many(const float *q, const float *x, size_t n, size_t d, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = scalar_l2sq(q, x + i * d, d);
}

static void scalar_l2sq4(const float *q, const float *const *x, size_t d, float *out)
{
    for (int j = 0; j < 4; j++)
        out[j] = scalar_l2sq(q, x[j], d);
}

static void scalar_dot4(const float *q, const float *const *x, size_t d, float *out)
{
    for (int j = 0; j < 4; j++)
        out[j] = scalar_dot(q, x[j], d);
}

static size_t scalar_select_lt(const float *s, const float *bias, size_t n, float thr,
                               uint32_t *pos)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        float v = bias ? s[i] + bias[i] : s[i];
        if (v < thr)
            pos[cnt++] = (uint32_t)i;
    }
    return cnt;
}

const vs_kernel_table vs_kernels_scalar = {
    .l2sq = scalar_l2sq,
    .dot = scalar_dot,
    .norm_sq = scalar_norm_sq,
    .dot_many = scalar_dot_many,
    .l2sq_many = scalar_l2sq_many,
    .l2sq4 = scalar_l2sq4,
    .dot4 = scalar_dot4,
    .select_lt = scalar_select_lt,
};
