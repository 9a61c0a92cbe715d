/* Bounded max-heaps for k-smallest selection over (key, label) pairs. A heap always holds k
 * entries: it starts full of sentinels (+inf, -1), so the threshold is simply key[0]. Ties
 * on key are broken by the smaller label, which makes results independent of threading. */
#ifndef VS_KERNELS_TOPK_H
#define VS_KERNELS_TOPK_H

#include <stddef.h>
#include <stdint.h>

void vs_heap_reset(float *keys, int64_t *labels, size_t k);
/* Inserts (key, label) if it beats the current worst entry. */
void vs_heap_push(float *keys, int64_t *labels, size_t k, float key, int64_t label);
/* Sorts the heap in place into ascending (key, label) order; sentinels go last. */
void vs_heap_sort(float *keys, int64_t *labels, size_t k);
/* Sorts n (key, label) pairs ascending by (key, label). */
void vs_pairs_sort(float *keys, int64_t *labels, size_t n);

#endif
