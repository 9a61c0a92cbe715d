/* Radius search over a Flat index: every row whose exact key is below the radius key.
 * Exact kernels only (no GEMM form), so membership at the boundary is decided exactly.
 * Threads take queries. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "index/flat.h"
#include "kernels/kernels.h"
#include "kernels/topk.h"

enum { BLOCK = 4096 };

typedef struct {
    float *keys;
    int64_t *labels;
    size_t n, cap;
} hits;

typedef struct {
    const vs_index *ix;
    const vs_flat *f;
    const float *q;
    float radius;
    const float *mask;
    hits *per_query;
    float **row;      /* per worker */
    uint32_t **pos;   /* per worker */
    atomic_int failed;
} range_job;

static int append(hits *h, float key, int64_t label)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        float *k = realloc(h->keys, cap * sizeof *k);
        if (!k) return -1;
        h->keys = k;
        int64_t *l = realloc(h->labels, cap * sizeof *l);
        if (!l) return -1;
        h->labels = l;
        h->cap = cap;
    }
    h->keys[h->n] = key;
    h->labels[h->n] = label;
    h->n++;
    return 0;
}

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
    hits *h = &J->per_query[i];
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
            if (append(h, row[pos[c]], (int64_t)(j0 + pos[c]))) {
                atomic_store(&J->failed, 1);
                return;
            }
        }
    }
    vs_pairs_sort(h->keys, h->labels, h->n);
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
    vs_range_result *r = NULL;
    size_t total = 0;
    if (ok) {
        for (size_t i = 0; i < nq; i++) total += J.per_query[i].n;
        r = calloc(1, sizeof *r);
        ok = r != NULL;
        if (ok) {
            r->nq = nq;
            r->lims = malloc((nq + 1) * sizeof *r->lims);
            r->ids = malloc((total ? total : 1) * sizeof *r->ids);
            r->distances = malloc((total ? total : 1) * sizeof *r->distances);
            ok = r->lims && r->ids && r->distances;
        }
    }
    if (ok) {
        size_t at = 0;
        for (size_t i = 0; i < nq; i++) {
            r->lims[i] = at;
            const hits *h = &J.per_query[i];
            for (size_t j = 0; j < h->n; j++) {
                r->ids[at + j] = f->ids[h->labels[j]];
                r->distances[at + j] = h->keys[j];
            }
            at += h->n;
        }
        r->lims[nq] = at;
        *out = r;
    } else {
        vs_range_result_free(r);
    }
    if (J.per_query)
        for (size_t i = 0; i < nq; i++) {
            free(J.per_query[i].keys);
            free(J.per_query[i].labels);
        }
    for (unsigned w = 0; w < threads; w++) {
        if (J.row) free(J.row[w]);
        if (J.pos) free(J.pos[w]);
    }
    free(J.per_query);
    free(J.row);
    free(J.pos);
    free((float *)J.mask);
    return ok ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory collecting range results");
}
