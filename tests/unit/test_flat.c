/* Flat index: search against a double-precision brute-force reference (random data with
 * duplicate rows, every metric, GEMM and direct paths, 1 and 3 threads, k > n, ties), user
 * and automatic IDs, duplicates, deletes. */
#include "test_util.h"

static void check_search(vs_index *ix, const float *base, size_t n, size_t d, vs_metric m, const float *q, size_t nq,
                         uint32_t k, unsigned threads)
{
    float *s = malloc(nq * k * sizeof *s);
    int64_t *id = malloc(nq * k * sizeof *id);
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads};
    assert_int_equal(vs_index_search(ix, nq, q, k, &p, s, id), VS_OK);
    for (size_t i = 0; i < nq; i++) tu_check_row(m, base, n, d, q + i * d, k, NULL, s + i * k, id + i * k);
    free(s);
    free(id);
}

static void random_vs_reference(void **state)
{
    (void)state;
    const size_t dims[] = {1, 7, 33, 128};
    const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP, VS_METRIC_COSINE};
    for (size_t di = 0; di < 4; di++) {
        for (size_t mi = 0; mi < 3; mi++) {
            size_t n = 5000, d = dims[di], nq = 40;
            float *base = tu_random_vectors(n, d, 11 + di);
            /* Duplicate rows make exact ties in every metric. */
            for (size_t i = 0; i < 200; i++) memcpy(base + (n - 1 - i) * d, base + i * 7 * d, d * sizeof(float));
            float *q = tu_random_vectors(nq, d, 99 + di);
            memcpy(q, base + 3 * d, d * sizeof(float)); /* a query equal to a base row */
            vs_index *ix = tu_flat((uint32_t)d, metrics[mi]);
            assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);
            assert_int_equal(vs_index_size(ix), n);
            check_search(ix, base, n, d, metrics[mi], q, nq, 10, 1);   /* GEMM path */
            check_search(ix, base, n, d, metrics[mi], q, 2, 10, 1);    /* direct path */
            check_search(ix, base, n, d, metrics[mi], q, 2, 1, 3);     /* base split */
            check_search(ix, base, n, d, metrics[mi], q, nq, 100, 3);  /* query split */
            vs_index_free(ix);
            free(base);
            free(q);
        }
    }
}

static void large_batch_threads(void **state)
{
    (void)state;
    size_t n = 20000, d = 24, nq = 700; /* several query blocks and base blocks */
    float *base = tu_random_vectors(n, d, 5);
    float *q = tu_random_vectors(nq, d, 6);
    vs_index *ix = tu_flat((uint32_t)d, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);
    float *s1 = malloc(nq * 10 * sizeof *s1), *s2 = malloc(nq * 10 * sizeof *s2);
    int64_t *i1 = malloc(nq * 10 * sizeof *i1), *i2 = malloc(nq * 10 * sizeof *i2);
    vs_search_params p1 = {.struct_size = sizeof(vs_search_params), .n_threads = 1}, p2 = {.n_threads = 4};
    assert_int_equal(vs_index_search(ix, nq, q, 10, &p1, s1, i1), VS_OK);
    assert_int_equal(vs_index_search(ix, nq, q, 10, &p2, s2, i2), VS_OK);
    assert_memory_equal(i1, i2, nq * 10 * sizeof *i1);
    for (size_t i = 0; i < nq; i += 37) tu_check_row(VS_METRIC_L2, base, n, d, q + i * d, 10, NULL, s1 + i * 10, i1 + i * 10);
    free(s1); free(s2); free(i1); free(i2);
    vs_index_free(ix);
    free(base);
    free(q);
}

static void k_larger_than_n(void **state)
{
    (void)state;
    float base[5 * 3], q[3] = {0.1f, 0.2f, 0.3f};
    for (int i = 0; i < 15; i++) base[i] = (float)i;
    vs_index *ix = tu_flat(3, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, 5, base, NULL), VS_OK);
    float s[10];
    int64_t id[10];
    assert_int_equal(vs_index_search(ix, 1, q, 10, NULL, s, id), VS_OK);
    for (int j = 0; j < 5; j++) assert_int_equal(id[j], j);
    for (int j = 5; j < 10; j++) {
        assert_int_equal(id[j], -1);
        assert_true(isinf(s[j]) && s[j] > 0);
    }
    vs_index_free(ix);
    /* Similarity metrics pad with -inf. */
    ix = tu_flat(3, VS_METRIC_IP);
    assert_int_equal(vs_index_add(ix, 5, base, NULL), VS_OK);
    assert_int_equal(vs_index_search(ix, 1, q, 10, NULL, s, id), VS_OK);
    assert_int_equal(id[0], 4);
    assert_true(isinf(s[9]) && s[9] < 0);
    vs_index_free(ix);
}

static void identical_vectors_break_ties_by_position(void **state)
{
    (void)state;
    size_t n = 3000, d = 16;
    float *base = malloc(n * d * sizeof *base);
    for (size_t i = 0; i < n * d; i++) base[i] = 0.5f;
    vs_index *ix = tu_flat((uint32_t)d, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);
    float s[8 * 5];
    int64_t id[8 * 5];
    for (unsigned t = 1; t <= 3; t += 2) {
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = t};
        assert_int_equal(vs_index_search(ix, 8, base, 5, &p, s, id), VS_OK);
        for (int r = 0; r < 8; r++)
            for (int j = 0; j < 5; j++) {
                assert_int_equal(id[r * 5 + j], j);
                assert_float_equal(s[r * 5 + j], 0.0f, 1e-6);
            }
    }
    vs_index_free(ix);
    free(base);
}

static void empty_index(void **state)
{
    (void)state;
    vs_index *ix = tu_flat(4, VS_METRIC_L2);
    float q[4] = {0}, s[2];
    int64_t id[2];
    assert_int_equal(vs_index_search(ix, 1, q, 2, NULL, s, id), VS_ERR_EMPTY);
    assert_non_null(strstr(vs_last_error(), "empty"));
    assert_int_equal(vs_index_size(ix), 0);
    vs_index_free(ix);
}

static void user_and_automatic_ids(void **state)
{
    (void)state;
    size_t d = 4;
    float *x = tu_random_vectors(6, d, 3);
    vs_index *ix = tu_flat((uint32_t)d, VS_METRIC_L2);
    int64_t ids[3] = {1000, 7, 42};
    assert_int_equal(vs_index_add(ix, 3, x, ids), VS_OK);
    assert_int_equal(vs_index_add(ix, 3, x + 3 * d, NULL), VS_OK); /* 1001, 1002, 1003 */
    float s[6], v[4];
    int64_t got[6];
    assert_int_equal(vs_index_search(ix, 1, x + 4 * d, 1, NULL, s, got), VS_OK);
    assert_int_equal(got[0], 1002);
    assert_int_equal(vs_index_get(ix, 42, v), VS_OK);
    assert_memory_equal(v, x + 2 * d, d * sizeof(float));
    assert_int_equal(vs_index_get(ix, 43, v), VS_ERR_NOT_FOUND);
    /* Duplicate against the index, and inside one batch: nothing is added. */
    int64_t dup1[2] = {5, 7};
    assert_int_equal(vs_index_add(ix, 2, x, dup1), VS_ERR_DUPLICATE_ID);
    assert_int_equal(vs_index_size(ix), 6);
    assert_int_equal(vs_index_get(ix, 5, v), VS_ERR_NOT_FOUND);
    int64_t dup2[2] = {8, 8};
    assert_int_equal(vs_index_add(ix, 2, x, dup2), VS_ERR_DUPLICATE_ID);
    assert_int_equal(vs_index_size(ix), 6);
    int64_t neg = -3;
    assert_int_equal(vs_index_add(ix, 1, x, &neg), VS_ERR_INVALID_ARG);
    vs_index_free(ix);
    free(x);
}

/* Automatic IDs need no ID map; the first user-chosen ID or removal must still see them. */
static void automatic_then_user_ids(void **state)
{
    (void)state;
    size_t d = 3;
    float *x = tu_random_vectors(10, d, 4);
    vs_index *ix = tu_flat((uint32_t)d, VS_METRIC_IP);
    size_t before = vs_index_memory_bytes(ix);
    assert_int_equal(vs_index_add(ix, 5, x, NULL), VS_OK); /* IDs 0..4 */
    int64_t seq[2] = {5, 6};
    assert_int_equal(vs_index_add(ix, 2, x + 5 * d, seq), VS_OK); /* explicit but sequential */
    float v[3];
    assert_int_equal(vs_index_get(ix, 6, v), VS_OK);
    assert_memory_equal(v, x + 6 * d, sizeof v);
    assert_int_equal(vs_index_get(ix, 7, v), VS_ERR_NOT_FOUND);
    assert_int_equal(vs_index_get(ix, -1, v), VS_ERR_NOT_FOUND);
    assert_true(vs_index_memory_bytes(ix) - before < 1024 * (3 * 4 + 8 + 1)); /* arrays only, no map */
    int64_t dup = 2;
    assert_int_equal(vs_index_add(ix, 1, x + 7 * d, &dup), VS_ERR_DUPLICATE_ID);
    int64_t fresh = 100;
    assert_int_equal(vs_index_add(ix, 1, x + 7 * d, &fresh), VS_OK);
    assert_int_equal(vs_index_add(ix, 1, x + 8 * d, NULL), VS_OK); /* 101 */
    assert_int_equal(vs_index_get(ix, 101, v), VS_OK);
    assert_memory_equal(v, x + 8 * d, sizeof v);
    int64_t rm = 0;
    size_t removed;
    assert_int_equal(vs_index_remove(ix, 1, &rm, &removed), VS_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(vs_index_get(ix, 0, v), VS_ERR_NOT_FOUND);
    assert_int_equal(vs_index_get(ix, 4, v), VS_OK);
    assert_memory_equal(v, x + 4 * d, sizeof v);
    assert_int_equal(vs_index_size(ix), 8);
    vs_index_free(ix);

    /* Removal first, on an index that only ever had automatic IDs. */
    ix = tu_flat((uint32_t)d, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, 10, x, NULL), VS_OK);
    rm = 9;
    assert_int_equal(vs_index_remove(ix, 1, &rm, &removed), VS_OK);
    assert_int_equal(vs_index_add(ix, 1, x, NULL), VS_OK); /* gets 10, not 9 */
    assert_int_equal(vs_index_get(ix, 10, v), VS_OK);
    assert_int_equal(vs_index_get(ix, 9, v), VS_ERR_NOT_FOUND);
    vs_index_free(ix);
    free(x);
}

static void deletes(void **state)
{
    (void)state;
    size_t n = 4000, d = 20, nq = 30;
    float *base = tu_random_vectors(n, d, 77);
    float *q = tu_random_vectors(nq, d, 78);
    vs_index *ix = tu_flat((uint32_t)d, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);
    /* Remove every third ID plus one unknown ID. */
    int64_t *rm = malloc((n / 3 + 2) * sizeof *rm);
    size_t nrm = 0;
    for (size_t i = 0; i < n; i += 3) rm[nrm++] = (int64_t)i;
    rm[nrm++] = 999999;
    size_t removed = 0;
    assert_int_equal(vs_index_remove(ix, nrm, rm, &removed), VS_OK);
    assert_int_equal(removed, nrm - 1);
    assert_int_equal(vs_index_size(ix), n - (nrm - 1));
    uint8_t *alive = malloc(n);
    for (size_t i = 0; i < n; i++) alive[i] = i % 3 != 0;
    float s[30 * 10];
    int64_t id[30 * 10];
    for (unsigned t = 1; t <= 2; t++) {
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = t};
        assert_int_equal(vs_index_search(ix, nq, q, 10, &p, s, id), VS_OK);
        for (size_t i = 0; i < nq; i++) tu_check_row(VS_METRIC_L2, base, n, d, q + i * d, 10, alive, s + i * 10, id + i * 10);
    }
    float v[20];
    assert_int_equal(vs_index_get(ix, 3, v), VS_ERR_NOT_FOUND);
    assert_int_equal(vs_index_get(ix, 4, v), VS_OK);
    assert_memory_equal(v, base + 4 * d, d * sizeof(float));
    /* A removed ID may be added again. */
    int64_t again = 3;
    assert_int_equal(vs_index_add(ix, 1, base + 3 * d, &again), VS_OK);
    assert_int_equal(vs_index_search(ix, 1, base + 3 * d, 1, NULL, s, id), VS_OK);
    assert_int_equal(id[0], 3);
    /* Remove everything: the index is empty again. */
    int64_t *all = malloc(n * sizeof *all);
    for (size_t i = 0; i < n; i++) all[i] = (int64_t)i;
    assert_int_equal(vs_index_remove(ix, n, all, &removed), VS_OK);
    assert_int_equal(vs_index_size(ix), 0);
    assert_int_equal(vs_index_search(ix, 1, q, 1, NULL, s, id), VS_ERR_EMPTY);
    free(all);
    free(rm);
    free(alive);
    free(base);
    free(q);
    vs_index_free(ix);
}

static void cosine_normalises(void **state)
{
    (void)state;
    float x[2 * 3] = {3, 0, 0, 0, 0.5f, 0};
    vs_index *ix = tu_flat(3, VS_METRIC_COSINE);
    assert_int_equal(vs_index_add(ix, 2, x, NULL), VS_OK);
    float q[3] = {10, 1, 0}, s[2], v[3];
    int64_t id[2];
    assert_int_equal(vs_index_search(ix, 1, q, 2, NULL, s, id), VS_OK);
    assert_int_equal(id[0], 0);
    assert_float_equal(s[0], 10 / sqrtf(101), 1e-6);
    assert_int_equal(vs_index_get(ix, 1, v), VS_OK);
    assert_float_equal(v[1], 1.0f, 1e-7);
    assert_string_equal(vs_index_factory(ix), "Flat");
    assert_int_equal(vs_index_code_size(ix), 12);
    assert_true(vs_index_memory_bytes(ix) > 0);
    vs_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_vs_reference),
        cmocka_unit_test(large_batch_threads),
        cmocka_unit_test(k_larger_than_n),
        cmocka_unit_test(identical_vectors_break_ties_by_position),
        cmocka_unit_test(empty_index),
        cmocka_unit_test(user_and_automatic_ids),
        cmocka_unit_test(automatic_then_user_ids),
        cmocka_unit_test(deletes),
        cmocka_unit_test(cosine_normalises),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
