/* HNSW construction: level generation, insertion (Algorithm 1), the neighbour-selection
 * heuristic (Algorithm 4 with keepPrunedConnections), and the parallel batch add.
 *
 * A node's level comes from a hash of (seed, node number), so a build is reproducible for a
 * given seed whatever the thread count schedules. Insertion first finds the neighbours on
 * every layer (read-only), then links bottom-up: layer 0 first. A concurrent search can only
 * reach the new node on layer l through a link written after its layers 0..l are complete, so
 * it never descends into a node with empty lower lists. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/hnsw.h"

static uint32_t node_level(const vs_hnsw *h, uint64_t node)
{
    uint64_t z = h->seed + (node + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = ((double)(z >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double l = floor(-log(u) * h->level_mult);
    return l >= VS_HNSW_MAX_LEVEL - 1 ? VS_HNSW_MAX_LEVEL - 1 : (uint32_t)l;
}

size_t vs_hnsw_select(const vs_hnsw *h, const vs_kernel_table *kt, const vs_hnsw_pair *cand, size_t n,
                      size_t max_out, vs_hnsw_pair *out, vs_hnsw_scratch *s)
{
    /* Distances are measured from each kept neighbour (at most max_out anchors to prepare)
     * rather than from each candidate (up to efConstruction of them): preparing an anchor
     * decodes a code and sets up the query, which costs about as much as a distance. */
    if (s->kept_cap < max_out) {
        vs_hnsw_anchor *k = realloc(s->kept, max_out * sizeof *k);
        if (k) {
            memset(k + s->kept_cap, 0, (max_out - s->kept_cap) * sizeof *k);
            s->kept = k;
            s->kept_cap = max_out;
        }
    }
    size_t got = 0;
    /* Pruned candidates are remembered by index to refill with (keepPrunedConnections). */
    size_t pruned_idx[1024];
    size_t n_pruned = 0;
    for (size_t i = 0; i < n && got < max_out; i++) {
        /* Keep c only if it is closer to the base than to every neighbour already kept:
         * otherwise that neighbour already leads towards c (diversity over proximity). A kept
         * neighbour without an anchor (out of memory) prunes nothing. */
        int good = 1;
        const uint8_t *rec = vs_hnsw_rec(h, cand[i].id);
        for (size_t j = 0; j < got && good; j++)
            if (j < s->kept_cap && s->kept[j].v && vs_hnsw_adist(h, kt, &s->kept[j], rec) < cand[i].d) good = 0;
        if (good) {
            if (got < s->kept_cap && vs_hnsw_anchor_node(h, &s->kept[got], cand[i].id)) s->kept[got].v = NULL;
            out[got++] = cand[i];
        } else if (n_pruned < sizeof pruned_idx / sizeof pruned_idx[0]) {
            pruned_idx[n_pruned++] = i;
        }
    }
    if (h->keep_pruned)
        for (size_t j = 0; j < n_pruned && got < max_out; j++) out[got++] = cand[pruned_idx[j]];
    return got;
}

/* Writes `n` IDs into a list (entries first, then the count, both release) under its lock. */
static void write_list(vs_hnsw_word *list, const vs_hnsw_pair *p, size_t n)
{
    for (size_t j = 0; j < n; j++) atomic_store_explicit(&list[1 + j], p[j].id, memory_order_release);
    atomic_store_explicit(&list[0], (uint32_t)n, memory_order_release);
}

/* Adds `node` to neighbour e's list on `level`, pruning with the heuristic when full. */
static int link_back(vs_hnsw *h, const vs_kernel_table *kt, uint32_t e, uint32_t node, unsigned level,
                     vs_hnsw_scratch *s)
{
    pthread_mutex_t *lk = vs_hnsw_lock_of(h, e);
    pthread_mutex_lock(lk);
    uint32_t cap;
    vs_hnsw_word *list = vs_hnsw_list(h, e, level, &cap);
    if (!list) {
        pthread_mutex_unlock(lk);
        return 0;
    }
    uint32_t cnt = vs_hnsw_count(list, cap);
    for (uint32_t j = 0; j < cnt; j++)
        if (atomic_load_explicit(&list[1 + j], memory_order_relaxed) == node) {
            pthread_mutex_unlock(lk);
            return 0;
        }
    if (cnt < cap) {
        if (level == 0) {
            vs_hnsw_append_list0(h, e, node);
        } else {
            atomic_store_explicit(&list[1 + cnt], node, memory_order_release);
            atomic_store_explicit(&list[0], cnt + 1, memory_order_release);
        }
        pthread_mutex_unlock(lk);
        return 0;
    }
    if (vs_hnsw_grow((void **)&s->work, &s->work_cap, 2 * ((size_t)cap + 1), sizeof *s->work)) {
        pthread_mutex_unlock(lk);
        return -1;
    }
    vs_hnsw_anchor *a = &s->A[0];
    if (vs_hnsw_anchor_node(h, a, e)) {
        pthread_mutex_unlock(lk);
        return -1;
    }
    vs_hnsw_pair *c = s->work, *out = s->work + cap + 1;
    size_t nc = 0;
    size_t n_limit = atomic_load_explicit(&h->n, memory_order_acquire);
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t v = atomic_load_explicit(&list[1 + j], memory_order_relaxed);
        if (v >= n_limit) continue;
        c[nc++] = (vs_hnsw_pair){vs_hnsw_adist(h, kt, a, vs_hnsw_rec(h, v)), v};
    }
    c[nc++] = (vs_hnsw_pair){vs_hnsw_adist(h, kt, a, vs_hnsw_rec(h, node)), node};
    vs_hnsw_sort_pairs(c, nc);
    size_t got = vs_hnsw_select(h, kt, c, nc, cap, out, s);
    int rc = 0;
    if (level == 0) rc = vs_hnsw_write_list0(h, e, out, got, s);
    else write_list(list, out, got);
    pthread_mutex_unlock(lk);
    return rc;
}

/* Inserts a created node into the graph (Algorithm 1); x is its float vector (the input row:
 * with quantised storage the neighbours are found from the exact vector). */
static int insert(vs_hnsw *h, const vs_kernel_table *kt, uint32_t node, const float *x, vs_hnsw_scratch *s)
{
    vs_hnsw_anchor *q = &s->A[0];
    if (vs_hnsw_anchor_vec(h, q, x)) return -1;
    const uint32_t L = vs_hnsw_meta_of(h, node)->level;
    uint64_t e = atomic_load_explicit(&h->entry, memory_order_acquire);
    if (e == VS_HNSW_EMPTY) {
        pthread_mutex_lock(&h->entry_lock);
        e = atomic_load_explicit(&h->entry, memory_order_acquire);
        if (e == VS_HNSW_EMPTY) {
            atomic_store_explicit(&h->entry, (uint64_t)L << 32 | node, memory_order_release);
            pthread_mutex_unlock(&h->entry_lock);
            return 0;
        }
        pthread_mutex_unlock(&h->entry_lock);
    }
    size_t n_limit = atomic_load_explicit(&h->n, memory_order_acquire);
    uint32_t cur = (uint32_t)e;
    uint32_t top = (uint32_t)(e >> 32);
    float cur_d = vs_hnsw_adist(h, kt, q, vs_hnsw_rec(h, cur));
    for (uint32_t l = top; l > L; l--) vs_hnsw_greedy(h, kt, q, l, n_limit, &cur, &cur_d);

    uint32_t start = L < top ? L : top;
    /* Chosen neighbours per layer, found top-down, linked bottom-up. They live in s->work
     * after the 2 * (M0 + 1) pairs link_back needs. */
    size_t per = h->M0;
    if (vs_hnsw_grow((void **)&s->work, &s->work_cap, (size_t)(start + 1) * per + 2 * ((size_t)h->M0 + 1), sizeof *s->work))
        return -1;
    size_t n_chosen[VS_HNSW_MAX_LEVEL] = {0};
    vs_hnsw_pair ep = {cur_d, cur};
    for (int l = (int)start; l >= 0; l--) {
        long nr = vs_hnsw_search_layer(h, kt, q, &ep, 1, (unsigned)l, h->efc, NULL, 1, n_limit, s);
        if (nr == 0) nr = vs_hnsw_search_layer(h, kt, q, &ep, 1, (unsigned)l, h->efc, NULL, 0, n_limit, s);
        if (nr < 0) return -1;
        /* Sort ascending in place (heap pops from the back). */
        size_t m = (size_t)nr;
        vs_hnsw_sort_pairs(s->res, m);
        /* hnswlib and the paper connect M neighbours on every layer; layer 0 lists may grow
         * to M0 through reverse links. */
        vs_hnsw_pair *dst = s->work + 2 * ((size_t)h->M0 + 1) + (size_t)l * per;
        n_chosen[l] = vs_hnsw_select(h, kt, s->res, m, h->M, dst, s);
        if (m) ep = s->res[0];
    }
    for (uint32_t l = 0; l <= start; l++) {
        const vs_hnsw_pair *sel = s->work + 2 * ((size_t)h->M0 + 1) + (size_t)l * per;
        uint32_t cap;
        vs_hnsw_word *own = vs_hnsw_list(h, node, l, &cap);
        pthread_mutex_t *lk = vs_hnsw_lock_of(h, node);
        pthread_mutex_lock(lk);
        int rc = 0;
        if (l == 0) rc = vs_hnsw_write_list0(h, node, sel, n_chosen[l], s);
        else write_list(own, sel, n_chosen[l] < cap ? n_chosen[l] : cap);
        pthread_mutex_unlock(lk);
        if (rc) return -1;
        for (size_t j = 0; j < n_chosen[l]; j++) {
            /* link_back uses the head of s->work (never grown here); the chosen lists live after it. */
            if (link_back(h, kt, sel[j].id, node, l, s)) return -1;
        }
    }
    /* Every reverse link may have been pruned away again: then link the node from a
     * neighbour, and re-link any node a pruning left without in-links (hnsw_links.c). */
    if (vs_hnsw_check_orphan(h, node, s) || vs_hnsw_settle(h, kt, s)) return -1;
    if (L > top) {
        pthread_mutex_lock(&h->entry_lock);
        uint64_t now = atomic_load_explicit(&h->entry, memory_order_acquire);
        if (now == VS_HNSW_EMPTY || (uint32_t)(now >> 32) < L)
            atomic_store_explicit(&h->entry, (uint64_t)L << 32 | node, memory_order_release);
        pthread_mutex_unlock(&h->entry_lock);
    }
    return 0;
}

typedef struct {
    vs_hnsw *h;
    const vs_kernel_table *kt;
    size_t first;
    const float *x; /* the row of node `first` */
    size_t dim;
    vs_hnsw_scratch **scratch;
    atomic_int failed;
} build_job;

static void insert_task(size_t i, unsigned worker, void *ctx)
{
    build_job *J = ctx;
    if (atomic_load_explicit(&J->failed, memory_order_relaxed)) return;
    if (insert(J->h, J->kt, (uint32_t)(J->first + i), J->x + i * J->dim, J->scratch[worker])) atomic_store(&J->failed, 1);
}

/* Checks the batch's IDs against the index and itself; on success they are in the map. */
static int claim_ids(vs_hnsw *h, size_t first, size_t n, const int64_t *ids)
{
    if (vs_idmap_reserve(&h->map, n)) return vs_fail(VS_ERR_NOMEM, "out of memory");
    size_t i;
    for (i = 0; i < n; i++) {
        if (vs_idmap_get(&h->map, ids[i], NULL)) break;
        vs_idmap_put(&h->map, ids[i], first + i);
    }
    if (i == n) return VS_OK;
    for (size_t j = 0; j < i; j++) vs_idmap_erase(&h->map, ids[j]);
    return vs_fail(VS_ERR_DUPLICATE_ID, "id %lld (row %zu) is already in the index or repeated in the batch; "
                   "nothing was added", (long long)ids[i], i);
}

int vs_hnsw_add(vs_index *ix, size_t n, const float *x, const int64_t *ids)
{
    vs_hnsw *h = ix->impl;
    const vs_kernel_table *kt = vs_kernels();
    pthread_mutex_lock(&h->map_lock);
    size_t first = atomic_load(&h->n);
    int rc = vs_hnsw_ensure_map(h);
    if (!rc && n > (size_t)UINT32_MAX - 1 - first)
        rc = vs_fail(VS_ERR_INVALID_ARG, "HNSW holds at most %u vectors", UINT32_MAX - 1);
    if (!rc) rc = vs_hnsw_reserve(ix, first + n);
    if (!rc) rc = claim_ids(h, first, n, ids);
    size_t made = 0;
    for (; !rc && made < n; made++) {
        uint32_t node = (uint32_t)(first + made);
        uint8_t *rec = vs_hnsw_rec(h, node);
        /* Unused link slots and padding are saved with the record: zero, not old heap bytes, so
         * a file does not depend on what the allocator returned (valgrind saw it vary). */
        memset(rec, 0, h->rec_size);
        memcpy(rec, &ids[made], sizeof ids[made]);
        atomic_init(vs_hnsw_rec_flags(rec), 0);
        atomic_init((vs_hnsw_word *)(rec + 12), 0);
        vs_hnsw_encode(h, x + made * ix->dim, rec);
        vs_hnsw_meta *m = vs_hnsw_meta_of(h, node);
        m->level = node_level(h, node);
        m->upper = NULL;
        if (m->level) {
            m->upper = calloc((size_t)m->level * (1 + h->M), sizeof *m->upper);
            if (!m->upper) rc = vs_fail(VS_ERR_NOMEM, "out of memory for HNSW links");
        }
    }
    if (rc) {
        /* Nothing was published: undo the IDs and the upper lists made so far. */
        if (made) {
            for (size_t j = 0; j < made; j++) {
                vs_hnsw_meta *m = vs_hnsw_meta_of(h, (uint32_t)(first + j));
                free(m->upper);
                m->upper = NULL;
                m->level = 0;
            }
            for (size_t j = 0; j < n; j++) vs_idmap_erase(&h->map, ids[j]);
        }
        pthread_mutex_unlock(&h->map_lock);
        return rc;
    }
    /* Publish the records: from here searches may scan them (the exact fallback). */
    atomic_store_explicit(&h->n, first + n, memory_order_release);
    pthread_mutex_unlock(&h->map_lock);

    unsigned threads = ix->n_threads > 1 ? ix->n_threads : 1;
    if (threads > 256) threads = 256;
    build_job J = {.h = h, .kt = kt, .first = first, .x = x, .dim = ix->dim};
    atomic_init(&J.failed, 0);
    J.scratch = calloc(threads, sizeof *J.scratch);
    int ok = J.scratch != NULL;
    for (unsigned w = 0; ok && w < threads; w++) ok = (J.scratch[w] = vs_hnsw_scratch_get(h)) != NULL;
    size_t done = 0;
    if (ok && atomic_load(&h->entry) == VS_HNSW_EMPTY) {
        /* The first node becomes the entry point before the workers start. */
        ok = insert(h, kt, (uint32_t)first, x, J.scratch[0]) == 0;
        done = 1;
    }
    if (ok && n > done) {
        J.first = first + done;
        J.x = x + done * ix->dim;
        vs_parallel_for(n - done, threads, insert_task, &J);
        ok = !atomic_load(&J.failed);
    }
    if (ok) (void)vs_hnsw_maybe_connect(h, kt, J.scratch[0], n); /* a failed pass leaves a valid graph */
    for (unsigned w = 0; J.scratch && w < threads; w++) vs_hnsw_scratch_put(h, J.scratch[w]);
    free(J.scratch);
    if (ok) return VS_OK;
    /* Out of memory part-way: the batch's nodes may already be linked, so they stay in the
     * graph as deleted routing nodes; none of them is ever returned. */
    pthread_mutex_lock(&h->map_lock);
    for (size_t j = 0; j < n; j++) {
        atomic_fetch_or(vs_hnsw_rec_flags(vs_hnsw_rec(h, (uint32_t)(first + j))), VS_HNSW_FLAG_DELETED);
        vs_idmap_erase(&h->map, ids[j]);
    }
    atomic_fetch_add(&h->n_deleted, n);
    pthread_mutex_unlock(&h->map_lock);
    return vs_fail(VS_ERR_NOMEM, "out of memory while linking new HNSW nodes; nothing was added");
}
