/* vs_sharded_index: shards owned by ID hash, searched in parallel, results merged
 * (FAISS IndexShards). The merge is vs_topk_merge (topk_merge.c), shared with the router. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/options.h"
#include "core/parallel.h"
#include "vecscale.h"

#define MAX_SHARDS 4096

struct vs_sharded_index {
    uint32_t n;
    vs_index **shards;
    uint32_t dim;
    vs_metric metric;
    int64_t next_id;
};

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

uint32_t vs_shard_of_key(const char *key, uint32_t n_shards)
{
    int64_t as_int = -1;
    if (!key || vs_collection_key_check(key, &as_int) != VS_OK) return 0;
    if (as_int >= 0) return vs_shard_of(as_int, n_shards); /* "17" is 17, on 17's shard */
    return vs_shard_of((int64_t)(XXH3_64bits(key, strlen(key)) >> 1), n_shards);
}

static int wrap(vs_index **shards, uint32_t n, vs_sharded_index **out)
{
    vs_sharded_index *s = calloc(1, sizeof *s);
    if (!s) return vs_fail(VS_ERR_NOMEM, "sharded index: out of memory");
    s->n = n;
    s->shards = shards;
    s->dim = vs_index_dim(shards[0]);
    s->metric = vs_index_metric(shards[0]);
    *out = s;
    return VS_OK;
}

int vs_sharded_create(const vs_index_options *opts, uint32_t n_shards, vs_sharded_index **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_create: out is NULL");
    *out = NULL;
    if (!opts || n_shards == 0 || n_shards > MAX_SHARDS)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_create: need options and 1..%d shards", MAX_SHARDS);
    vs_index **sh = calloc(n_shards, sizeof *sh);
    if (!sh) return vs_fail(VS_ERR_NOMEM, "sharded index: out of memory");
    int rc = VS_OK;
    for (uint32_t i = 0; i < n_shards && rc == VS_OK; i++) rc = vs_index_create(opts, &sh[i]);
    if (rc == VS_OK) rc = wrap(sh, n_shards, out);
    if (rc) {
        for (uint32_t i = 0; i < n_shards; i++) vs_index_free(sh[i]);
        free(sh);
    }
    return rc;
}

int vs_sharded_from(vs_index **shards, uint32_t n_shards, vs_sharded_index **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_from: out is NULL");
    *out = NULL;
    if (!shards || n_shards == 0 || n_shards > MAX_SHARDS)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_from: need 1..%d shards", MAX_SHARDS);
    for (uint32_t i = 0; i < n_shards; i++) {
        if (!shards[i]) return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_from: shard %u is NULL", i);
        if (vs_index_dim(shards[i]) != vs_index_dim(shards[0]) ||
            vs_index_metric(shards[i]) != vs_index_metric(shards[0]))
            return vs_fail(VS_ERR_DIMENSION, "vs_sharded_from: shard %u differs in dimension or metric from shard 0",
                           i);
    }
    vs_index **sh = malloc(n_shards * sizeof *sh);
    if (!sh) return vs_fail(VS_ERR_NOMEM, "sharded index: out of memory");
    memcpy(sh, shards, n_shards * sizeof *sh);
    int rc = wrap(sh, n_shards, out);
    if (rc) {
        free(sh);
        return rc;
    }
    /* Automatic IDs continue after the largest stored one: unknown for wrapped indexes, so
     * start after the total count and let duplicates be refused by the shards. */
    (*out)->next_id = (int64_t)vs_sharded_size(*out);
    return VS_OK;
}

void vs_sharded_free(vs_sharded_index *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->n; i++) vs_index_free(s->shards[i]);
    free(s->shards);
    free(s);
}

size_t vs_sharded_size(const vs_sharded_index *s)
{
    size_t n = 0;
    for (uint32_t i = 0; s && i < s->n; i++) n += vs_index_size(s->shards[i]);
    return n;
}

uint32_t vs_sharded_count(const vs_sharded_index *s) { return s ? s->n : 0; }

vs_index *vs_sharded_shard(const vs_sharded_index *s, uint32_t i) { return s && i < s->n ? s->shards[i] : NULL; }

int vs_sharded_train(vs_sharded_index *s, size_t n, const float *x)
{
    if (!s) return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_train: NULL index");
    for (uint32_t i = 0; i < s->n; i++) {
        int rc = vs_index_train(s->shards[i], n, x);
        if (rc) return rc;
    }
    return VS_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int vs_sharded_add(vs_sharded_index *s, size_t n, const float *x, const int64_t *ids)
{
    if (!s || (n && !x)) return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_add: NULL argument");
    if (n == 0) return VS_OK;
    int64_t *own = malloc(n * sizeof *own);
    uint32_t *count = calloc(s->n, sizeof *count);
    size_t *start = calloc((size_t)s->n + 1, sizeof *start);
    float *bx = malloc(n * s->dim * sizeof *bx);
    int64_t *bid = malloc(n * sizeof *bid);
    int rc = own && count && start && bx && bid ? VS_OK : vs_fail(VS_ERR_NOMEM, "sharded add: out of memory");
    for (size_t i = 0; rc == VS_OK && i < n; i++) {
        own[i] = ids ? ids[i] : s->next_id + (int64_t)i;
        if (own[i] < 0) rc = vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_add: ID %lld is negative", (long long)own[i]);
        for (size_t j = 0; rc == VS_OK && j < s->dim; j++)
            if (!isfinite(x[i * s->dim + j]))
                rc = vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_add: vector %zu holds NaN or Inf", i);
    }
    if (rc == VS_OK && ids) { /* duplicates inside the batch would split across calls */
        memcpy(bid, ids, n * sizeof *bid);
        qsort(bid, n, sizeof *bid, cmp_i64);
        for (size_t i = 1; rc == VS_OK && i < n; i++)
            if (bid[i] == bid[i - 1])
                rc = vs_fail(VS_ERR_DUPLICATE_ID, "vs_sharded_add: ID %lld appears twice in the batch",
                             (long long)bid[i]);
    }
    /* An ID already stored would fail in its shard after others had added: check first. */
    float *probe = rc == VS_OK && ids ? malloc(s->dim * sizeof *probe) : NULL;
    if (rc == VS_OK && ids && !probe) rc = vs_fail(VS_ERR_NOMEM, "sharded add: out of memory");
    for (size_t i = 0; rc == VS_OK && ids && i < n; i++)
        if (vs_index_get(s->shards[vs_shard_of(own[i], s->n)], own[i], probe) == VS_OK)
            rc = vs_fail(VS_ERR_DUPLICATE_ID, "vs_sharded_add: ID %lld is already in the index", (long long)own[i]);
    free(probe);
    /* Group the batch by shard (counting sort keeps each shard's order). */
    if (rc == VS_OK) {
        for (size_t i = 0; i < n; i++) count[vs_shard_of(own[i], s->n)]++;
        for (uint32_t sh = 0; sh < s->n; sh++) start[sh + 1] = start[sh] + count[sh];
        memset(count, 0, s->n * sizeof *count);
        for (size_t i = 0; i < n; i++) {
            uint32_t sh = vs_shard_of(own[i], s->n);
            size_t at = start[sh] + count[sh]++;
            memcpy(bx + at * s->dim, x + i * s->dim, s->dim * sizeof *bx);
            bid[at] = own[i];
        }
    }
    int first_err = VS_OK;
    char msg[512] = "";
    for (uint32_t sh = 0; rc == VS_OK && sh < s->n; sh++) {
        size_t m = start[sh + 1] - start[sh];
        if (!m) continue;
        int r = vs_index_add(s->shards[sh], m, bx + start[sh] * s->dim, bid + start[sh]);
        if (r && !first_err) {
            first_err = r;
            snprintf(msg, sizeof msg, "shard %u: %s", sh, vs_last_error());
        }
    }
    if (rc == VS_OK && !first_err) {
        for (size_t i = 0; i < n; i++)
            if (own[i] >= s->next_id) s->next_id = own[i] + 1;
    }
    free(own);
    free(count);
    free(start);
    free(bx);
    free(bid);
    if (rc) return rc;
    if (first_err) return vs_fail(first_err, "vs_sharded_add: %s", msg);
    return VS_OK;
}

int vs_sharded_remove(vs_sharded_index *s, size_t n, const int64_t *ids, size_t *n_removed)
{
    if (!s || (n && !ids)) return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_remove: NULL argument");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = 0;
        int rc = vs_index_remove(s->shards[vs_shard_of(ids[i], s->n)], 1, &ids[i], &r);
        if (rc) return rc;
        total += r;
    }
    if (n_removed) *n_removed = total;
    return VS_OK;
}

typedef struct {
    const vs_sharded_index *s;
    size_t nq;
    const float *q;
    uint32_t k;
    vs_search_params p;
    float *dist;  /* n shards x nq x k */
    int64_t *ids;
    int *rc;
    char (*msg)[256];
} search_job;

static void search_shard(size_t sh, unsigned worker, void *ctx)
{
    (void)worker;
    search_job *j = ctx;
    size_t off = sh * j->nq * j->k;
    j->rc[sh] = vs_index_search(j->s->shards[sh], j->nq, j->q, j->k, &j->p, j->dist + off, j->ids + off);
    if (j->rc[sh]) snprintf(j->msg[sh], sizeof j->msg[sh], "%s", vs_last_error());
}

int vs_sharded_search(const vs_sharded_index *s, size_t nq, const float *q, uint32_t k,
                      const vs_search_params *caller_params, float *distances, int64_t *ids)
{
    VS_READ_OPTIONS(vs_search_params, given, caller_params, VS_SEARCH_PARAMS_V1);
    const vs_search_params *params = &given;
    if (!s || (nq && (!q || !distances || !ids)) || k == 0)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_search: NULL argument or k == 0");
    if (nq == 0) return VS_OK;
    if (s->n == 1) return vs_index_search(s->shards[0], nq, q, k, params, distances, ids);
    search_job j = {.s = s, .nq = nq, .q = q, .k = k};
    if (params) j.p = *params;
    unsigned threads = params && params->n_threads > 1 ? params->n_threads : 1;
    /* Threads go to shards first; any left over are split inside each shard's search. */
    unsigned outer = threads < s->n ? threads : s->n;
    j.p.n_threads = threads / outer;
    size_t per = nq * (size_t)k;
    j.dist = malloc(s->n * per * sizeof *j.dist);
    j.ids = malloc(s->n * per * sizeof *j.ids);
    j.rc = calloc(s->n, sizeof *j.rc);
    j.msg = calloc(s->n, sizeof *j.msg);
    const float **dl = malloc(s->n * sizeof *dl);
    const int64_t **il = malloc(s->n * sizeof *il);
    uint32_t *kin = malloc(s->n * sizeof *kin);
    int rc = j.dist && j.ids && j.rc && j.msg && dl && il && kin ? VS_OK
                                                                  : vs_fail(VS_ERR_NOMEM, "sharded search: out of memory");
    if (rc == VS_OK) {
        vs_parallel_for(s->n, outer, search_shard, &j);
        for (uint32_t sh = 0; sh < s->n && rc == VS_OK; sh++)
            if (j.rc[sh]) rc = vs_fail(j.rc[sh], "shard %u: %s", sh, j.msg[sh]);
    }
    if (rc == VS_OK) {
        for (uint32_t sh = 0; sh < s->n; sh++) {
            dl[sh] = j.dist + sh * per;
            il[sh] = j.ids + sh * per;
            kin[sh] = k;
        }
        rc = vs_topk_merge(s->metric, nq, k, s->n, dl, il, kin, distances, ids);
    }
    free(j.dist);
    free(j.ids);
    free(j.rc);
    free(j.msg);
    free(dl);
    free(il);
    free(kin);
    return rc;
}
