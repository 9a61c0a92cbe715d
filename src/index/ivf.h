/* IVF index internals shared by its phase files: ivf.c (lifecycle, train, add, remove, get),
 * ivf_search.c (k-NN), ivf_range.c (radius search), ivf_io.c (sections).
 *
 * A flat coarse quantizer of nlist centroids (k-means, L2 or spherical inner product as
 * FAISS) partitions the vectors; list l holds the vectors whose nearest centroid is l, as
 * float32 rows (IVF-Flat) with a parallel array of user IDs. */
#ifndef VS_INDEX_IVF_H
#define VS_INDEX_IVF_H

#include "core/idmap.h"
#include "index/index_impl.h"

/* The ID map packs (list, position) into one value: 24 bits of list, 40 of position. */
#define VS_IVF_MAX_NLIST (1u << 24)
#define VS_IVF_POS_BITS 40

typedef struct {
    float *vecs;    /* n x dim; owned when the index is, else inside ix->backing */
    int64_t *ids;   /* n */
    size_t n, cap;
} vs_ivf_list;

typedef struct {
    uint32_t nlist;
    float *centroids;    /* nlist x dim, always heap (small) */
    float *cnorms;       /* nlist squared norms (L2 coarse quantizer), else NULL */
    vs_ivf_list *lists;  /* nlist, allocated at train / load */
    size_t ntotal;
    int owned;           /* lists own their arrays (0: they point into a loaded or viewed file) */
    int map_ready;       /* the ID map is built lazily: at the first add, or a loaded file's first write */
    vs_idmap map;        /* user ID -> (list << 40 | position) */
} vs_ivf;

/* Default nprobe when vs_search_params.nprobe is 0: 1, as FAISS, so the same factory string
 * and parameters give the same recall in both libraries. */
#define VS_IVF_DEFAULT_NPROBE 1

int vs_ivf_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                  float *keys, int64_t *ids);
int vs_ivf_range_search(const vs_index *ix, size_t nq, const float *q, float key_radius,
                        const vs_search_params *p, vs_range_result **out);
int vs_ivf_save(const vs_index *ix, vs_container_writer *w);
int vs_ivf_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin);

/* Allocates the centroid norms (L2) and the nlist empty lists after centroids are set. */
int vs_ivf_prepare_lists(vs_index *ix);
/* L2 indexes key by squared distance and assign by L2 centroids; IP and cosine key by -<q,x>
 * and use spherical centroids assigned by largest inner product (as FAISS). */
static inline int vs_ivf_is_l2(const vs_index *ix) { return ix->metric == VS_METRIC_L2; }

#endif
