/* The encoders' matrix products, through kernels/blas.c (one BLAS thread per call, the
 * caller's OpenMP setting restored afterwards). */
#include "embed/gemm.h"

#include <string.h>

#include "kernels/blas.h"

void vs_gemm_linear(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *w, const float *bias,
                    float *c, size_t ldc)
{
    if (bias)
        for (size_t i = 0; i < m; i++) memcpy(c + i * ldc, bias, n * sizeof(float));
    vs_sgemm(1, m, n, k, 1.0f, a, lda, w, k, bias ? 1.0f : 0.0f, c, ldc);
}

void vs_gemm_abt(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                 float *c, size_t ldc)
{
    vs_sgemm(1, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc);
}

void vs_gemm_ab(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                size_t ldc)
{
    vs_sgemm(0, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
