/* Keys of one inverted list's vectors for one query, per codec. Smaller keys are better:
 * L2 keys are squared distances to the reconstructed vector, inner-product keys the negated
 * inner product. Fast-scan keys are approximate (8-bit tables): bias + sum / scale. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/ivf.h"
#include "kernels/kernels.h"
#include "quant/fastscan.h"

int vs_ivf_scanner_init(vs_ivf_scanner *s, const vs_index *ix)
{
    const vs_ivf_codec *c = &((const vs_ivf *)ix->impl)->codec;
    memset(s, 0, sizeof *s);
    int ok = 1;
    if (c->kind == VS_CODE_PQ) {
        size_t t = (size_t)c->pq.m * c->pq.ksub;
        s->tab = malloc(t * sizeof *s->tab);
        s->ltab = malloc(t * sizeof *s->ltab);
        s->resid = malloc(ix->dim * sizeof *s->resid);
        s->lut = c->fastscan ? malloc(vs_fs_block_bytes(c->pq.m)) : NULL;
        s->lutk = vs_fs_lut_kernel();
        s->tabk = vs_fs_table_kernel();
        ok = s->tab && s->ltab && s->resid && (!c->fastscan || s->lut);
    } else if (c->kind != VS_CODE_FLAT) {
        if (vs_sq_query_init(&s->sqq, &c->sq, vs_ivf_is_l2(ix))) ok = 0;
        else s->has_sqq = 1;
    }
    if (!ok) {
        vs_ivf_scanner_destroy(s);
        return vs_fail(VS_ERR_NOMEM, "out of memory for IVF scan tables");
    }
    return VS_OK;
}

void vs_ivf_scanner_destroy(vs_ivf_scanner *s)
{
    free(s->tab);
    free(s->ltab);
    free(s->lut);
    free(s->resid);
    if (s->has_sqq) vs_sq_query_destroy(&s->sqq);
    memset(s, 0, sizeof *s);
}

void vs_ivf_scanner_set_query(vs_ivf_scanner *s, const vs_index *ix, const float *q)
{
    const vs_ivf_codec *c = &((const vs_ivf *)ix->impl)->codec;
    const vs_kernel_table *kt = vs_kernels();
    s->qnorm = kt->norm_sq(q, ix->dim);
    if (c->kind == VS_CODE_PQ) {
        size_t t = (size_t)c->pq.m * c->pq.ksub;
        if (vs_ivf_is_l2(ix) && !c->by_residual) {
            /* Codes of the vectors themselves: ||q_j - p_jc||^2, one table for every list. */
            if (c->pnorm) {
                s->tabk(c->ct, q, c->pq.m, c->pq.dsub, -2.0f, s->ltab);
                s->lutk(c->pnorm, s->ltab, c->pq.m, s->tab, s->lut, &s->lut_bias, &s->lut_scale);
                s->lut_bias += s->qnorm;
            } else {
                vs_pq_table_l2(&c->pq, q, s->tab);
                if (c->fastscan) s->lutk(s->tab, NULL, c->pq.m, NULL, s->lut, &s->lut_bias, &s->lut_scale);
            }
        } else if (c->ct && (!vs_ivf_is_l2(ix) || c->term2)) {
            s->tabk(c->ct, q, c->pq.m, c->pq.dsub, vs_ivf_is_l2(ix) ? -2.0f : -1.0f, s->tab);
            if (!vs_ivf_is_l2(ix)) s->lutk(s->tab, NULL, c->pq.m, NULL, s->lut, &s->lut_bias, &s->lut_scale);
        } else if (!vs_ivf_is_l2(ix)) {
            vs_pq_table_ip(&c->pq, q, s->tab);
            for (size_t i = 0; i < t; i++) s->tab[i] = -s->tab[i];
            /* Every list shares the table (only the centroid term differs): quantise once. */
            if (c->fastscan) s->lutk(s->tab, NULL, c->pq.m, NULL, s->lut, &s->lut_bias, &s->lut_scale);
        } else if (c->term2) {
            vs_pq_table_ip(&c->pq, q, s->tab);
            for (size_t i = 0; i < t; i++) s->tab[i] *= -2;
        }
    } else if (s->has_sqq) {
        vs_sq_query_set(&s->sqq, q);
    }
}

float vs_ivf_scanner_set_list(vs_ivf_scanner *s, const vs_index *ix, const float *q, size_t l,
                              const float *coarse, float *fs_scale)
{
    const vs_ivf *v = ix->impl;
    const vs_ivf_codec *c = &v->codec;
    const vs_kernel_table *kt = vs_kernels();
    if (c->kind != VS_CODE_PQ) return 0;
    const float *cen = v->centroids + l * ix->dim;
    const size_t t = (size_t)c->pq.m * c->pq.ksub;
    const int l2 = vs_ivf_is_l2(ix);
    if (c->fastscan) {
        /* The centroid term comes from the coarse search when it is given (as FAISS), so a
         * probe costs O(m * 16), not O(dim): the table term2[l] + tab is built and quantised
         * in one pass. */
        float bias, qbias;
        if (!c->by_residual) { /* the query's table, the same for every list */
            *fs_scale = s->lut_scale;
            return s->lut_bias;
        }
        if (!l2) {
            bias = coarse ? *coarse : -kt->dot(q, cen, ix->dim);
            *fs_scale = s->lut_scale;
            return bias + s->lut_bias;
        }
        bias = coarse ? *coarse + s->qnorm : kt->l2sq(q, cen, ix->dim);
        if (c->term2) {
            s->lutk(c->term2 + l * t, s->tab, c->pq.m, s->ltab, s->lut, &qbias, fs_scale);
        } else {
            for (uint32_t j = 0; j < ix->dim; j++) s->resid[j] = q[j] - cen[j];
            vs_pq_table_l2(&c->pq, s->resid, s->ltab);
            s->lutk(s->ltab, NULL, c->pq.m, NULL, s->lut, &qbias, fs_scale);
        }
        return bias + qbias;
    }
    float bias = 0;
    const float *table = s->tab;
    if (!c->by_residual) {
        /* The query's table (L2 or negated inner product) with no centroid term. */
    } else if (l2) {
        if (c->term2) {
            const float *T = c->term2 + l * t;
            for (size_t i = 0; i < t; i++) s->ltab[i] = T[i] + s->tab[i];
            bias = kt->l2sq(q, cen, ix->dim);
        } else {
            for (uint32_t j = 0; j < ix->dim; j++) s->resid[j] = q[j] - cen[j];
            vs_pq_table_l2(&c->pq, s->resid, s->ltab);
        }
        table = s->ltab;
    } else {
        bias = -kt->dot(q, cen, ix->dim);
    }
    s->cur = table;
    return bias;
}

void vs_ivf_scanner_keys(vs_ivf_scanner *s, const vs_index *ix, const float *q, size_t l, float list_bias,
                         float fs_scale, size_t j0, size_t bn, float *keys)
{
    const vs_ivf *v = ix->impl;
    const vs_ivf_codec *c = &v->codec;
    const vs_ivf_list *L = &v->lists[l];
    const vs_kernel_table *kt = vs_kernels();
    switch (c->kind) {
    case VS_CODE_FLAT: {
        const float *x = (const float *)(const void *)L->codes + j0 * ix->dim;
        if (vs_ivf_is_l2(ix)) {
            kt->l2sq_many(q, x, bn, ix->dim, keys);
        } else {
            kt->dot_many(q, x, bn, ix->dim, keys);
            for (size_t j = 0; j < bn; j++) keys[j] = -keys[j];
        }
        return;
    }
    case VS_CODE_PQ:
        if (!c->fastscan) {
            vs_pq_scan(&c->pq, s->cur, list_bias, L->codes + j0 * c->code_size, bn, keys);
            return;
        }
        {
            vs_fs_block_fn kern = vs_fs_block_kernel();
            const size_t bb = vs_fs_block_bytes(c->pq.m);
            const float inv = 1.0f / fs_scale;
            for (size_t b = j0 / VS_FS_BLOCK; b * VS_FS_BLOCK < j0 + bn; b++) {
                kern(L->codes + b * bb, s->lut, vs_fs_pairs(c->pq.m), 0, s->sums);
                for (unsigned u = 0; u < VS_FS_BLOCK; u++) {
                    size_t j = b * VS_FS_BLOCK + u;
                    if (j >= j0 && j < j0 + bn) keys[j - j0] = list_bias + (float)s->sums[u] * inv;
                }
            }
        }
        return;
    default:
        vs_sq_keys(&s->sqq, L->codes + j0 * c->code_size, bn, keys);
    }
}
