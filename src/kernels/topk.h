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

/* A reservoir for k-smallest selection when most candidates arrive near the threshold (the
 * fast-scan path): candidates at or below the threshold are appended, and only when the
 * buffer is full is it cut back to its k best by a quickselect, which sets the new threshold.
 * That costs O(1) per candidate against O(log k) for a heap push. */
typedef struct {
    float *keys;
    int64_t *labels;
    float *scratch; /* 2 (cap + slack) keys for the quickselect */
    int64_t *tie_labels; /* cap labels: those tied with the k-th key at a cut */
    size_t n, cap, k;
    float thr;      /* +inf until the first cut */
} vs_reservoir;

/* Room past cap in keys / labels, for appending a block's candidates (up to 32, written as
 * whole vectors of 16) to a reservoir holding fewer than cap, then cutting it. */
#define VS_RESERVOIR_SLACK 48
int vs_reservoir_init(vs_reservoir *r, size_t k); /* cap = max(2k, 64); 0 or -1 (no memory) */
void vs_reservoir_free(vs_reservoir *r);
void vs_reservoir_reset(vs_reservoir *r);
void vs_reservoir_shrink(vs_reservoir *r);
static inline void vs_reservoir_push(vs_reservoir *r, float key, int64_t label)
{
    if (!(key <= r->thr)) return;
    r->keys[r->n] = key;
    r->labels[r->n] = label;
    if (++r->n == r->cap) vs_reservoir_shrink(r);
}
/* With at least k entries: writes the best k, ascending by (key, label), to keys / labels
 * (k each) and empties the reservoir. */
void vs_reservoir_best(vs_reservoir *r, float *keys, int64_t *labels);
/* As vs_reservoir_best, but the k best in no particular order. */
void vs_reservoir_take(vs_reservoir *r, float *keys, int64_t *labels);
/* Pushes every entry into a heap of k (vs_heap_push), then empties the reservoir. */
void vs_reservoir_flush(vs_reservoir *r, float *heap_keys, int64_t *heap_labels, size_t k);

#endif
