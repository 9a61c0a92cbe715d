/* Product quantizer: per-sub-space k-means training, encoding through the blocked BLAS
 * nearest-centroid search, decoding, lookup tables and the ADC scan. */
#include "quant/pq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"
#include "quant/kmeans.h"

int vs_pq_init(vs_pq *pq, uint32_t d, uint32_t m, uint32_t nbits)
{
    memset(pq, 0, sizeof *pq);
    if (m == 0 || d == 0 || d % m != 0)
        return vs_fail(VS_ERR_INVALID_ARG, "PQ needs m dividing the dimension: %u sub-quantizers do not divide %u", m, d);
    if (nbits < 4 || nbits > 8)
        return vs_fail(VS_ERR_INVALID_ARG, "PQ sub-codes must have 4 to 8 bits, got %u", nbits);
    pq->d = d;
    pq->m = m;
    pq->nbits = nbits;
    pq->ksub = 1u << nbits;
    pq->dsub = d / m;
    pq->centroids = calloc((size_t)m * pq->ksub * pq->dsub, sizeof *pq->centroids);
    if (!pq->centroids) return vs_fail(VS_ERR_NOMEM, "out of memory for PQ centroids");
    return VS_OK;
}

void vs_pq_destroy(vs_pq *pq)
{
    free(pq->centroids);
    pq->centroids = NULL;
}

size_t vs_pq_code_size(const vs_pq *pq) { return pq->nbits == 4 ? (pq->m + 1) / 2 : pq->m; }

static void sub_vectors(const vs_pq *pq, size_t n, const float *x, uint32_t j, float *out)
{
    for (size_t i = 0; i < n; i++) memcpy(out + i * pq->dsub, x + i * pq->d + (size_t)j * pq->dsub, pq->dsub * sizeof *out);
}

int vs_pq_train(vs_pq *pq, size_t n, const float *x, uint64_t seed, unsigned threads)
{
    if (n < pq->ksub)
        return vs_fail(VS_ERR_INVALID_ARG, "PQ training needs at least %u vectors (2^%u sub-centroids), got %zu",
                       pq->ksub, pq->nbits, n);
    /* k-means subsamples to 256 points per centroid: copy only what it can use. */
    size_t use = n < (size_t)pq->ksub * 256 ? n : (size_t)pq->ksub * 256;
    float *sub = malloc(use * pq->dsub * sizeof *sub);
    if (!sub) return vs_fail(VS_ERR_NOMEM, "out of memory training PQ");
    const float *src = x;
    float *picked = NULL;
    if (use < n) { /* an evenly strided sample keeps every sub-space on the same rows */
        picked = malloc(use * pq->d * sizeof *picked);
        if (!picked) {
            free(sub);
            return vs_fail(VS_ERR_NOMEM, "out of memory training PQ");
        }
        for (size_t i = 0; i < use; i++) memcpy(picked + i * pq->d, x + (i * n / use) * pq->d, pq->d * sizeof *x);
        src = picked;
    }
    int rc = VS_OK;
    for (uint32_t j = 0; j < pq->m && !rc; j++) {
        sub_vectors(pq, use, src, j, sub);
        vs_kmeans_params kp = {.struct_size = sizeof(vs_kmeans_params), .n_iter = VS_PQ_KMEANS_ITER, .seed = seed + j, .n_threads = threads};
        rc = vs_kmeans(use, pq->dsub, sub, pq->ksub, &kp, pq->centroids + (size_t)j * pq->ksub * pq->dsub, NULL);
    }
    free(sub);
    free(picked);
    if (!rc) pq->trained = 1;
    return rc;
}

int vs_pq_set_centroids(vs_pq *pq, const float *centroids)
{
    size_t total = (size_t)pq->m * pq->ksub * pq->dsub;
    for (size_t i = 0; i < total; i++)
        if (!isfinite(centroids[i])) return vs_fail(VS_ERR_CORRUPT, "PQ centroid value %zu is not finite", i);
    memcpy(pq->centroids, centroids, total * sizeof *centroids);
    pq->trained = 1;
    return VS_OK;
}

int vs_pq_encode(const vs_pq *pq, size_t n, const float *x, uint8_t *codes, unsigned threads)
{
    enum { CHUNK = 4096 };
    const size_t cs = vs_pq_code_size(pq);
    size_t chunk = n < CHUNK ? n : CHUNK;
    float *sub = malloc(chunk * pq->dsub * sizeof *sub);
    float *cn = malloc(pq->ksub * sizeof *cn);
    float *keys = malloc(chunk * sizeof *keys);
    int64_t *lab = malloc(chunk * sizeof *lab);
    int rc = sub && cn && keys && lab ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory encoding PQ");
    if (!rc) memset(codes, 0, n * cs);
    const vs_kernel_table *kt = vs_kernels();
    for (uint32_t j = 0; j < pq->m && !rc; j++) {
        const float *cj = pq->centroids + (size_t)j * pq->ksub * pq->dsub;
        for (uint32_t c = 0; c < pq->ksub; c++) cn[c] = kt->norm_sq(cj + (size_t)c * pq->dsub, pq->dsub);
        for (size_t i0 = 0; i0 < n && !rc; i0 += chunk) {
            size_t bn = n - i0 < chunk ? n - i0 : chunk;
            sub_vectors(pq, bn, x + i0 * pq->d, j, sub);
            rc = vs_nearest_centroids(bn, pq->dsub, sub, pq->ksub, cj, cn, 1, threads, keys, lab);
            for (size_t i = 0; i < bn && !rc; i++) {
                uint8_t *c = codes + (i0 + i) * cs;
                if (pq->nbits == 4)
                    c[j >> 1] |= (uint8_t)(lab[i] << ((j & 1) * 4));
                else
                    c[j] = (uint8_t)lab[i];
            }
        }
    }
    free(sub);
    free(cn);
    free(keys);
    free(lab);
    return rc;
}

void vs_pq_decode(const vs_pq *pq, size_t n, const uint8_t *codes, float *x)
{
    const size_t cs = vs_pq_code_size(pq);
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < pq->m; j++) {
            unsigned c = vs_pq_code_at(pq, codes + i * cs, j);
            memcpy(x + i * pq->d + (size_t)j * pq->dsub, pq->centroids + ((size_t)j * pq->ksub + c) * pq->dsub,
                   pq->dsub * sizeof *x);
        }
}

int vs_pq_distortion(const vs_pq *pq, size_t n, const float *x, unsigned threads, double *mse)
{
    enum { CHUNK = 1024 };
    const size_t cs = vs_pq_code_size(pq);
    size_t chunk = n < CHUNK ? n : CHUNK;
    uint8_t *codes = malloc(chunk * cs + 1);
    float *rec = malloc(chunk * pq->d * sizeof *rec + 1);
    int rc = codes && rec ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory measuring PQ distortion");
    const vs_kernel_table *kt = vs_kernels();
    double sum = 0;
    for (size_t i0 = 0; i0 < n && !rc; i0 += chunk) {
        size_t bn = n - i0 < chunk ? n - i0 : chunk;
        rc = vs_pq_encode(pq, bn, x + i0 * pq->d, codes, threads);
        if (rc) break;
        vs_pq_decode(pq, bn, codes, rec);
        for (size_t i = 0; i < bn; i++) sum += kt->l2sq(x + (i0 + i) * pq->d, rec + i * pq->d, pq->d);
    }
    free(codes);
    free(rec);
    if (!rc) *mse = n ? sum / (double)n : 0;
    return rc;
}

void vs_pq_table_l2(const vs_pq *pq, const float *q, float *tab)
{
    const vs_kernel_table *kt = vs_kernels();
    for (uint32_t j = 0; j < pq->m; j++)
        kt->l2sq_many(q + (size_t)j * pq->dsub, pq->centroids + (size_t)j * pq->ksub * pq->dsub, pq->ksub, pq->dsub,
                      tab + (size_t)j * pq->ksub);
}

void vs_pq_table_ip(const vs_pq *pq, const float *q, float *tab)
{
    const vs_kernel_table *kt = vs_kernels();
    for (uint32_t j = 0; j < pq->m; j++)
        kt->dot_many(q + (size_t)j * pq->dsub, pq->centroids + (size_t)j * pq->ksub * pq->dsub, pq->ksub, pq->dsub,
                     tab + (size_t)j * pq->ksub);
}

void vs_pq_scan(const vs_pq *pq, const float *tab, float bias, const uint8_t *codes, size_t n, float *keys)
{
    const uint32_t m = pq->m, ksub = pq->ksub;
    const size_t cs = vs_pq_code_size(pq);
    if (pq->nbits == 4) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *c = codes + i * cs;
            float s = bias;
            uint32_t j = 0;
            for (; j + 1 < m; j += 2) s += tab[j * 16 + (c[j >> 1] & 15)] + tab[(j + 1) * 16 + (c[j >> 1] >> 4)];
            if (j < m) s += tab[j * 16 + (c[j >> 1] & 15)];
            keys[i] = s;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * cs;
        /* Four independent sums hide the latency of the dependent adds. */
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        uint32_t j = 0;
        for (; j + 4 <= m; j += 4) {
            s0 += tab[(size_t)j * ksub + c[j]];
            s1 += tab[(size_t)(j + 1) * ksub + c[j + 1]];
            s2 += tab[(size_t)(j + 2) * ksub + c[j + 2]];
            s3 += tab[(size_t)(j + 3) * ksub + c[j + 3]];
        }
        for (; j < m; j++) s0 += tab[(size_t)j * ksub + c[j]];
        keys[i] = bias + ((s0 + s1) + (s2 + s3));
    }
}
