/* OpenBLAS, single-threaded per call and safe under concurrent callers.
 *
 * Debian 12 ships OpenBLAS 0.3.21 in three builds. The serial one is built without
 * USE_LOCKING, so two threads calling sgemm at once share its buffers and get wrong results
 * (measured: 14 corrupted products in 16,000 concurrent calls); the pthread one starts a
 * thread pool when it is loaded. We link the OpenMP build, which allocates safely and
 * starts no thread while the calling thread's OpenMP thread count is 1: we set that for the
 * duration of each call and restore the caller's value, so vecscale's own workers do the
 * parallelism and an application's OpenMP settings are left as they were. */
#include "kernels/blas.h"

#include <cblas.h>
#include <omp.h>

void vs_sgemm(int b_transposed, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
              const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha,
                a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
    if (saved != 1) omp_set_num_threads(saved);
}

void vs_sgemm_abt(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                  float *c, size_t ldc)
{
    vs_sgemm(1, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc);
}
