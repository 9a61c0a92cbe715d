/* Concurrent searches on one sharded index, each fanning out over the shards on its own
 * threads (run under TSan in CI): every thread gets the single-threaded answer. Searches must
 * have overlapped (test_concurrent_overlap.h: each thread's first search is gated). */

#include "test_util.h"

#include "test_concurrent_overlap.h"

enum { N = 4000, NQ = 32, D = 16, K = 5, THREADS = 3 };

typedef struct {
    const vs_index *s;
    const float *q;
    const int64_t *want;
    tu_overlap *ov;
    int ok;
} job;

static void *run(void *arg)
{
    job *j = arg;
    int64_t ids[NQ * K];
    float d[NQ * K];
    j->ok = 1;
    for (int r = 0; r < 5; r++) {
        tu_read_mark mark;
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = 4, .filter = tu_reader_begin(j->ov, &mark, r == 0)};
        if (vs_index_search(j->s, NQ, j->q, K, &p, d, ids) != VS_OK || memcmp(ids, j->want, sizeof ids)) j->ok = 0;
        tu_reader_end(j->ov, &mark);
    }
    return NULL;
}

static void concurrent_searches(void **state)
{
    (void)state;
    float *x = tu_random_vectors(N, D, 3), *q = tu_random_vectors(NQ, D, 4);
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = D, .metric = VS_METRIC_L2,
                          .factory = "Shards4,Flat"};
    vs_index *s = NULL;
    assert_int_equal(vs_index_create(&o, &s), VS_OK);
    assert_int_equal(vs_index_add(s, N, x, NULL), VS_OK);
    int64_t want[NQ * K];
    float d[NQ * K];
    assert_int_equal(vs_index_search(s, NQ, q, K, NULL, d, want), VS_OK);
    job jobs[THREADS];
    tu_overlap ov = {0};
    for (int i = 0; i < THREADS; i++) jobs[i] = (job){s, q, want, &ov, 0};
    tu_run_threads(THREADS, run, jobs, sizeof jobs[0]);
    for (int i = 0; i < THREADS; i++) assert_true(jobs[i].ok);
    print_message("%ld of %ld searches overlapped another\n", atomic_load(&ov.reads_overlapped), atomic_load(&ov.reads));
    assert_true(atomic_load(&ov.reads_overlapped) > 0);
    vs_index_free(s);
    free(x);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(concurrent_searches)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
