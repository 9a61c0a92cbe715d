/* String ids under concurrency (run under TSan, label "concurrent"): one writer adds and removes
 * keyed documents while readers search, turn hits back into ids (key_of) and look ids up. A
 * reader must never see a document without its id, or an id naming another document. */
#include <pthread.h>
#include <stdatomic.h>

#include "test_concurrent_overlap.h"
#include "test_util.h"

enum { D = 4, ROUNDS = 300, READERS = 3, PRE = 20 };

static vs_collection *col;
static atomic_int done;
static atomic_long checks;
static tu_overlap ov; /* proof that searches and writes overlapped (test_concurrent_overlap.h) */

/* Document i has the vector (i, 1, 0, 0) and the id "k<i>". */
static void vec_of(int i, float *v)
{
    v[0] = (float)i;
    v[1] = 1;
    v[2] = v[3] = 0;
}

static void *reader(void *arg)
{
    (void)arg;
    long n = 0;
    while (!atomic_load(&done)) {
        for (int i = 0; i < ROUNDS; i += 7) {
            float q[D], dist;
            int64_t hit;
            vec_of(i, q);
            tu_read_mark mark;
            vs_search_params p = {.struct_size = sizeof(vs_search_params), .filter = tu_read_begin(&ov, &mark, n++ % 8 == 0)};
            assert_int_equal(vs_collection_search(col, 1, q, 1, &p, &dist, &hit), VS_OK);
            tu_read_end(&ov, &mark);
            if (hit < 0) continue;
            char key[VS_KEY_MAX_BYTES + 1];
            int is_string = 0;
            if (vs_collection_key_of(col, hit, key, sizeof key, &is_string) != VS_OK) continue; /* removed meanwhile */
            assert_true(is_string);
            float v[D];
            if (vs_collection_get_vector(col, hit, v) != VS_OK) continue;
            char want[32];
            snprintf(want, sizeof want, "k%d", (int)v[0]);
            assert_string_equal(key, want); /* the id names this very document */
            int64_t back;
            if (vs_collection_lookup_key(col, key, &back) == VS_OK) assert_int_equal(back, hit);
            atomic_fetch_add(&checks, 1);
        }
    }
    return NULL;
}

static void test_keys_concurrent(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D, .metric = VS_METRIC_L2, .factory = "HNSW8"};
    assert_int_equal(vs_collection_create(dir, &o, &col), VS_OK);
    /* Searches only reach their gate (the filter) in a non-empty collection. */
    for (int i = ROUNDS; i < ROUNDS + PRE; i++) {
        float v[D];
        char key[32];
        const char *k = key;
        vec_of(i, v);
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(vs_collection_add_keyed(col, 1, v, &k, NULL, NULL, NULL), VS_OK);
    }
    pthread_t t[READERS];
    for (int i = 0; i < READERS; i++) assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
    tu_writer_wait_for_gate(&ov);
    for (int i = 0; i < ROUNDS; i++) {
        float v[D];
        char key[32];
        const char *k = key;
        vec_of(i, v);
        snprintf(key, sizeof key, "k%d", i);
        int seen = tu_write_begin(&ov);
        assert_int_equal(vs_collection_add_keyed(col, 1, v, &k, NULL, NULL, NULL), VS_OK);
        tu_write_end(&ov, seen);
        if (i % 3 == 2) { /* remove an earlier one */
            snprintf(key, sizeof key, "k%d", i - 2);
            size_t removed = 0;
            seen = tu_write_begin(&ov);
            assert_int_equal(vs_collection_remove_keys(col, 1, &k, &removed), VS_OK);
            tu_write_end(&ov, seen);
            assert_int_equal(removed, 1);
        }
        if (i == ROUNDS / 2) assert_int_equal(vs_collection_snapshot(col), VS_OK);
    }
    atomic_store(&ov.no_more_writes, 1);
    atomic_store(&done, 1);
    for (int i = 0; i < READERS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(vs_collection_size(col), PRE + ROUNDS - ROUNDS / 3);
    print_message("%ld reader checks; %ld of %ld searches overlapped a write, %ld of %ld writes a search\n",
                  atomic_load(&checks), atomic_load(&ov.reads_overlapped), atomic_load(&ov.reads),
                  atomic_load(&ov.writes_overlapped), atomic_load(&ov.writes));
    assert_true(atomic_load(&ov.reads_overlapped) > 0);
    assert_true(atomic_load(&ov.writes_overlapped) > 0);
    assert_int_equal(vs_collection_close(col), VS_OK);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_keys_concurrent)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
