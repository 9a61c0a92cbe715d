/* The sharded index as an index type (vs_sharded_ops): shards owned by ID hash, searched in
 * parallel, results merged with vs_topk_merge (topk_merge.c). Files:
 * sharded_io.c; the deprecated vs_sharded_* calls: sharded_compat.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/sharded.h"
#include "kernels/topk.h"

uint32_t vs_shard_of(int64_t id, uint32_t n_shards)
{
    if (n_shards <= 1) return 0;
    /* splitmix64's finaliser: consecutive IDs spread evenly. */
    uint64_t z = (uint64_t)id + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)(z % n_shards);
}

static void free_shards(vs_index **sh, uint32_t n)
{
    for (uint32_t i = 0; sh && i < n; i++) vs_index_free(sh[i]);
    free(sh);
}

static int all_trained(const vs_shards *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (!s->sh[i]->trained) return 0;
    return 1;
}

void vs_shards_replace(vs_index *ix, vs_index **sh, uint32_t n)
{
    vs_shards *s = vs_shards_of(ix);
    free_shards(s->sh, s->n);
    s->sh = sh;
    s->n = n;
    ix->trained = all_trained(s);
}

/* n empty shards of the base type, made from the options the sharded index was made from. */
static int sharded_init(vs_index *ix)
{
    vs_factory_spec base = ix->spec;
    base.shards = 0;
    char name[64];
    int rc = vs_factory_format(&base, name, sizeof name);
    if (rc) return rc;
    vs_shards *s = calloc(1, sizeof *s);
    vs_index **sh = calloc(ix->spec.shards, sizeof *sh);
    if (!s || !sh) {
        free(s);
        free(sh);
        return vs_fail(VS_ERR_NOMEM, "sharded index: out of memory");
    }
    vs_index_options o = {.struct_size = sizeof o, .dim = ix->dim, .metric = ix->metric, .factory = name,
                          .n_threads = ix->n_threads, .ef_construction = ix->ef_construction, .seed = ix->seed};
    for (uint32_t i = 0; i < ix->spec.shards && rc == VS_OK; i++) rc = vs_index_create(&o, &sh[i]);
    if (rc) {
        free_shards(sh, ix->spec.shards);
        free(s);
        return rc;
    }
    s->n = ix->spec.shards;
    s->sh = sh;
    ix->impl = s;
    ix->trained = all_trained(s);
    return VS_OK;
}

static void sharded_destroy(vs_index *ix)
{
    vs_shards *s = vs_shards_of(ix);
    if (!s) return;
    free_shards(s->sh, s->n);
    free(s);
    ix->impl = NULL;
}

/* Every shard on the same vectors, so shards made from one seed train alike. */
static int sharded_train(vs_index *ix, size_t n, const float *x)
{
    vs_shards *s = vs_shards_of(ix);
    for (uint32_t i = 0; i < s->n; i++) {
        int rc = s->sh[i]->ops->train(s->sh[i], n, x);
        if (rc) return vs_fail(rc, "shard %u: %s", i, vs_last_error());
    }
    ix->trained = all_trained(s);
    return VS_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Refuses a batch with an ID repeated in it or already stored, before any shard changes:
 * a shard would refuse it too, but only after the shards before it had added their part. */
static int check_new_ids(const vs_index *ix, size_t n, const int64_t *ids, int64_t *scratch)
{
    const vs_shards *s = vs_shards_of(ix);
    memcpy(scratch, ids, n * sizeof *scratch);
    qsort(scratch, n, sizeof *scratch, cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (scratch[i] == scratch[i - 1])
            return vs_fail(VS_ERR_DUPLICATE_ID, "ID %lld appears twice in the batch", (long long)scratch[i]);
    float *probe = malloc(ix->dim * sizeof *probe);
    if (!probe) return vs_fail(VS_ERR_NOMEM, "sharded add: out of memory");
    int rc = VS_OK;
    for (size_t i = 0; i < n && rc == VS_OK; i++) {
        const vs_index *sh = s->sh[vs_shard_of(ids[i], s->n)];
        if (sh->ops->get(sh, ids[i], probe) == VS_OK)
            rc = vs_fail(VS_ERR_DUPLICATE_ID, "ID %lld is already in the index", (long long)ids[i]);
    }
    free(probe);
    if (rc == VS_OK) vs_clear_error(); /* the probes' "not found" */
    return rc;
}

static int sharded_add(vs_index *ix, size_t n, const float *x, const int64_t *ids)
{
    vs_shards *s = vs_shards_of(ix);
    size_t *start = calloc((size_t)s->n + 1, sizeof *start);
    size_t *fill = calloc(s->n, sizeof *fill);
    float *bx = malloc(n * ix->dim * sizeof *bx);
    int64_t *bid = malloc(n * sizeof *bid);
    int rc = start && fill && bx && bid ? VS_OK : vs_fail(VS_ERR_NOMEM, "sharded add: out of memory");
    if (rc == VS_OK) rc = check_new_ids(ix, n, ids, bid);
    if (rc == VS_OK) { /* group the batch by shard; a counting sort keeps each shard's order */
        for (size_t i = 0; i < n; i++) start[vs_shard_of(ids[i], s->n) + 1]++;
        for (uint32_t sh = 0; sh < s->n; sh++) start[sh + 1] += start[sh];
        for (size_t i = 0; i < n; i++) {
            uint32_t sh = vs_shard_of(ids[i], s->n);
            size_t at = start[sh] + fill[sh]++;
            memcpy(bx + at * ix->dim, x + i * ix->dim, ix->dim * sizeof *bx);
            bid[at] = ids[i];
        }
    }
    for (uint32_t sh = 0; sh < s->n && rc == VS_OK; sh++) {
        size_t m = start[sh + 1] - start[sh];
        if (!m) continue;
        vs_index *part = s->sh[sh];
        rc = part->ops->add(part, m, bx + start[sh] * ix->dim, bid + start[sh]);
        if (rc) {
            rc = vs_fail(rc, "shard %u: %s", sh, vs_last_error());
            break;
        }
        for (size_t i = start[sh]; i < start[sh + 1]; i++)
            if (bid[i] >= part->next_id) part->next_id = bid[i] == INT64_MAX ? INT64_MAX : bid[i] + 1;
    }
    free(start);
    free(fill);
    free(bx);
    free(bid);
    return rc;
}

static int sharded_remove(vs_index *ix, size_t n, const int64_t *ids, size_t *n_removed)
{
    vs_shards *s = vs_shards_of(ix);
    int64_t *mine = malloc(n * sizeof *mine);
    if (!mine) return vs_fail(VS_ERR_NOMEM, "sharded remove: out of memory");
    size_t total = 0;
    int rc = VS_OK;
    for (uint32_t sh = 0; sh < s->n && rc == VS_OK; sh++) {
        size_t m = 0, r = 0;
        for (size_t i = 0; i < n; i++)
            if (vs_shard_of(ids[i], s->n) == sh) mine[m++] = ids[i];
        if (m) rc = s->sh[sh]->ops->remove(s->sh[sh], m, mine, &r);
        total += r;
    }
    free(mine);
    *n_removed = total;
    return rc;
}

static int sharded_get(const vs_index *ix, int64_t id, float *out)
{
    const vs_shards *s = vs_shards_of(ix);
    const vs_index *sh = s->sh[vs_shard_of(id, s->n)];
    return sh->ops->get(sh, id, out);
}

typedef struct {
    const vs_shards *s;
    size_t nq;
    const float *q;
    uint32_t k;
    vs_search_params p;
    float *keys; /* n shards x nq x k */
    int64_t *ids;
    int *rc;
    char (*msg)[256];
} search_job;

static void search_shard(size_t sh, unsigned worker, void *ctx)
{
    (void)worker;
    search_job *j = ctx;
    const vs_index *part = j->s->sh[sh];
    size_t off = sh * j->nq * j->k;
    if (part->ops->size(part) == 0) return; /* its rows stay out of the merge */
    j->rc[sh] = part->ops->search(part, j->nq, j->q, j->k, &j->p, j->keys + off, j->ids + off);
    if (j->rc[sh]) snprintf(j->msg[sh], sizeof j->msg[sh], "%s", vs_last_error());
}

static int sharded_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                          float *keys, int64_t *ids)
{
    const vs_shards *s = vs_shards_of(ix);
    search_job j = {.s = s, .nq = nq, .q = q, .k = k, .p = *p};
    unsigned threads = p->n_threads > 1 ? p->n_threads : 1;
    /* Threads go to shards first; any left over are split inside each shard's search. */
    unsigned outer = threads < s->n ? threads : s->n;
    j.p.n_threads = threads / outer;
    size_t per = nq * (size_t)k;
    j.keys = malloc(s->n * per * sizeof *j.keys);
    j.ids = malloc(s->n * per * sizeof *j.ids);
    j.rc = calloc(s->n, sizeof *j.rc);
    j.msg = calloc(s->n, sizeof *j.msg);
    const float **kl = calloc(s->n, sizeof *kl);
    const int64_t **il = calloc(s->n, sizeof *il);
    uint32_t *kin = malloc(s->n * sizeof *kin);
    int rc = j.keys && j.ids && j.rc && j.msg && kl && il && kin ? VS_OK
                                                                 : vs_fail(VS_ERR_NOMEM, "sharded search: out of memory");
    if (rc == VS_OK) {
        vs_parallel_for(s->n, outer, search_shard, &j);
        for (uint32_t sh = 0; sh < s->n && rc == VS_OK; sh++)
            if (j.rc[sh]) rc = vs_fail(j.rc[sh], "shard %u: %s", sh, j.msg[sh]);
    }
    if (rc == VS_OK) {
        for (uint32_t sh = 0; sh < s->n; sh++) {
            kin[sh] = k;
            if (s->sh[sh]->ops->size(s->sh[sh]) == 0) continue; /* a NULL list: nothing from it */
            kl[sh] = j.keys + sh * per;
            il[sh] = j.ids + sh * per;
        }
        /* Keys are smaller-is-better for every metric: merged in L2 order, ties to the smaller ID. */
        rc = vs_topk_merge(VS_METRIC_L2, nq, k, s->n, kl, il, kin, keys, ids);
    }
    free(j.keys);
    free(j.ids);
    free(j.rc);
    free(j.msg);
    free(kl);
    free(il);
    free(kin);
    return rc;
}

/* Every shard's hits of a query, best first (by key, then ID). */
static int sharded_range(const vs_index *ix, size_t nq, const float *q, float key_radius, const vs_search_params *p,
                         vs_range_result **out)
{
    const vs_shards *s = vs_shards_of(ix);
    vs_range_result **parts = calloc(s->n, sizeof *parts);
    vs_range_result *r = calloc(1, sizeof *r);
    int rc = parts && r && (r->lims = calloc(nq + 1, sizeof *r->lims)) ? VS_OK
                                                                       : vs_fail(VS_ERR_NOMEM, "sharded range search: out of memory");
    for (uint32_t sh = 0; sh < s->n && rc == VS_OK; sh++) {
        const vs_index *part = s->sh[sh];
        if (part->ops->size(part) == 0) continue;
        rc = part->ops->range_search(part, nq, q, key_radius, p, &parts[sh]);
        if (rc) rc = vs_fail(rc, "shard %u: %s", sh, vs_last_error());
    }
    size_t total = 0;
    for (size_t i = 0; i < nq && rc == VS_OK; i++) {
        r->lims[i] = total;
        for (uint32_t sh = 0; sh < s->n; sh++)
            if (parts[sh]) total += parts[sh]->lims[i + 1] - parts[sh]->lims[i];
    }
    if (rc == VS_OK) {
        r->nq = nq;
        r->lims[nq] = total;
        r->ids = malloc((total ? total : 1) * sizeof *r->ids);
        r->distances = malloc((total ? total : 1) * sizeof *r->distances);
        if (!r->ids || !r->distances) rc = vs_fail(VS_ERR_NOMEM, "sharded range search: out of memory");
    }
    for (size_t i = 0; i < nq && rc == VS_OK; i++) {
        size_t at = r->lims[i];
        for (uint32_t sh = 0; sh < s->n; sh++) {
            if (!parts[sh]) continue;
            size_t from = parts[sh]->lims[i], m = parts[sh]->lims[i + 1] - from;
            memcpy(r->ids + at, parts[sh]->ids + from, m * sizeof *r->ids);
            memcpy(r->distances + at, parts[sh]->distances + from, m * sizeof *r->distances);
            at += m;
        }
        vs_pairs_sort(r->distances + r->lims[i], r->ids + r->lims[i], at - r->lims[i]);
    }
    for (uint32_t sh = 0; parts && sh < s->n; sh++) vs_range_result_free(parts[sh]);
    free(parts);
    if (rc) {
        vs_range_result_free(r);
        return rc;
    }
    *out = r;
    return VS_OK;
}

static size_t sharded_size(const vs_index *ix)
{
    const vs_shards *s = vs_shards_of(ix);
    size_t n = 0;
    for (uint32_t i = 0; i < s->n; i++) n += s->sh[i]->ops->size(s->sh[i]);
    return n;
}

static size_t sharded_memory(const vs_index *ix)
{
    const vs_shards *s = vs_shards_of(ix);
    size_t b = sizeof *s + s->n * sizeof *s->sh;
    for (uint32_t i = 0; i < s->n; i++) b += vs_index_memory_bytes(s->sh[i]);
    return b;
}

static size_t sharded_code_size(const vs_index *ix)
{
    const vs_shards *s = vs_shards_of(ix);
    return s->sh[0]->ops->code_size(s->sh[0]);
}

const vs_index_ops vs_sharded_ops = {
    .name = "Shards",
    .init = sharded_init,
    .destroy = sharded_destroy,
    .train = sharded_train,
    .add = sharded_add,
    .remove = sharded_remove,
    .get = sharded_get,
    .search = sharded_search,
    .range_search = sharded_range,
    .size = sharded_size,
    .memory_bytes = sharded_memory,
    .code_size = sharded_code_size,
    .save = vs_shards_save,
    .load = vs_shards_load,
};

int vs_index_shards_from(vs_index **shards, uint32_t n, vs_index **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_index_shards_from: out is NULL");
    *out = NULL;
    if (!shards || n == 0 || n > VS_MAX_SHARDS)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_index_shards_from: need 1..%u shards", VS_MAX_SHARDS);
    int64_t next_id = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!shards[i]) return vs_fail(VS_ERR_INVALID_ARG, "vs_index_shards_from: shard %u is NULL", i);
        if (shards[i]->dim != shards[0]->dim || shards[i]->metric != shards[0]->metric)
            return vs_fail(VS_ERR_DIMENSION, "vs_index_shards_from: shard %u differs in dimension or metric from shard 0", i);
        if (shards[i]->spec.shards)
            return vs_fail(VS_ERR_INVALID_ARG, "vs_index_shards_from: shard %u is itself sharded", i);
        if (strcmp(shards[i]->factory, shards[0]->factory))
            return vs_fail(VS_ERR_INVALID_ARG, "vs_index_shards_from: shard %u is \"%s\", shard 0 \"%s\"", i,
                           shards[i]->factory, shards[0]->factory);
        for (uint32_t j = 0; j < i; j++)
            if (shards[j] == shards[i]) return vs_fail(VS_ERR_INVALID_ARG, "vs_index_shards_from: shard %u repeats shard %u", i, j);
        if (shards[i]->next_id > next_id) next_id = shards[i]->next_id;
    }
    vs_index *ix = calloc(1, sizeof *ix);
    vs_shards *s = calloc(1, sizeof *s);
    vs_index **sh = malloc(n * sizeof *sh);
    if (!ix || !s || !sh) {
        free(ix);
        free(s);
        free(sh);
        return vs_fail(VS_ERR_NOMEM, "sharded index: out of memory");
    }
    memcpy(sh, shards, n * sizeof *sh);
    ix->ops = &vs_sharded_ops;
    ix->dim = shards[0]->dim;
    ix->metric = shards[0]->metric;
    ix->spec = shards[0]->spec;
    ix->spec.shards = n;
    ix->n_threads = shards[0]->n_threads;
    ix->ef_construction = shards[0]->ef_construction;
    ix->seed = shards[0]->seed;
    ix->next_id = next_id;
    int rc = vs_factory_format(&ix->spec, ix->factory, sizeof ix->factory);
    if (rc) {
        free(ix);
        free(s);
        free(sh);
        return rc;
    }
    s->n = n;
    s->sh = sh;
    ix->impl = s;
    ix->trained = all_trained(s);
    *out = ix;
    return VS_OK;
}

uint32_t vs_index_shard_count(const vs_index *ix) { return ix && ix->ops == &vs_sharded_ops ? vs_shards_of(ix)->n : 0; }

vs_index *vs_index_shard(const vs_index *ix, uint32_t i)
{
    if (!ix || ix->ops != &vs_sharded_ops || i >= vs_shards_of(ix)->n) return NULL;
    return vs_shards_of(ix)->sh[i];
}
