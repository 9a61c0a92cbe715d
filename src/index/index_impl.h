/* The index vtable. index.c validates arguments, normalises cosine inputs and assigns IDs,
 * then calls these; an index type implements only its own algorithm. To add a type, write
 * its ops and return them from vs_index_ops_for(). */
#ifndef VS_INDEX_IMPL_H
#define VS_INDEX_IMPL_H

#include "io/container.h"
#include "vecscale.h"

typedef struct vs_index_ops vs_index_ops;

/* Memory that section pointers of a loaded or viewed index point into. */
typedef enum { VS_BACKING_NONE = 0, VS_BACKING_HEAP = 1, VS_BACKING_MMAP = 2 } vs_backing_kind;
typedef struct {
    vs_backing_kind kind;
    void *addr;
    size_t len;
} vs_backing;

struct vs_index {
    const vs_index_ops *ops;
    void *impl;
    uint32_t dim;
    vs_metric metric;
    vs_factory_spec spec;
    char factory[64];
    int64_t next_id; /* next automatic ID */
    uint32_t n_threads;       /* from vs_index_options: threads train/add may use */
    uint32_t ef_construction; /* from vs_index_options (0 = type default) */
    uint64_t seed;            /* from vs_index_options (0 = type default) */
    int trained;
    vs_backing backing;
    const char *refine_store; /* during vs_index_create only: vs_index_options.refine_store */
    const char *opening;      /* during a load, view or attach only: the file ("" for a buffer) */
};

/* Arguments reaching the ops are valid: dims match, vectors are finite and (for cosine)
 * normalised, IDs are non-negative, k >= 1, outputs non-NULL. */
struct vs_index_ops {
    const char *name;
    int (*init)(vs_index *ix);
    void (*destroy)(vs_index *ix);
    int (*train)(vs_index *ix, size_t n, const float *x);
    /* ids is never NULL here; the op must reject duplicates (inside the batch and against
     * the index) before changing anything. */
    int (*add)(vs_index *ix, size_t n, const float *x, const int64_t *ids);
    int (*remove)(vs_index *ix, size_t n, const int64_t *ids, size_t *n_removed);
    int (*get)(const vs_index *ix, int64_t id, float *out);
    /* Results as "keys": smaller is better (index.c converts IP/cosine back to scores). */
    int (*search)(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                  float *keys, int64_t *ids);
    /* Optional: as search, but a query's k results may come in any order (re-ranking
     * candidates, which would be sorted only to be re-ranked). */
    int (*search_candidates)(const vs_index *ix, size_t nq, const float *q, uint32_t k,
                             const vs_search_params *p, float *keys, int64_t *ids);
    int (*range_search)(const vs_index *ix, size_t nq, const float *q, float key_radius,
                        const vs_search_params *p, vs_range_result **out);
    size_t (*size)(const vs_index *ix);
    size_t (*memory_bytes)(const vs_index *ix);
    size_t (*code_size)(const vs_index *ix);
    int (*save)(const vs_index *ix, vs_container_writer *w);
    /* Points into c (whose image outlives the index through ix->backing). */
    int (*load)(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin);
};

/* vs_index_create for an index about to be filled from a file (index_io.c): `path` is the
 * file ("" for a buffer), so types that keep data beside it (",Ru8") find it in their load. */
int vs_index_create_opening(const vs_index_options *opts, const char *path, vs_index **out);

/* Unmaps or frees the loaded file image, once an index has copied what it needs. */
void vs_index_release_backing(vs_index *ix);

/* The ops for a parsed factory spec, or NULL with vs_last_error() set. */
const vs_index_ops *vs_index_ops_for(const vs_factory_spec *spec);

extern const vs_index_ops vs_flat_ops;
extern const vs_index_ops vs_hnsw_ops; /* src/index/hnsw*.c */
extern const vs_index_ops vs_ivf_ops;  /* src/index/ivf*.c */
extern const vs_index_ops vs_refine_ops; /* src/index/refine.c */
extern const vs_index_ops vs_refine_u8_ops; /* src/index/refine_u8.c */
extern const vs_index_ops vs_sharded_ops; /* src/index/sharded*.c */

/* Per-call filter resolved against one index. */
static inline int vs_filter_allows(const vs_filter *f, int64_t id)
{
    if (!f || f->kind == VS_FILTER_NONE) return 1;
    if (f->kind == VS_FILTER_BITSET)
        return id >= 0 && (uint64_t)id < f->n_bits && ((f->bits[id >> 3] >> (id & 7)) & 1);
    return f->fn(id, f->ctx) != 0;
}

#define VS_MAX_DIM 65536u
#define VS_MAX_K 100000u
/* FAISS's IndexRefine defaults to k_factor 1, which only re-orders the base's results; 4 is
 * what re-ranking is for. */
#define VS_REFINE_DEFAULT_K_FACTOR 4.0f

/* Wraps an index file of the layout `vecscale build` wrote before the store moved into the
 * library (the base index alone, DIR/rerank.vsr beside it, version 1) into a read-only ",Ru8"
 * index; takes base on success. */
int vs_refine_u8_attach(vs_index *base, const char *store_path, vs_index **out);

#endif
