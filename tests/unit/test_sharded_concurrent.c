/* Concurrent searches on one sharded index, each fanning out over the shards on its own
 * threads (run under TSan in CI): every thread gets the single-threaded answer. Searches must
 * have overlapped (test_concurrent_overlap.h: each thread's first search is gated).
 * A sharded HNSW index keeps HNSW's rule: one writer adds beside searching threads, which never
 * fail nor see an ID not yet added; the writes and searches must have overlapped. */

#include <pthread.h>
#include <stdatomic.h>

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

enum { HN = 3000, HFIRST = 300, HBATCH = 150, HREADERS = 2 };

typedef struct {
    const vs_index *s;
    const float *x;
    atomic_long added; /* rows whose add has returned */
    atomic_int stop, bad;
    tu_overlap *ov;
} hshared;

static void *hnsw_reader(void *arg)
{
    hshared *S = arg;
    float d[K];
    int64_t ids[K];
    for (long n = 0; !atomic_load(&S->stop); n++) {
        long before = atomic_load(&S->added);
        tu_read_mark mark;
        vs_search_params p = {.struct_size = sizeof p, .ef_search = 32, .filter = tu_read_begin(S->ov, &mark, n % 8 == 0)};
        int rc = vs_index_search(S->s, 1, S->x + (size_t)(n % before) * D, K, &p, d, ids);
        tu_read_end(S->ov, &mark);
        long after = atomic_load(&S->added) + HBATCH; /* the batch in flight may show */
        if (rc != VS_OK) atomic_store(&S->bad, 1);
        for (int i = 0; i < K; i++)
            if (ids[i] < -1 || ids[i] >= after) atomic_store(&S->bad, 1);
    }
    return NULL;
}

static void hnsw_writer_beside_searches(void **state)
{
    (void)state;
    float *x = tu_random_vectors(HN, D, 21);
    vs_index_options o = {.struct_size = sizeof o, .dim = D, .factory = "Shards4,HNSW8"};
    vs_index *s = NULL;
    assert_int_equal(vs_index_create(&o, &s), VS_OK);
    assert_int_equal(vs_index_add(s, HFIRST, x, NULL), VS_OK);
    tu_overlap ov = {0};
    hshared S = {.s = s, .x = x, .ov = &ov};
    atomic_store(&S.added, HFIRST);
    pthread_t th[HREADERS];
    for (int i = 0; i < HREADERS; i++) assert_int_equal(pthread_create(&th[i], NULL, hnsw_reader, &S), 0);
    tu_writer_wait_for_gate(&ov);
    for (long at = HFIRST; at < HN; at += HBATCH) {
        int seen = tu_write_begin(&ov);
        int rc = vs_index_add(s, HBATCH, x + (size_t)at * D, NULL);
        tu_write_end(&ov, seen);
        assert_int_equal(rc, VS_OK);
        atomic_store(&S.added, at + HBATCH);
    }
    atomic_store(&ov.no_more_writes, 1);
    atomic_store(&S.stop, 1);
    for (int i = 0; i < HREADERS; i++) pthread_join(th[i], NULL);
    print_message("%ld of %ld searches and %ld of %ld adds overlapped\n", atomic_load(&ov.reads_overlapped),
                  atomic_load(&ov.reads), atomic_load(&ov.writes_overlapped), atomic_load(&ov.writes));
    assert_false(atomic_load(&S.bad));
    assert_true(atomic_load(&ov.reads_overlapped) > 0);
    assert_true(atomic_load(&ov.writes_overlapped) > 0);
    assert_int_equal(vs_index_size(s), HN);
    float v[D];
    for (int64_t id = 0; id < HN; id++) assert_int_equal(vs_index_get(s, id, v), VS_OK);
    vs_index_free(s);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(concurrent_searches), cmocka_unit_test(hnsw_writer_beside_searches)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
