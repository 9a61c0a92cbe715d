/* Growth and gathering of per-query range-search hits (see range_hits.h). */
#include "index/range_hits.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int vs_range_hits_append(vs_range_hits *h, float key, int64_t id)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        float *k = realloc(h->keys, cap * sizeof *k);
        if (!k) return -1;
        h->keys = k;
        int64_t *l = realloc(h->ids, cap * sizeof *l);
        if (!l) return -1;
        h->ids = l;
        h->cap = cap;
    }
    h->keys[h->n] = key;
    h->ids[h->n] = id;
    h->n++;
    return 0;
}

int vs_range_hits_collect(size_t nq, vs_range_hits *per_query, vs_range_result **out)
{
    size_t total = 0;
    for (size_t i = 0; i < nq; i++) total += per_query[i].n;
    vs_range_result *r = calloc(1, sizeof *r);
    if (r) {
        r->nq = nq;
        r->lims = malloc((nq + 1) * sizeof *r->lims);
        r->ids = malloc((total ? total : 1) * sizeof *r->ids);
        r->distances = malloc((total ? total : 1) * sizeof *r->distances);
    }
    if (!r || !r->lims || !r->ids || !r->distances) {
        vs_range_result_free(r);
        return vs_fail(VS_ERR_NOMEM, "out of memory collecting range results");
    }
    size_t at = 0;
    for (size_t i = 0; i < nq; i++) {
        vs_range_hits *h = &per_query[i];
        r->lims[i] = at;
        if (h->n) { /* memcpy from NULL is undefined even for 0 bytes */
            memcpy(r->ids + at, h->ids, h->n * sizeof *r->ids);
            memcpy(r->distances + at, h->keys, h->n * sizeof *r->distances);
        }
        at += h->n;
    }
    r->lims[nq] = at;
    *out = r;
    return VS_OK;
}

void vs_range_hits_free(vs_range_hits *per_query, size_t nq)
{
    if (!per_query) return;
    for (size_t i = 0; i < nq; i++) {
        free(per_query[i].keys);
        free(per_query[i].ids);
    }
    free(per_query);
}
