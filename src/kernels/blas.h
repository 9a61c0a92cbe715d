/* The one way vecscale calls BLAS. See blas.c for why it is not a bare cblas_sgemm. */
#ifndef VS_KERNELS_BLAS_H
#define VS_KERNELS_BLAS_H

#include <stddef.h>

/* C (m x n, row stride ldc) = alpha * A (m x k, row-major) * B^T (B is n x k, row-major).
 * Runs on the calling thread only; safe to call from several threads at once. */
void vs_sgemm_abt(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                  float *c, size_t ldc);

/* The general form, for the text encoders' layers (embed/gemm.c): C = alpha * A * op(B) +
 * beta * C with op(B) = B^T (B is n x k) when b_transposed, else B (k x n). Same threading. */
void vs_sgemm(int b_transposed, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
              const float *b, size_t ldb, float beta, float *c, size_t ldc);

#endif
