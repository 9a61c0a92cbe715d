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

enum { ROW_BLOCK = 1024, QUERY_CHUNK = 8, QBLOCK = 64, MAX_WORKERS = 256 };

typedef struct {
    vs_ivf_scanner sc;
    uint32_t k;        /* the reservoir's k */
    vs_reservoir res;  /* fast-scan candidates, flushed into the heap after the lists */
    vs_reservoir *rp;  /* the reservoir of the query being scanned (res, or one of qres) */
    /* Query-block fast-scan (search_block): per query of a block its table (L2: the -2<q, p>
     * part; inner product: the quantised table), norm, table bias and scale, and reservoir;
     * VS_FS_QB per-list tables; the (list, query) pairs of the block. */
    float *qtab;
    uint8_t *qlut, *glut;
    float *qnorm, *qbias, *qscale;
    vs_reservoir *qres;
    struct probe_ref *refs;
    uint32_t qsums[VS_FS_QB * VS_FS_BLOCK];
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
    int block;              /* fast-scan query blocks (search_block) */
    int unsorted;           /* a query's results may stay in any order */
    vs_fs_collect_fn collect;
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
    if (!mask) return;
    if (!filtered) {
        /* The whole block at once (SIMD compress), then one cut if the reservoir is full: the
         * candidates a cut in between would have refused are worse than its k-th and lose
         * at the next cut, so the kept set is the same. */
        res->n += J->collect(sums, mask, bias, inv, res->thr, L->ids + b * VS_FS_BLOCK, res->keys + res->n,
                             res->labels + res->n);
        if (res->n >= res->cap) {
            vs_reservoir_shrink(res);
            *thr = fs_threshold(res->thr, bias, scale);
        }
        return;
    }
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
    uint32_t thr = fs_threshold(w->rp->thr, bias, scale);
    for (size_t b = 0; b * VS_FS_BLOCK < L->n; b++) {
        uint32_t mask = kern(L->codes + b * bb, w->sc.lut, pairs, thr, w->sc.sums);
        fs_push(J, w->rp, L, b, mask, w->sc.sums, bias, scale, &thr);
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
        scan_fastscan(J, w, l, bias, scale); /* into *w->rp: finish_query flushes it */
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

/* After the nprobe lists of query i, whose candidates are in *w->rp: its k results. */
static void finish_query(const search_job *J, worker_scratch *w, size_t i)
{
    const vs_ivf *v = J->v;
    const size_t d = J->ix->dim, k = J->k;
    const float *q = J->q + i * d;
    float *kh = J->keys + i * k;
    int64_t *lh = J->ids + i * k;
    const int64_t *probe = J->probe + i * J->nprobe;
    const int fs = v->codec.fastscan;
    if (fs) vs_heap_reset(kh, lh, k); /* the lists went to the reservoir, not the heap */
    if (fs && w->rp->n >= k) {
        /* k candidates found: the reservoir's best k, sorted, are the answer (pushing them
         * through the heap would cost k log k); re-ranking candidates need no order. */
        if (J->unsorted) vs_reservoir_take(w->rp, kh, lh);
        else vs_reservoir_best(w->rp, kh, lh);
        return;
    }
    if (fs) vs_reservoir_flush(w->rp, kh, lh, k);
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
            if (fs) vs_reservoir_flush(w->rp, kh, lh, k);
        }
        for (uint32_t p = 0; p < J->nprobe; p++)
            if (probe[p] >= 0) w->visited[probe[p]] = 0;
    }
    vs_heap_sort(kh, lh, k);
}

static void search_query(const search_job *J, worker_scratch *w, size_t i)
{
    const size_t d = J->ix->dim, k = J->k;
    const float *q = J->q + i * d;
    float *kh = J->keys + i * k;
    int64_t *lh = J->ids + i * k;
    const int64_t *probe = J->probe + i * J->nprobe;
    const float *pk = J->pkeys + i * J->nprobe;
    w->rp = &w->res;
    vs_heap_reset(kh, lh, k);
    vs_reservoir_reset(w->rp);
    vs_ivf_scanner_set_query(&w->sc, J->ix, q);
    for (uint32_t p = 0; p < J->nprobe; p++)
        if (probe[p] >= 0) scan_list(J, w, q, (size_t)probe[p], pk + p, kh, lh);
    finish_query(J, w, i);
}

struct probe_ref {
    uint32_t wave;     /* 0: the query's nearest list, scanned first to set its threshold */
    uint32_t list, qi; /* list, query within the block */
    float coarse;      /* the list's coarse key for the query */
};

static int ref_cmp(const void *a, const void *b)
{
    const struct probe_ref *x = a, *y = b;
    if (x->wave != y->wave) return x->wave < y->wave ? -1 : 1;
    if (x->list != y->list) return x->list < y->list ? -1 : 1;
    return (x->qi > y->qi) - (x->qi < y->qi);
}

/* Query-block fast-scan (as FAISS's IndexIVFFastScan search_implem_12): the (query, list)
 * pairs of up to QBLOCK queries are grouped by list (each query's nearest list first, in a
 * wave of its own, so that its threshold is tight before the shared scans), and each code block of a list is loaded
 * once for up to VS_FS_QB of its queries (vs_fs_block_qb). Keys, tables and the reservoir
 * rules are those of the per-query path, and the reservoir's result does not depend on the
 * order lists are scanned in, so the results are identical to it. */
static void search_block(const search_job *J, worker_scratch *w, size_t q0, size_t q1)
{
    const vs_ivf *v = J->v;
    const vs_ivf_codec *c = &v->codec;
    const size_t d = J->ix->dim;
    const uint32_t m = c->pq.m, pairs = vs_fs_pairs(m);
    const size_t t = (size_t)m * 16, lb = vs_fs_block_bytes(m), bb = vs_fs_block_bytes(m);
    const int per_list = !vs_ivf_shared_table(J->ix), resid = c->by_residual;
    const vs_fs_block_qb_fn kern = vs_fs_block_qb_kernel();
    size_t nref = 0;
    for (size_t i = q0; i < q1; i++) {
        size_t qi = i - q0;
        vs_ivf_scanner_set_query(&w->sc, J->ix, J->q + i * d);
        if (per_list) {
            memcpy(w->qtab + qi * t, w->sc.tab, t * sizeof *w->qtab);
        } else {
            memcpy(w->qlut + qi * lb, w->sc.lut, lb);
            w->qbias[qi] = w->sc.lut_bias;
            w->qscale[qi] = w->sc.lut_scale;
        }
        w->qnorm[qi] = w->sc.qnorm;
        vs_reservoir_reset(&w->qres[qi]);
        for (uint32_t p = 0; p < J->nprobe; p++) {
            int64_t l = J->probe[i * J->nprobe + p];
            if (l < 0 || v->lists[l].n == 0) continue;
            w->refs[nref++] = (struct probe_ref){p > 0, (uint32_t)l, (uint32_t)qi, J->pkeys[i * J->nprobe + p]};
        }
    }
    qsort(w->refs, nref, sizeof *w->refs, ref_cmp);
    const uint8_t *luts[VS_FS_QB];
    float bias[VS_FS_QB], scale[VS_FS_QB];
    uint32_t thr[VS_FS_QB], masks[VS_FS_QB];
    for (size_t r0 = 0; r0 < nref;) {
        size_t l = w->refs[r0].list, r1 = r0;
        while (r1 < nref && w->refs[r1].list == l && w->refs[r1].wave == w->refs[r0].wave && r1 - r0 < VS_FS_QB) r1++;
        unsigned ng = (unsigned)(r1 - r0);
        for (unsigned g = 0; g < ng; g++) {
            const struct probe_ref *R = &w->refs[r0 + g];
            if (per_list) {
                float qb;
                uint8_t *dst = w->glut + g * lb;
                w->sc.lutk(c->term2 + l * t, w->qtab + R->qi * t, m, w->sc.ltab, dst, &qb, &scale[g]);
                bias[g] = R->coarse + w->qnorm[R->qi] + qb;
                luts[g] = dst;
            } else {
                luts[g] = w->qlut + R->qi * lb;
                scale[g] = w->qscale[R->qi];
                bias[g] = (resid ? R->coarse : 0.0f) + w->qbias[R->qi];
            }
            thr[g] = fs_threshold(w->qres[R->qi].thr, bias[g], scale[g]);
        }
        const vs_ivf_list *L = &v->lists[l];
        for (size_t b = 0; b * VS_FS_BLOCK < L->n; b++) {
            kern(L->codes + b * bb, luts, ng, pairs, thr, w->qsums, masks);
            for (unsigned g = 0; g < ng; g++)
                fs_push(J, &w->qres[w->refs[r0 + g].qi], L, b, masks[g], w->qsums + g * VS_FS_BLOCK, bias[g], scale[g],
                        &thr[g]);
        }
        r0 = r1;
    }
    for (size_t i = q0; i < q1; i++) {
        w->rp = &w->qres[i - q0];
        if (w->rp->n < J->k && J->nprobe < v->nlist) /* extra probing scans with this query's table */
            vs_ivf_scanner_set_query(&w->sc, J->ix, J->q + i * d);
        finish_query(J, w, i);
    }
}

static void search_task(size_t task, unsigned worker, void *ctx)
{
    const search_job *J = ctx;
    size_t chunk = J->block ? QBLOCK : QUERY_CHUNK;
    size_t q0 = task * chunk, q1 = q0 + chunk < J->nq ? q0 + chunk : J->nq;
    if (J->block) {
        search_block(J, &J->ws[worker], q0, q1);
        return;
    }
    for (size_t i = q0; i < q1; i++) search_query(J, &J->ws[worker], i);
}

static void free_worker(worker_scratch *w)
{
    free(w->row);
    free(w->pos);
    free(w->ckeys);
    free(w->clists);
    free(w->visited);
    vs_ivf_scanner_destroy(&w->sc);
    vs_reservoir_free(&w->res);
    free(w->qtab);
    free(w->qlut);
    free(w->glut);
    free(w->qnorm);
    free(w->qbias);
    free(w->qscale);
    free(w->refs);
    for (unsigned r = 0; w->qres && r < QBLOCK; r++) vs_reservoir_free(&w->qres[r]);
    free(w->qres);
}

static void free_scratch(worker_scratch *ws, unsigned n)
{
    for (unsigned i = 0; ws && i < n; i++) free_worker(&ws[i]);
    free(ws);
}

/* The kept scratch of a one-thread, per-query search: one worker and the coarse results of
 * up to `cap` (query, probe) pairs. */
struct vs_ivf_scratch {
    worker_scratch *ws;
    float *pkeys;
    int64_t *probe;
    size_t cap;
    int level;         /* SIMD level its scanner's kernels were chosen at */
};

static void drop(struct vs_ivf_scratch *s)
{
    if (!s) return;
    free_scratch(s->ws, 1);
    free(s->pkeys);
    free(s->probe);
    free(s);
}

void vs_ivf_scratch_drop(vs_ivf *v) { drop(atomic_exchange(&v->scratch, NULL)); }

/* VECSCALE_IVF_QUERY_BLOCK=1 turns the query-block path on for fast-scan batches. It is off
 * by default: on this 2-core Sapphire Rapids it measured no faster than the per-query path
 * (Fashion-MNIST PQ196: 2.7 against 2.2 us per probe, GloVe PQ50: 0.84 against 0.71; the
 * per-probe table build, not the code loads, dominates). Tests and benchmarks compare the two
 * on the same coarse search (one query searched alone can get coarse keys that differ in the
 * last bit: its sgemm is blocked differently). */
static int query_blocks_enabled(void)
{
    const char *e = getenv("VECSCALE_IVF_QUERY_BLOCK");
    return e && e[0] == '1' && e[1] == 0;
}

static int ivf_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                      float *keys, int64_t *ids, int unsorted)
{
    const vs_ivf *v = ix->impl;
    uint32_t nprobe = p && p->nprobe ? p->nprobe : VS_IVF_DEFAULT_NPROBE;
    if (nprobe > v->nlist) nprobe = v->nlist;
    unsigned threads = p && p->n_threads > 1 ? p->n_threads : 1;
    if (threads > MAX_WORKERS) threads = MAX_WORKERS;
    const vs_ivf_codec *codec = &v->codec;
    /* Query blocks for a fast-scan batch whose per-list tables come from term2 (or are shared
     * by all lists, inner product); one query per call takes the per-query path. */
    int block = codec->fastscan && nq > 1 && (vs_ivf_shared_table(ix) || codec->term2) && query_blocks_enabled();
    size_t chunk = block ? QBLOCK : QUERY_CHUNK;
    size_t tasks = (nq + chunk - 1) / chunk;
    if (threads > tasks) threads = (unsigned)tasks;

    search_job J = {.ix = ix, .v = v, .q = q, .nq = nq, .k = k, .nprobe = nprobe,
                    .filter = p ? p->filter : NULL, .keys = keys, .ids = ids, .block = block,
                    .unsorted = unsorted, .collect = vs_fs_collect_kernel()};
    /* One thread, per-query path: reuse the scratch the previous such search left, if its
     * reservoir has this k and its coarse arrays are large enough. The cache is not index
     * state (a const search may take it): the atomic exchange gives it to one search. */
    const int reuse = threads == 1 && !block;
    vs_ivf *mv = (vs_ivf *)v;
    struct vs_ivf_scratch *kept = reuse ? atomic_exchange(&mv->scratch, NULL) : NULL;
    if (kept && (kept->ws->k != k || kept->cap < nq * nprobe || kept->level != (int)vs_simd_active())) {
        drop(kept);
        kept = NULL;
    }
    float *pkeys = kept ? kept->pkeys : malloc(nq * nprobe * sizeof *pkeys);
    int64_t *probe = kept ? kept->probe : malloc(nq * nprobe * sizeof *probe);
    J.ws = kept ? kept->ws : calloc(threads, sizeof *J.ws);
    int ok = pkeys && probe && J.ws;
    for (unsigned w = 0; ok && !kept && w < threads; w++) {
        worker_scratch *s = &J.ws[w];
        s->k = k;
        s->row = malloc(ROW_BLOCK * sizeof *s->row);
        s->pos = malloc(ROW_BLOCK * sizeof *s->pos);
        s->ckeys = malloc(v->nlist * sizeof *s->ckeys);
        s->clists = malloc(v->nlist * sizeof *s->clists);
        s->visited = calloc(v->nlist, 1);
        ok = s->row && s->pos && s->ckeys && s->clists && s->visited && !vs_ivf_scanner_init(&s->sc, ix) &&
             (!v->codec.fastscan || !vs_reservoir_init(&s->res, k));
        if (ok && block) {
            size_t t = (size_t)codec->pq.m * 16, lb = vs_fs_block_bytes(codec->pq.m);
            s->qtab = vs_ivf_shared_table(ix) ? NULL : malloc(QBLOCK * t * sizeof *s->qtab);
            s->qlut = vs_ivf_shared_table(ix) ? malloc(QBLOCK * lb) : NULL;
            s->glut = malloc(VS_FS_QB * lb);
            s->qnorm = malloc(QBLOCK * sizeof *s->qnorm);
            s->qbias = malloc(QBLOCK * sizeof *s->qbias);
            s->qscale = malloc(QBLOCK * sizeof *s->qscale);
            s->refs = malloc((size_t)QBLOCK * nprobe * sizeof *s->refs);
            s->qres = calloc(QBLOCK, sizeof *s->qres);
            ok = (s->qtab || s->qlut) && s->glut && s->qnorm && s->qbias && s->qscale && s->refs && s->qres;
            for (unsigned r = 0; ok && r < QBLOCK; r++) ok = !vs_reservoir_init(&s->qres[r], k);
        }
    }
    int rc = ok ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for IVF search scratch");
    if (!rc) rc = vs_nearest_centroids(nq, ix->dim, q, v->nlist, v->centroids, v->cnorms, nprobe, threads, pkeys, probe);
    if (!rc) {
        J.probe = probe;
        J.pkeys = pkeys;
        vs_parallel_for(tasks, threads, search_task, &J);
    }
    if (ok && reuse) {
        struct vs_ivf_scratch *box = kept ? kept : malloc(sizeof *box);
        if (box) {
            *box = (struct vs_ivf_scratch){.ws = J.ws, .pkeys = pkeys, .probe = probe, .cap = nq * nprobe,
                                           .level = vs_simd_active()};
            struct vs_ivf_scratch *none = NULL;
            if (atomic_compare_exchange_strong(&mv->scratch, &none, box)) return rc;
            free(box); /* another search returned its scratch first: free ours */
        }
    }
    free_scratch(J.ws, threads);
    free(pkeys);
    free(probe);
    return rc;
}

int vs_ivf_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                  float *keys, int64_t *ids)
{
    return ivf_search(ix, nq, q, k, p, keys, ids, 0);
}

int vs_ivf_search_candidates(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                             float *keys, int64_t *ids)
{
    return ivf_search(ix, nq, q, k, p, keys, ids, 1);
}
