/* Exact k-NN over a Flat index.
 *
 * Batches go through OpenBLAS sgemm in tiles of QUERY_BLOCK x vs_flat_base_block(d), never an
 * nq x n matrix. Each block row is filtered against its query's current k-th best key by a
 * SIMD kernel before touching the heap (selection fused per block), so after warm-up almost
 * no element reaches the heap. For L2 the key is ||x||^2 - 2<q,x> (||q||^2 is constant per
 * query); the final k are re-scored exactly with the SIMD kernel, which also repairs the
 * cancellation error of the GEMM form. Few queries skip GEMM and scan with the SIMD kernels.
 *
 * Threads: with enough queries each worker takes query blocks; otherwise workers take base
 * chunks with private heaps that are merged at the end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/flat.h"
#include "kernels/blas.h"
#include "kernels/kernels.h"
#include "kernels/topk.h"

enum {
    QUERY_BLOCK = VS_FLAT_QUERY_BLOCK,
    MAX_BASE_BLOCK = VS_FLAT_MAX_BASE_BLOCK,
    GEMM_MIN_QUERIES = 4, /* below this, sgemm's packing costs more than it saves */
    MAX_WORKERS = 256,
};

typedef struct {
    float *gemm;  /* QUERY_BLOCK x MAX_BASE_BLOCK */
    float *row;   /* MAX_BASE_BLOCK, for the direct path */
    uint32_t *pos;
    float *keys;  /* base-split mode: this worker's heaps, nq x k */
    int64_t *labels;
} worker_scratch;

typedef struct {
    const vs_index *ix;
    const vs_flat *f;
    const float *q;
    size_t nq;
    uint32_t k;
    const float *gemm_bias;   /* norms (L2) and/or filter mask, or NULL */
    const float *direct_bias; /* filter mask only, or NULL */
    int split_base;
    size_t base_chunk;
    float *keys;              /* query-split mode: final heaps */
    int64_t *labels;
    worker_scratch *ws;
} search_job;

static void scan_gemm(const search_job *J, worker_scratch *w, size_t q0, size_t qn, size_t b0, size_t b1,
                      float *keys, int64_t *labels)
{
    const vs_kernel_table *kt = vs_kernels();
    const size_t d = J->ix->dim, k = J->k;
    const float alpha = J->ix->metric == VS_METRIC_L2 ? -2.0f : -1.0f;
    const size_t block = vs_flat_base_block(d);
    for (size_t j0 = b0; j0 < b1; j0 += block) {
        size_t bn = b1 - j0 < block ? b1 - j0 : block;
        vs_sgemm_abt(qn, bn, d, alpha, J->q + q0 * d, d, J->f->vecs + j0 * d, d, w->gemm, bn);
        const float *bias = J->gemm_bias ? J->gemm_bias + j0 : NULL;
        for (size_t r = 0; r < qn; r++) {
            float *kh = keys + r * k;
            int64_t *lh = labels + r * k;
            const float *row = w->gemm + r * bn;
            size_t cnt = kt->select_lt(row, bias, bn, kh[0], w->pos);
            for (size_t c = 0; c < cnt; c++) {
                size_t j = w->pos[c];
                vs_heap_push(kh, lh, k, row[j] + (bias ? bias[j] : 0.0f), (int64_t)(j0 + j));
            }
        }
    }
}

static void scan_direct(const search_job *J, worker_scratch *w, size_t q0, size_t qn, size_t b0, size_t b1,
                        float *keys, int64_t *labels)
{
    const vs_kernel_table *kt = vs_kernels();
    const size_t d = J->ix->dim, k = J->k;
    const int l2 = J->ix->metric == VS_METRIC_L2;
    for (size_t r = 0; r < qn; r++) {
        const float *q = J->q + (q0 + r) * d;
        float *kh = keys + r * k;
        int64_t *lh = labels + r * k;
        for (size_t j0 = b0; j0 < b1; j0 += MAX_BASE_BLOCK) {
            size_t bn = b1 - j0 < MAX_BASE_BLOCK ? b1 - j0 : MAX_BASE_BLOCK;
            const float *x = J->f->vecs + j0 * d;
            if (l2) {
                kt->l2sq_many(q, x, bn, d, w->row);
            } else {
                kt->dot_many(q, x, bn, d, w->row);
                for (size_t j = 0; j < bn; j++) w->row[j] = -w->row[j];
            }
            const float *bias = J->direct_bias ? J->direct_bias + j0 : NULL;
            size_t cnt = kt->select_lt(w->row, bias, bn, kh[0], w->pos);
            for (size_t c = 0; c < cnt; c++) {
                size_t j = w->pos[c];
                vs_heap_push(kh, lh, k, w->row[j] + (bias ? bias[j] : 0.0f), (int64_t)(j0 + j));
            }
        }
    }
}

/* Updates the heaps of queries [q0, q0+qn) with base rows [b0, b1). */
static void scan(const search_job *J, worker_scratch *w, size_t q0, size_t qn, size_t b0, size_t b1,
                 float *keys, int64_t *labels)
{
    for (size_t s = 0; s < qn; s += QUERY_BLOCK) {
        size_t n = qn - s < QUERY_BLOCK ? qn - s : QUERY_BLOCK;
        float *kk = keys + s * J->k;
        int64_t *ll = labels + s * J->k;
        if (n >= GEMM_MIN_QUERIES) scan_gemm(J, w, q0 + s, n, b0, b1, kk, ll);
        else scan_direct(J, w, q0 + s, n, b0, b1, kk, ll);
    }
}

static void run_task(size_t task, unsigned worker, void *ctx)
{
    const search_job *J = ctx;
    worker_scratch *w = &J->ws[worker];
    if (J->split_base) {
        size_t b0 = task * J->base_chunk;
        size_t b1 = b0 + J->base_chunk < J->f->n ? b0 + J->base_chunk : J->f->n;
        scan(J, w, 0, J->nq, b0, b1, w->keys, w->labels);
    } else {
        size_t q0 = task * QUERY_BLOCK;
        size_t qn = J->nq - q0 < QUERY_BLOCK ? J->nq - q0 : QUERY_BLOCK;
        scan(J, w, q0, qn, 0, J->f->n, J->keys + q0 * J->k, J->labels + q0 * J->k);
    }
}

/* Exact re-scoring of the winners, then (key, row) order and row -> user ID. */
static void finish_query(const search_job *J, size_t i, float *keys, int64_t *labels)
{
    const vs_kernel_table *kt = vs_kernels();
    const size_t d = J->ix->dim, k = J->k;
    const float *q = J->q + i * d;
    for (size_t j = 0; j < k; j++) {
        if (labels[j] < 0) continue;
        const float *x = J->f->vecs + (size_t)labels[j] * d;
        keys[j] = J->ix->metric == VS_METRIC_L2 ? kt->l2sq(q, x, d) : -kt->dot(q, x, d);
    }
    vs_pairs_sort(keys, labels, k);
    for (size_t j = 0; j < k; j++) {
        if (labels[j] >= 0) labels[j] = J->f->ids[labels[j]];
        else keys[j] = INFINITY;
    }
}

int vs_flat_row_bias(const vs_index *ix, const vs_filter *filter, int with_norms, float **out)
{
    const vs_flat *f = ix->impl;
    int filtered = filter && filter->kind != VS_FILTER_NONE;
    *out = NULL;
    if (!filtered && !with_norms) return VS_OK;
    float *b = malloc((f->n ? f->n : 1) * sizeof *b);
    if (!b) return vs_fail(VS_ERR_NOMEM, "out of memory for the filter mask");
    for (size_t i = 0; i < f->n; i++) {
        float v = with_norms ? f->norms[i] : 0.0f;
        b[i] = (!filtered || vs_filter_allows(filter, f->ids[i])) ? v : INFINITY;
    }
    *out = b;
    return VS_OK;
}

static void free_scratch(worker_scratch *ws, unsigned n)
{
    if (!ws) return;
    for (unsigned i = 0; i < n; i++) {
        free(ws[i].gemm);
        free(ws[i].row);
        free(ws[i].pos);
        free(ws[i].keys);
        free(ws[i].labels);
    }
    free(ws);
}

int vs_flat_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                   float *keys, int64_t *ids)
{
    const vs_flat *f = ix->impl;
    const vs_filter *filter = p ? p->filter : NULL;
    unsigned threads = p && p->n_threads > 1 ? p->n_threads : 1;
    if (threads > MAX_WORKERS) threads = MAX_WORKERS;
    int filtered = filter && filter->kind != VS_FILTER_NONE;
    int l2 = ix->metric == VS_METRIC_L2;

    search_job J = {.ix = ix, .f = f, .q = q, .nq = nq, .k = k, .keys = keys, .labels = ids};
    float *mask = NULL, *norm_bias = NULL;
    int rc = VS_OK;
    if (filtered) rc = vs_flat_row_bias(ix, filter, 0, &mask);
    if (!rc && l2 && filtered) rc = vs_flat_row_bias(ix, filter, 1, &norm_bias);
    if (rc) {
        free(mask);
        return rc;
    }
    J.direct_bias = mask;
    J.gemm_bias = l2 ? (filtered ? norm_bias : f->norms) : mask;

    size_t query_tasks = (nq + QUERY_BLOCK - 1) / QUERY_BLOCK;
    size_t n_tasks = query_tasks;
    if (threads > 1 && query_tasks < threads) {
        /* Too few queries to share: split the base instead, a few chunks per worker. */
        J.split_base = 1;
        size_t chunks = (size_t)threads * 4;
        J.base_chunk = (f->n + chunks - 1) / chunks;
        J.base_chunk = (J.base_chunk + MAX_BASE_BLOCK - 1) / MAX_BASE_BLOCK * MAX_BASE_BLOCK;
        n_tasks = (f->n + J.base_chunk - 1) / J.base_chunk;
    }
    if (threads > n_tasks) threads = (unsigned)n_tasks;

    J.ws = calloc(threads, sizeof *J.ws);
    int ok = J.ws != NULL;
    for (unsigned w = 0; ok && w < threads; w++) {
        worker_scratch *s = &J.ws[w];
        s->gemm = malloc(sizeof(float) * QUERY_BLOCK * MAX_BASE_BLOCK);
        s->row = malloc(sizeof(float) * MAX_BASE_BLOCK);
        s->pos = malloc(sizeof(uint32_t) * MAX_BASE_BLOCK);
        ok = s->gemm && s->row && s->pos;
        if (ok && J.split_base) {
            s->keys = malloc(sizeof(float) * nq * k);
            s->labels = malloc(sizeof(int64_t) * nq * k);
            ok = s->keys && s->labels;
            if (ok) vs_heap_reset(s->keys, s->labels, nq * k);
        }
    }
    if (!ok) {
        free_scratch(J.ws, J.ws ? threads : 0);
        free(mask);
        free(norm_bias);
        return vs_fail(VS_ERR_NOMEM, "out of memory for search scratch");
    }

    if (!J.split_base) vs_heap_reset(keys, ids, nq * k);
    vs_parallel_for(n_tasks, threads, run_task, &J);

    if (J.split_base) {
        vs_heap_reset(keys, ids, nq * k);
        for (unsigned w = 0; w < threads; w++)
            for (size_t i = 0; i < nq * k; i++)
                if (J.ws[w].labels[i] >= 0)
                    vs_heap_push(keys + (i / k) * k, ids + (i / k) * k, k, J.ws[w].keys[i], J.ws[w].labels[i]);
    }
    for (size_t i = 0; i < nq; i++) finish_query(&J, i, keys + i * k, ids + i * k);

    free_scratch(J.ws, threads);
    free(mask);
    free(norm_bias);
    return VS_OK;
}
