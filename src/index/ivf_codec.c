/* What an IVF list stores per vector: the codec of the factory string's second part (Flat,
 * SQ*, PQ, PQ fast-scan), its training on the coarse assignment, encoding and decoding. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/ivf.h"
#include "kernels/kernels.h"
#include "quant/fastscan.h"

int vs_ivf_codec_init(vs_ivf_codec *c, const vs_index *ix)
{
    memset(c, 0, sizeof *c);
    const vs_factory_spec *sp = &ix->spec;
    c->kind = sp->code;
    int rc = VS_OK;
    switch (sp->code) {
    case VS_CODE_FLAT:
        c->code_size = (size_t)ix->dim * sizeof(float);
        break;
    case VS_CODE_PQ:
        if (sp->pq_fastscan && sp->pq_bits != 4)
            return vs_fail(VS_ERR_INVALID_ARG, "fast-scan needs 4-bit PQ codes (PQ%ux4fs), got %u bits", sp->pq_m, sp->pq_bits);
        if (sp->pq_fastscan && sp->pq_m > VS_FS_MAX_M)
            return vs_fail(VS_ERR_INVALID_ARG, "fast-scan supports at most %u sub-quantizers, got %u", VS_FS_MAX_M, sp->pq_m);
        rc = vs_pq_init(&c->pq, ix->dim, sp->pq_m, sp->pq_bits);
        c->fastscan = sp->pq_fastscan;
        c->by_residual = 1;
        c->code_size = vs_pq_code_size(&c->pq);
        break;
    default:
        rc = vs_sq_init(&c->sq, sp->code, ix->dim);
        c->code_size = rc ? 0 : vs_sq_code_size(&c->sq);
    }
    return rc;
}

void vs_ivf_codec_destroy(vs_ivf_codec *c)
{
    vs_sq_destroy(&c->sq);
    vs_pq_destroy(&c->pq);
    free(c->term2);
    free(c->ct);
    free(c->pnorm);
    c->term2 = c->ct = c->pnorm = NULL;
}

static void residual(const vs_index *ix, const float *x, int64_t list, float *out)
{
    const vs_ivf *v = ix->impl;
    const float *cen = v->centroids + (size_t)list * ix->dim;
    for (uint32_t j = 0; j < ix->dim; j++) out[j] = x[j] - cen[j];
}

/* Trains a PQ on the vectors themselves on the same sample as the residual one and keeps it
 * when its distortion is lower. Neither form wins everywhere: on Fashion-MNIST (pixels, most
 * of them exactly 0 in many places) 392 sub-quantizers of 2 dimensions code the images with
 * 14% less squared error than their residuals (whose values are smeared by the centroids),
 * and recall follows (bench/RESULTS.md, issue 21); on GloVe-100 the residual is the better.
 * The vector form also searches with one table per query instead of one per probed list. */
static int try_unresidual(vs_index *ix, size_t use, const float *raw, const float *res)
{
    vs_ivf_codec *c = &((vs_ivf *)ix->impl)->codec;
    unsigned threads = ix->n_threads > 1 ? ix->n_threads : 1;
    vs_pq alt;
    int rc = vs_pq_init(&alt, c->pq.d, c->pq.m, c->pq.nbits);
    if (!rc) rc = vs_pq_train(&alt, use, raw, ix->seed ? ix->seed : 1234, threads);
    double e_res = 0, e_raw = 0;
    if (!rc) rc = vs_pq_distortion(&c->pq, use, res, threads, &e_res);
    if (!rc) rc = vs_pq_distortion(&alt, use, raw, threads, &e_raw);
    if (!rc && e_raw < e_res) {
        memcpy(c->pq.centroids, alt.centroids, (size_t)c->pq.m * c->pq.ksub * c->pq.dsub * sizeof(float));
        c->by_residual = 0;
    }
    vs_pq_destroy(&alt);
    return rc;
}

int vs_ivf_codec_train(vs_index *ix, size_t n, const float *x, const int64_t *assign)
{
    vs_ivf *v = ix->impl;
    vs_ivf_codec *c = &v->codec;
    if (c->kind == VS_CODE_FLAT) return VS_OK;
    if (c->kind != VS_CODE_PQ) return vs_sq_train(&c->sq, n, x);
    /* PQ k-means uses at most 256 points per sub-centroid: residuals of an even sample. */
    const size_t d = ix->dim;
    size_t use = n < (size_t)c->pq.ksub * 256 ? n : (size_t)c->pq.ksub * 256;
    /* One list (standalone PQ): the residual to the mean is the vector moved, no other form. */
    const int both = v->nlist > 1;
    float *r = malloc(use * d * sizeof *r);
    float *raw = both ? malloc(use * d * sizeof *raw) : NULL;
    if (!r || (both && !raw)) {
        free(r);
        free(raw);
        return vs_fail(VS_ERR_NOMEM, "out of memory for PQ training residuals");
    }
    for (size_t i = 0; i < use; i++) {
        size_t src = use < n ? i * n / use : i;
        residual(ix, x + src * d, assign[src], r + i * d);
        if (raw) memcpy(raw + i * d, x + src * d, d * sizeof *raw);
    }
    c->by_residual = 1;
    int rc = vs_pq_train(&c->pq, use, r, ix->seed ? ix->seed : 1234, ix->n_threads > 1 ? ix->n_threads : 1);
    if (!rc && both) rc = try_unresidual(ix, use, raw, r);
    free(r);
    free(raw);
    return rc ? rc : vs_ivf_codec_prepare(ix);
}

int vs_ivf_codec_prepare(vs_index *ix)
{
    vs_ivf *v = ix->impl;
    vs_ivf_codec *c = &v->codec;
    free(c->term2);
    free(c->ct);
    free(c->pnorm);
    c->term2 = c->ct = c->pnorm = NULL;
    if (c->kind != VS_CODE_PQ || !c->pq.trained) return VS_OK;
    const vs_kernel_table *kt = vs_kernels();
    const vs_pq *pq = &c->pq;
    size_t per_list = (size_t)pq->m * pq->ksub;
    if (c->fastscan) {
        c->ct = malloc((size_t)c->pq.m * c->pq.dsub * 16 * sizeof *c->ct);
        if (c->ct) vs_fs_transpose_centroids(c->pq.centroids, c->pq.m, c->pq.dsub, c->ct); /* else dot products */
        if (c->ct && vs_ivf_is_l2(ix) && !c->by_residual) {
            c->pnorm = malloc(per_list * sizeof *c->pnorm);
            for (size_t t = 0; c->pnorm && t < per_list; t++)
                c->pnorm[t] = kt->norm_sq(pq->centroids + t * pq->dsub, pq->dsub);
        }
    }
    if (vs_ivf_shared_table(ix)) return VS_OK;
    if ((size_t)v->nlist * per_list * sizeof(float) > VS_IVF_PRECOMPUTED_MAX) return VS_OK;
    c->term2 = malloc((size_t)v->nlist * per_list * sizeof *c->term2);
    if (!c->term2) return VS_OK; /* an optimisation: search computes the tables per list instead */
    float *pn = malloc(per_list * sizeof *pn);
    if (!pn) {
        free(c->term2);
        c->term2 = NULL;
        return VS_OK;
    }
    for (size_t t = 0; t < per_list; t++) pn[t] = kt->norm_sq(pq->centroids + t * pq->dsub, pq->dsub);
    for (uint32_t l = 0; l < v->nlist; l++) {
        float *T = c->term2 + (size_t)l * per_list;
        for (uint32_t j = 0; j < pq->m; j++) {
            const float *cj = v->centroids + (size_t)l * ix->dim + (size_t)j * pq->dsub;
            kt->dot_many(cj, pq->centroids + (size_t)j * pq->ksub * pq->dsub, pq->ksub, pq->dsub, T + (size_t)j * pq->ksub);
            for (uint32_t k = 0; k < pq->ksub; k++) T[j * pq->ksub + k] = pn[j * pq->ksub + k] + 2 * T[j * pq->ksub + k];
        }
    }
    free(pn);
    return VS_OK;
}

int vs_ivf_codec_encode(const vs_index *ix, size_t n, const float *x, const int64_t *assign, uint8_t *codes)
{
    const vs_ivf *v = ix->impl;
    const vs_ivf_codec *c = &v->codec;
    const size_t d = ix->dim;
    switch (c->kind) {
    case VS_CODE_FLAT:
        memcpy(codes, x, n * d * sizeof(float));
        return VS_OK;
    case VS_CODE_PQ: {
        enum { CHUNK = 4096 };
        size_t chunk = n < CHUNK ? n : CHUNK;
        float *r = malloc(chunk * d * sizeof *r);
        if (!r) return vs_fail(VS_ERR_NOMEM, "out of memory encoding residuals");
        int rc = VS_OK;
        for (size_t i0 = 0; i0 < n && !rc; i0 += chunk) {
            size_t bn = n - i0 < chunk ? n - i0 : chunk;
            const float *src = x + i0 * d;
            if (c->by_residual) {
                for (size_t i = 0; i < bn; i++) residual(ix, x + (i0 + i) * d, assign[i0 + i], r + i * d);
                src = r;
            }
            rc = vs_pq_encode(&c->pq, bn, src, codes + i0 * c->code_size, ix->n_threads > 1 ? ix->n_threads : 1);
        }
        free(r);
        return rc;
    }
    default:
        vs_sq_encode(&c->sq, n, x, codes);
        return VS_OK;
    }
}

size_t vs_ivf_list_bytes(const vs_ivf_codec *c, size_t n)
{
    return c->fastscan ? vs_fs_blocks(n) * vs_fs_block_bytes(c->pq.m) : n * c->code_size;
}

void vs_ivf_code_get(const vs_ivf_codec *c, const vs_ivf_list *L, size_t pos, uint8_t *code)
{
    if (c->fastscan)
        vs_fs_get(L->codes, c->pq.m, pos, code);
    else
        memcpy(code, L->codes + pos * c->code_size, c->code_size);
}

void vs_ivf_code_put(const vs_ivf_codec *c, vs_ivf_list *L, size_t pos, const uint8_t *code)
{
    if (c->fastscan)
        vs_fs_put(L->codes, c->pq.m, pos, code);
    else
        memcpy(L->codes + pos * c->code_size, code, c->code_size);
}

void vs_ivf_codec_decode(const vs_index *ix, size_t l, size_t pos, float *out)
{
    const vs_ivf *v = ix->impl;
    const vs_ivf_codec *c = &v->codec;
    const vs_ivf_list *L = &v->lists[l];
    if (c->kind == VS_CODE_FLAT) {
        memcpy(out, L->codes + pos * c->code_size, c->code_size);
        return;
    }
    uint8_t stack[512], *code = c->code_size <= sizeof stack ? stack : malloc(c->code_size);
    if (!code) { /* decode cannot fail by contract: fall back to the centroid */
        memcpy(out, v->centroids + l * ix->dim, ix->dim * sizeof *out);
        return;
    }
    vs_ivf_code_get(c, L, pos, code);
    if (c->kind == VS_CODE_PQ) {
        vs_pq_decode(&c->pq, 1, code, out);
        if (c->by_residual)
            for (uint32_t j = 0; j < ix->dim; j++) out[j] += v->centroids[l * ix->dim + j];
    } else {
        vs_sq_decode(&c->sq, 1, code, out);
    }
    if (code != stack) free(code);
}
