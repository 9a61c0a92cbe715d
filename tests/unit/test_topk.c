/* Top-k heaps against sorting: random keys, ties broken by label, k = 1 and k > n. */
#include "kernels/topk.h"
#include "test_util.h"

static int cmp_pair(const void *a, const void *b)
{
    const float *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static void heap_matches_sort(void **state)
{
    (void)state;
    uint64_t seed = 5;
    const size_t ks[] = {1, 2, 10, 100, 1000};
    for (size_t ki = 0; ki < 5; ki++) {
        for (size_t n = 0; n < 600; n += 37) {
            size_t k = ks[ki];
            float *keys = malloc(k * sizeof *keys);
            int64_t *labels = malloc(k * sizeof *labels);
            float *pairs = malloc((n + 1) * 2 * sizeof *pairs);
            vs_heap_reset(keys, labels, k);
            for (size_t i = 0; i < n; i++) {
                /* Few distinct keys, so ties are common. */
                float key = (float)(tu_rng_next(&seed) % 50);
                vs_heap_push(keys, labels, k, key, (int64_t)i);
                pairs[2 * i] = key;
                pairs[2 * i + 1] = (float)i;
            }
            qsort(pairs, n, 2 * sizeof *pairs, cmp_pair);
            vs_heap_sort(keys, labels, k);
            for (size_t j = 0; j < k; j++) {
                if (j < n) {
                    assert_float_equal(keys[j], pairs[2 * j], 0);
                    assert_int_equal(labels[j], (int64_t)pairs[2 * j + 1]);
                } else {
                    assert_int_equal(labels[j], -1);
                    assert_true(isinf(keys[j]));
                }
            }
            free(keys);
            free(labels);
            free(pairs);
        }
    }
}

static void pairs_sort_orders_by_key_then_label(void **state)
{
    (void)state;
    float keys[6] = {3, 1, 2, 1, INFINITY, 0};
    int64_t labels[6] = {0, 9, 4, 2, -1, 7};
    vs_pairs_sort(keys, labels, 6);
    const int64_t want[6] = {7, 2, 9, 4, 0, -1};
    for (int i = 0; i < 6; i++) assert_int_equal(labels[i], want[i]);
    vs_pairs_sort(keys, labels, 0);
    vs_heap_push(keys, labels, 0, 1.0f, 1); /* k = 0 is a no-op */
}

/* The reservoir keeps exactly the k best of a stream, like a heap, across cuts and flushes;
 * keys repeat (fast-scan sums are integers), so ties are compared as key multisets. */
static void reservoir_matches_heap(void **state)
{
    (void)state;
    const size_t ks[] = {1, 10, 100};
    uint64_t seed = 5;
    for (size_t t = 0; t < 3; t++) {
        size_t k = ks[t], n = 5000;
        vs_reservoir r;
        assert_int_equal(vs_reservoir_init(&r, k), 0);
        float *hk = malloc(k * sizeof *hk), *rk = malloc(k * sizeof *rk);
        int64_t *hl = malloc(k * sizeof *hl), *rl = malloc(k * sizeof *rl);
        vs_heap_reset(hk, hl, k);
        vs_heap_reset(rk, rl, k);
        for (size_t i = 0; i < n; i++) {
            float key = (float)(tu_rng_next(&seed) % 700);
            vs_heap_push(hk, hl, k, key, (int64_t)i);
            vs_reservoir_push(&r, key, (int64_t)i);
            if (i % 1777 == 0) vs_reservoir_flush(&r, rk, rl, k); /* as between lists */
            assert_true(r.n < r.cap);
        }
        vs_reservoir_flush(&r, rk, rl, k);
        vs_heap_sort(hk, hl, k);
        vs_heap_sort(rk, rl, k);
        for (size_t i = 0; i < k; i++) assert_float_equal(hk[i], rk[i], 0);
        vs_reservoir_free(&r);
        free(hk);
        free(rk);
        free(hl);
        free(rl);
    }
}

/* vs_reservoir_best is the k best by (key, label) whatever order the candidates arrive in,
 * ties included (the IVF fast-scan query-block search relies on it), and equals a heap's. */
static void reservoir_best_is_order_independent(void **state)
{
    (void)state;
    const size_t ks[] = {1, 10, 40, 200};
    uint64_t seed = 9;
    enum { N = 6000 };
    float *key = malloc(N * sizeof *key);
    int64_t *lab = malloc(N * sizeof *lab);
    for (size_t t = 0; t < 4; t++) {
        size_t k = ks[t];
        for (size_t i = 0; i < N; i++) {
            key[i] = (float)(tu_rng_next(&seed) % 300); /* many ties */
            lab[i] = (int64_t)i;
        }
        float hk[200], bk[2][200];
        int64_t hl[200], bl[2][200];
        vs_heap_reset(hk, hl, k);
        for (size_t i = 0; i < N; i++) vs_heap_push(hk, hl, k, key[i], lab[i]);
        vs_heap_sort(hk, hl, k);
        for (int pass = 0; pass < 2; pass++) {
            vs_reservoir r;
            assert_int_equal(vs_reservoir_init(&r, k), 0);
            for (size_t i = 0; i < N; i++) {
                size_t j = pass ? N - 1 - i : i; /* the second pass sees the stream reversed */
                vs_reservoir_push(&r, key[j], lab[j]);
            }
            vs_reservoir_best(&r, bk[pass], bl[pass]);
            vs_reservoir_free(&r);
            for (size_t i = 0; i < k; i++) {
                if (bk[pass][i] != hk[i] || bl[pass][i] != hl[i])
                    fail_msg("k %zu pass %d rank %zu: reservoir %g/%lld, heap %g/%lld", k, pass, i, bk[pass][i],
                             (long long)bl[pass][i], hk[i], (long long)hl[i]);
            }
        }
    }
    free(key);
    free(lab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(heap_matches_sort),
        cmocka_unit_test(pairs_sort_orders_by_key_then_label),
        cmocka_unit_test(reservoir_matches_heap),
        cmocka_unit_test(reservoir_best_is_order_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
