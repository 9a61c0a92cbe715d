/* k-NN over an IVF index (any codec).
 *
 * 1. Coarse search: the nprobe nearest centroids of every query at once, through sgemm tiles
 *    (quant/kmeans.c), never an nq x nlist matrix.
 * 2. Each query scans its lists nearest first: the codec's keys for a block of rows
 *    (ivf_scan.c), then select_lt drops every row that cannot beat the current k-th best
 *    before the heap is touched. Flat keys are computed directly (not in the GEMM form), so
 *    they are exact. Fast-scan lists compare 16-bit sums with the k-th best converted to the
 *    list's table scale inside the SIMD kernel, and only survivors are converted back.
 * 3. A filter is applied to the survivors of select_lt, so filtering costs nothing for rows
 *    that would not have entered the heap anyway. If the nprobe lists yield fewer than k
 *    results (a selective filter, or small lists), the query keeps visiting lists in order
 *    of centroid distance until it has k or has seen every list: k results come back
 *    whenever k vectors pass the filter.
 *
 * Threads take chunks of queries; each query is handled by one thread, so results do not
 * depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/ivf.h"
#include "kernels/kernels.h"
#include "kernels/topk.h"
#include "quant/fastscan.h"
#include "quant/kmeans.h"

enum { ROW_BLOCK = 1024, QUERY_CHUNK = 8, MAX_WORKERS = 256 };

typedef struct {
    vs_ivf_scanner sc;
    vs_reservoir res;  /* fast-scan candidates, flushed into the heap after the lists */
    float *row;        /* ROW_BLOCK keys */
    uint32_t *pos;     /* ROW_BLOCK survivors */
    float *ckeys;      /* nlist: full centroid order, only when extra probing is needed */
    int64_t *clists;
    uint8_t *visited;  /* nlist */
} worker_scratch;

typedef struct {
    const vs_index *ix;
    const vs_ivf *v;
    const float *q;
    size_t nq;
    uint32_t k, nprobe;
    const vs_filter *filter;
    const int64_t *probe;   /* nq x nprobe nearest lists */
    const float *pkeys;     /* their coarse keys */
    float *keys;
    int64_t *ids;
    worker_scratch *ws;
} search_job;

/* Fast-scan: the heap root in integer units of this list's table. The SIMD filter admits
 * sums up to floor(t) + 1 and the reservoir makes the exact float test (key <= root): the
 * margin covers the rounding of t, so every candidate that ties or beats the root reaches the
 * reservoir whatever order lists come in, and with the reservoir's (key, label) cut the
 * result does not depend on that order (the query-block path below relies on it). */
static uint32_t fs_threshold(float root, float bias, float scale)
{
    float t = (root - bias) * scale;
    if (t >= 4.0e9f) return UINT32_MAX;
    if (!(t > -1.0f)) return 0;
    return (uint32_t)(t + 1.0f) + 1;
}

static void fs_push(const search_job *J, vs_reservoir *res, const vs_ivf_list *L, size_t b, uint32_t mask,
                    const uint32_t *sums, float bias, float scale, uint32_t *thr)
{
    const int filtered = J->filter && J->filter->kind != VS_FILTER_NONE;
    const float inv = 1.0f / scale;
    size_t left = L->n - b * VS_FS_BLOCK;
    if (left < VS_FS_BLOCK) mask &= (1u << left) - 1; /* padding of the last block */
    float seen = res->thr;
    while (mask) {
        unsigned u = (unsigned)__builtin_ctz(mask);
        mask &= mask - 1;
        int64_t id = L->ids[b * VS_FS_BLOCK + u];
        if (filtered && !vs_filter_allows(J->filter, id)) continue;
        vs_reservoir_push(res, bias + (float)sums[u] * inv, id);
        if (res->thr != seen) { /* the reservoir was cut: tighten the SIMD threshold */
            seen = res->thr;
            *thr = fs_threshold(seen, bias, scale);
        }
    }
}

static void scan_fastscan(const search_job *J, worker_scratch *w, size_t l, float bias, float scale)
{
    const vs_ivf_codec *c = &J->v->codec;
    const vs_ivf_list *L = &J->v->lists[l];
    const vs_fs_block_fn kern = vs_fs_block_kernel();
    const size_t bb = vs_fs_block_bytes(c->pq.m);
    const uint32_t pairs = vs_fs_pairs(c->pq.m);
    uint32_t thr = fs_threshold(w->res.thr, bias, scale);
    for (size_t b = 0; b * VS_FS_BLOCK < L->n; b++) {
        uint32_t mask = kern(L->codes + b * bb, w->sc.lut, pairs, thr, w->sc.sums);
        fs_push(J, &w->res, L, b, mask, w->sc.sums, bias, scale, &thr);
    }
}

/* Scans one inverted list into the query's heap. */
static void scan_list(const search_job *J, worker_scratch *w, const float *q, size_t l, const float *coarse,
                      float *kh, int64_t *lh)
{
    const vs_kernel_table *kt = vs_kernels();
    const vs_ivf_list *L = &J->v->lists[l];
    const size_t k = J->k;
    const int filtered = J->filter && J->filter->kind != VS_FILTER_NONE;
    if (L->n == 0) return;
    float scale = 1;
    float bias = vs_ivf_scanner_set_list(&w->sc, J->ix, q, l, coarse, &scale);
    if (J->v->codec.fastscan) {
        scan_fastscan(J, w, l, bias, scale); /* into w->res: search_query flushes it */
        return;
    }
    for (size_t j0 = 0; j0 < L->n; j0 += ROW_BLOCK) {
        size_t bn = L->n - j0 < ROW_BLOCK ? L->n - j0 : ROW_BLOCK;
        vs_ivf_scanner_keys(&w->sc, J->ix, q, l, bias, scale, j0, bn, w->row);
        size_t cnt = kt->select_lt(w->row, NULL, bn, kh[0], w->pos);
        for (size_t c = 0; c < cnt; c++) {
            size_t j = w->pos[c];
            int64_t id = L->ids[j0 + j];
            if (filtered && !vs_filter_allows(J->filter, id)) continue;
            vs_heap_push(kh, lh, k, w->row[j], id);
        }
    }
}

static void search_query(const search_job *J, worker_scratch *w, size_t i)
{
    const vs_ivf *v = J->v;
    const size_t d = J->ix->dim, k = J->k;
    const float *q = J->q + i * d;
    float *kh = J->keys + i * k;
    int64_t *lh = J->ids + i * k;
    const int64_t *probe = J->probe + i * J->nprobe;
    const float *pk = J->pkeys + i * J->nprobe;
    const int fs = v->codec.fastscan;
    vs_heap_reset(kh, lh, k);
    if (fs) vs_reservoir_reset(&w->res);
    vs_ivf_scanner_set_query(&w->sc, J->ix, q);
    for (uint32_t p = 0; p < J->nprobe; p++)
        if (probe[p] >= 0) scan_list(J, w, q, (size_t)probe[p], pk + p, kh, lh);
    if (fs && w->res.n >= k) {
        /* k candidates found: the reservoir's best k, sorted, are the answer (pushing them
         * through the heap would cost k log k). */
        vs_reservoir_best(&w->res, kh, lh);
        return;
    }
    if (fs) vs_reservoir_flush(&w->res, kh, lh, k);
    /* The heap's root is a sentinel while fewer than k results were found. */
    if (lh[0] < 0 && J->nprobe < v->nlist) {
        const vs_kernel_table *kt = vs_kernels();
        if (vs_ivf_is_l2(J->ix)) {
            kt->l2sq_many(q, v->centroids, v->nlist, d, w->ckeys);
        } else {
            kt->dot_many(q, v->centroids, v->nlist, d, w->ckeys);
            for (uint32_t l = 0; l < v->nlist; l++) w->ckeys[l] = -w->ckeys[l];
        }
        for (uint32_t l = 0; l < v->nlist; l++) w->clists[l] = l;
        vs_pairs_sort(w->ckeys, w->clists, v->nlist);
        /* The exact order may differ from the GEMM order in the last bit: skip by identity. */
        for (uint32_t p = 0; p < J->nprobe; p++)
            if (probe[p] >= 0) w->visited[probe[p]] = 1;
        for (uint32_t r = 0; r < v->nlist && lh[0] < 0; r++) {
            int64_t l = w->clists[r];
            if (w->visited[l]) continue;
            scan_list(J, w, q, (size_t)l, NULL, kh, lh);
            if (fs) vs_reservoir_flush(&w->res, kh, lh, k);
        }
        for (uint32_t p = 0; p < J->nprobe; p++)
            if (probe[p] >= 0) w->visited[probe[p]] = 0;
    }
    vs_heap_sort(kh, lh, k);
}

static void search_task(size_t task, unsigned worker, void *ctx)
{
    const search_job *J = ctx;
    size_t q0 = task * QUERY_CHUNK, q1 = q0 + QUERY_CHUNK < J->nq ? q0 + QUERY_CHUNK : J->nq;
    for (size_t i = q0; i < q1; i++) search_query(J, &J->ws[worker], i);
}

static void free_scratch(worker_scratch *ws, unsigned n)
{
    for (unsigned i = 0; ws && i < n; i++) {
        free(ws[i].row);
        free(ws[i].pos);
        free(ws[i].ckeys);
        free(ws[i].clists);
        free(ws[i].visited);
        vs_ivf_scanner_destroy(&ws[i].sc);
        vs_reservoir_free(&ws[i].res);
    }
    free(ws);
}

int vs_ivf_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                  float *keys, int64_t *ids)
{
    const vs_ivf *v = ix->impl;
    uint32_t nprobe = p && p->nprobe ? p->nprobe : VS_IVF_DEFAULT_NPROBE;
    if (nprobe > v->nlist) nprobe = v->nlist;
    unsigned threads = p && p->n_threads > 1 ? p->n_threads : 1;
    if (threads > MAX_WORKERS) threads = MAX_WORKERS;
    size_t tasks = (nq + QUERY_CHUNK - 1) / QUERY_CHUNK;
    if (threads > tasks) threads = (unsigned)tasks;

    search_job J = {.ix = ix, .v = v, .q = q, .nq = nq, .k = k, .nprobe = nprobe,
                    .filter = p ? p->filter : NULL, .keys = keys, .ids = ids};
    float *pkeys = malloc(nq * nprobe * sizeof *pkeys);
    int64_t *probe = malloc(nq * nprobe * sizeof *probe);
    J.ws = calloc(threads, sizeof *J.ws);
    int ok = pkeys && probe && J.ws;
    for (unsigned w = 0; ok && w < threads; w++) {
        worker_scratch *s = &J.ws[w];
        s->row = malloc(ROW_BLOCK * sizeof *s->row);
        s->pos = malloc(ROW_BLOCK * sizeof *s->pos);
        s->ckeys = malloc(v->nlist * sizeof *s->ckeys);
        s->clists = malloc(v->nlist * sizeof *s->clists);
        s->visited = calloc(v->nlist, 1);
        ok = s->row && s->pos && s->ckeys && s->clists && s->visited && !vs_ivf_scanner_init(&s->sc, ix) &&
             (!v->codec.fastscan || !vs_reservoir_init(&s->res, k));
    }
    int rc = ok ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for IVF search scratch");
    if (!rc) rc = vs_nearest_centroids(nq, ix->dim, q, v->nlist, v->centroids, v->cnorms, nprobe, threads, pkeys, probe);
    if (!rc) {
        J.probe = probe;
        J.pkeys = pkeys;
        vs_parallel_for(tasks, threads, search_task, &J);
    }
    free_scratch(J.ws, threads);
    free(pkeys);
    free(probe);
    return rc;
}
