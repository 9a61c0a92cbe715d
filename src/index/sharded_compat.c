/* The vs_sharded_* calls from before the sharded index was an index type, kept for existing
 * callers: a vs_sharded_index is a vs_index made with "Shards<n>,", and each call is the
 * vs_index_* call it forwards to. */
#include <stdio.h>

#include "core/error.h"
#include "core/options.h"
#include "vecscale.h"

/* Definitions of deprecated declarations are not uses; the forwarding below is the point. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static vs_index *as_index(const vs_sharded_index *s) { return (vs_index *)s; }

int vs_sharded_create(const vs_index_options *opts, uint32_t n_shards, vs_sharded_index **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_create: out is NULL");
    *out = NULL;
    if (!opts || n_shards == 0 || n_shards > VS_MAX_SHARDS)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_create: need options and 1..%u shards", VS_MAX_SHARDS);
    VS_READ_OPTIONS(vs_index_options, o, opts, VS_INDEX_OPTIONS_V1);
    char factory[96];
    int n = snprintf(factory, sizeof factory, "Shards%u,%s", n_shards, o.factory ? o.factory : "Flat");
    if (n < 0 || (size_t)n >= sizeof factory)
        return vs_fail(VS_ERR_FACTORY, "vs_sharded_create: factory string \"%s\" is too long", o.factory);
    o.factory = factory;
    vs_index *ix = NULL;
    int rc = vs_index_create(&o, &ix);
    if (rc == VS_OK) *out = (vs_sharded_index *)ix;
    return rc;
}

int vs_sharded_from(vs_index **shards, uint32_t n_shards, vs_sharded_index **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_sharded_from: out is NULL");
    vs_index *ix = NULL;
    int rc = vs_index_shards_from(shards, n_shards, &ix);
    *out = (vs_sharded_index *)ix;
    return rc;
}

void vs_sharded_free(vs_sharded_index *s) { vs_index_free(as_index(s)); }

int vs_sharded_train(vs_sharded_index *s, size_t n, const float *x) { return vs_index_train(as_index(s), n, x); }

int vs_sharded_add(vs_sharded_index *s, size_t n, const float *x, const int64_t *ids)
{
    return vs_index_add(as_index(s), n, x, ids);
}

int vs_sharded_remove(vs_sharded_index *s, size_t n, const int64_t *ids, size_t *n_removed)
{
    return vs_index_remove(as_index(s), n, ids, n_removed);
}

int vs_sharded_search(const vs_sharded_index *s, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                      float *distances, int64_t *ids)
{
    return vs_index_search(as_index(s), nq, q, k, p, distances, ids);
}

size_t vs_sharded_size(const vs_sharded_index *s) { return vs_index_size(as_index(s)); }
uint32_t vs_sharded_count(const vs_sharded_index *s) { return vs_index_shard_count(as_index(s)); }
vs_index *vs_sharded_shard(const vs_sharded_index *s, uint32_t i) { return vs_index_shard(as_index(s), i); }
