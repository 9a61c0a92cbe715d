/* Per-query hit lists of a threaded radius search, and their gathering into one
 * vs_range_result (Flat and IVF share this; each worker appends to its own query's list). */
#ifndef VS_INDEX_RANGE_HITS_H
#define VS_INDEX_RANGE_HITS_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct {
    float *keys;
    int64_t *ids;
    size_t n, cap;
} vs_range_hits;

/* 0, or -1 when out of memory (the list keeps what it had). */
int vs_range_hits_append(vs_range_hits *h, float key, int64_t id);

/* Copies every query's hits, in list order (workers sort their own query's hits with
 * vs_pairs_sort), into a new vs_range_result (*out, freed with vs_range_result_free). The
 * lists stay owned by the caller. */
int vs_range_hits_collect(size_t nq, vs_range_hits *per_query, vs_range_result **out);

/* Frees the nq lists and the array itself (NULL is fine). */
void vs_range_hits_free(vs_range_hits *per_query, size_t nq);

#endif
