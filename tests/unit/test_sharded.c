/* vs_sharded_index: same answers as one index over the same data (every metric, any thread
 * count), IDs routed by vs_shard_of, all-or-nothing adds, removes, and vs_topk_merge's rules. */
#include "test_util.h"

static vs_index *single(vs_metric m, const char *factory, size_t n, const float *x, const int64_t *ids)
{
    vs_index *ix = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = 24, .metric = m, .factory = factory};
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    assert_int_equal(vs_index_add(ix, n, x, ids), VS_OK);
    return ix;
}

static void same_as_one_index(void **state)
{
    (void)state;
    const size_t n = 3000, nq = 40, d = 24;
    const uint32_t k = 10;
    float *x = tu_random_vectors(n, d, 1), *q = tu_random_vectors(nq, d, 2);
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int64_t)(i * 7 + 3); /* sparse IDs */
    vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP, VS_METRIC_COSINE};
    for (int mi = 0; mi < 3; mi++) {
        vs_index *one = single(metrics[mi], "Flat", n, x, ids);
        vs_sharded_index *s = NULL;
        vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = (uint32_t)d, .metric = metrics[mi], .factory = "Flat"};
        assert_int_equal(vs_sharded_create(&o, 4, &s), VS_OK);
        assert_int_equal(vs_sharded_add(s, n, x, ids), VS_OK);
        assert_int_equal(vs_sharded_size(s), n);
        for (uint32_t sh = 0; sh < 4; sh++) { /* roughly even, and each ID where vs_shard_of says */
            vs_index *part = vs_sharded_shard(s, sh);
            assert_true(vs_index_size(part) > n / 4 - n / 10 && vs_index_size(part) < n / 4 + n / 10);
            float v[24];
            assert_int_equal(vs_index_get(part, ids[sh * 100], v), vs_shard_of(ids[sh * 100], 4) == sh ? VS_OK
                                                                                                        : VS_ERR_NOT_FOUND);
        }
        float *d1 = malloc(nq * k * sizeof *d1), *d2 = malloc(nq * k * sizeof *d2);
        int64_t *i1 = malloc(nq * k * sizeof *i1), *i2 = malloc(nq * k * sizeof *i2);
        assert_int_equal(vs_index_search(one, nq, q, k, NULL, d1, i1), VS_OK);
        for (uint32_t threads = 1; threads <= 8; threads *= 2) {
            vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads};
            assert_int_equal(vs_sharded_search(s, nq, q, k, &p, d2, i2), VS_OK);
            assert_memory_equal(i1, i2, nq * k * sizeof *i1);
            for (size_t i = 0; i < nq * k; i++) assert_float_equal(d1[i], d2[i], 1e-5);
        }
        free(d1), free(d2), free(i1), free(i2);
        vs_index_free(one);
        vs_sharded_free(s);
    }
    free(x), free(q), free(ids);
}

static void adds_are_all_or_nothing(void **state)
{
    (void)state;
    vs_sharded_index *s = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = 24, .metric = VS_METRIC_L2};
    assert_int_equal(vs_sharded_create(&o, 3, &s), VS_OK);
    float *x = tu_random_vectors(10, 24, 5);
    assert_int_equal(vs_sharded_add(s, 5, x, NULL), VS_OK); /* IDs 0..4 */
    int64_t ids[5] = {100, 101, 102, 3, 104};                /* 3 is taken */
    assert_int_equal(vs_sharded_add(s, 5, x + 5 * 24, ids), VS_ERR_DUPLICATE_ID);
    assert_non_null(strstr(vs_last_error(), "already"));
    assert_int_equal(vs_sharded_size(s), 5);
    int64_t twice[2] = {200, 200};
    assert_int_equal(vs_sharded_add(s, 2, x, twice), VS_ERR_DUPLICATE_ID);
    x[7] = NAN;
    assert_int_equal(vs_sharded_add(s, 2, x, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_sharded_size(s), 5);
    x[7] = 0.5f;
    assert_int_equal(vs_sharded_add(s, 2, x, NULL), VS_OK); /* automatic IDs go on: 5, 6 */
    float v[24];
    assert_int_equal(vs_index_get(vs_sharded_shard(s, vs_shard_of(6, 3)), 6, v), VS_OK);
    size_t removed = 0;
    int64_t rm[3] = {0, 6, 999};
    assert_int_equal(vs_sharded_remove(s, 3, rm, &removed), VS_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(vs_sharded_size(s), 5);
    vs_sharded_free(s);
    free(x);
    assert_int_equal(vs_sharded_create(&o, 0, &s), VS_ERR_INVALID_ARG);
}

static void wraps_existing_indexes(void **state)
{
    (void)state;
    float *x = tu_random_vectors(100, 24, 9);
    vs_index *a = single(VS_METRIC_L2, "Flat", 50, x, NULL);
    vs_index *b = single(VS_METRIC_IP, "Flat", 50, x + 50 * 24, NULL);
    vs_index *pair[2] = {a, b};
    vs_sharded_index *s = NULL;
    assert_int_equal(vs_sharded_from(pair, 2, &s), VS_ERR_DIMENSION); /* metrics differ: caller keeps both */
    vs_index_free(b);
    int64_t ids[50];
    for (int i = 0; i < 50; i++) ids[i] = 50 + i;
    pair[1] = single(VS_METRIC_L2, "Flat", 50, x + 50 * 24, ids);
    assert_int_equal(vs_sharded_from(pair, 2, &s), VS_OK);
    float dd[1];
    int64_t id[1];
    assert_int_equal(vs_sharded_search(s, 1, x + 77 * 24, 1, NULL, dd, id), VS_OK);
    assert_int_equal(id[0], 77);
    vs_sharded_free(s); /* frees a and the second index */
    free(x);
}

static void merge_rules(void **state)
{
    (void)state;
    /* two queries, k = 3; list B is missing (an unanswered shard) and C is short */
    float da[6] = {0.1f, 0.5f, 0.9f, 0.2f, INFINITY, INFINITY};
    int64_t ia[6] = {1, 2, 3, 10, -1, -1};
    float dc[4] = {0.5f, 0.6f, 0.05f, 0.3f};
    int64_t ic[4] = {0, 4, 11, 12};
    const float *dl[3] = {da, NULL, dc};
    const int64_t *il[3] = {ia, NULL, ic};
    uint32_t kin[3] = {3, 3, 2};
    float d[6];
    int64_t ids[6];
    assert_int_equal(vs_topk_merge(VS_METRIC_L2, 2, 3, 3, dl, il, kin, d, ids), VS_OK);
    int64_t want[6] = {1, 0, 2, 11, 10, 12}; /* 0.5 tie: ID 0 before ID 2 */
    assert_memory_equal(ids, want, sizeof want);
    assert_float_equal(d[3], 0.05f, 0);
    /* inner product: larger first, padding at the tail */
    float sa[2] = {0.9f, 0.1f};
    int64_t sa_i[2] = {5, 6};
    const float *dl2[1] = {sa};
    const int64_t *il2[1] = {sa_i};
    uint32_t k2[1] = {2};
    assert_int_equal(vs_topk_merge(VS_METRIC_IP, 1, 3, 1, dl2, il2, k2, d, ids), VS_OK);
    assert_int_equal(ids[0], 5);
    assert_int_equal(ids[2], -1);
    assert_true(isinf(d[2]) && d[2] < 0);
    assert_int_equal(vs_topk_merge(VS_METRIC_IP, 1, 0, 1, dl2, il2, k2, d, ids), VS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_one_index),
        cmocka_unit_test(adds_are_all_or_nothing),
        cmocka_unit_test(wraps_existing_indexes),
        cmocka_unit_test(merge_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
