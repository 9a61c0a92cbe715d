/* Bodies of the BERT element-wise kernels; included by bert_kernels.c (baseline) and
 * bert_kernels_avx2.c (compiled with -mavx2 -mfma) with KFN naming each copy. Plain loops
 * the compiler vectorises (the files are built with -O3). */
#include <math.h>

#include "embed/bert_kernels.h"

/* erf(x) on [-4, 4] (|erf| rounds to 1 outside) as a rational function, odd degree-13 over even
 * degree-8 numerator/denominator: the approximation Eigen and XLA use, ~1e-7 absolute error. */
static inline float KFN(erf_approx)(float a)
{
    float x = a > 4.0f ? 4.0f : a < -4.0f ? -4.0f : a;
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

static void KFN(gelu)(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + KFN(erf_approx)(x[i] * 0.70710678118654752f));
}

static void KFN(add)(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

static void KFN(layer_norm)(float *x, size_t rows, size_t h, const float *g, const float *b, float eps)
{
    for (size_t r = 0; r < rows; r++) {
        float *v = x + r * h;
        float mean = 0, var = 0;
        for (size_t i = 0; i < h; i++) mean += v[i];
        mean /= (float)h;
        for (size_t i = 0; i < h; i++) var += (v[i] - mean) * (v[i] - mean);
        var /= (float)h;
        float inv = 1.0f / sqrtf(var + eps);
        for (size_t i = 0; i < h; i++) v[i] = (v[i] - mean) * inv * g[i] + b[i];
    }
}

static void KFN(softmax_rows)(float *s, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        float *v = s + r * cols, mx = v[0], sum = 0;
        for (size_t i = 1; i < cols; i++) mx = v[i] > mx ? v[i] : mx;
        for (size_t i = 0; i < cols; i++) {
            v[i] = expf(v[i] - mx);
            sum += v[i];
        }
        float inv = 1.0f / sum;
        for (size_t i = 0; i < cols; i++) v[i] *= inv;
    }
}

static const vs_bert_kernels KFN(table) = {KFN(gelu), KFN(add), KFN(layer_norm), KFN(softmax_rows)};
