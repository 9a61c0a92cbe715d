/* Public index API: argument checks, cosine normalisation, ID assignment and score
 * conversion shared by every index type, then dispatch through the vtable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/error.h"
#include "core/options.h"
#include "core/validate.h"
#include "index/hnsw.h"
#include "index/index_impl.h"
#include "index/ivf.h"
#include "quant/sq.h"

const vs_index_ops *vs_index_ops_for(const vs_factory_spec *spec)
{
    if (spec->shards) {
        /* Shards of any index that exists. */
        vs_factory_spec base = *spec;
        base.shards = 0;
        return vs_index_ops_for(&base) ? &vs_sharded_ops : NULL;
    }
    if (spec->refine_u8) {
        vs_factory_spec base = *spec;
        base.refine_u8 = 0;
        return vs_index_ops_for(&base) ? &vs_refine_u8_ops : NULL;
    }
    if (spec->refine_flat) {
        /* Re-ranking wraps any base index that exists; Flat needs none. */
        vs_factory_spec base = *spec;
        base.refine_flat = 0;
        if (spec->coarse == VS_COARSE_NONE && spec->code == VS_CODE_FLAT) return &vs_flat_ops;
        return vs_index_ops_for(&base) ? &vs_refine_ops : NULL;
    }
    if (spec->coarse == VS_COARSE_NONE && spec->code == VS_CODE_FLAT) return &vs_flat_ops;
    /* Standalone SQ and PQ are the IVF index with a single list. */
    if (spec->coarse == VS_COARSE_IVF || spec->coarse == VS_COARSE_NONE) return &vs_ivf_ops;
    if (spec->coarse == VS_COARSE_HNSW && (spec->code == VS_CODE_FLAT || vs_sq_kind_ok(spec->code))) return &vs_hnsw_ops;
    char name[64] = "?";
    vs_factory_format(spec, name, sizeof name);
    vs_fail(VS_ERR_UNSUPPORTED, "index type \"%s\" is recognised, but vecscale %s does not provide it "
            "(available: Flat, IVF{n},Flat|SQ8|SQ4|SQfp16|SQbf16|PQ{m}[x{bits}][fs], PQ{m}[x{bits}][fs], SQ*, "
            "HNSW{M},Flat, \",RFlat\" or \",Ru8\" after any of them, and \"Shards{n},\" before)", name, vs_version_string());
    return NULL;
}

void vs_index_options_init(vs_index_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->ef_construction = VS_HNSW_DEFAULT_EFC;
}

void vs_search_params_init(vs_search_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->nprobe = VS_IVF_DEFAULT_NPROBE;
    p->k_factor = VS_REFINE_DEFAULT_K_FACTOR;
}

static int create(const vs_index_options *caller_opts, const char *opening, vs_index **out)
{
    if (!caller_opts || !out) return vs_fail(VS_ERR_INVALID_ARG, "vs_index_create: options and out must not be NULL");
    *out = NULL;
    VS_READ_OPTIONS(vs_index_options, o, caller_opts, VS_INDEX_OPTIONS_V1);
    const vs_index_options *opts = &o;
    if (opts->dim == 0 || opts->dim > VS_MAX_DIM)
        return vs_fail(VS_ERR_DIMENSION, "dimension %u is out of range 1..%u", opts->dim, VS_MAX_DIM);
    if ((unsigned)opts->metric > VS_METRIC_COSINE)
        return vs_fail(VS_ERR_INVALID_ARG, "unknown metric %d", (int)opts->metric);
    vs_factory_spec spec = {.struct_size = sizeof spec};
    int rc = vs_factory_parse(opts->factory ? opts->factory : "Flat", &spec);
    if (rc) return rc;
    const vs_index_ops *ops = vs_index_ops_for(&spec);
    if (!ops) return VS_ERR_UNSUPPORTED;
    vs_index *ix = calloc(1, sizeof *ix);
    if (!ix) return vs_fail(VS_ERR_NOMEM, "out of memory");
    ix->ops = ops;
    ix->dim = opts->dim;
    ix->metric = opts->metric;
    ix->n_threads = opts->n_threads;
    ix->ef_construction = opts->ef_construction;
    ix->seed = opts->seed;
    ix->spec = spec;
    vs_factory_format(&spec, ix->factory, sizeof ix->factory);
    ix->refine_store = opts->refine_store;
    ix->opening = opening;
    rc = ops->init(ix);
    ix->refine_store = NULL;
    if (rc) {
        free(ix);
        return rc;
    }
    *out = ix;
    return VS_OK;
}

int vs_index_create(const vs_index_options *opts, vs_index **out) { return create(opts, NULL, out); }

int vs_index_create_opening(const vs_index_options *opts, const char *path, vs_index **out)
{
    return create(opts, path, out);
}

void vs_index_release_backing(vs_index *ix)
{
    if (ix->backing.kind == VS_BACKING_MMAP) munmap(ix->backing.addr, ix->backing.len);
    else if (ix->backing.kind == VS_BACKING_HEAP) free(ix->backing.addr);
    memset(&ix->backing, 0, sizeof ix->backing);
}

void vs_index_free(vs_index *ix)
{
    if (!ix) return;
    ix->ops->destroy(ix);
    vs_index_release_backing(ix);
    free(ix);
}

/* For cosine, returns a normalised copy in *tmp (caller frees); otherwise x itself. */
static int prepare_vectors(const vs_index *ix, size_t n, const float *x, const char *what,
                           const float **use, float **tmp)
{
    *tmp = NULL;
    *use = x;
    int rc = vs_check_finite(x, n, ix->dim, what);
    if (rc) return rc;
    if (ix->metric == VS_METRIC_COSINE) {
        rc = vs_normalized_copy(x, n, ix->dim, what, tmp);
        if (rc) return rc;
        *use = *tmp;
    }
    return VS_OK;
}

int vs_index_train(vs_index *ix, size_t n, const float *x)
{
    if (!ix) return vs_fail(VS_ERR_INVALID_ARG, "index is NULL");
    if (n == 0 || !x) return vs_fail(VS_ERR_EMPTY, "training needs at least one vector");
    const float *use;
    float *tmp;
    int rc = prepare_vectors(ix, n, x, "training vector", &use, &tmp);
    if (!rc) rc = ix->ops->train(ix, n, use);
    free(tmp);
    return rc;
}

int vs_index_add(vs_index *ix, size_t n, const float *x, const int64_t *ids)
{
    if (!ix) return vs_fail(VS_ERR_INVALID_ARG, "index is NULL");
    if (n == 0) return VS_OK;
    if (!x) return vs_fail(VS_ERR_INVALID_ARG, "vectors is NULL");
    if (!ix->trained) return vs_fail(VS_ERR_NOT_TRAINED, "index \"%s\" must be trained before adding", ix->factory);
    int64_t max_id = -1;
    if (ids) {
        for (size_t i = 0; i < n; i++) {
            if (ids[i] < 0) return vs_fail(VS_ERR_INVALID_ARG, "id %lld (row %zu) is negative", (long long)ids[i], i);
            if (ids[i] > max_id) max_id = ids[i];
        }
    } else if (ix->next_id > INT64_MAX - (int64_t)n) {
        return vs_fail(VS_ERR_INVALID_ARG, "automatic IDs exhausted");
    }
    const float *use;
    float *tmp;
    int rc = prepare_vectors(ix, n, x, "vector", &use, &tmp);
    if (rc) return rc;
    int64_t *auto_ids = NULL;
    if (!ids) {
        auto_ids = malloc(n * sizeof *auto_ids);
        if (!auto_ids) {
            free(tmp);
            return vs_fail(VS_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) auto_ids[i] = ix->next_id + (int64_t)i;
        max_id = ix->next_id + (int64_t)n - 1;
    }
    rc = ix->ops->add(ix, n, use, ids ? ids : auto_ids);
    if (!rc && max_id >= ix->next_id) ix->next_id = max_id == INT64_MAX ? INT64_MAX : max_id + 1;
    free(auto_ids);
    free(tmp);
    return rc;
}

int vs_index_remove(vs_index *ix, size_t n, const int64_t *ids, size_t *n_removed)
{
    if (n_removed) *n_removed = 0;
    if (!ix) return vs_fail(VS_ERR_INVALID_ARG, "index is NULL");
    if (n == 0) return VS_OK;
    if (!ids) return vs_fail(VS_ERR_INVALID_ARG, "ids is NULL");
    size_t removed = 0;
    int rc = ix->ops->remove(ix, n, ids, &removed);
    if (n_removed) *n_removed = removed;
    return rc;
}

int vs_index_get(const vs_index *ix, int64_t id, float *out)
{
    if (!ix || !out) return vs_fail(VS_ERR_INVALID_ARG, "index and out must not be NULL");
    return ix->ops->get(ix, id, out);
}

static int check_filter(const vs_filter *f)
{
    if (!f) return VS_OK;
    switch (f->kind) {
    case VS_FILTER_NONE: return VS_OK;
    case VS_FILTER_BITSET:
        if (!f->bits && f->n_bits) return vs_fail(VS_ERR_INVALID_ARG, "bitset filter has n_bits but no bits");
        return VS_OK;
    case VS_FILTER_PREDICATE:
        if (!f->fn) return vs_fail(VS_ERR_INVALID_ARG, "predicate filter has no function");
        return VS_OK;
    }
    return vs_fail(VS_ERR_INVALID_ARG, "unknown filter kind %d", (int)f->kind);
}

/* Shared checks of search and range search; on success *use holds the (normalised) queries. */
static int prepare_search(const vs_index *ix, size_t nq, const float *q, const vs_search_params *p,
                          const float **use, float **tmp)
{
    *tmp = NULL;
    if (!ix) return vs_fail(VS_ERR_INVALID_ARG, "index is NULL");
    if (!q) return vs_fail(VS_ERR_INVALID_ARG, "queries is NULL");
    if (!ix->trained) return vs_fail(VS_ERR_NOT_TRAINED, "index \"%s\" must be trained before searching", ix->factory);
    int rc = check_filter(p ? p->filter : NULL);
    if (rc) return rc;
    if (ix->ops->size(ix) == 0) return vs_fail(VS_ERR_EMPTY, "the index is empty: add vectors before searching");
    return prepare_vectors(ix, nq, q, "query", use, tmp);
}

static float key_to_score(vs_metric m, float key) { return m == VS_METRIC_L2 ? key : -key; }

int vs_index_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *caller_p,
                    float *distances, int64_t *ids)
{
    VS_READ_OPTIONS(vs_search_params, params, caller_p, VS_SEARCH_PARAMS_V1);
    const vs_search_params *p = &params;
    if (k == 0) return vs_fail(VS_ERR_INVALID_ARG, "k must be at least 1");
    if (k > VS_MAX_K) return vs_fail(VS_ERR_INVALID_ARG, "k = %u exceeds the limit %u", k, VS_MAX_K);
    if (!distances || !ids) return vs_fail(VS_ERR_INVALID_ARG, "distances and ids must not be NULL");
    if (nq == 0) return ix ? VS_OK : vs_fail(VS_ERR_INVALID_ARG, "index is NULL");
    if (nq > SIZE_MAX / k) return vs_fail(VS_ERR_INVALID_ARG, "nq * k overflows");
    const float *use;
    float *tmp;
    int rc = prepare_search(ix, nq, q, p, &use, &tmp);
    if (!rc) rc = ix->ops->search(ix, nq, use, k, p, distances, ids);
    free(tmp);
    if (rc) return rc;
    if (ix->metric != VS_METRIC_L2)
        for (size_t i = 0; i < nq * k; i++) distances[i] = key_to_score(ix->metric, distances[i]);
    return VS_OK;
}

int vs_index_range_search(const vs_index *ix, size_t nq, const float *q, float radius,
                          const vs_search_params *caller_p, vs_range_result **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "out must not be NULL");
    *out = NULL;
    VS_READ_OPTIONS(vs_search_params, params, caller_p, VS_SEARCH_PARAMS_V1);
    const vs_search_params *p = &params;
    if (isnan(radius)) return vs_fail(VS_ERR_INVALID_ARG, "radius is NaN");
    if (nq == 0) {
        if (!ix) return vs_fail(VS_ERR_INVALID_ARG, "index is NULL");
        vs_range_result *r = calloc(1, sizeof *r);
        if (!r || !(r->lims = calloc(1, sizeof *r->lims))) {
            free(r);
            return vs_fail(VS_ERR_NOMEM, "out of memory");
        }
        *out = r;
        return VS_OK;
    }
    const float *use;
    float *tmp;
    int rc = prepare_search(ix, nq, q, p, &use, &tmp);
    if (rc) return rc;
    float key_radius = ix->metric == VS_METRIC_L2 ? radius : -radius;
    rc = ix->ops->range_search(ix, nq, use, key_radius, p, out);
    free(tmp);
    if (rc) return rc;
    vs_range_result *r = *out;
    if (ix->metric != VS_METRIC_L2)
        for (size_t i = 0; i < r->lims[nq]; i++) r->distances[i] = key_to_score(ix->metric, r->distances[i]);
    return VS_OK;
}

void vs_range_result_free(vs_range_result *r)
{
    if (!r) return;
    free(r->lims);
    free(r->ids);
    free(r->distances);
    free(r);
}

uint32_t vs_index_dim(const vs_index *ix) { return ix ? ix->dim : 0; }
size_t vs_index_size(const vs_index *ix) { return ix ? ix->ops->size(ix) : 0; }
vs_metric vs_index_metric(const vs_index *ix) { return ix ? ix->metric : VS_METRIC_L2; }
int vs_index_is_trained(const vs_index *ix) { return ix ? ix->trained : 0; }
int vs_index_is_mapped(const vs_index *ix) { return ix && ix->backing.kind == VS_BACKING_MMAP; }
const char *vs_index_factory(const vs_index *ix) { return ix ? ix->factory : ""; }
size_t vs_index_code_size(const vs_index *ix) { return ix ? ix->ops->code_size(ix) : 0; }
int64_t vs_index_next_id(const vs_index *ix) { return ix ? ix->next_id : 0; }

size_t vs_index_memory_bytes(const vs_index *ix)
{
    if (!ix) return 0;
    size_t b = sizeof *ix + ix->ops->memory_bytes(ix);
    if (ix->backing.kind == VS_BACKING_HEAP) b += ix->backing.len;
    return b;
}

static int check_matrix(const vs_index *ix, const vs_matrix *m, const char *what)
{
    if (!ix || !m) return vs_fail(VS_ERR_INVALID_ARG, "index and %s must not be NULL", what);
    if (m->dtype != VS_DTYPE_F32)
        return vs_fail(VS_ERR_INVALID_ARG, "%s must be float32 (convert with vs_matrix_to_f32)", what);
    if (m->n && m->dim != ix->dim)
        return vs_fail(VS_ERR_DIMENSION, "%s have dimension %u but the index has dimension %u", what, m->dim, ix->dim);
    return VS_OK;
}

int vs_index_add_matrix(vs_index *ix, const vs_matrix *m, const int64_t *ids)
{
    int rc = check_matrix(ix, m, "vectors");
    return rc ? rc : vs_index_add(ix, m->n, m->data, ids);
}

int vs_index_search_matrix(const vs_index *ix, const vs_matrix *q, uint32_t k, const vs_search_params *p,
                           float *distances, int64_t *ids)
{
    int rc = check_matrix(ix, q, "queries");
    return rc ? rc : vs_index_search(ix, q->n, q->data, k, p, distances, ids);
}
