/* vs_collection_create_with_index, the distributed build's start: shards built from copies of
 * one trained index answer exactly as that index would over all their vectors, before and
 * after a reopen; untrained, non-empty or mismatched indexes are refused and stay the
 * caller's. */
#include "test_util.h"

enum { D = 16, N = 3000, SHARDS = 3, K = 10 };

static vs_index *trained_ivf(const float *x, const char *path)
{
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = D, .metric = VS_METRIC_L2, .factory = "IVF16,SQ8"};
    vs_index *ix = NULL;
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    assert_int_equal(vs_index_train(ix, N, x), VS_OK);
    assert_int_equal(vs_index_save(ix, path), VS_OK);
    return ix;
}

static void test_shards_share_training(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), path[4300];
    float *x = tu_random_vectors(N, D, 5), *q = tu_random_vectors(20, D, 6);
    snprintf(path, sizeof path, "%s/trained.vsi", dir);
    vs_index *whole = trained_ivf(x, path);
    assert_int_equal(vs_index_add(whole, N, x, NULL), VS_OK);

    vs_collection *c[SHARDS];
    char cdir[SHARDS][4300];
    float *buf = malloc(sizeof(float) * N * D);
    int64_t *ids = malloc(sizeof(int64_t) * N);
    for (uint32_t s = 0; s < SHARDS; s++) {
        vs_index *ix = NULL;
        assert_int_equal(vs_index_load(path, &ix), VS_OK);
        snprintf(cdir[s], sizeof cdir[s], "%s/shard-%u", dir, s);
        vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D, .metric = VS_METRIC_L2};
        assert_int_equal(vs_collection_create_with_index(cdir[s], &o, ix, &c[s]), VS_OK);
        size_t n = 0;
        for (size_t i = 0; i < N; i++)
            if (vs_shard_of((int64_t)i, SHARDS) == s) {
                memcpy(buf + n * D, x + i * D, sizeof(float) * D);
                ids[n++] = (int64_t)i;
            }
        assert_int_equal(vs_collection_add(c[s], n, buf, ids, NULL, NULL, NULL), VS_OK);
        vs_collection_info in = {.struct_size = sizeof in};
        vs_collection_info_get(c[s], &in);
        assert_true(in.trained);
        assert_string_equal(in.factory, "IVF16,SQ8");
        if (s == 1) { /* survives a snapshot and a reopen */
            assert_int_equal(vs_collection_snapshot(c[s]), VS_OK);
            assert_int_equal(vs_collection_close(c[s]), VS_OK);
            assert_int_equal(vs_collection_open(cdir[s], &c[s]), VS_OK);
        }
    }
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .nprobe = 4};
    for (int qi = 0; qi < 20; qi++) {
        float wd[K], sd[SHARDS][K];
        int64_t wi[K], si[SHARDS][K], merged[K];
        float md[K];
        assert_int_equal(vs_index_search(whole, 1, q + qi * D, K, &p, wd, wi), VS_OK);
        const float *dl[SHARDS];
        const int64_t *il[SHARDS];
        uint32_t kin[SHARDS];
        for (int s = 0; s < SHARDS; s++) {
            assert_int_equal(vs_collection_search(c[s], 1, q + qi * D, K, &p, sd[s], si[s]), VS_OK);
            dl[s] = sd[s], il[s] = si[s], kin[s] = K;
        }
        assert_int_equal(vs_topk_merge(VS_METRIC_L2, 1, K, SHARDS, dl, il, kin, md, merged), VS_OK);
        for (int k = 0; k < K; k++) {
            assert_int_equal(merged[k], wi[k]);
            assert_float_equal(md[k], wd[k], 1e-5);
        }
    }
    for (int s = 0; s < SHARDS; s++) assert_int_equal(vs_collection_close(c[s]), VS_OK);
    vs_index_free(whole);
    free(buf), free(ids), free(x), free(q), free(dir);
}

static void test_refused_index_stays_with_caller(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), cdir[4300];
    float *x = tu_random_vectors(N, D, 7);
    vs_collection *c = NULL;
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D, .metric = VS_METRIC_L2};
    vs_index_options io = {.struct_size = sizeof(vs_index_options), .dim = D, .metric = VS_METRIC_L2, .factory = "IVF16,Flat"};
    vs_index *untrained = NULL;
    assert_int_equal(vs_index_create(&io, &untrained), VS_OK);
    snprintf(cdir, sizeof cdir, "%s/a", dir);
    assert_int_equal(vs_collection_create_with_index(cdir, &o, untrained, &c), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "untrained"));
    assert_int_equal(vs_index_train(untrained, N, x), VS_OK);
    vs_collection_options wrong = {.struct_size = sizeof(vs_collection_options), .dim = D + 1, .metric = VS_METRIC_L2};
    assert_int_equal(vs_collection_create_with_index(cdir, &wrong, untrained, &c), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_index_add(untrained, 10, x, NULL), VS_OK);
    assert_int_equal(vs_collection_create_with_index(cdir, &o, untrained, &c), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "10 vectors"));
    assert_int_equal(vs_index_size(untrained), 10); /* still usable: the caller's */
    vs_index_free(untrained);
    free(x), free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shards_share_training),
        cmocka_unit_test(test_refused_index_stays_with_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
