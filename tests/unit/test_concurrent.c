/* Concurrency (run under ThreadSanitizer in CI): many threads search one index at once,
 * each with its own worker threads, and get the single-threaded answer. */
#include <pthread.h>

#include "test_util.h"

enum { N = 8000, D = 24, NQ = 300, K = 10, READERS = 4 };

typedef struct {
    const vs_index *ix;
    const float *q;
    const int64_t *expect;
    int ok;
} reader;

static void *read_loop(void *arg)
{
    reader *r = arg;
    float *s = malloc(NQ * K * sizeof *s);
    int64_t *id = malloc(NQ * K * sizeof *id);
    r->ok = 1;
    for (int round = 0; round < 3; round++) {
        vs_search_params p = {.n_threads = (unsigned)(1 + round)};
        size_t nq = round == 1 ? 2 : NQ; /* round 1 takes the base-split path */
        if (vs_index_search(r->ix, nq, r->q, K, &p, s, id) != VS_OK ||
            memcmp(id, r->expect, nq * K * sizeof *id) != 0)
            r->ok = 0;
    }
    free(s);
    free(id);
    return NULL;
}

static void parallel_readers(void **state)
{
    (void)state;
    float *base = tu_random_vectors(N, D, 8);
    float *q = tu_random_vectors(NQ, D, 9);
    vs_index *ix = tu_flat(D, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, N, base, NULL), VS_OK);
    float *s = malloc(NQ * K * sizeof *s);
    int64_t *expect = malloc(NQ * K * sizeof *expect);
    assert_int_equal(vs_index_search(ix, NQ, q, K, NULL, s, expect), VS_OK);
    pthread_t t[READERS];
    reader r[READERS];
    for (int i = 0; i < READERS; i++) {
        r[i] = (reader){.ix = ix, .q = q, .expect = expect};
        assert_int_equal(pthread_create(&t[i], NULL, read_loop, &r[i]), 0);
    }
    for (int i = 0; i < READERS; i++) {
        pthread_join(t[i], NULL);
        assert_true(r[i].ok);
    }
    vs_index_free(ix);
    free(base);
    free(q);
    free(s);
    free(expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(parallel_readers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
