/* Flat (exact) index internals shared by its phase files: flat.c (lifecycle, add, remove),
 * flat_search.c (k-NN), flat_range.c (radius search), flat_io.c (sections). */
#ifndef VS_INDEX_FLAT_H
#define VS_INDEX_FLAT_H

#include "core/idmap.h"
#include "index/index_impl.h"

/* GEMM tile of the batch search (queries x base rows); bench_sgemm.c times sgemm alone on
 * the same tiles. The tile stays in cache between the GEMM that writes it and the selection
 * pass that reads it. Of ten shapes measured with serial OpenBLAS 0.3.21 (AMD EPYC, 1 MiB
 * L2), 512 x 1024 was best for d = 100 (66 GFLOP/s; 256 x 2048: 59) and 512 x 2048 for
 * d = 784 (78; 256 x 2048: 71): long rows amortise packing better. */
#define VS_FLAT_QUERY_BLOCK 512
#define VS_FLAT_MAX_BASE_BLOCK 2048
static inline size_t vs_flat_base_block(size_t dim) { return dim >= 256 ? 2048 : 1024; }

typedef struct {
    const float *vecs;   /* n x dim; owned when `owned`, else inside ix->backing */
    const int64_t *ids;  /* n */
    const float *norms;  /* n squared norms (L2 only, else NULL) */
    size_t n, cap;
    int owned;
    /* While every ID equals its row (automatic IDs, no removal) no map is needed: that saves
     * 16 bytes per slot, 12% of a 100-d index. The map is built at the first user-chosen ID
     * or removal, and for loaded files at their first write. */
    int ids_are_rows;
    int map_ready;
    vs_idmap map;
} vs_flat;

/* Row of `id`, or -1: by the map, by identity, or (files before their first write) by a scan. */
int64_t vs_flat_find(const vs_flat *f, int64_t id);

int vs_flat_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                   float *keys, int64_t *ids);
int vs_flat_range_search(const vs_index *ix, size_t nq, const float *q, float key_radius,
                         const vs_search_params *p, vs_range_result **out);
int vs_flat_save(const vs_index *ix, vs_container_writer *w);
int vs_flat_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin);
int vs_flat_build_map(vs_flat *f);

/* Builds the per-call row bias for the fused selection: base norms (L2 with GEMM) or 0, and
 * +inf for rows the filter excludes. Returns NULL in *out when no bias is needed. */
int vs_flat_row_bias(const vs_index *ix, const vs_filter *filter, int with_norms, float **out);

#endif
