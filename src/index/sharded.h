/* The sharded index ("Shards<n>,<base>", FAISS IndexShards): n whole indexes of the base type
 * behind one vs_index. index.c has checked and normalised everything before these ops run,
 * so they call each shard's ops directly (a cosine vector is normalised once, not per layer)
 * and keep the shard's own bookkeeping (next_id, trained) as vs_index_* would. */
#ifndef VS_INDEX_SHARDED_H
#define VS_INDEX_SHARDED_H

#include "index/index_impl.h"

typedef struct {
    uint32_t n;
    vs_index **sh;
} vs_shards;

static inline vs_shards *vs_shards_of(const vs_index *ix) { return ix->impl; }

/* Replaces the shards of a sharded index (freeing the old ones); takes ownership of sh. */
void vs_shards_replace(vs_index *ix, vs_index **sh, uint32_t n);

/* sharded_io.c */
int vs_shards_save(const vs_index *ix, vs_container_writer *w);
int vs_shards_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin);

#endif
