/* Internal kernel table: one function pointer per hot loop, filled from CPUID at first use. */
#ifndef VS_KERNELS_H
#define VS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct {
    float (*l2sq)(const float *a, const float *b, size_t d);
    float (*dot)(const float *a, const float *b, size_t d);
    float (*norm_sq)(const float *a, size_t d);
    /* out[i] = dot(q, x + i*d) for i < n: the single-query scan. */
    void (*dot_many)(const float *q, const float *x, size_t n, size_t d, float *out);
    /* out[i] = l2sq(q, x + i*d) for i < n. */
    void (*l2sq_many)(const float *q, const float *x, size_t n, size_t d, float *out);
    /* out[j] = l2sq(q, x[j]) / dot(q, x[j]) for j < 4, rows anywhere in memory: a graph node's
     * neighbours scored together, each query load shared by four rows. */
    void (*l2sq4)(const float *q, const float *const *x, size_t d, float *out);
    void (*dot4)(const float *q, const float *const *x, size_t d, float *out);
    /* Writes to pos[] every i < n with s[i] + (bias ? bias[i] : 0) < thr, in increasing order,
     * and returns how many. The fused top-k pre-filter over a row of a GEMM block; bias carries
     * the base norms for L2 and +inf for filtered-out rows. */
    size_t (*select_lt)(const float *s, const float *bias, size_t n, float thr, uint32_t *pos);
} vs_kernel_table;

/* The active table (never NULL; initialised on first call, thread-safe). */
const vs_kernel_table *vs_kernels(void);

/* Each implementation's table, for tests that compare them with the scalar reference.
 * Returns NULL when the CPU lacks the level or the build lacks the code. */
const vs_kernel_table *vs_kernels_for(vs_simd_level level);

extern const vs_kernel_table vs_kernels_scalar;
extern const vs_kernel_table vs_kernels_avx2;
extern const vs_kernel_table vs_kernels_avx512;

#endif
