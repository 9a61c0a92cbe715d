/* HNSW lifecycle: create, block storage, copy-on-first-write of file images, the user-ID map,
 * the pool of per-thread search scratch, get, sizes, and the ops table. */
#include "index/hnsw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigalloc.h"
#include "core/error.h"

static vs_hnsw *hnsw_of(const vs_index *ix) { return ix->impl; }

static int hnsw_init(vs_index *ix)
{
    if ((ix->spec.code != VS_CODE_FLAT && !vs_sq_kind_ok(ix->spec.code)) || ix->spec.refine_flat)
        return vs_fail(VS_ERR_UNSUPPORTED, "HNSW stores Flat or scalar-quantised (SQ8, SQ4, SQfp16, SQbf16) vectors");
    vs_hnsw *h = calloc(1, sizeof *h);
    if (!h) return vs_fail(VS_ERR_NOMEM, "out of memory");
    h->vec_bytes = (size_t)ix->dim * sizeof(float);
    if (ix->spec.code != VS_CODE_FLAT) {
        int rc = vs_sq_init(&h->sq, ix->spec.code, ix->dim);
        if (rc) {
            free(h);
            return rc;
        }
        h->quant = 1;
        h->vec_bytes = vs_sq_code_size(&h->sq);
        h->sq8 = ix->spec.code == VS_CODE_SQ8;
        h->sq8_norm = h->sq8 && ix->metric == VS_METRIC_L2;
        h->dot8 = vs_hnsw_dot8_pick();
        h->node8 = vs_hnsw_node8_pick();
    }
    h->M = ix->spec.hnsw_m;
    h->M0 = 2 * h->M;
    h->efc = ix->ef_construction ? ix->ef_construction : VS_HNSW_DEFAULT_EFC;
    h->dim = ix->dim;
    h->l2 = ix->metric == VS_METRIC_L2;
    /* keepPrunedConnections trades more links per hop for recall. Measured (M 16, efc 200,
     * one query per call, machine shared with another benchmark): better on Fashion-MNIST
     * (0.989 at ef 20, 2,807 q/s, vs 0.978 at 3,254 q/s without), worse on GloVe-100 (0.962
     * at 606 q/s vs ~770 q/s at that recall without). Open question for the tuning pass. */
    h->keep_pruned = 1;
    h->seed = ix->seed ? ix->seed : VS_HNSW_DEFAULT_SEED;
    h->level_mult = 1.0 / log((double)h->M);
    h->off_vec = 16 + 4 * (size_t)h->M0;
    /* Keep records 16-byte multiples so vectors stay 16-byte aligned (M0 is even). */
    h->rec_size = (h->off_vec + h->vec_bytes + (h->sq8_norm ? sizeof(float) : 0) + 15) / 16 * 16;
    h->owned = 1;
    atomic_init(&h->n, 0);
    atomic_init(&h->n_deleted, 0);
    atomic_init(&h->entry, VS_HNSW_EMPTY);
    pthread_mutex_init(&h->entry_lock, NULL);
    pthread_mutex_init(&h->map_lock, NULL);
    pthread_mutex_init(&h->pool_lock, NULL);
    for (unsigned i = 0; i < VS_HNSW_LOCK_STRIPES; i++) pthread_mutex_init(&h->locks[i], NULL);
    h->map_ready = 1;
    if (vs_idmap_init(&h->map, 1024)) {
        vs_sq_destroy(&h->sq);
        free(h);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    ix->impl = h;
    ix->trained = h->quant ? h->sq.trained : 1;
    return VS_OK;
}

static int in_arena(const vs_hnsw *h, const vs_hnsw_word *p)
{
    return h->upper_arena && p >= h->upper_arena && p < h->upper_arena + h->upper_arena_words;
}

void vs_hnsw_anchor_free(vs_hnsw_anchor *a)
{
    free(a->buf);
    free(a->w8);
    if (a->pq_ready) vs_sq_query_destroy(&a->pq);
    memset(a, 0, sizeof *a);
}

static void free_scratch(vs_hnsw_scratch *s)
{
    free(s->mark);
    free(s->cand);
    free(s->res);
    free(s->work);
    free(s->nbr);
    free(s->nrec);
    free(s->orph);
    for (int i = 0; i < 2; i++) vs_hnsw_anchor_free(&s->A[i]);
    for (size_t i = 0; i < s->kept_cap; i++) vs_hnsw_anchor_free(&s->kept[i]);
    free(s->kept);
    free(s);
}

static void hnsw_destroy(vs_index *ix)
{
    vs_hnsw *h = hnsw_of(ix);
    if (!h) return;
    size_t n = atomic_load(&h->n);
    for (unsigned b = 0; b < VS_HNSW_MAX_BLOCKS; b++) {
        if (h->meta[b] && h->owned) {
            size_t start = vs_hnsw_block_start(b), len = vs_hnsw_block_len(b);
            for (size_t i = 0; i < len && start + i < n; i++)
                if (!in_arena(h, h->meta[b][i].upper)) free(h->meta[b][i].upper);
        }
        free(h->meta[b]);
        if (h->owned) free(h->rec[b]);
    }
    free(h->upper_arena);
    vs_idmap_destroy(&h->map);
    vs_sq_destroy(&h->sq);
    while (h->pool) {
        vs_hnsw_scratch *s = h->pool;
        h->pool = s->next;
        free_scratch(s);
    }
    pthread_mutex_destroy(&h->entry_lock);
    pthread_mutex_destroy(&h->map_lock);
    pthread_mutex_destroy(&h->pool_lock);
    for (unsigned i = 0; i < VS_HNSW_LOCK_STRIPES; i++) pthread_mutex_destroy(&h->locks[i]);
    free(h);
}

static int hnsw_train(vs_index *ix, size_t n, const float *x)
{
    vs_hnsw *h = hnsw_of(ix);
    if (!h->quant || h->sq.trained) return VS_OK; /* fp32, fp16 and bf16 learn nothing */
    if (atomic_load(&h->n)) return vs_fail(VS_ERR_INVALID_ARG, "HNSW,SQ ranges cannot change once vectors are stored");
    int rc = vs_sq_train(&h->sq, n, x);
    if (!rc) ix->trained = h->sq.trained;
    return rc;
}

/* First write to a loaded or viewed index: copy records and upper lists into owned memory and
 * release the file image. Must not overlap searches (documented in vecscale.h). */
int vs_hnsw_make_owned(vs_index *ix)
{
    vs_hnsw *h = hnsw_of(ix);
    if (h->owned) return VS_OK;
    size_t n = atomic_load(&h->n);
    uint8_t *copies[VS_HNSW_MAX_BLOCKS] = {0};
    vs_hnsw_word *arena = NULL;
    size_t words = 0;
    for (size_t i = 0; i < n; i++) words += (size_t)vs_hnsw_meta_of(h, (uint32_t)i)->level * (1 + h->M);
    if (words && !(arena = malloc(words * sizeof *arena))) return vs_fail(VS_ERR_NOMEM, "out of memory copying the index");
    for (unsigned b = 0; b < h->n_blocks; b++) {
        copies[b] = vs_big_alloc(vs_hnsw_block_len(b) * h->rec_size);
        if (!copies[b]) {
            for (unsigned j = 0; j < b; j++) free(copies[j]);
            free(arena);
            return vs_fail(VS_ERR_NOMEM, "out of memory copying the index");
        }
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        vs_hnsw_meta *m = vs_hnsw_meta_of(h, (uint32_t)i);
        if (!m->level) continue;
        size_t w = (size_t)m->level * (1 + h->M);
        memcpy(arena + at, m->upper, w * sizeof *arena);
        m->upper = arena + at;
        at += w;
    }
    for (unsigned b = 0; b < h->n_blocks; b++) {
        size_t start = vs_hnsw_block_start(b), len = vs_hnsw_block_len(b);
        size_t used = n > start ? (n - start < len ? n - start : len) : 0;
        memcpy(copies[b], h->rec[b], used * h->rec_size);
        h->rec[b] = copies[b];
    }
    h->upper_arena = arena;
    h->upper_arena_words = words;
    h->owned = 1;
    vs_hnsw_recount(h); /* in-degrees are not stored in files */
    vs_index_release_backing(ix);
    return VS_OK;
}

int vs_hnsw_reserve(vs_index *ix, size_t need)
{
    vs_hnsw *h = hnsw_of(ix);
    int rc = vs_hnsw_make_owned(ix);
    if (rc) return rc;
    if (need > (size_t)UINT32_MAX - 1) return vs_fail(VS_ERR_INVALID_ARG, "HNSW holds at most %u vectors", UINT32_MAX - 1);
    while (h->n_blocks < VS_HNSW_MAX_BLOCKS && vs_hnsw_block_start(h->n_blocks) < need) {
        unsigned b = h->n_blocks;
        size_t len = vs_hnsw_block_len(b);
        if (len > SIZE_MAX / h->rec_size) return vs_fail(VS_ERR_NOMEM, "index too large");
        uint8_t *r = vs_big_alloc(len * h->rec_size);
        vs_hnsw_meta *m = calloc(len, sizeof *m);
        if (!r || !m) {
            free(r);
            free(m);
            return vs_fail(VS_ERR_NOMEM, "out of memory growing the HNSW index to %zu vectors", need);
        }
        /* Readers only reach nodes below the published count, so a plain store suffices. */
        h->rec[b] = r;
        h->meta[b] = m;
        h->n_blocks++;
    }
    return VS_OK;
}

int vs_hnsw_ensure_map(vs_hnsw *h)
{
    if (h->map_ready) return VS_OK;
    size_t n = atomic_load(&h->n);
    vs_idmap_destroy(&h->map);
    if (vs_idmap_init(&h->map, n ? n : 1)) return vs_fail(VS_ERR_NOMEM, "out of memory building the ID map");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = vs_hnsw_rec(h, (uint32_t)i);
        if (vs_hnsw_rec_deleted(r)) continue;
        int64_t id = vs_hnsw_rec_id(r);
        if (id < 0 || vs_idmap_get(&h->map, id, NULL)) {
            vs_idmap_destroy(&h->map);
            return vs_fail(VS_ERR_CORRUPT, "stored HNSW index holds a negative or duplicate id %lld", (long long)id);
        }
        vs_idmap_put(&h->map, id, i);
    }
    h->map_ready = 1;
    return VS_OK;
}

int vs_hnsw_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

vs_hnsw_scratch *vs_hnsw_scratch_get(vs_hnsw *h)
{
    pthread_mutex_lock(&h->pool_lock);
    vs_hnsw_scratch *s = h->pool;
    if (s) h->pool = s->next;
    pthread_mutex_unlock(&h->pool_lock);
    if (!s) s = calloc(1, sizeof *s);
    return s;
}

void vs_hnsw_scratch_put(vs_hnsw *h, vs_hnsw_scratch *s)
{
    if (!s) return;
    pthread_mutex_lock(&h->pool_lock);
    s->next = h->pool;
    h->pool = s;
    pthread_mutex_unlock(&h->pool_lock);
}

int vs_hnsw_visit_begin(vs_hnsw_scratch *s, size_t n)
{
    if (s->mark_cap < n) {
        /* Grow with headroom: concurrent inserts raise n a little at a time. */
        size_t cap = n + n / 4 + 1024;
        uint16_t *m = calloc(cap, sizeof *m);
        if (!m) return -1;
        free(s->mark);
        s->mark = m;
        s->mark_cap = cap;
        s->gen = 0;
    }
    if (++s->gen == 0) { /* wrapped: one clear every 65535 queries */
        memset(s->mark, 0, s->mark_cap * sizeof *s->mark);
        s->gen = 1;
    }
    return 0;
}

/* Nearest integer, ties away from zero (|x| <= 32767 here); inline, unlike lrintf. */
static inline int16_t round_i16(float x) { return (int16_t)(x + (x < 0 ? -0.5f : 0.5f)); }

/* The anchor's query state for the codes, set up on its first use and reused after. */
static int ensure_pq(const vs_hnsw *h, vs_hnsw_anchor *a)
{
    if (!a->pq_ready) {
        if (vs_sq_query_init(&a->pq, &h->sq, h->l2)) return -1;
        a->pq_ready = 1;
    }
    return 0;
}

/* The anchor's int16 weights and affine constants for the SQ8 kernel (hnsw_sq8.h), from the
 * float preparation in a->pq. */
static int prepare_sq8(const vs_hnsw *h, vs_hnsw_anchor *a)
{
    const vs_sq_query *pq = &a->pq;
    const uint32_t d = h->dim;
    if (vs_hnsw_grow((void **)&a->w8, &a->w8_cap, d, sizeof *a->w8)) return -1;
    float wmax = 0;
    double base = 0;
    for (uint32_t j = 0; j < d; j++) {
        float w = h->l2 ? pq->a[j] * pq->s[j] : pq->a[j];
        if (fabsf(w) > wmax) wmax = fabsf(w);
        if (h->l2) base += (double)pq->a[j] * pq->a[j];
    }
    float alpha = wmax > 0 ? (float)vs_hnsw_dot8_wmax(d) / wmax : 1.0f;
    for (uint32_t j = 0; j < d; j++) {
        float w = h->l2 ? pq->a[j] * pq->s[j] : pq->a[j];
        a->w8[j] = round_i16(w * alpha);
    }
    a->base = h->l2 ? (float)base : -pq->bias;
    a->mul = (h->l2 ? -2.0f : -1.0f) / alpha;
    return 0;
}

/* An SQ8 node's anchor straight from its code. Its decoded value is x_j = centre0_j + s_j c_j
 * (centre0 = vmin + s/2, sq.h), so prepare_sq8's terms are closed forms in the code:
 *   L2: a_j = x_j - centre0_j = s_j c_j, so w_j = s_j^2 c_j and base = sum (s_j c_j)^2;
 *   IP: w_j = x_j s_j and bias = sum x_j centre0_j.
 * Graph construction prepares one such anchor per kept neighbour of every list it prunes;
 * decoding, then preparing the decoded vector as a query, took 70% of an SQ8 build's time. */
static int anchor_sq8_node(const vs_hnsw *h, vs_hnsw_anchor *a, const uint8_t *code)
{
    const uint32_t d = h->dim;
    if (ensure_pq(h, a)) return -1;
    if (vs_hnsw_grow((void **)&a->w8, &a->w8_cap, d, sizeof *a->w8) ||
        vs_hnsw_grow((void **)&a->buf, &a->buf_cap, d, sizeof *a->buf))
        return -1;
    float alpha;
    float sum = h->node8(code, h->sq.vmin, a->pq.s, d, h->l2, vs_hnsw_dot8_wmax(d), a->buf, a->w8, &alpha);
    a->base = h->l2 ? sum : -sum;
    a->mul = (h->l2 ? -2.0f : -1.0f) / alpha;
    a->quant = 1;
    /* Not a decoded vector (it holds the float weights): SQ8 anchors are read through
     * vs_hnsw_key8 only, and v != NULL is what marks an anchor as prepared. */
    a->v = a->buf;
    return 0;
}

void vs_hnsw_encode(const vs_hnsw *h, const float *x, uint8_t *rec)
{
    uint8_t *code = rec + h->off_vec;
    if (h->quant) vs_sq_encode(&h->sq, 1, x, code);
    else memcpy(code, x, h->dim * sizeof(float));
    size_t tail = h->rec_size - h->off_vec - h->vec_bytes;
    if (tail) memset(code + h->vec_bytes, 0, tail);
    if (h->sq8_norm) {
        double nrm = 0;
        for (uint32_t j = 0; j < h->dim; j++) {
            double v = (double)(h->sq.vdiff[j] / 256.0f) * code[j];
            nrm += v * v;
        }
        float f = (float)nrm;
        memcpy(code + h->vec_bytes, &f, sizeof f);
    }
}

int vs_hnsw_anchor_vec(const vs_hnsw *h, vs_hnsw_anchor *a, const float *x)
{
    a->v = x;
    a->quant = h->quant;
    if (!h->quant) return 0;
    /* Prepared lazily: the step sizes come from the trained ranges. */
    if (ensure_pq(h, a)) return -1;
    vs_sq_query_set(&a->pq, x);
    if (h->sq8) return prepare_sq8(h, a);
    return 0;
}

int vs_hnsw_anchor_node(const vs_hnsw *h, vs_hnsw_anchor *a, uint32_t node)
{
    const uint8_t *rec = vs_hnsw_rec(h, node);
    if (!h->quant) {
        a->v = vs_hnsw_rec_vec(h, rec);
        a->quant = 0;
        return 0;
    }
    if (h->sq8) return anchor_sq8_node(h, a, rec + h->off_vec);
    if (h->sq.kind == VS_CODE_SQFP16 || h->sq.kind == VS_CODE_SQBF16) {
        /* The prepared query of a half-precision kind is the decoded vector itself: decode
         * straight into it (copying it there took 16% of an fp16 build). */
        if (ensure_pq(h, a)) return -1;
        vs_sq_decode(&h->sq, 1, rec + h->off_vec, a->pq.a);
        a->pq.bias = 0;
        a->v = a->pq.a;
        a->quant = 1;
        return 0;
    }
    if (vs_hnsw_grow((void **)&a->buf, &a->buf_cap, h->dim, sizeof *a->buf)) return -1;
    vs_sq_decode(&h->sq, 1, rec + h->off_vec, a->buf);
    return vs_hnsw_anchor_vec(h, a, a->buf);
}

static int hnsw_get(const vs_index *ix, int64_t id, float *out)
{
    vs_hnsw *h = hnsw_of(ix);
    pthread_mutex_lock(&h->map_lock);
    int rc = vs_hnsw_ensure_map(h);
    uint64_t node = 0;
    int found = !rc && vs_idmap_get(&h->map, id, &node);
    if (found && h->quant) vs_sq_decode(&h->sq, 1, vs_hnsw_rec(h, (uint32_t)node) + h->off_vec, out);
    else if (found) memcpy(out, vs_hnsw_rec_vec(h, vs_hnsw_rec(h, (uint32_t)node)), ix->dim * sizeof *out);
    pthread_mutex_unlock(&h->map_lock);
    if (rc) return rc;
    return found ? VS_OK : vs_fail(VS_ERR_NOT_FOUND, "id %lld is not in the index", (long long)id);
}

static size_t hnsw_size(const vs_index *ix)
{
    const vs_hnsw *h = hnsw_of(ix);
    return atomic_load(&((vs_hnsw *)h)->n) - atomic_load(&((vs_hnsw *)h)->n_deleted);
}

static size_t hnsw_memory(const vs_index *ix)
{
    vs_hnsw *h = hnsw_of(ix);
    size_t b = sizeof *h + (h->map_ready ? vs_idmap_memory(&h->map) : 0);
    size_t n = atomic_load(&h->n);
    /* Only the nodes written so far: the last block is mostly unused, and a block is one large
     * malloc/calloc whose pages stay uncommitted until a node is written into them. */
    for (unsigned i = 0; i < h->n_blocks; i++) {
        size_t start = vs_hnsw_block_start(i), len = vs_hnsw_block_len(i);
        size_t used = n <= start ? 0 : n - start < len ? n - start : len;
        b += used * sizeof(vs_hnsw_meta);
        if (h->owned) b += used * h->rec_size;
    }
    if (h->owned)
        for (size_t i = 0; i < n; i++) b += (size_t)vs_hnsw_meta_of(h, (uint32_t)i)->level * (1 + h->M) * 4;
    return b;
}

static size_t hnsw_code_size(const vs_index *ix) { return hnsw_of(ix)->vec_bytes; }

const vs_index_ops vs_hnsw_ops = {
    .name = "HNSW",
    .init = hnsw_init,
    .destroy = hnsw_destroy,
    .train = hnsw_train,
    .add = vs_hnsw_add,
    .remove = vs_hnsw_remove,
    .get = hnsw_get,
    .search = vs_hnsw_search,
    .range_search = vs_hnsw_range_search,
    .size = hnsw_size,
    .memory_bytes = hnsw_memory,
    .code_size = hnsw_code_size,
    .save = vs_hnsw_save,
    .load = vs_hnsw_load,
};
