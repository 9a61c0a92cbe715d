/* OpenBLAS sgemm, one thread per call, the caller's OpenMP setting restored afterwards. */
#include "embed/gemm.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

static void gemm(CBLAS_TRANSPOSE tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                 const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c,
                (int)ldc);
    if (saved != 1) omp_set_num_threads(saved);
}

void vs_gemm_linear(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *w, const float *bias,
                    float *c, size_t ldc)
{
    if (bias)
        for (size_t i = 0; i < m; i++) memcpy(c + i * ldc, bias, n * sizeof(float));
    gemm(CblasTrans, m, n, k, 1.0f, a, lda, w, k, bias ? 1.0f : 0.0f, c, ldc);
}

void vs_gemm_abt(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                 float *c, size_t ldc)
{
    gemm(CblasTrans, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc);
}

void vs_gemm_ab(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                size_t ldc)
{
    gemm(CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
