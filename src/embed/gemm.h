/* The two products the BERT encoder needs, through OpenBLAS on the calling thread only
 * (see kernels/blas.c for why vecscale pins OpenBLAS's OpenMP build to one thread per call). */
#ifndef VS_EMBED_GEMM_H
#define VS_EMBED_GEMM_H

#include <stddef.h>

/* C (m x n) = A (m x k) * W^T (W is n x k, a PyTorch Linear weight) + bias (n, may be NULL). */
void vs_gemm_linear(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *w, const float *bias,
                    float *c, size_t ldc);
/* C (m x n) = alpha * A (m x k) * B^T (B is n x k). */
void vs_gemm_abt(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                 float *c, size_t ldc);
/* C (m x n) = A (m x k) * B (k x n). */
void vs_gemm_ab(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                size_t ldc);

#endif
