/* String ids under concurrency (run under TSan, label "concurrent"): one writer adds and removes
 * keyed documents while readers search, turn hits back into ids (key_of) and look ids up. A
 * reader must never see a document without its id, or an id naming another document. */
#include <pthread.h>
#include <stdatomic.h>

#include "test_util.h"

enum { D = 4, ROUNDS = 300, READERS = 3 };

static vs_collection *col;
static atomic_int done;
static atomic_long checks;

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
    while (!atomic_load(&done)) {
        for (int i = 0; i < ROUNDS; i += 7) {
            float q[D], dist;
            int64_t hit;
            vec_of(i, q);
            assert_int_equal(vs_collection_search(col, 1, q, 1, NULL, &dist, &hit), VS_OK);
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
    vs_collection_options o = {.dim = D, .metric = VS_METRIC_L2, .factory = "HNSW8"};
    assert_int_equal(vs_collection_create(dir, &o, &col), VS_OK);
    pthread_t t[READERS];
    for (int i = 0; i < READERS; i++) pthread_create(&t[i], NULL, reader, NULL);
    for (int i = 0; i < ROUNDS; i++) {
        float v[D];
        char key[32];
        const char *k = key;
        vec_of(i, v);
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(vs_collection_add_keyed(col, 1, v, &k, NULL, NULL, NULL), VS_OK);
        if (i % 3 == 2) { /* remove an earlier one */
            snprintf(key, sizeof key, "k%d", i - 2);
            size_t removed = 0;
            assert_int_equal(vs_collection_remove_keys(col, 1, &k, &removed), VS_OK);
            assert_int_equal(removed, 1);
        }
        if (i == ROUNDS / 2) assert_int_equal(vs_collection_snapshot(col), VS_OK);
    }
    atomic_store(&done, 1);
    for (int i = 0; i < READERS; i++) pthread_join(t[i], NULL);
    assert_int_equal(vs_collection_size(col), ROUNDS - ROUNDS / 3);
    print_message("%ld reader checks\n", atomic_load(&checks));
    assert_int_equal(vs_collection_close(col), VS_OK);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_keys_concurrent)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
