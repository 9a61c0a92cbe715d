/* Concurrency (run under ThreadSanitizer in CI): many threads search one index at once,
 * each with its own worker threads, and get the single-threaded answer. Searches must have
 * overlapped (test_concurrent_overlap.h: each thread's first search is gated so that they
 * do); a Flat index allows no writer beside them. */
#include "test_util.h"

#include "test_concurrent_overlap.h"

enum { N = 8000, D = 24, NQ = 300, K = 10, READERS = 4 };

typedef struct {
    const vs_index *ix;
    const float *q;
    const int64_t *expect;
    tu_overlap *ov;
    int ok;
} reader;

static void *read_loop(void *arg)
{
    reader *r = arg;
    float *s = malloc(NQ * K * sizeof *s);
    int64_t *id = malloc(NQ * K * sizeof *id);
    r->ok = 1;
    for (int round = 0; round < 3; round++) {
        tu_read_mark mark;
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = (unsigned)(1 + round), .filter = tu_reader_begin(r->ov, &mark, round == 0)};
        size_t nq = round == 1 ? 2 : NQ; /* round 1 takes the base-split path */
        if (vs_index_search(r->ix, nq, r->q, K, &p, s, id) != VS_OK ||
            memcmp(id, r->expect, nq * K * sizeof *id) != 0)
            r->ok = 0;
        tu_reader_end(r->ov, &mark);
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
    reader r[READERS];
    tu_overlap ov = {0};
    for (int i = 0; i < READERS; i++) r[i] = (reader){.ix = ix, .q = q, .expect = expect, .ov = &ov};
    tu_run_threads(READERS, read_loop, r, sizeof r[0]);
    for (int i = 0; i < READERS; i++) assert_true(r[i].ok);
    print_message("%ld of %ld searches overlapped another\n", atomic_load(&ov.reads_overlapped), atomic_load(&ov.reads));
    assert_true(atomic_load(&ov.reads_overlapped) > 0);
    vs_index_free(ix);
    free(base);
    free(q);
    free(s);
    free(expect);
}

/* Many short GEMM calls at once from different threads: the case that corrupts results with
 * a BLAS that is not safe under concurrent callers (Debian's serial OpenBLAS). */
typedef struct {
    const vs_index *ix;
    const float *q;
    const int64_t *expect;
    tu_overlap *ov;
    int mismatches;
} small_batch;

static void *small_batches(void *arg)
{
    small_batch *b = arg;
    float s[8 * K];
    int64_t id[8 * K];
    for (int it = 0; it < 150; it++) {
        const float *q = b->q + (size_t)(it % 30) * 8 * D;
        tu_read_mark mark;
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .filter = tu_reader_begin(b->ov, &mark, it == 0)};
        if (vs_index_search(b->ix, 8, q, K, &p, s, id) != VS_OK ||
            memcmp(id, b->expect + (size_t)(it % 30) * 8 * K, sizeof id) != 0)
            b->mismatches++;
        tu_reader_end(b->ov, &mark);
    }
    return NULL;
}

static void concurrent_small_gemms(void **state)
{
    (void)state;
    size_t n = 3000;
    float *base = tu_random_vectors(n, D, 21);
    float *q = tu_random_vectors(240, D, 22);
    vs_index *ix = tu_flat(D, VS_METRIC_IP);
    assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);
    float *s = malloc(240 * K * sizeof *s);
    int64_t *expect = malloc(240 * K * sizeof *expect);
    for (int i = 0; i < 30; i++)
        assert_int_equal(vs_index_search(ix, 8, q + (size_t)i * 8 * D, K, NULL, s + i * 8 * K, expect + i * 8 * K), VS_OK);
    small_batch b[6];
    tu_overlap ov = {0};
    for (int i = 0; i < 6; i++) b[i] = (small_batch){.ix = ix, .q = q, .expect = expect, .ov = &ov};
    tu_run_threads(6, small_batches, b, sizeof b[0]);
    print_message("%ld of %ld searches overlapped another\n", atomic_load(&ov.reads_overlapped), atomic_load(&ov.reads));
    assert_true(atomic_load(&ov.reads_overlapped) > 0);
    int total = 0;
    for (int i = 0; i < 6; i++) total += b[i].mismatches;
    assert_int_equal(total, 0);
    vs_index_free(ix);
    free(base);
    free(q);
    free(s);
    free(expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parallel_readers),
        cmocka_unit_test(concurrent_small_gemms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
