/* HNSW search: greedy descent through the upper layers, best-first search of layer 0 with a
 * candidate min-heap and an ef-bounded result max-heap, filters, and the exact fallback.
 *
 * Deleted and filtered-out nodes are traversed (they keep the graph connected) but never
 * enter the results. A filtered search on the graph keeps expanding until it holds ef
 * allowed nodes, which costs about 1/selectivity times an unfiltered one; when the sampled
 * selectivity makes that dearer than scanning the allowed set, or the graph walk returns
 * fewer than k while more pass, the query is answered exactly by a scan. So a query always
 * returns k results when k vectors pass. Queries of a batch are shared among threads. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/hnsw.h"
#include "kernels/topk.h"

int vs_hnsw_filter_strategy = 0;

/* Bench builds only (-DVS_HNSW_STATS): distance evaluations made by searches. */
#ifdef VS_HNSW_STATS
_Atomic unsigned long long vs_hnsw_stat_dist;
#define STAT_DIST() atomic_fetch_add_explicit(&vs_hnsw_stat_dist, 1, memory_order_relaxed)
#else
#define STAT_DIST() ((void)0)
#endif

/* --- binary heaps of (distance, node) --------------------------------------------------- */

static inline void min_push(vs_hnsw_pair *h, size_t *n, vs_hnsw_pair v)
{
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p].d <= v.d) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static inline vs_hnsw_pair min_pop(vs_hnsw_pair *h, size_t *n)
{
    vs_hnsw_pair top = h[0], v = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1].d < h[c].d) c++;
        if (h[c].d >= v.d) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

static inline void max_push(vs_hnsw_pair *h, size_t *n, vs_hnsw_pair v)
{
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p].d >= v.d) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static inline void max_pop(vs_hnsw_pair *h, size_t *n)
{
    vs_hnsw_pair v = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1].d > h[c].d) c++;
        if (h[c].d <= v.d) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

static int pair_cmp(const void *a, const void *b)
{
    const vs_hnsw_pair *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

void vs_hnsw_sort_pairs(vs_hnsw_pair *p, size_t n) { qsort(p, n, sizeof *p, pair_cmp); }

/* Replaces the top of a full max-heap with v (v.d < top): one sift-down instead of the
 * sift-up of a push plus the sift-down of a pop. */
static inline void max_replace_top(vs_hnsw_pair *h, size_t n, vs_hnsw_pair v)
{
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1].d > h[c].d) c++;
        if (h[c].d <= v.d) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

/* Prefetching. A search is bound by memory latency, not arithmetic: every distance reads a
 * vector at a random place in a large array. So the vectors of the next few unvisited
 * neighbours are requested ahead of the distance loop, keeping about PREFETCH_LINES cache
 * lines in flight (4 float32 vectors of 100 dimensions, 14 SQ8 codes); more only queues behind
 * the core's outstanding-miss limit. Measured on GloVe-100 (bench/RESULTS.md, hnsw_paired):
 * one vector ahead, as hnswlib does, left 1.2x of the speed on the table for float32 and 1.6x
 * for SQ8. The helpers are always inlined: GCC judges a function holding only prefetches to
 * have no effect and deletes the calls to it. */
#define PREFETCH_LINES 28u

static inline uint32_t prefetch_window(const vs_hnsw *h)
{
    size_t lines = (h->vec_bytes + (h->sq8_norm ? sizeof(float) : 0) + 63) / 64;
    size_t w = PREFETCH_LINES / (lines ? lines : 1);
    return w < 2 ? 2 : w > 16 ? 16 : (uint32_t)w;
}

/* The lines of node v's vector (or code), and its head line (ID, flags) when the caller will
 * read them too. Vectors longer than 16 lines are streamed by the hardware prefetcher once
 * the kernel walks them. */
static inline __attribute__((always_inline)) void prefetch_rec(const vs_hnsw *h, const uint8_t *r, int head)
{
    if (head) __builtin_prefetch(r);
    const uint8_t *vec = r + h->off_vec;
    const uint8_t *end = vec + (h->vec_bytes > 16 * 64 ? 16 * 64 : h->vec_bytes);
    for (const uint8_t *p = (const uint8_t *)((uintptr_t)vec & ~(uintptr_t)63); p < end; p += 64) __builtin_prefetch(p);
}

static inline __attribute__((always_inline)) void prefetch_code(const vs_hnsw *h, uint32_t v, int head)
{
    prefetch_rec(h, vs_hnsw_rec(h, v), head);
}

/* The head and layer-0 list of node v, which the search expands next. */
static inline __attribute__((always_inline)) void prefetch_list0(const vs_hnsw *h, uint32_t v)
{
    const uint8_t *r = vs_hnsw_rec(h, v);
    for (size_t o = 0; o < 16 + 4 * (size_t)h->M0; o += 64) __builtin_prefetch(r + o);
}

static inline int allowed(const uint8_t *rec, const vs_filter *filter, int skip_deleted)
{
    if (skip_deleted && vs_hnsw_rec_deleted(rec)) return 0;
    return !filter || vs_filter_allows(filter, vs_hnsw_rec_id(rec));
}

/* --- layer search ----------------------------------------------------------------------- */

void vs_hnsw_greedy(const vs_hnsw *h, const vs_kernel_table *kt, const vs_hnsw_anchor *a, unsigned level,
                    size_t n_limit, uint32_t *cur, float *cur_d)
{
    const float *q = a->v;
    const vs_sq_query *pq = a->quant ? &a->pq : NULL;
    const int sq8 = a->quant && h->sq8;
    const size_t off_vec = h->off_vec;
    /* The kernel and its arguments are resolved once (see vs_hnsw_search_layer). */
    const size_t dim = h->dim;
    const int l2 = h->l2;
    float (*const dist)(const float *, const float *, size_t) = l2 ? kt->l2sq : kt->dot;
    int changed = 1;
    while (changed) {
        changed = 0;
        uint32_t cap;
        const vs_hnsw_word *list = vs_hnsw_list(h, *cur, level, &cap);
        if (!list) return;
        uint32_t cnt = vs_hnsw_count(list, cap);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = atomic_load_explicit(&list[1 + j], memory_order_acquire);
            if (v >= n_limit) continue;
            if (j + 1 < cnt) {
                uint32_t nx = atomic_load_explicit(&list[2 + j], memory_order_relaxed);
                if (nx < n_limit) prefetch_code(h, nx, 0);
            }
            const uint8_t *rec = vs_hnsw_rec(h, v);
            float d;
            STAT_DIST();
            if (sq8) {
                d = vs_hnsw_key8(h, a, rec + off_vec);
            } else if (pq) {
                d = pq->fn(pq, rec + off_vec);
            } else {
                d = dist(q, (const float *)(rec + off_vec), dim);
                if (!l2) d = -d;
            }
            if (d < *cur_d) {
                *cur_d = d;
                *cur = v;
                changed = 1;
            }
        }
    }
}

long vs_hnsw_search_layer(const vs_hnsw *h, const vs_kernel_table *kt, const vs_hnsw_anchor *a,
                          const vs_hnsw_pair *eps, size_t n_eps, unsigned level, size_t ef, const vs_filter *filter,
                          int skip_deleted, size_t n_limit, vs_hnsw_scratch *s)
{
    const float *q = a->v;
    const vs_sq_query *pq = a->quant ? &a->pq : NULL;
    const int sq8 = a->quant && h->sq8;
    if (vs_hnsw_visit_begin(s, n_limit)) return -1;
    if (vs_hnsw_grow((void **)&s->res, &s->res_cap, ef + 1, sizeof *s->res)) return -1;
    if (vs_hnsw_grow((void **)&s->cand, &s->cand_cap, ef + n_eps + h->M0, sizeof *s->cand)) return -1;
    if (vs_hnsw_grow((void **)&s->nbr, &s->nbr_cap, level ? h->M : h->M0, sizeof *s->nbr)) return -1;
    if (vs_hnsw_grow((void **)&s->nrec, &s->nrec_cap, level ? h->M : h->M0, sizeof *s->nrec)) return -1;
    /* Locals, not h->...: the acquire loads and the kernel call through a pointer would make
     * the compiler reload every field of h on each hop. */
    uint16_t *mark = s->mark;
    uint32_t *nbr = s->nbr;
    const uint8_t **nrec = s->nrec;
    const uint16_t gen = s->gen;
    const size_t dim = h->dim, off_vec = h->off_vec;
    const uint32_t window = prefetch_window(h);
    const int l2 = h->l2;
    float (*const dist)(const float *, const float *, size_t) = l2 ? kt->l2sq : kt->dot;
    void (*const dist4)(const float *, const float *const *, size_t, float *) =
        sq8 || pq ? NULL : l2 ? kt->l2sq4 : kt->dot4;
    /* Without deletions and filter every visited node may be returned: skip the flags word. */
    const int check = filter || (skip_deleted && atomic_load_explicit(&((vs_hnsw *)h)->n_deleted,
                                                                      memory_order_relaxed));
    size_t nc = 0, nr = 0;
    for (size_t i = 0; i < n_eps; i++) {
        uint32_t e = eps[i].id;
        if (e >= n_limit || mark[e] == gen) continue;
        mark[e] = gen;
        min_push(s->cand, &nc, eps[i]);
        if (allowed(vs_hnsw_rec(h, e), filter, skip_deleted)) {
            max_push(s->res, &nr, eps[i]);
            if (nr > ef) max_pop(s->res, &nr);
        }
    }
    float lower = nr ? s->res[0].d : INFINITY;
    while (nc) {
        vs_hnsw_pair c = min_pop(s->cand, &nc);
        if (c.d > lower && nr >= ef) break;
        uint32_t cap;
        const vs_hnsw_word *list = vs_hnsw_list(h, c.id, level, &cap);
        if (!list) continue;
        uint32_t cnt = vs_hnsw_count(list, cap);
        /* Room for every neighbour up front keeps the inner loop free of reallocation. */
        if (vs_hnsw_grow((void **)&s->cand, &s->cand_cap, nc + cnt + 1, sizeof *s->cand)) return -1;
        /* First pass: the unvisited neighbours and their records, so the distance loop
         * prefetches only vectors it will read and finds each record once. */
        uint32_t nn = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = atomic_load_explicit(&list[1 + j], memory_order_acquire);
            if (v >= n_limit || mark[v] == gen) continue;
            mark[v] = gen;
            nbr[nn] = v;
            nrec[nn++] = vs_hnsw_rec(h, v);
        }
        for (uint32_t j = 0; j < nn && j < window; j++) prefetch_rec(h, nrec[j], check);
        /* Four neighbours per step. Float vectors go through one kernel call that shares the
         * query's loads and one reduction; a short last step repeats the first row (in cache)
         * rather than making up to three calls. The keys are then taken in list order, so the
         * result is that of one neighbour at a time. */
        for (uint32_t j = 0; j < nn; j += 4) {
            const uint32_t m = nn - j < 4 ? nn - j : 4;
            for (uint32_t t = j + window; t < j + window + 4 && t < nn; t++) prefetch_rec(h, nrec[t], check);
            float d4[4];
            if (dist4 && m > 1) {
                const float *rows[4];
                for (uint32_t t = 0; t < 4; t++) rows[t] = (const float *)(nrec[j + (t < m ? t : 0)] + off_vec);
                dist4(q, rows, dim, d4);
                if (!l2)
                    for (uint32_t t = 0; t < 4; t++) d4[t] = -d4[t];
            } else {
                for (uint32_t t = 0; t < m; t++) {
                    const uint8_t *code = nrec[j + t] + off_vec;
                    if (sq8) {
                        d4[t] = vs_hnsw_key8(h, a, code);
                    } else if (pq) {
                        d4[t] = pq->fn(pq, code);
                    } else {
                        float d = dist(q, (const float *)code, dim);
                        d4[t] = l2 ? d : -d;
                    }
                }
            }
            for (uint32_t t = 0; t < m; t++) {
                const float d = d4[t];
                STAT_DIST();
                if (nr < ef || d < lower) {
                    const uint32_t v = nbr[j + t];
                    min_push(s->cand, &nc, (vs_hnsw_pair){d, v});
                    if (!check || allowed(nrec[j + t], filter, skip_deleted)) {
                        if (nr < ef)
                            max_push(s->res, &nr, (vs_hnsw_pair){d, v});
                        else
                            max_replace_top(s->res, nr, (vs_hnsw_pair){d, v});
                        lower = s->res[0].d;
                    }
                }
            }
        }
        /* The next node to expand is the heap's top, unless a better result ends the search. */
        if (level == 0 && nc) prefetch_list0(h, s->cand[0].id);
    }
    return (long)nr;
}

/* --- k-NN ------------------------------------------------------------------------------- */

typedef struct {
    const vs_index *ix;
    const vs_hnsw *h;
    const vs_kernel_table *kt;
    const float *q;
    uint32_t k;
    size_t ef;
    const vs_filter *filter;
    int exact;       /* answer every query by a scan */
    size_t n_limit;  /* nodes visible to this call */
    size_t n_live;
    float *keys;
    int64_t *ids;
    vs_hnsw_scratch **scratch; /* per worker */
    atomic_int failed;
} knn_job;

/* Exact answer over live, allowed nodes (exact on the stored codes when quantised); fills
 * keys/ids (k, sorted, padded). -1 when out of memory. */
static int exact_query(const knn_job *J, vs_hnsw_scratch *s, const float *q, float *keys, int64_t *ids)
{
    const vs_hnsw *h = J->h;
    vs_hnsw_anchor *a = &s->A[0];
    if (vs_hnsw_anchor_vec(h, a, q)) return -1;
    vs_heap_reset(keys, ids, J->k);
    for (size_t i = 0; i < J->n_limit; i++) {
        const uint8_t *rec = vs_hnsw_rec(h, (uint32_t)i);
        if (!allowed(rec, J->filter, 1)) continue;
        float d = vs_hnsw_adist(h, J->kt, a, rec);
        if (d < keys[0]) vs_heap_push(keys, ids, J->k, d, vs_hnsw_rec_id(rec));
    }
    vs_heap_sort(keys, ids, J->k);
    return 0;
}

static int graph_query(const knn_job *J, vs_hnsw_scratch *s, const float *q, float *keys, int64_t *ids)
{
    const vs_hnsw *h = J->h;
    uint64_t e = atomic_load_explicit(&((vs_hnsw *)h)->entry, memory_order_acquire);
    size_t found = 0;
    if (e != VS_HNSW_EMPTY) {
        uint32_t cur = (uint32_t)e;
        unsigned top = (unsigned)(e >> 32);
        if (cur >= J->n_limit) return 0; /* entry newer than this call: treat as empty */
        vs_hnsw_anchor *a = &s->A[0];
        if (vs_hnsw_anchor_vec(h, a, q)) return -1;
        float cur_d = vs_hnsw_adist(h, J->kt, a, vs_hnsw_rec(h, cur));
        for (unsigned l = top; l >= 1; l--) vs_hnsw_greedy(h, J->kt, a, l, J->n_limit, &cur, &cur_d);
        vs_hnsw_pair ep = {cur_d, cur};
        long nr = vs_hnsw_search_layer(h, J->kt, a, &ep, 1, 0, J->ef, J->filter, 1, J->n_limit, s);
        if (nr < 0) return -1;
        found = (size_t)nr;
        /* Sort the heap ascending: pop-from-max fills from the back. */
        size_t m = found;
        while (m) {
            vs_hnsw_pair top_pair = s->res[0];
            max_pop(s->res, &m);
            s->res[m] = top_pair;
        }
    }
    size_t take = found < J->k ? found : J->k;
    for (size_t j = 0; j < take; j++) {
        keys[j] = s->res[j].d;
        ids[j] = vs_hnsw_rec_id(vs_hnsw_rec(h, s->res[j].id));
    }
    for (size_t j = take; j < J->k; j++) {
        keys[j] = INFINITY;
        ids[j] = -1;
    }
    /* Equal keys in (key, id) order, as every other index type returns them. */
    vs_pairs_sort(keys, ids, take);
    return (int)take;
}

static void knn_task(size_t i, unsigned worker, void *ctx)
{
    knn_job *J = ctx;
    if (atomic_load_explicit(&J->failed, memory_order_relaxed)) return;
    const float *q = J->q + i * J->h->dim;
    float *keys = J->keys + i * J->k;
    int64_t *ids = J->ids + i * J->k;
    vs_hnsw_scratch *s = J->scratch[worker];
    int got = J->exact ? 0 : graph_query(J, s, q, keys, ids);
    /* The walk found fewer than k though more may pass (tiny filter, deleted region): scan. */
    if (got >= 0 && (J->exact || ((size_t)got < J->k && (size_t)got < J->n_live))) got = exact_query(J, s, q, keys, ids);
    if (got < 0) atomic_store(&J->failed, 1);
}

/* Fraction of nodes a query may return (live and passing the filter), from a sample. */
static double pass_fraction(const vs_hnsw *h, const vs_filter *filter, size_t n)
{
    enum { SAMPLES = 512 };
    size_t m = n < SAMPLES ? n : SAMPLES, pass = 0;
    for (size_t j = 0; j < m; j++) {
        size_t i = m == n ? j : (size_t)((double)j * (double)n / (double)m);
        pass += allowed(vs_hnsw_rec(h, (uint32_t)i), filter, 1) != 0;
    }
    return m ? (double)pass / (double)m : 0.0;
}

int vs_hnsw_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                   float *keys, int64_t *ids)
{
    vs_hnsw *h = ix->impl;
    unsigned threads = p && p->n_threads > 1 ? p->n_threads : 1;
    if (threads > 256) threads = 256;
    if (threads > nq) threads = (unsigned)nq;
    const vs_filter *filter = p && p->filter && p->filter->kind != VS_FILTER_NONE ? p->filter : NULL;
    knn_job J = {.ix = ix, .h = h, .kt = vs_kernels(), .q = q, .k = k, .filter = filter, .keys = keys, .ids = ids};
    atomic_init(&J.failed, 0);
    J.n_limit = atomic_load_explicit(&h->n, memory_order_acquire);
    size_t del = atomic_load(&h->n_deleted);
    J.n_live = J.n_limit > del ? J.n_limit - del : 0;
    size_t ef = p && p->ef_search ? p->ef_search : (k > 64 ? k : 64);
    J.ef = ef < k ? k : ef;
    if (filter || del) {
        /* Graph cost grows like ef * M0 / p (distance evaluations); a scan costs n * p of them
         * plus n cheap filter checks. */
        double frac = pass_fraction(h, filter, J.n_limit);
        J.exact = frac * frac * (double)J.n_limit < (double)J.ef * h->M0;
        if (vs_hnsw_filter_strategy == 1) J.exact = 0;
        if (vs_hnsw_filter_strategy == 2) J.exact = 1;
    }
    J.scratch = calloc(threads, sizeof *J.scratch);
    int ok = J.scratch != NULL;
    for (unsigned w = 0; ok && w < threads; w++) ok = (J.scratch[w] = vs_hnsw_scratch_get(h)) != NULL;
    if (ok) {
        vs_parallel_for(nq, threads, knn_task, &J);
        ok = !atomic_load(&J.failed);
    }
    for (unsigned w = 0; J.scratch && w < threads; w++) vs_hnsw_scratch_put(h, J.scratch[w]);
    free(J.scratch);
    return ok ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for HNSW search scratch");
}

/* --- range search: exact over the live nodes (the radius decides membership exactly) ---- */

int vs_hnsw_range_search(const vs_index *ix, size_t nq, const float *q, float key_radius,
                         const vs_search_params *p, vs_range_result **out)
{
    vs_hnsw *h = ix->impl;
    const vs_kernel_table *kt = vs_kernels();
    const vs_filter *filter = p ? p->filter : NULL;
    size_t n = atomic_load_explicit(&h->n, memory_order_acquire);
    vs_hnsw_scratch *sc = vs_hnsw_scratch_get(h);
    vs_range_result *r = sc ? calloc(1, sizeof *r) : NULL;
    size_t cap = 0, total = 0;
    float *keys = NULL;
    int64_t *labels = NULL;
    if (!r || !(r->lims = malloc((nq + 1) * sizeof *r->lims))) goto nomem;
    r->nq = nq;
    for (size_t i = 0; i < nq; i++) {
        r->lims[i] = total;
        if (vs_hnsw_anchor_vec(h, &sc->A[0], q + i * h->dim)) goto nomem;
        for (size_t j = 0; j < n; j++) {
            const uint8_t *rec = vs_hnsw_rec(h, (uint32_t)j);
            if (!allowed(rec, filter, 1)) continue;
            float d = vs_hnsw_adist(h, kt, &sc->A[0], rec);
            if (!(d < key_radius)) continue;
            if (total == cap) {
                size_t c1 = cap, c2 = cap;
                if (vs_hnsw_grow((void **)&keys, &c1, total + 1, sizeof *keys) ||
                    vs_hnsw_grow((void **)&labels, &c2, total + 1, sizeof *labels))
                    goto nomem;
                cap = c1;
            }
            keys[total] = d;
            labels[total] = vs_hnsw_rec_id(rec);
            total++;
        }
        vs_pairs_sort(keys + r->lims[i], labels + r->lims[i], total - r->lims[i]);
    }
    r->lims[nq] = total;
    r->distances = keys ? keys : malloc(sizeof(float));
    r->ids = labels ? labels : malloc(sizeof(int64_t));
    if (!r->distances || !r->ids) {
        keys = r->distances;
        labels = r->ids;
        r->distances = NULL;
        r->ids = NULL;
        goto nomem;
    }
    *out = r;
    vs_hnsw_scratch_put(h, sc);
    return VS_OK;
nomem:
    vs_hnsw_scratch_put(h, sc);
    free(keys);
    free(labels);
    vs_range_result_free(r);
    return vs_fail(VS_ERR_NOMEM, "out of memory collecting range results");
}
