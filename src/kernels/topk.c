/* k-smallest selection: a binary max-heap keyed on (key, label). */
#include "kernels/topk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int vs_reservoir_init(vs_reservoir *r, size_t k)
{
    r->k = k;
    r->cap = 2 * k > 64 ? 2 * k : 64;
    size_t room = r->cap + VS_RESERVOIR_SLACK;
    r->keys = malloc(room * sizeof *r->keys);
    r->labels = malloc(room * sizeof *r->labels);
    r->scratch = malloc(2 * room * sizeof *r->scratch); /* two buffers for select_nth */
    r->tie_labels = malloc(room * sizeof *r->tie_labels);
    vs_reservoir_reset(r);
    if (r->keys && r->labels && r->scratch && r->tie_labels) return 0;
    vs_reservoir_free(r);
    return -1;
}

void vs_reservoir_free(vs_reservoir *r)
{
    free(r->keys);
    free(r->labels);
    free(r->scratch);
    free(r->tie_labels);
    r->keys = r->scratch = NULL;
    r->labels = r->tie_labels = NULL;
}

void vs_reservoir_reset(vs_reservoir *r)
{
    r->n = 0;
    r->thr = INFINITY;
}

/* The nth smallest (0-based) of a[0..n), using b[0..n) as the second buffer (both are
 * overwritten): quickselect whose three-way partition is branch-free (each element is
 * written to both ends and the end it belongs to advances), because the keys of a fast-scan
 * reservoir sit near the threshold and a branch per element mispredicted about half the time. */
static float select_nth(float *a, float *b, size_t n, size_t nth)
{
    for (;;) {
        if (n <= 8) { /* insertion sort */
            for (size_t i = 1; i < n; i++) {
                float x = a[i];
                size_t j = i;
                for (; j > 0 && a[j - 1] > x; j--) a[j] = a[j - 1];
                a[j] = x;
            }
            return a[nth];
        }
        float p0 = a[0], p1 = a[n / 2], p2 = a[n - 1];
        float p = p0 < p1 ? (p1 < p2 ? p1 : (p0 < p2 ? p2 : p0)) : (p0 < p2 ? p0 : (p1 < p2 ? p2 : p1));
        size_t lo = 0, hi = n;
        for (size_t i = 0; i < n; i++) {
            float x = a[i];
            b[lo] = x;
            lo += x < p;
            b[hi - 1] = x;
            hi -= x > p;
        }
        /* b[0..lo) < p, b[hi..n) > p; the elements equal to p would fill the gap. */
        if (nth < lo) {
            n = lo;
        } else if (nth >= hi) {
            nth -= hi;
            n -= hi;
            b += hi;
        } else {
            return p;
        }
        float *t = a;
        a = b;
        b = t;
    }
}

/* The nth smallest of a[0..n) (0-based), reordering a: quickselect (Lomuto, middle pivot). */
static int64_t select_nth_label(int64_t *a, size_t n, size_t nth)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, st = lo;
        int64_t pivot = a[mid], t;
        a[mid] = a[hi];
        a[hi] = pivot;
        for (size_t i = lo; i < hi; i++)
            if (a[i] < pivot) {
                t = a[i];
                a[i] = a[st];
                a[st++] = t;
            }
        a[hi] = a[st];
        a[st] = pivot;
        if (nth == st) return pivot;
        if (nth < st) hi = st - 1;
        else lo = st + 1;
    }
    return a[nth];
}

void vs_reservoir_shrink(vs_reservoir *r)
{
    if (r->n <= r->k) return;
    memcpy(r->scratch, r->keys, r->n * sizeof *r->keys);
    float kth = select_nth(r->scratch, r->scratch + r->cap + VS_RESERVOIR_SLACK, r->n, r->k - 1);
    /* Keep everything below the k-th key, then of the ties with it those of smallest label:
     * the kept set is the k best by (key, label) whatever order candidates arrived in (the
     * IVF fast-scan query-block search relies on that to equal the per-query search). One
     * branch-free pass compacts the entries below and collects the tied labels. */
    size_t out = 0, nt = 0;
    for (size_t i = 0; i < r->n; i++) {
        float key = r->keys[i];
        int64_t lab = r->labels[i];
        r->keys[out] = key;
        r->labels[out] = lab;
        out += key < kth;
        r->tie_labels[nt] = lab;
        nt += key == kth;
    }
    size_t ties = r->k - out; /* >= 1: kth is the k-th smallest */
    size_t take = 0;
    if (nt > ties) {
        int64_t cut = select_nth_label(r->tie_labels, nt, ties - 1);
        for (size_t i = 0; i < nt; i++)
            if (r->tie_labels[i] < cut) {
                r->keys[out] = kth;
                r->labels[out++] = r->tie_labels[i];
                take++;
            }
        /* then the cut label itself (more than once only if a label was pushed twice) */
        for (size_t i = 0; i < nt && take < ties; i++)
            if (r->tie_labels[i] == cut) {
                r->keys[out] = kth;
                r->labels[out++] = cut;
                take++;
            }
    } else {
        for (size_t i = 0; i < nt; i++) {
            r->keys[out] = kth;
            r->labels[out++] = r->tie_labels[i];
        }
    }
    r->n = out;
    r->thr = kth;
}

static inline void swap_pair(float *keys, int64_t *labels, size_t a, size_t b)
{
    float tk = keys[a];
    int64_t tl = labels[a];
    keys[a] = keys[b];
    labels[a] = labels[b];
    keys[b] = tk;
    labels[b] = tl;
}

/* Ascending (key, label) quicksort (median of three, insertion sort below 16): for NaN-free
 * keys, where (key, label) is a total order, the same result as vs_pairs_sort at about a
 * third of its cost on the k = 100..200 candidates of a re-ranked IVF search. */
static void pairs_quicksort(float *keys, int64_t *labels, size_t n)
{
    while (n > 16) {
        size_t mid = n / 2, last = n - 1;
        if (worse(keys[0], labels[0], keys[mid], labels[mid])) swap_pair(keys, labels, 0, mid);
        if (worse(keys[mid], labels[mid], keys[last], labels[last])) swap_pair(keys, labels, mid, last);
        if (worse(keys[0], labels[0], keys[mid], labels[mid])) swap_pair(keys, labels, 0, mid);
        float pk = keys[mid];
        int64_t pl = labels[mid];
        size_t i = 0, j = last;
        for (;;) {
            while (worse(pk, pl, keys[i], labels[i])) i++;
            while (worse(keys[j], labels[j], pk, pl)) j--;
            if (i >= j) break;
            swap_pair(keys, labels, i, j);
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j + 1, n): recurse into the smaller side. */
        if (j + 1 < n - j - 1) {
            pairs_quicksort(keys, labels, j + 1);
            keys += j + 1;
            labels += j + 1;
            n -= j + 1;
        } else {
            pairs_quicksort(keys + j + 1, labels + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && worse(keys[j - 1], labels[j - 1], keys[j], labels[j]); j--) swap_pair(keys, labels, j - 1, j);
}

void vs_reservoir_take(vs_reservoir *r, float *keys, int64_t *labels)
{
    if (r->n > r->k) vs_reservoir_shrink(r);
    memcpy(keys, r->keys, r->k * sizeof *keys);
    memcpy(labels, r->labels, r->k * sizeof *labels);
    vs_reservoir_reset(r);
}

void vs_reservoir_best(vs_reservoir *r, float *keys, int64_t *labels)
{
    if (r->n > r->k) vs_reservoir_shrink(r);
    memcpy(keys, r->keys, r->k * sizeof *keys);
    memcpy(labels, r->labels, r->k * sizeof *labels);
    int nan = 0;
    for (size_t i = 0; i < r->k; i++) nan |= keys[i] != keys[i];
    if (nan) vs_pairs_sort(keys, labels, r->k);
    else pairs_quicksort(keys, labels, r->k);
    vs_reservoir_reset(r);
}

void vs_reservoir_flush(vs_reservoir *r, float *heap_keys, int64_t *heap_labels, size_t k)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->keys[i] <= heap_keys[0]) vs_heap_push(heap_keys, heap_labels, k, r->keys[i], r->labels[i]);
    r->n = 0;
    r->thr = heap_keys[0]; /* later candidates must still beat the k-th best */
}
