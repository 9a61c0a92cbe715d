/* Element-wise kernels of the BERT forward pass, built twice (baseline x86-64 and AVX2+FMA,
 * bert_kernels_avx2.c) and chosen once by CPUID: GELU was 15% of the encoder's time with
 * libm's scalar erff. Built with -ffinite-math-only: activations are finite (weights are checked). */
#ifndef VS_EMBED_BERT_KERNELS_H
#define VS_EMBED_BERT_KERNELS_H

#include <stddef.h>

typedef struct {
    void (*gelu)(float *x, size_t n);                  /* x = x/2 (1 + erf(x/sqrt 2)) */
    void (*add)(float *x, const float *y, size_t n);   /* x += y */
    void (*layer_norm)(float *x, size_t rows, size_t h, const float *g, const float *b, float eps);
    void (*softmax_rows)(float *s, size_t rows, size_t cols);
} vs_bert_kernels;

/* The copy for the active SIMD level (vs_simd_active: VECSCALE_SIMD and vs_simd_force count). */
const vs_bert_kernels *vs_bert_kernels_get(void);
const vs_bert_kernels *vs_bert_kernels_base(void);
const vs_bert_kernels *vs_bert_kernels_avx2(void);

#endif
