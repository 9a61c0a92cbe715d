/* k-smallest selection: a binary max-heap keyed on (key, label). */
#include "kernels/topk.h"

#include <math.h>
#include <stdlib.h>

static inline int worse(float ka, int64_t la, float kb, int64_t lb)
{
    /* Sentinels (label -1) are worse than any real entry with the same key. */
    if (ka != kb) return ka > kb;
    if (la < 0 || lb < 0) return la < 0 && lb >= 0;
    return la > lb;
}

void vs_heap_reset(float *keys, int64_t *labels, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        keys[i] = INFINITY;
        labels[i] = -1;
    }
}

static void sift_down(float *keys, int64_t *labels, size_t k, size_t i)
{
    float key = keys[i];
    int64_t label = labels[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= k) break;
        if (c + 1 < k && worse(keys[c + 1], labels[c + 1], keys[c], labels[c])) c++;
        if (!worse(keys[c], labels[c], key, label)) break;
        keys[i] = keys[c];
        labels[i] = labels[c];
        i = c;
    }
    keys[i] = key;
    labels[i] = label;
}

void vs_heap_push(float *keys, int64_t *labels, size_t k, float key, int64_t label)
{
    if (k == 0 || !worse(keys[0], labels[0], key, label)) return;
    keys[0] = key;
    labels[0] = label;
    sift_down(keys, labels, k, 0);
}

void vs_heap_sort(float *keys, int64_t *labels, size_t k)
{
    for (size_t n = k; n > 1; n--) {
        float tk = keys[0];
        int64_t tl = labels[0];
        keys[0] = keys[n - 1];
        labels[0] = labels[n - 1];
        keys[n - 1] = tk;
        labels[n - 1] = tl;
        sift_down(keys, labels, n - 1, 0);
    }
}

void vs_pairs_sort(float *keys, int64_t *labels, size_t n)
{
    /* Heapify then heap-sort: in place, O(n log n), no allocation. */
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;) sift_down(keys, labels, n, i);
    vs_heap_sort(keys, labels, n);
}
