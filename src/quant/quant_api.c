/* The public quantizer API: argument checks around quant/sq.c and quant/pq.c. */
#include <stdlib.h>

#include "core/error.h"
#include "core/validate.h"
#include "quant/quant_api.h"

int vs_scalar_quantizer_create(uint32_t dim, vs_code_kind kind, vs_scalar_quantizer **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "out must not be NULL");
    *out = NULL;
    vs_scalar_quantizer *q = calloc(1, sizeof *q);
    if (!q) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = vs_sq_init(&q->sq, kind, dim);
    if (rc) {
        free(q);
        return rc;
    }
    *out = q;
    return VS_OK;
}

void vs_scalar_quantizer_free(vs_scalar_quantizer *q)
{
    if (!q) return;
    vs_sq_destroy(&q->sq);
    free(q);
}

int vs_scalar_quantizer_train(vs_scalar_quantizer *q, size_t n, const float *x)
{
    if (!q || (n && !x)) return vs_fail(VS_ERR_INVALID_ARG, "quantizer and vectors must not be NULL");
    int rc = vs_check_finite(x, n, q->sq.d, "training vector");
    return rc ? rc : vs_sq_train(&q->sq, n, x);
}

size_t vs_scalar_quantizer_code_size(const vs_scalar_quantizer *q) { return q ? vs_sq_code_size(&q->sq) : 0; }

int vs_scalar_quantizer_encode(const vs_scalar_quantizer *q, size_t n, const float *x, uint8_t *codes)
{
    if (!q || (n && (!x || !codes))) return vs_fail(VS_ERR_INVALID_ARG, "quantizer, vectors and codes must not be NULL");
    if (!q->sq.trained) return vs_fail(VS_ERR_NOT_TRAINED, "the scalar quantizer must be trained before encoding");
    int rc = vs_check_finite(x, n, q->sq.d, "vector");
    if (!rc) vs_sq_encode(&q->sq, n, x, codes);
    return rc;
}

int vs_scalar_quantizer_decode(const vs_scalar_quantizer *q, size_t n, const uint8_t *codes, float *x)
{
    if (!q || (n && (!x || !codes))) return vs_fail(VS_ERR_INVALID_ARG, "quantizer, codes and vectors must not be NULL");
    if (!q->sq.trained) return vs_fail(VS_ERR_NOT_TRAINED, "the scalar quantizer must be trained before decoding");
    vs_sq_decode(&q->sq, n, codes, x);
    return VS_OK;
}

int vs_product_quantizer_create(uint32_t dim, uint32_t m, uint32_t nbits, vs_product_quantizer **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "out must not be NULL");
    *out = NULL;
    vs_product_quantizer *q = calloc(1, sizeof *q);
    if (!q) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = vs_pq_init(&q->pq, dim, m, nbits);
    if (rc) {
        vs_pq_destroy(&q->pq);
        free(q);
        return rc;
    }
    *out = q;
    return VS_OK;
}

void vs_product_quantizer_free(vs_product_quantizer *q)
{
    if (!q) return;
    vs_pq_destroy(&q->pq);
    free(q);
}

int vs_product_quantizer_train(vs_product_quantizer *q, size_t n, const float *x, uint64_t seed, uint32_t n_threads)
{
    if (!q || (n && !x)) return vs_fail(VS_ERR_INVALID_ARG, "quantizer and vectors must not be NULL");
    int rc = vs_check_finite(x, n, q->pq.d, "training vector");
    return rc ? rc : vs_pq_train(&q->pq, n, x, seed ? seed : 1234, n_threads > 1 ? n_threads : 1);
}

size_t vs_product_quantizer_code_size(const vs_product_quantizer *q) { return q ? vs_pq_code_size(&q->pq) : 0; }

int vs_product_quantizer_encode(const vs_product_quantizer *q, size_t n, const float *x, uint8_t *codes)
{
    if (!q || (n && (!x || !codes))) return vs_fail(VS_ERR_INVALID_ARG, "quantizer, vectors and codes must not be NULL");
    if (!q->pq.trained) return vs_fail(VS_ERR_NOT_TRAINED, "the product quantizer must be trained before encoding");
    int rc = vs_check_finite(x, n, q->pq.d, "vector");
    return rc ? rc : vs_pq_encode(&q->pq, n, x, codes, 1);
}

int vs_product_quantizer_decode(const vs_product_quantizer *q, size_t n, const uint8_t *codes, float *x)
{
    if (!q || (n && (!x || !codes))) return vs_fail(VS_ERR_INVALID_ARG, "quantizer, codes and vectors must not be NULL");
    if (!q->pq.trained) return vs_fail(VS_ERR_NOT_TRAINED, "the product quantizer must be trained before decoding");
    vs_pq_decode(&q->pq, n, codes, x);
    return VS_OK;
}
