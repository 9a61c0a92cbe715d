/* Product quantizer: the vector is cut into m sub-vectors of d/m dimensions, each replaced
 * by the number of its nearest of 2^nbits sub-centroids (k-means per sub-space).
 *
 * Code layout (one vector): nbits == 4 packs two sub-codes per byte, sub-quantizer 2i in
 * the low nibble; nbits 5..8 use one byte per sub-code. The fast-scan layout of blocks of
 * 32 vectors lives in quant/fastscan.h.
 *
 * Distances use asymmetric lookup tables (ADC): for a query, tab[j * ksub + c] is the
 * contribution of sub-code c of sub-quantizer j, and a code's key is the sum of its m
 * entries. */
#ifndef VS_QUANT_PQ_H
#define VS_QUANT_PQ_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct {
    uint32_t d, m, nbits, ksub, dsub;
    int trained;
    float *centroids; /* m x ksub x dsub */
} vs_pq;

/* FAISS trains PQ sub-quantizers with 25 k-means iterations. */
#define VS_PQ_KMEANS_ITER 25

int vs_pq_init(vs_pq *pq, uint32_t d, uint32_t m, uint32_t nbits);
void vs_pq_destroy(vs_pq *pq);
int vs_pq_train(vs_pq *pq, size_t n, const float *x, uint64_t seed, unsigned threads);
/* Sets trained centroids directly (loading): m * ksub * dsub floats, copied and checked. */
int vs_pq_set_centroids(vs_pq *pq, const float *centroids);
size_t vs_pq_code_size(const vs_pq *pq);
int vs_pq_encode(const vs_pq *pq, size_t n, const float *x, uint8_t *codes, unsigned threads);
void vs_pq_decode(const vs_pq *pq, size_t n, const uint8_t *codes, float *x);
/* *mse = mean over the n rows of x of the squared distance to their reconstruction. */
int vs_pq_distortion(const vs_pq *pq, size_t n, const float *x, unsigned threads, double *mse);

static inline unsigned vs_pq_code_at(const vs_pq *pq, const uint8_t *code, uint32_t j)
{
    return pq->nbits == 4 ? (code[j >> 1] >> ((j & 1) * 4)) & 15u : code[j];
}

/* tab (m x ksub): squared distance of each query sub-vector to each sub-centroid. */
void vs_pq_table_l2(const vs_pq *pq, const float *q, float *tab);
/* tab (m x ksub): inner product of each query sub-vector with each sub-centroid. */
void vs_pq_table_ip(const vs_pq *pq, const float *q, float *tab);
/* keys[i] = bias + sum_j tab[j][code_i[j]] for n codes back to back. */
void vs_pq_scan(const vs_pq *pq, const float *tab, float bias, const uint8_t *codes, size_t n, float *keys);

#endif
