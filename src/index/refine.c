/* ",RFlat": any index followed by re-ranking on the original vectors. The base index returns
 * k * k_factor candidates by its (approximate) keys; a Flat index holding the same IDs gives
 * their exact keys, and the best k are kept. Both inner indexes share the outer file: their
 * section tags do not overlap, so save writes both and load (or view, which maps the flat
 * vectors too) reads both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/flat.h"
#include "index/index_impl.h"
#include "kernels/kernels.h"
#include "kernels/topk.h"


typedef struct {
    vs_index *base;
    vs_index *flat;
} refine;

static refine *refine_of(const vs_index *ix) { return ix->impl; }

static int make_inner(const vs_index *ix, const char *factory, vs_index **out)
{
    /* Cosine inputs arrive normalised: the inner indexes rank by inner product. */
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = ix->dim,
                          .metric = ix->metric == VS_METRIC_L2 ? VS_METRIC_L2 : VS_METRIC_IP,
                          .factory = factory,
                          .n_threads = ix->n_threads,
                          .ef_construction = ix->ef_construction,
                          .seed = ix->seed};
    return vs_index_create(&o, out);
}

static int refine_init(vs_index *ix)
{
    vs_factory_spec base = ix->spec;
    base.refine_flat = 0;
    char name[64];
    vs_factory_format(&base, name, sizeof name);
    refine *r = calloc(1, sizeof *r);
    if (!r) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = make_inner(ix, name, &r->base);
    if (!rc) rc = make_inner(ix, "Flat", &r->flat);
    if (rc) {
        vs_index_free(r->base);
        vs_index_free(r->flat);
        free(r);
        return rc;
    }
    ix->impl = r;
    ix->trained = r->base->trained;
    return VS_OK;
}

static void refine_destroy(vs_index *ix)
{
    refine *r = refine_of(ix);
    if (!r) return;
    vs_index_free(r->base);
    vs_index_free(r->flat);
    free(r);
}

static int refine_train(vs_index *ix, size_t n, const float *x)
{
    refine *r = refine_of(ix);
    int rc = vs_index_train(r->base, n, x);
    if (!rc) ix->trained = r->base->trained;
    return rc;
}

static int refine_add(vs_index *ix, size_t n, const float *x, const int64_t *ids)
{
    refine *r = refine_of(ix);
    int rc = vs_index_add(r->base, n, x, ids);
    if (rc) return rc;
    rc = vs_index_add(r->flat, n, x, ids);
    if (rc) { /* keep the two in step: undo the base's half */
        char msg[256];
        snprintf(msg, sizeof msg, "%s", vs_last_error());
        size_t gone;
        r->base->ops->remove(r->base, n, ids, &gone);
        return vs_fail(rc, "%s", msg);
    }
    return VS_OK;
}

static int refine_remove(vs_index *ix, size_t n, const int64_t *ids, size_t *n_removed)
{
    refine *r = refine_of(ix);
    size_t a = 0, b = 0;
    int rc = r->base->ops->remove(r->base, n, ids, &a);
    if (!rc) rc = r->flat->ops->remove(r->flat, n, ids, &b);
    *n_removed = b;
    return rc;
}

static int refine_get(const vs_index *ix, int64_t id, float *out)
{
    const refine *r = refine_of(ix);
    return r->flat->ops->get(r->flat, id, out);
}

typedef struct {
    const vs_index *ix;
    const float *q;
    uint32_t k, kc;
    const float *ckeys;
    const int64_t *cids;
    float *keys;
    int64_t *ids;
} rerank_job;

static inline __attribute__((always_inline)) void prefetch_vector(const vs_flat *f, int64_t id, size_t d)
{
    int64_t row = id >= 0 && f->ids_are_rows && !f->map_ready ? id : -1;
    if (row < 0 || (size_t)row >= f->n) return;
    const char *p = (const char *)(f->vecs + (size_t)row * d);
    for (size_t b = 0; b < d * sizeof(float); b += 64) __builtin_prefetch(p + b);
}

static void rerank_task(size_t i, unsigned worker, void *ctx)
{
    (void)worker;
    const rerank_job *J = ctx;
    const refine *r = refine_of(J->ix);
    const vs_flat *f = r->flat->impl;
    const vs_kernel_table *kt = vs_kernels();
    const size_t d = J->ix->dim;
    const float *q = J->q + i * d;
    float *kh = J->keys + i * J->k;
    int64_t *lh = J->ids + i * J->k;
    vs_heap_reset(kh, lh, J->k);
    const int64_t *cand = J->cids + i * J->kc;
    /* Candidates are scattered over the vectors: fetch a few ahead. */
    enum { AHEAD = 4 };
    for (uint32_t c = 0; c < J->kc && c < AHEAD; c++) prefetch_vector(f, cand[c], d);
    for (uint32_t c = 0; c < J->kc; c++) {
        if (c + AHEAD < J->kc) prefetch_vector(f, cand[c + AHEAD], d);
        int64_t id = cand[c];
        if (id < 0) continue;
        int64_t row = vs_flat_find(f, id);
        if (row < 0) continue; /* cannot happen while the two agree; never return a stale ID */
        const float *x = f->vecs + (size_t)row * d;
        float key = J->ix->metric == VS_METRIC_L2 ? kt->l2sq(q, x, d) : -kt->dot(q, x, d);
        if (key < kh[0]) vs_heap_push(kh, lh, J->k, key, id);
    }
    vs_heap_sort(kh, lh, J->k);
}

static int refine_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                         float *keys, int64_t *ids)
{
    const refine *r = refine_of(ix);
    float kf = p && p->k_factor > 0 ? p->k_factor : VS_REFINE_DEFAULT_K_FACTOR;
    if (kf < 1) kf = 1;
    double want = (double)k * kf;
    uint32_t kc = want > VS_MAX_K ? VS_MAX_K : (uint32_t)want;
    if (kc < k) kc = k;
    float *ckeys = malloc(nq * kc * sizeof *ckeys);
    int64_t *cids = malloc(nq * kc * sizeof *cids);
    int rc = ckeys && cids ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for %u re-ranking candidates", kc);
    if (!rc) rc = r->base->ops->search(r->base, nq, q, kc, p, ckeys, cids);
    if (!rc) {
        rerank_job J = {.ix = ix, .q = q, .k = k, .kc = kc, .ckeys = ckeys, .cids = cids, .keys = keys, .ids = ids};
        unsigned threads = p && p->n_threads > 1 ? p->n_threads : 1;
        vs_parallel_for(nq, threads, rerank_task, &J);
    }
    free(ckeys);
    free(cids);
    return rc;
}

static int refine_range(const vs_index *ix, size_t nq, const float *q, float key_radius, const vs_search_params *p,
                        vs_range_result **out)
{
    /* Candidates by the base's estimate, kept by their exact key. */
    const refine *r = refine_of(ix);
    vs_range_result *c = NULL;
    int rc = r->base->ops->range_search(r->base, nq, q, key_radius, p, &c);
    if (rc) return rc;
    const vs_flat *f = r->flat->impl;
    const vs_kernel_table *kt = vs_kernels();
    size_t at = 0;
    for (size_t i = 0; i < nq; i++) {
        size_t from = c->lims[i], to = c->lims[i + 1];
        c->lims[i] = at;
        for (size_t j = from; j < to; j++) {
            int64_t row = vs_flat_find(f, c->ids[j]);
            if (row < 0) continue;
            const float *x = f->vecs + (size_t)row * ix->dim;
            float key = ix->metric == VS_METRIC_L2 ? kt->l2sq(q + i * ix->dim, x, ix->dim) : -kt->dot(q + i * ix->dim, x, ix->dim);
            if (key < key_radius) {
                c->ids[at] = c->ids[j];
                c->distances[at++] = key;
            }
        }
        vs_pairs_sort(c->distances + c->lims[i], c->ids + c->lims[i], at - c->lims[i]);
    }
    c->lims[nq] = at;
    *out = c;
    return VS_OK;
}

static size_t refine_size(const vs_index *ix) { return refine_of(ix)->flat->ops->size(refine_of(ix)->flat); }

static size_t refine_memory(const vs_index *ix)
{
    const refine *r = refine_of(ix);
    return sizeof *r + vs_index_memory_bytes(r->base) + vs_index_memory_bytes(r->flat);
}

/* The base's code plus the float32 vector kept for re-ranking. */
static size_t refine_code_size(const vs_index *ix)
{
    return vs_index_code_size(refine_of(ix)->base) + (size_t)ix->dim * sizeof(float);
}

static int refine_save(const vs_index *ix, vs_container_writer *w)
{
    const refine *r = refine_of(ix);
    int rc = r->base->ops->save(r->base, w);
    return rc ? rc : r->flat->ops->save(r->flat, w);
}

static int refine_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin)
{
    refine *r = refine_of(ix);
    int rc = r->base->ops->load(r->base, c, ntotal, origin);
    if (!rc) rc = r->flat->ops->load(r->flat, c, ntotal, origin);
    if (rc) return rc;
    /* Re-ranking looks up every candidate: a loaded Flat would find IDs by a scan until its
     * first write. Automatic IDs are rows; anything else gets its map now. */
    vs_flat *f = r->flat->impl;
    size_t i = 0;
    while (i < f->n && f->ids[i] == (int64_t)i) i++;
    if (i == f->n) f->ids_are_rows = 1;
    else rc = vs_flat_build_map(f);
    return rc;
}

const vs_index_ops vs_refine_ops = {
    .name = "Refine",
    .init = refine_init,
    .destroy = refine_destroy,
    .train = refine_train,
    .add = refine_add,
    .remove = refine_remove,
    .get = refine_get,
    .search = refine_search,
    .range_search = refine_range,
    .size = refine_size,
    .memory_bytes = refine_memory,
    .code_size = refine_code_size,
    .save = refine_save,
    .load = refine_load,
};
