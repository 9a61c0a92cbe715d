/* The sharded index type ("Shards<n>,<base>" behind vs_index): same answers as one index over
 * the same data (every metric, any thread count, search and range search), IDs routed by
 * vs_shard_of, all-or-nothing adds, removes, training, files, wrapping existing indexes, the
 * deprecated vs_sharded_* calls, and vs_topk_merge's rules. */
#include "test_util.h"

static vs_index *single(vs_metric m, const char *factory, size_t n, const float *x, const int64_t *ids)
{
    vs_index *ix = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = 24, .metric = m, .factory = factory};
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    if (!vs_index_is_trained(ix)) assert_int_equal(vs_index_train(ix, n, x), VS_OK);
    assert_int_equal(vs_index_add(ix, n, x, ids), VS_OK);
    return ix;
}

/* nq x k results of two searches are the same: IDs exactly, distances to float rounding. */
static void same_rows(const vs_index *a, const vs_index *b, size_t nq, const float *q, uint32_t k,
                      const vs_search_params *pa, const vs_search_params *pb)
{
    float *d1 = malloc(nq * k * sizeof *d1), *d2 = malloc(nq * k * sizeof *d2);
    int64_t *i1 = malloc(nq * k * sizeof *i1), *i2 = malloc(nq * k * sizeof *i2);
    assert_int_equal(vs_index_search(a, nq, q, k, pa, d1, i1), VS_OK);
    if (vs_index_search(b, nq, q, k, pb, d2, i2)) fail_msg("%s: %s", vs_index_factory(b), vs_last_error());
    assert_memory_equal(i1, i2, nq * k * sizeof *i1);
    for (size_t i = 0; i < nq * k; i++) assert_float_equal(d1[i], d2[i], 1e-5);
    free(d1), free(d2), free(i1), free(i2);
}

/* "Shards4,<base>" through vs_index_*: the answers of one index of the base over the same data
 * (every metric, any thread count; IVF with every list probed), IDs where vs_shard_of says. */
static void same_as_one_index(void **state)
{
    (void)state;
    const size_t n = 3000, nq = 40, d = 24;
    const uint32_t k = 10;
    float *x = tu_random_vectors(n, d, 1), *q = tu_random_vectors(nq, d, 2);
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int64_t)(i * 7 + 3); /* sparse IDs */
    static const struct { const char *sharded, *one; } kinds[] = {
        {"Shards4,Flat", "Flat"}, {"Shards4,IVF8,Flat", "Flat"}, {"Shards3,Flat", "Flat"}};
    vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP, VS_METRIC_COSINE};
    for (size_t t = 0; t < sizeof kinds / sizeof kinds[0]; t++)
        for (int mi = 0; mi < 3; mi++) {
            vs_index *one = single(metrics[mi], kinds[t].one, n, x, ids);
            vs_index *s = single(metrics[mi], kinds[t].sharded, n, x, ids);
            uint32_t ns = vs_index_shard_count(s);
            assert_int_equal(ns, t == 2 ? 3 : 4);
            assert_int_equal(vs_index_shard_count(one), 0);
            assert_null(vs_index_shard(one, 0));
            assert_null(vs_index_shard(s, ns));
            assert_int_equal(vs_index_size(s), n);
            assert_string_equal(vs_index_factory(s), kinds[t].sharded);
            for (uint32_t sh = 0; sh < ns; sh++) { /* roughly even, and each ID where vs_shard_of says */
                vs_index *part = vs_index_shard(s, sh);
                assert_true(vs_index_size(part) > n / ns - n / 10 && vs_index_size(part) < n / ns + n / 10);
                assert_int_equal(vs_index_metric(part), metrics[mi]);
                float v[24];
                assert_int_equal(vs_index_get(part, ids[sh * 100], v),
                                 vs_shard_of(ids[sh * 100], ns) == sh ? VS_OK : VS_ERR_NOT_FOUND);
            }
            float v1[24], v2[24]; /* get through the sharded index: the owner's (normalised) vector */
            assert_int_equal(vs_index_get(s, ids[77], v1), VS_OK);
            assert_int_equal(vs_index_get(one, ids[77], v2), VS_OK);
            assert_memory_equal(v1, v2, sizeof v1);
            for (uint32_t threads = 1; threads <= 8; threads *= 2) {
                vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads, .nprobe = 8};
                same_rows(one, s, nq, q, k, NULL, &p);
            }
            vs_index_free(one);
            vs_index_free(s);
        }
    free(x), free(q), free(ids);
}

static void adds_are_all_or_nothing(void **state)
{
    (void)state;
    vs_index *s = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = 24, .metric = VS_METRIC_L2,
                          .factory = "Shards3,Flat"};
    assert_int_equal(vs_index_create(&o, &s), VS_OK);
    float *x = tu_random_vectors(10, 24, 5);
    assert_int_equal(vs_index_add(s, 5, x, NULL), VS_OK); /* IDs 0..4 */
    /* New IDs of shard 0 and a taken one of the last shard: shard 0 would have added its part
     * before the last one refused, had the batch not been checked first. */
    int64_t ids[5], taken = -1;
    for (int64_t i = 0; i < 5; i++)
        if (vs_shard_of(i, 3) == 2) taken = i;
    assert_true(taken >= 0);
    int m = 0;
    for (int64_t i = 100; m < 4; i++)
        if (vs_shard_of(i, 3) == 0) ids[m++] = i;
    ids[4] = taken;
    assert_int_equal(vs_index_add(s, 5, x + 5 * 24, ids), VS_ERR_DUPLICATE_ID);
    assert_non_null(strstr(vs_last_error(), "already"));
    assert_int_equal(vs_index_size(s), 5);
    int64_t twice[2] = {200, 200};
    assert_int_equal(vs_index_add(s, 2, x, twice), VS_ERR_DUPLICATE_ID);
    x[7] = NAN;
    assert_int_equal(vs_index_add(s, 2, x, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_index_size(s), 5);
    x[7] = 0.5f;
    assert_int_equal(vs_index_add(s, 2, x, NULL), VS_OK); /* automatic IDs go on: 5, 6 */
    assert_int_equal(vs_index_next_id(s), 7);
    float v[24];
    vs_index *owner = vs_index_shard(s, vs_shard_of(6, 3));
    assert_int_equal(vs_index_get(owner, 6, v), VS_OK);
    assert_true(vs_index_next_id(owner) >= 7); /* the shard's own bookkeeping, as vs_index_add keeps it */
    size_t removed = 0;
    int64_t rm[3] = {0, 6, 999};
    assert_int_equal(vs_index_remove(s, 3, rm, &removed), VS_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(vs_index_size(s), 5);
    assert_int_equal(vs_index_get(s, 6, v), VS_ERR_NOT_FOUND);
    vs_index_free(s);
    free(x);
}

/* More shards than vectors: empty shards add nothing to a search. */
static void empty_shards_are_skipped(void **state)
{
    (void)state;
    float *x = tu_random_vectors(3, 24, 6);
    vs_index *s = single(VS_METRIC_IP, "Shards16,HNSW8", 3, x, NULL);
    float d[5];
    int64_t id[5];
    assert_int_equal(vs_index_search(s, 1, x, 5, NULL, d, id), VS_OK);
    assert_int_equal(id[0], 0);
    assert_int_equal(id[3], -1);
    assert_true(isinf(d[3]) && d[3] < 0);
    vs_index_free(s);
    vs_index_options o = {.struct_size = sizeof o, .dim = 24, .factory = "Shards4,Flat"};
    assert_int_equal(vs_index_create(&o, &s), VS_OK);
    assert_int_equal(vs_index_search(s, 1, x, 5, NULL, d, id), VS_ERR_EMPTY);
    vs_index_free(s);
    free(x);
}

/* IVF shards need training; trained from one seed, they train alike. */
static void training_reaches_every_shard(void **state)
{
    (void)state;
    float *x = tu_random_vectors(2000, 24, 8);
    vs_index_options o = {.struct_size = sizeof o, .dim = 24, .factory = "Shards2,IVF8,SQ8", .seed = 5};
    vs_index *s = NULL;
    assert_int_equal(vs_index_create(&o, &s), VS_OK);
    assert_false(vs_index_is_trained(s));
    assert_int_equal(vs_index_add(s, 10, x, NULL), VS_ERR_NOT_TRAINED);
    assert_int_equal(vs_index_train(s, 2000, x), VS_OK);
    assert_true(vs_index_is_trained(s));
    assert_true(vs_index_is_trained(vs_index_shard(s, 0)) && vs_index_is_trained(vs_index_shard(s, 1)));
    void *a, *b;
    size_t la, lb;
    assert_int_equal(vs_index_save_buffer(vs_index_shard(s, 0), &a, &la), VS_OK);
    assert_int_equal(vs_index_save_buffer(vs_index_shard(s, 1), &b, &lb), VS_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    vs_buffer_free(a);
    vs_buffer_free(b);
    assert_int_equal(vs_index_add(s, 2000, x, NULL), VS_OK);
    assert_int_equal(vs_index_code_size(s), 24);
    assert_true(vs_index_memory_bytes(s) > vs_index_memory_bytes(vs_index_shard(s, 0)) +
                                             vs_index_memory_bytes(vs_index_shard(s, 1)));
    vs_index_free(s);
    free(x);
}

/* Range search: every shard's hits, best first, as one index finds them. */
static void range_search_merges_shards(void **state)
{
    (void)state;
    float *x = tu_random_vectors(1500, 24, 10), *q = tu_random_vectors(6, 24, 11);
    vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP};
    for (int mi = 0; mi < 2; mi++) {
        vs_index *one = single(metrics[mi], "Flat", 1500, x, NULL);
        vs_index *s = single(metrics[mi], "Shards5,Flat", 1500, x, NULL);
        float d[30]; /* the radius: query 0's 30th neighbour */
        int64_t id[30];
        assert_int_equal(vs_index_search(one, 1, q, 30, NULL, d, id), VS_OK);
        vs_range_result *r1, *r2;
        assert_int_equal(vs_index_range_search(one, 6, q, d[29], NULL, &r1), VS_OK);
        assert_int_equal(vs_index_range_search(s, 6, q, d[29], NULL, &r2), VS_OK);
        assert_true(r1->lims[6] > 20); /* the radius finds something */
        assert_memory_equal(r1->lims, r2->lims, 7 * sizeof *r1->lims);
        assert_memory_equal(r1->ids, r2->ids, r1->lims[6] * sizeof *r1->ids);
        for (size_t i = 0; i < r1->lims[6]; i++) assert_float_equal(r1->distances[i], r2->distances[i], 1e-5);
        vs_range_result_free(r1);
        vs_range_result_free(r2);
        vs_index_free(one);
        vs_index_free(s);
    }
    free(x), free(q);
}

/* One file for all shards: load, view and load_buffer answer as the index saved; a damaged
 * shard image is refused. */
static void files_hold_every_shard(void **state)
{
    (void)state;
    float *x = tu_random_vectors(1200, 24, 12), *q = tu_random_vectors(10, 24, 13);
    char *dir = tu_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/s.vsi", dir);
    static const char *kinds[] = {"Shards3,HNSW8,Flat", "Shards2,IVF4,PQ8x4fs,RFlat", "Shards4,Flat"};
    for (size_t t = 0; t < 3; t++) {
        vs_index *s = single(VS_METRIC_COSINE, kinds[t], 1200, x, NULL);
        int64_t gone[2] = {5, 600};
        assert_int_equal(vs_index_remove(s, 2, gone, NULL), VS_OK);
        assert_int_equal(vs_index_save(s, path), VS_OK);
        assert_int_equal(vs_index_verify_file(path), VS_OK);
        vs_index *l = NULL, *v = NULL, *b = NULL;
        assert_int_equal(vs_index_load(path, &l), VS_OK);
        assert_int_equal(vs_index_view(path, &v), VS_OK);
        void *buf;
        size_t len;
        assert_int_equal(vs_index_save_buffer(s, &buf, &len), VS_OK);
        assert_int_equal(vs_index_load_buffer(buf, len, &b), VS_OK);
        vs_search_params p = {.struct_size = sizeof p, .nprobe = 2, .ef_search = 40};
        vs_index *back[3] = {l, v, b};
        for (int i = 0; i < 3; i++) {
            assert_string_equal(vs_index_factory(back[i]), kinds[t]);
            assert_int_equal(vs_index_size(back[i]), 1198);
            assert_int_equal(vs_index_next_id(back[i]), 1200);
            assert_int_equal(vs_index_shard_count(back[i]), vs_index_shard_count(s));
            same_rows(s, back[i], 10, q, 5, &p, &p);
        }
        assert_int_equal(vs_index_add(l, 1, x, NULL), VS_OK); /* a loaded one takes writes */
        assert_int_equal(vs_index_size(l), 1199);
        /* A flipped byte inside the last shard's image: its own checksum refuses it. */
        ((uint8_t *)buf)[len - 200] ^= 0x20;
        vs_index *bad = NULL;
        assert_int_equal(vs_index_load_buffer(buf, len, &bad), VS_ERR_CORRUPT);
        assert_null(bad);
        vs_buffer_free(buf);
        vs_index_free(l);
        vs_index_free(v);
        vs_index_free(b);
        vs_index_free(s);
    }
    tu_rmdir(dir);
    free(x), free(q);
}

static void wraps_existing_indexes(void **state)
{
    (void)state;
    float *x = tu_random_vectors(100, 24, 9);
    vs_index *a = single(VS_METRIC_L2, "Flat", 50, x, NULL);
    vs_index *b = single(VS_METRIC_IP, "Flat", 50, x + 50 * 24, NULL);
    vs_index *pair[2] = {a, b};
    vs_index *s = NULL;
    assert_int_equal(vs_index_shards_from(pair, 2, &s), VS_ERR_DIMENSION); /* metrics differ: caller keeps both */
    assert_null(s);
    vs_index_free(b);
    pair[1] = single(VS_METRIC_L2, "HNSW8", 10, x, NULL);
    assert_int_equal(vs_index_shards_from(pair, 2, &s), VS_ERR_INVALID_ARG); /* types differ */
    vs_index_free(pair[1]);
    pair[1] = a;
    assert_int_equal(vs_index_shards_from(pair, 2, &s), VS_ERR_INVALID_ARG); /* the same one twice */
    int64_t ids[50];
    for (int i = 0; i < 50; i++) ids[i] = 50 + i;
    pair[1] = single(VS_METRIC_L2, "Flat", 50, x + 50 * 24, ids);
    assert_int_equal(vs_index_shards_from(pair, 2, &s), VS_OK);
    assert_string_equal(vs_index_factory(s), "Shards2,Flat");
    assert_int_equal(vs_index_next_id(s), 100);
    float dd[1];
    int64_t id[1];
    assert_int_equal(vs_index_search(s, 1, x + 77 * 24, 1, NULL, dd, id), VS_OK);
    assert_int_equal(id[0], 77);
    vs_index *nested = NULL;
    assert_int_equal(vs_index_shards_from(&s, 1, &nested), VS_ERR_INVALID_ARG); /* no shards of shards */
    vs_index_free(s); /* frees a and the second index */
    free(x);
}

/* The deprecated vs_sharded_* calls forward to the index API and keep their contract. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void deprecated_calls_still_work(void **state)
{
    (void)state;
    const size_t n = 1000;
    float *x = tu_random_vectors(n, 24, 14);
    vs_index_options o = {.struct_size = sizeof o, .dim = 24, .metric = VS_METRIC_IP, .factory = "IVF4,Flat"};
    vs_sharded_index *s = NULL;
    assert_int_equal(vs_sharded_create(&o, 0, &s), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_sharded_create(NULL, 2, &s), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_sharded_create(&o, 3, &s), VS_OK);
    assert_int_equal(vs_sharded_count(s), 3);
    assert_string_equal(vs_index_factory((vs_index *)s), "Shards3,IVF4,Flat");
    assert_int_equal(vs_sharded_train(s, n, x), VS_OK);
    assert_int_equal(vs_sharded_add(s, n, x, NULL), VS_OK);
    assert_int_equal(vs_sharded_size(s), n);
    size_t removed = 0;
    int64_t rm[1] = {3};
    assert_int_equal(vs_sharded_remove(s, 1, rm, &removed), VS_OK);
    assert_int_equal(removed, 1);
    vs_search_params p = {.struct_size = sizeof p, .nprobe = 4, .n_threads = 2};
    float d[3];
    int64_t id[3];
    assert_int_equal(vs_sharded_search(s, 1, x + 9 * 24, 3, &p, d, id), VS_OK);
    vs_index *part = vs_sharded_shard(s, vs_shard_of(id[0], 3));
    float v[24];
    assert_int_equal(vs_index_get(part, id[0], v), VS_OK);
    vs_index *own[1] = {single(VS_METRIC_L2, "Flat", 5, x, NULL)};
    vs_sharded_index *w = NULL;
    assert_int_equal(vs_sharded_from(own, 1, &w), VS_OK);
    assert_int_equal(vs_sharded_size(w), 5);
    vs_sharded_free(w);
    vs_sharded_free(s);
    vs_sharded_free(NULL);
    free(x);
}
#pragma GCC diagnostic pop

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
        cmocka_unit_test(empty_shards_are_skipped),
        cmocka_unit_test(training_reaches_every_shard),
        cmocka_unit_test(range_search_merges_shards),
        cmocka_unit_test(files_hold_every_shard),
        cmocka_unit_test(wraps_existing_indexes),
        cmocka_unit_test(deprecated_calls_still_work),
        cmocka_unit_test(merge_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
