/* Radius search over a Flat index: every row whose exact key is below the radius key.
 * Exact kernels only (no GEMM form), so membership at the boundary is decided exactly.
 * Threads take queries. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/flat.h"
#include "index/range_hits.h"
#include "kernels/kernels.h"
#include "kernels/topk.h"

enum { BLOCK = 4096 };

typedef struct {
    const vs_index *ix;
    const vs_flat *f;
    const float *q;
    float radius;
    const float *mask;
    vs_range_hits *per_query;
    float **row;      /* per worker */
    uint32_t **pos;   /* per worker */
    atomic_int failed;
} range_job;

static void range_task(size_t i, unsigned worker, void *ctx)
{
    range_job *J = ctx;
    if (atomic_load(&J->failed)) return;
    const vs_kernel_table *kt = vs_kernels();
    const size_t d = J->ix->dim;
    const int l2 = J->ix->metric == VS_METRIC_L2;
    const float *q = J->q + i * d;
    float *row = J->row[worker];
    uint32_t *pos = J->pos[worker];
    vs_range_hits *h = &J->per_query[i];
    for (size_t j0 = 0; j0 < J->f->n; j0 += BLOCK) {
        size_t bn = J->f->n - j0 < BLOCK ? J->f->n - j0 : BLOCK;
        const float *x = J->f->vecs + j0 * d;
        if (l2) {
            kt->l2sq_many(q, x, bn, d, row);
        } else {
            kt->dot_many(q, x, bn, d, row);
            for (size_t j = 0; j < bn; j++) row[j] = -row[j];
        }
        size_t cnt = kt->select_lt(row, J->mask ? J->mask + j0 : NULL, bn, J->radius, pos);
        for (size_t c = 0; c < cnt; c++) {
            if (vs_range_hits_append(h, row[pos[c]], J->f->ids[j0 + pos[c]])) {
                atomic_store(&J->failed, 1);
                return;
            }
        }
    }
    vs_pairs_sort(h->keys, h->ids, h->n);
}

int vs_flat_range_search(const vs_index *ix, size_t nq, const float *q, float key_radius,
                         const vs_search_params *p, vs_range_result **out)
{
    const vs_flat *f = ix->impl;
    unsigned threads = p && p->n_threads > 1 ? p->n_threads : 1;
    if (threads > 256) threads = 256;
    if (threads > nq) threads = (unsigned)nq;
    range_job J = {.ix = ix, .f = f, .q = q, .radius = key_radius};
    atomic_init(&J.failed, 0);
    int rc = vs_flat_row_bias(ix, p ? p->filter : NULL, 0, (float **)&J.mask);
    if (rc) return rc;
    J.per_query = calloc(nq, sizeof *J.per_query);
    J.row = calloc(threads, sizeof *J.row);
    J.pos = calloc(threads, sizeof *J.pos);
    int ok = J.per_query && J.row && J.pos;
    for (unsigned w = 0; ok && w < threads; w++) {
        J.row[w] = malloc(BLOCK * sizeof(float));
        J.pos[w] = malloc(BLOCK * sizeof(uint32_t));
        ok = J.row[w] && J.pos[w];
    }
    if (ok) {
        vs_parallel_for(nq, threads, range_task, &J);
        ok = !atomic_load(&J.failed);
    }
    if (!ok) rc = vs_fail(VS_ERR_NOMEM, "out of memory collecting range results");
    if (!rc) rc = vs_range_hits_collect(nq, J.per_query, out);
    vs_range_hits_free(J.per_query, nq);
    for (unsigned w = 0; w < threads; w++) {
        if (J.row) free(J.row[w]);
        if (J.pos) free(J.pos[w]);
    }
    free(J.row);
    free(J.pos);
    free((float *)J.mask);
    return rc;
}
