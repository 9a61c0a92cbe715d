/* Helpers shared by the HNSW unit tests (header-only, like test_util.h). */
#ifndef VS_TEST_HNSW_UTIL_H
#define VS_TEST_HNSW_UTIL_H

#include "test_util.h"

enum { D = 32, N = 5000, NQ = 200, K = 10 };

static inline vs_index *make(uint32_t d, vs_metric m, const char *factory, uint32_t threads)
{
    vs_index *ix = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = d, .metric = m, .factory = factory, .n_threads = threads, .seed = 42};
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    return ix;
}

/* recall@k of got against the exact answer (rows of k IDs; -1 entries never match). */
static inline double recall(const int64_t *got, const int64_t *exact, size_t nq, size_t k)
{
    size_t hit = 0, total = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < k; j++) {
            if (exact[i * k + j] < 0) continue;
            total++;
            for (size_t t = 0; t < k; t++)
                if (got[i * k + t] == exact[i * k + j]) {
                    hit++;
                    break;
                }
        }
    return total ? (double)hit / (double)total : 1.0;
}

static inline void search_ids(const vs_index *ix, const float *q, size_t nq, uint32_t k, const vs_search_params *p,
                       int64_t *ids, float *dist)
{
    float *tmp = dist ? dist : malloc(nq * k * sizeof *tmp);
    assert_int_equal(vs_index_search(ix, nq, q, k, p, tmp, ids), VS_OK);
    if (!dist) free(tmp);
}

#endif
