/* Radius search over an IVF index: every vector of the query's nprobe nearest lists whose
 * key (exact for Flat, the codec's estimate otherwise) is below the radius key (approximate like any IVF search: a vector in an
 * unvisited list is not found; nprobe = nlist makes it exact). Threads take queries. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/ivf.h"
#include "index/range_hits.h"
#include "kernels/kernels.h"
#include "kernels/topk.h"
#include "quant/kmeans.h"

enum { ROW_BLOCK = 1024, MAX_WORKERS = 256 };

typedef struct {
    const vs_index *ix;
    const vs_ivf *v;
    const float *q;
    float radius;
    uint32_t nprobe;
    const vs_filter *filter;
    const int64_t *probe;
    vs_range_hits *per_query;
    float **row;
    uint32_t **pos;
    vs_ivf_scanner *sc;
    atomic_int failed;
} range_job;

static void range_task(size_t i, unsigned worker, void *ctx)
{
    range_job *J = ctx;
    if (atomic_load(&J->failed)) return;
    const vs_kernel_table *kt = vs_kernels();
    const size_t d = J->ix->dim;
    const int filtered = J->filter && J->filter->kind != VS_FILTER_NONE;
    const float *q = J->q + i * d;
    float *row = J->row[worker];
    uint32_t *pos = J->pos[worker];
    vs_range_hits *h = &J->per_query[i];
    vs_ivf_scanner_set_query(&J->sc[worker], J->ix, q);
    for (uint32_t p = 0; p < J->nprobe; p++) {
        int64_t l = J->probe[i * J->nprobe + p];
        if (l < 0) continue; /* fewer centroids compared than nprobe (NaN by overflow) */
        const vs_ivf_list *L = &J->v->lists[l];
        if (L->n == 0) continue;
        float scale = 1, bias = vs_ivf_scanner_set_list(&J->sc[worker], J->ix, q, (size_t)l, NULL, &scale);
        for (size_t j0 = 0; j0 < L->n; j0 += ROW_BLOCK) {
            size_t bn = L->n - j0 < ROW_BLOCK ? L->n - j0 : ROW_BLOCK;
            vs_ivf_scanner_keys(&J->sc[worker], J->ix, q, (size_t)l, bias, scale, j0, bn, row);
            size_t cnt = kt->select_lt(row, NULL, bn, J->radius, pos);
            for (size_t c = 0; c < cnt; c++) {
                int64_t id = L->ids[j0 + pos[c]];
                if (filtered && !vs_filter_allows(J->filter, id)) continue;
                if (vs_range_hits_append(h, row[pos[c]], id)) {
                    atomic_store(&J->failed, 1);
                    return;
                }
            }
        }
    }
    vs_pairs_sort(h->keys, h->ids, h->n);
}

int vs_ivf_range_search(const vs_index *ix, size_t nq, const float *q, float key_radius,
                        const vs_search_params *p, vs_range_result **out)
{
    const vs_ivf *v = ix->impl;
    uint32_t nprobe = p && p->nprobe ? p->nprobe : VS_IVF_DEFAULT_NPROBE;
    if (nprobe > v->nlist) nprobe = v->nlist;
    unsigned threads = p && p->n_threads > 1 ? p->n_threads : 1;
    if (threads > MAX_WORKERS) threads = MAX_WORKERS;
    if (threads > nq) threads = (unsigned)nq;
    range_job J = {.ix = ix, .v = v, .q = q, .radius = key_radius, .nprobe = nprobe, .filter = p ? p->filter : NULL};
    atomic_init(&J.failed, 0);
    float *pkeys = malloc(nq * nprobe * sizeof *pkeys);
    int64_t *probe = malloc(nq * nprobe * sizeof *probe);
    J.per_query = calloc(nq, sizeof *J.per_query);
    J.row = calloc(threads, sizeof *J.row);
    J.pos = calloc(threads, sizeof *J.pos);
    J.sc = calloc(threads, sizeof *J.sc);
    int ok = pkeys && probe && J.per_query && J.row && J.pos && J.sc;
    for (unsigned w = 0; ok && w < threads; w++) {
        J.row[w] = malloc(ROW_BLOCK * sizeof(float));
        J.pos[w] = malloc(ROW_BLOCK * sizeof(uint32_t));
        ok = J.row[w] && J.pos[w] && !vs_ivf_scanner_init(&J.sc[w], ix);
    }
    int rc = ok ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for IVF range search");
    if (!rc) rc = vs_nearest_centroids(nq, ix->dim, q, v->nlist, v->centroids, v->cnorms, nprobe, threads, pkeys, probe);
    if (!rc) {
        J.probe = probe;
        vs_parallel_for(nq, threads, range_task, &J);
        if (atomic_load(&J.failed)) rc = vs_fail(VS_ERR_NOMEM, "out of memory collecting range results");
    }
    if (!rc) rc = vs_range_hits_collect(nq, J.per_query, out);
    vs_range_hits_free(J.per_query, nq);
    for (unsigned w = 0; w < threads; w++) {
        if (J.row) free(J.row[w]);
        if (J.pos) free(J.pos[w]);
        if (J.sc) vs_ivf_scanner_destroy(&J.sc[w]);
    }
    free(J.sc);
    free(J.row);
    free(J.pos);
    free(pkeys);
    free(probe);
    return rc;
}
