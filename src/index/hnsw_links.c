/* HNSW layer-0 reachability: in-degree bookkeeping and orphan rescue.
 *
 * Plain HNSW can strand nodes: pruning a full list (a reverse link during insert, or delete
 * repair) may drop a node's last in-link, and once a deleted node's in-links are repaired
 * away, the nodes only it linked to are stranded with it. hnswlib accepts this; a search
 * then never returns those vectors. Here every layer-0 list write goes through this file,
 * which keeps, per node, the number of lists of non-retired nodes that hold it:
 *   - a live node whose count drops to 0 is queued and, once the writer holds no lock,
 *     linked again from its nearest live neighbour whose list can spare an entry (one whose
 *     target keeps another in-link, or a deleted one);
 *   - a deleted node whose count drops to 0 is "retired": nothing can reach it, so its own
 *     out-links stop counting, which may queue further nodes.
 * A count of 0 is detected exactly (the atomic decrement that returns 1), so no node is
 * stranded by a single dropped link. Counts are atomics; lists change under their lock. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "index/hnsw.h"

static vs_hnsw_word *indeg_of(const vs_hnsw *h, uint32_t v) { return &vs_hnsw_meta_of(h, v)->indeg; }

static void ref_add(const vs_hnsw *h, uint32_t v)
{
    atomic_fetch_add_explicit(indeg_of(h, v), 1, memory_order_relaxed);
}

/* Drops one in-link of v; queues v when it was the last (room reserved by the caller). */
static void ref_drop(const vs_hnsw *h, uint32_t v, vs_hnsw_scratch *s)
{
    uint32_t prev = atomic_fetch_sub_explicit(indeg_of(h, v), 1, memory_order_relaxed);
    if (prev == 1) s->orph[s->n_orph++] = v;
    else if (prev == 0) atomic_fetch_add_explicit(indeg_of(h, v), 1, memory_order_relaxed); /* never below 0 */
}

/* Drops an in-link of v only if another one remains; 1 on success. */
static int ref_drop_if_shared(const vs_hnsw *h, uint32_t v)
{
    vs_hnsw_word *c = indeg_of(h, v);
    uint32_t cur = atomic_load_explicit(c, memory_order_relaxed);
    while (cur >= 2)
        if (atomic_compare_exchange_weak_explicit(c, &cur, cur - 1, memory_order_relaxed, memory_order_relaxed))
            return 1;
    return 0;
}

static int reserve_orph(vs_hnsw_scratch *s, size_t more)
{
    return vs_hnsw_grow((void **)&s->orph, &s->orph_cap, s->n_orph + more, sizeof *s->orph);
}

static int counts(const vs_hnsw *h, uint32_t e)
{
    return !(atomic_load_explicit(vs_hnsw_rec_flags(vs_hnsw_rec(h, e)), memory_order_relaxed) & VS_HNSW_FLAG_RETIRED);
}

int vs_hnsw_write_list0(vs_hnsw *h, uint32_t e, const vs_hnsw_pair *p, size_t n, vs_hnsw_scratch *s)
{
    uint32_t cap;
    vs_hnsw_word *list = vs_hnsw_list(h, e, 0, &cap);
    uint32_t cnt = vs_hnsw_count(list, cap);
    if (n > cap) n = cap;
    if (reserve_orph(s, cnt)) return -1;
    uint32_t old[1024];
    if (cnt > 1024) cnt = 1024; /* M0 <= 1024 (M <= 512) */
    for (uint32_t j = 0; j < cnt; j++) old[j] = atomic_load_explicit(&list[1 + j], memory_order_relaxed);
    for (size_t j = 0; j < n; j++) atomic_store_explicit(&list[1 + j], p[j].id, memory_order_release);
    atomic_store_explicit(&list[0], (uint32_t)n, memory_order_release);
    if (!counts(h, e)) return 0;
    size_t n_limit = atomic_load_explicit(&h->n, memory_order_acquire);
    for (size_t j = 0; j < n; j++) {
        int was = 0;
        for (uint32_t t = 0; t < cnt && !was; t++) was = old[t] == p[j].id;
        if (!was) ref_add(h, p[j].id);
    }
    for (uint32_t t = 0; t < cnt; t++) {
        if (old[t] >= n_limit) continue;
        int kept = 0;
        for (size_t j = 0; j < n && !kept; j++) kept = old[t] == p[j].id;
        if (!kept) ref_drop(h, old[t], s);
    }
    return 0;
}

void vs_hnsw_append_list0(vs_hnsw *h, uint32_t e, uint32_t v)
{
    uint32_t cap;
    vs_hnsw_word *list = vs_hnsw_list(h, e, 0, &cap);
    uint32_t cnt = vs_hnsw_count(list, cap);
    if (cnt >= cap) return;
    atomic_store_explicit(&list[1 + cnt], v, memory_order_release);
    atomic_store_explicit(&list[0], cnt + 1, memory_order_release);
    if (counts(h, e)) ref_add(h, v);
}

int vs_hnsw_check_orphan(vs_hnsw *h, uint32_t v, vs_hnsw_scratch *s)
{
    if (atomic_load_explicit(indeg_of(h, v), memory_order_relaxed)) return 0;
    if (reserve_orph(s, 1)) return -1;
    s->orph[s->n_orph++] = v;
    return 0;
}

/* Links v from f's layer-0 list: appended when there is room, else in place of the entry
 * farthest from f that can be spared (deleted, or with another in-link); with force, in
 * place of the farthest entry when none can be spared; with force < 0 only into room. 1 when
 * linked. */
static int link_from(vs_hnsw *h, const vs_kernel_table *kt, uint32_t f, uint32_t v, int force, vs_hnsw_scratch *s)
{
    pthread_mutex_t *lk = vs_hnsw_lock_of(h, f);
    pthread_mutex_lock(lk);
    uint32_t cap;
    vs_hnsw_word *list = vs_hnsw_list(h, f, 0, &cap);
    uint32_t cnt = vs_hnsw_count(list, cap);
    size_t n_limit = atomic_load_explicit(&h->n, memory_order_acquire);
    int done = 0;
    for (uint32_t j = 0; j < cnt && !done; j++) done = atomic_load_explicit(&list[1 + j], memory_order_relaxed) == v;
    if (!done && cnt < cap) {
        vs_hnsw_append_list0(h, f, v);
        done = 1;
    }
    vs_hnsw_anchor *a = &s->A[1];
    if (!done && counts(h, f) && force >= 0 && vs_hnsw_anchor_node(h, a, f) == 0) {
        /* Entries by distance from f, farthest first. */
        vs_hnsw_pair *by = s->work;
        size_t nb = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t w = atomic_load_explicit(&list[1 + j], memory_order_relaxed);
            float d = w < n_limit ? vs_hnsw_adist(h, kt, a, vs_hnsw_rec(h, w)) : 0.0f;
            by[nb++] = (vs_hnsw_pair){-d, j}; /* id holds the slot */
        }
        vs_hnsw_sort_pairs(by, nb);
        for (size_t t = 0; t < nb && !done; t++) {
            uint32_t slot = by[t].id;
            uint32_t w = atomic_load_explicit(&list[1 + slot], memory_order_relaxed);
            if (w >= n_limit) continue;
            if (vs_hnsw_rec_deleted(vs_hnsw_rec(h, w)) || (force && t == nb - 1)) ref_drop(h, w, s); /* may queue w */
            else if (!ref_drop_if_shared(h, w)) continue;
            atomic_store_explicit(&list[1 + slot], v, memory_order_release);
            ref_add(h, v);
            done = 1;
        }
    }
    pthread_mutex_unlock(lk);
    return done;
}

/* Links a live node that lost its last in-link from its nearest live node that can take it:
 * first its own neighbours, then the result of a search for its vector. */
static int rescue(vs_hnsw *h, const vs_kernel_table *kt, uint32_t v, vs_hnsw_scratch *s)
{
    size_t n_limit = atomic_load_explicit(&h->n, memory_order_acquire);
    if (vs_hnsw_grow((void **)&s->work, &s->work_cap, 2 * ((size_t)h->M0 + 1), sizeof *s->work)) return -1;
    if (reserve_orph(s, 1)) return -1; /* link_from may drop one deleted entry */
    vs_hnsw_anchor *vv = &s->A[0];
    if (vs_hnsw_anchor_node(h, vv, v)) return -1;
    uint32_t cap;
    vs_hnsw_word *list = vs_hnsw_list(h, v, 0, &cap);
    uint32_t cnt = vs_hnsw_count(list, cap);
    vs_hnsw_pair *mine = s->work + h->M0 + 1;
    size_t nm = 0;
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t f = atomic_load_explicit(&list[1 + j], memory_order_acquire);
        if (f >= n_limit || f == v || vs_hnsw_rec_deleted(vs_hnsw_rec(h, f))) continue;
        mine[nm++] = (vs_hnsw_pair){vs_hnsw_adist(h, kt, vv, vs_hnsw_rec(h, f)), f};
    }
    vs_hnsw_sort_pairs(mine, nm);
    for (size_t j = 0; j < nm; j++) {
        uint32_t f = mine[j].id;
        if (link_from(h, kt, f, v, 0, s)) return 0;
    }
    /* Its own neighbours are all full of sole in-links (rare): search near it. */
    uint64_t e = atomic_load_explicit(&h->entry, memory_order_acquire);
    if (e == VS_HNSW_EMPTY || (uint32_t)e >= n_limit) return 0;
    uint32_t cur = (uint32_t)e;
    float cur_d = vs_hnsw_adist(h, kt, vv, vs_hnsw_rec(h, cur));
    for (unsigned l = (unsigned)(e >> 32); l >= 1; l--) vs_hnsw_greedy(h, kt, vv, l, n_limit, &cur, &cur_d);
    vs_hnsw_pair ep = {cur_d, cur};
    long nr = vs_hnsw_search_layer(h, kt, vv, &ep, 1, 0, h->efc, NULL, 1, n_limit, s);
    if (nr < 0) return -1;
    vs_hnsw_sort_pairs(s->res, (size_t)nr);
    for (long j = 0; j < nr; j++)
        if (s->res[j].id != v && link_from(h, kt, s->res[j].id, v, 0, s)) return 0;
    return 0; /* nowhere to link it: every nearby list holds only sole in-links */
}

int vs_hnsw_settle(vs_hnsw *h, const vs_kernel_table *kt, vs_hnsw_scratch *s)
{
    while (s->n_orph) {
        uint32_t v = s->orph[--s->n_orph];
        if (atomic_load_explicit(indeg_of(h, v), memory_order_relaxed)) continue;
        uint8_t *rec = vs_hnsw_rec(h, v);
        if (!vs_hnsw_rec_deleted(rec)) {
            if (rescue(h, kt, v, s)) return -1;
            continue;
        }
        if (atomic_fetch_or(vs_hnsw_rec_flags(rec), VS_HNSW_FLAG_RETIRED) & VS_HNSW_FLAG_RETIRED) continue;
        /* Nothing rewrites a deleted node's lists, so this read needs no lock. */
        uint32_t cap;
        vs_hnsw_word *list = vs_hnsw_list(h, v, 0, &cap);
        uint32_t cnt = vs_hnsw_count(list, cap);
        if (reserve_orph(s, cnt)) return -1;
        size_t n_limit = atomic_load_explicit(&h->n, memory_order_acquire);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t y = atomic_load_explicit(&list[1 + j], memory_order_relaxed);
            if (y < n_limit) ref_drop(h, y, s);
        }
    }
    return 0;
}

void vs_hnsw_recount(vs_hnsw *h)
{
    size_t n = atomic_load(&h->n);
    for (size_t i = 0; i < n; i++) atomic_store_explicit(indeg_of(h, (uint32_t)i), 0, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        if (!counts(h, (uint32_t)i)) continue;
        uint32_t cap;
        vs_hnsw_word *list = vs_hnsw_list(h, (uint32_t)i, 0, &cap);
        uint32_t cnt = vs_hnsw_count(list, cap);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t y = atomic_load_explicit(&list[1 + j], memory_order_relaxed);
            if (y < n) ref_add(h, y);
        }
    }
}

/* Marks everything reachable on layer 0 from `from` (seen is a bitmap, queue holds n). */
static void flood(const vs_hnsw *h, size_t n, uint32_t from, uint8_t *seen, uint32_t *queue)
{
    size_t head = 0, tail = 0;
    if (seen[from >> 3] & (1u << (from & 7))) return;
    seen[from >> 3] |= (uint8_t)(1u << (from & 7));
    queue[tail++] = from;
    while (head < tail) {
        uint32_t u = queue[head++];
        uint32_t cap;
        const vs_hnsw_word *list = vs_hnsw_list(h, u, 0, &cap);
        uint32_t cnt = vs_hnsw_count(list, cap);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t y = atomic_load_explicit(&list[1 + j], memory_order_relaxed);
            if (y >= n || (seen[y >> 3] & (1u << (y & 7)))) continue;
            seen[y >> 3] |= (uint8_t)(1u << (y & 7));
            queue[tail++] = y;
        }
    }
}

static int is_seen(const uint8_t *seen, uint32_t v) { return (seen[v >> 3] >> (v & 7)) & 1; }

/* Whether some reachable node other than f links to w, looking where such links usually are:
 * among w's own neighbours (links are mostly mutual). */
static int linked_elsewhere(const vs_hnsw *h, uint32_t f, uint32_t w, const uint8_t *seen, size_t n)
{
    uint32_t cap;
    const vs_hnsw_word *wl = vs_hnsw_list(h, w, 0, &cap);
    uint32_t wc = vs_hnsw_count(wl, cap);
    for (uint32_t j = 0; j < wc; j++) {
        uint32_t g = atomic_load_explicit(&wl[1 + j], memory_order_relaxed);
        if (g >= n || g == f || g == w || !((seen[g >> 3] >> (g & 7)) & 1)) continue;
        uint32_t gcap;
        const vs_hnsw_word *gl = vs_hnsw_list(h, g, 0, &gcap);
        uint32_t gc = vs_hnsw_count(gl, gcap);
        for (uint32_t t = 0; t < gc; t++)
            if (atomic_load_explicit(&gl[1 + t], memory_order_relaxed) == w) return 1;
    }
    return 0;
}

/* Links v from the full list of f in place of its farthest entry that another reachable node
 * still links to. 1 when linked. */
static int link_replacing(vs_hnsw *h, const vs_kernel_table *kt, uint32_t f, uint32_t v, const uint8_t *seen,
                          vs_hnsw_scratch *s)
{
    size_t n = atomic_load_explicit(&h->n, memory_order_acquire);
    pthread_mutex_t *lk = vs_hnsw_lock_of(h, f);
    pthread_mutex_lock(lk);
    uint32_t cap;
    vs_hnsw_word *list = vs_hnsw_list(h, f, 0, &cap);
    uint32_t cnt = vs_hnsw_count(list, cap);
    vs_hnsw_pair *by = s->work;
    vs_hnsw_anchor *a = &s->A[1];
    if (vs_hnsw_anchor_node(h, a, f)) cnt = 0;
    size_t nb = 0;
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t w = atomic_load_explicit(&list[1 + j], memory_order_relaxed);
        if (w >= n) continue;
        by[nb++] = (vs_hnsw_pair){-vs_hnsw_adist(h, kt, a, vs_hnsw_rec(h, w)), j};
    }
    vs_hnsw_sort_pairs(by, nb);
    int done = 0;
    for (size_t t = 0; t < nb && !done; t++) {
        uint32_t w = atomic_load_explicit(&list[1 + by[t].id], memory_order_relaxed);
        if (!linked_elsewhere(h, f, w, seen, n)) continue;
        if (counts(h, f)) ref_drop(h, w, s);
        atomic_store_explicit(&list[1 + by[t].id], v, memory_order_release);
        if (counts(h, f)) ref_add(h, v);
        done = 1;
    }
    pthread_mutex_unlock(lk);
    return done;
}

/* Live nodes the flood from the entry point misses; with fix set, links each one from the
 * nearest node a search from the entry reaches (so the island joins the reachable part). */
static size_t sweep(vs_hnsw *h, const vs_kernel_table *kt, vs_hnsw_scratch *s, int fix, int *evicted, int *oom)
{
    size_t n = atomic_load(&h->n);
    uint64_t e = atomic_load(&h->entry);
    uint8_t *seen = calloc(n / 8 + 1, 1);
    uint32_t *queue = malloc((n ? n : 1) * sizeof *queue);
    if (!seen || !queue) {
        free(seen);
        free(queue);
        *oom = 1;
        return 0;
    }
    if (e != VS_HNSW_EMPTY && (uint32_t)e < n) flood(h, n, (uint32_t)e, seen, queue);
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)i;
        if (is_seen(seen, v) || vs_hnsw_rec_deleted(vs_hnsw_rec(h, v))) continue;
        missing++;
        if (!fix || e == VS_HNSW_EMPTY) continue;
        vs_hnsw_anchor *vv = &s->A[0];
        if (vs_hnsw_anchor_node(h, vv, v)) {
            *oom = 1;
            break;
        }
        uint32_t cur = (uint32_t)e;
        float cur_d = vs_hnsw_adist(h, kt, vv, vs_hnsw_rec(h, cur));
        for (unsigned l = (unsigned)(e >> 32); l >= 1; l--) vs_hnsw_greedy(h, kt, vv, l, n, &cur, &cur_d);
        vs_hnsw_pair ep = {cur_d, cur};
        long nr = vs_hnsw_search_layer(h, kt, vv, &ep, 1, 0, h->efc, NULL, 1, n, s);
        if (nr < 0 || vs_hnsw_grow((void **)&s->work, &s->work_cap, 2 * ((size_t)h->M0 + 1), sizeof *s->work) ||
            reserve_orph(s, 1)) {
            *oom = 1;
            break;
        }
        vs_hnsw_sort_pairs(s->res, (size_t)nr);
        /* The nearest reached node with room or a link it can spare takes it; failing that the
         * nearest whose farthest link can go because another reachable node has it too. A
         * guess (found among w's neighbours) can be wrong: the next sweep checks. */
        int linked = 0;
        for (int force = 0; force < 2 && !linked; force++)
            for (long j = 0; j < nr && !linked; j++) {
                uint32_t f = s->res[j].id;
                if (f == v || !is_seen(seen, f)) continue; /* a walk may enter islands linked earlier */
                uint32_t cap = h->M0;
                uint32_t before = vs_hnsw_count(vs_hnsw_list(h, f, 0, &cap), h->M0);
                if (!(force ? link_replacing(h, kt, f, v, seen, s) : link_from(h, kt, f, v, -1, s))) continue;
                if (before == cap) *evicted = 1;
                flood(h, n, v, seen, queue);
                linked = 1;
            }
    }
    free(seen);
    free(queue);
    return missing;
}

int vs_hnsw_connect(vs_hnsw *h, const vs_kernel_table *kt, vs_hnsw_scratch *s)
{
    /* Linking an island may evict an entry that was some node's only way in: sweep again. */
    for (int round = 0; round < 8; round++) {
        int evicted = 0, oom = 0;
        size_t missing = sweep(h, kt, s, 1, &evicted, &oom);
        if (oom || vs_hnsw_settle(h, kt, s)) return -1;
        if (!missing || !evicted) break;
    }
    atomic_store_explicit(&h->pending, 0, memory_order_relaxed);
    return 0;
}

size_t vs_hnsw_unreachable(const vs_index *ix)
{
    int evicted = 0, oom = 0;
    size_t missing = sweep(ix->impl, vs_kernels(), NULL, 0, &evicted, &oom);
    return oom ? SIZE_MAX : missing;
}

int vs_hnsw_maybe_connect(vs_hnsw *h, const vs_kernel_table *kt, vs_hnsw_scratch *s, size_t changed)
{
    /* A pass costs about as much as inserting n / 64 nodes: amortised, it adds a few percent
     * to writes, and every pass leaves all live nodes reachable. */
    size_t p = atomic_fetch_add_explicit(&h->pending, changed, memory_order_relaxed) + changed;
    if (p * 64 < atomic_load(&h->n)) return 0;
    return vs_hnsw_connect(h, kt, s);
}
