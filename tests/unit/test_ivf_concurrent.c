/* IVF concurrency (run under ThreadSanitizer): threaded k-means training and add, then many
 * threads searching one IVF index at once (each with its own workers, filtered and not, and
 * range search), all getting the single-threaded answer. Searches must have overlapped
 * (test_concurrent_overlap.h: each thread's first search is gated so that they do); an IVF
 * index allows no writer beside them. */
#include "test_util.h"

#include "test_concurrent_overlap.h"

enum { N = 6000, D = 16, NQ = 200, K = 10, READERS = 4 };

typedef struct {
    const vs_index *ix;
    const float *q;
    const int64_t *expect;
    tu_overlap *ov;
    int ok;
} reader;

static int even(int64_t id, void *ctx)
{
    (void)ctx;
    return id % 2 == 0;
}

static void *read_loop(void *arg)
{
    reader *r = arg;
    float *s = malloc(NQ * K * sizeof *s);
    int64_t *id = malloc(NQ * K * sizeof *id);
    r->ok = 1;
    for (int round = 0; round < 3; round++) {
        tu_read_mark mark;
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = (unsigned)(1 + round), .nprobe = 4,
                              .filter = tu_reader_begin(r->ov, &mark, round == 0)};
        if (vs_index_search(r->ix, NQ, r->q, K, &p, s, id) != VS_OK || memcmp(id, r->expect, NQ * K * sizeof *id) != 0)
            r->ok = 0;
        tu_reader_end(r->ov, &mark);
        vs_filter f = {.kind = VS_FILTER_PREDICATE, .fn = even};
        p.filter = &f;
        if (vs_index_search(r->ix, NQ, r->q, K, &p, s, id) != VS_OK) r->ok = 0;
        for (size_t i = 0; i < NQ * K; i++)
            if (id[i] < 0 || id[i] % 2) r->ok = 0;
        vs_range_result *rr = NULL;
        p.filter = NULL;
        if (vs_index_range_search(r->ix, NQ, r->q, 0.5f, &p, &rr) != VS_OK) r->ok = 0;
        vs_range_result_free(rr);
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
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = D, .metric = VS_METRIC_L2, .factory = "IVF32,Flat", .n_threads = 2};
    vs_index *ix;
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    assert_int_equal(vs_index_train(ix, N, base), VS_OK);
    assert_int_equal(vs_index_add(ix, N, base, NULL), VS_OK);
    float *s = malloc(NQ * K * sizeof *s);
    int64_t *expect = malloc(NQ * K * sizeof *expect);
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .nprobe = 4};
    assert_int_equal(vs_index_search(ix, NQ, q, K, &p, s, expect), VS_OK);
    reader r[READERS];
    tu_overlap ov = {0};
    for (int i = 0; i < READERS; i++) r[i] = (reader){.ix = ix, .q = q, .expect = expect, .ov = &ov};
    tu_run_threads(READERS, read_loop, r, sizeof r[0]);
    for (int i = 0; i < READERS; i++) assert_true(r[i].ok);
    print_message("%ld of %ld searches overlapped another\n", atomic_load(&ov.reads_overlapped), atomic_load(&ov.reads));
    assert_true(atomic_load(&ov.reads_overlapped) > 0);
    vs_index_free(ix);
    free(s);
    free(expect);
    free(base);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(parallel_readers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
