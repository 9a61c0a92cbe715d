/* Merging per-shard top-k lists into one (vs_topk_merge): used by the in-process sharded
 * index. (The router merges the JSON answers of shard nodes, whose ids may be strings, with
 * router_merge_hits in router_fanout.c.) */
#include <math.h>

#include "core/error.h"
#include "kernels/topk.h"
#include "vecscale.h"

int vs_topk_merge(vs_metric metric, size_t nq, uint32_t k, size_t n_lists, const float *const *dists,
                  const int64_t *const *idss, const uint32_t *k_in, float *distances, int64_t *ids)
{
    if (k == 0 || (nq && (!distances || !ids)) || (n_lists && (!dists || !idss || !k_in)))
        return vs_fail(VS_ERR_INVALID_ARG, "vs_topk_merge: NULL argument or k == 0");
    /* The heap keeps the k smallest keys: L2 distances as they are, scores negated. */
    const float sign = metric == VS_METRIC_L2 ? 1.0f : -1.0f;
    for (size_t q = 0; q < nq; q++) {
        float *hk = distances + q * k;
        int64_t *hi = ids + q * k;
        vs_heap_reset(hk, hi, k);
        for (size_t l = 0; l < n_lists; l++) {
            if (!dists[l] || !idss[l]) continue; /* a missing list (an unanswered shard) */
            const float *d = dists[l] + q * k_in[l];
            const int64_t *id = idss[l] + q * k_in[l];
            for (uint32_t i = 0; i < k_in[l]; i++)
                if (id[i] >= 0) vs_heap_push(hk, hi, k, sign * d[i], id[i]);
        }
        vs_heap_sort(hk, hi, k);
        for (uint32_t i = 0; i < k; i++) {
            if (hi[i] < 0) hk[i] = metric == VS_METRIC_L2 ? INFINITY : -INFINITY;
            else hk[i] *= sign;
        }
    }
    return VS_OK;
}
