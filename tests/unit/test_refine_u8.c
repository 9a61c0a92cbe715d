/* ",Ru8" through the one index API (src/index/refine_u8.c): an index whose uint8 re-ranking
 * vectors live in a store file of their own, created, added to, searched, saved, loaded,
 * viewed, grown after a load and opened in the older layout `vecscale build` wrote. */
#include <sys/stat.h>

#include "test_util.h"

#include "index/index_impl.h"
#include "index/rerank_u8.h"

enum { D = 16, N = 600, CENTRES = 12 };
#define SPEC "IVF8,PQ4x4fs,Ru8"

/* N rows of integers 0..255 around CENTRES centres: PQ4x4fs confuses neighbours, so exact
 * re-ranking is what makes every row find itself at distance 0. */
static float *u8_rows(uint64_t seed)
{
    float *x = malloc((size_t)N * D * sizeof *x);
    assert_non_null(x);
    uint64_t s = 7;
    float c[CENTRES][D];
    for (int i = 0; i < CENTRES; i++)
        for (int t = 0; t < D; t++) c[i][t] = (float)(tu_rng_next(&s) % 200) + 20;
    s = seed;
    for (int r = 0; r < N; r++) {
        int k = (int)(tu_rng_next(&s) % CENTRES);
        for (int t = 0; t < D; t++) x[r * D + t] = c[k][t] + (float)(int)(tu_rng_next(&s) % 31) - 15;
    }
    return x;
}

static vs_index *make(const char *store, vs_metric m, const float *x, size_t n)
{
    vs_index_options o;
    vs_index_options_init(&o);
    o.dim = D;
    o.metric = m;
    o.factory = SPEC;
    o.refine_store = store;
    vs_index *ix = NULL;
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    assert_string_equal(vs_index_factory(ix), SPEC);
    assert_int_equal(vs_index_train(ix, N, x), VS_OK);
    if (n) assert_int_equal(vs_index_add(ix, n, x, NULL), VS_OK);
    return ix;
}

static const vs_search_params *params(void)
{
    static vs_search_params p;
    vs_search_params_init(&p);
    p.nprobe = 8;
    p.k_factor = 100;
    return &p;
}

/* Every one of the first n rows is its own nearest neighbour at distance 0 (L2). */
static void expect_self(const vs_index *ix, const float *x, size_t n)
{
    float dist[N];
    int64_t ids[N];
    assert_int_equal(vs_index_search(ix, n, x, 1, params(), dist, ids), VS_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ids[i], (int64_t)i);
        assert_true(dist[i] == 0.0f);
    }
}

static void same_results(const vs_index *a, const vs_index *b, const float *q, size_t nq)
{
    enum { K = 5 };
    float da[N * K], db[N * K];
    int64_t ia[N * K], ib[N * K];
    assert_int_equal(vs_index_search(a, nq, q, K, params(), da, ia), VS_OK);
    assert_int_equal(vs_index_search(b, nq, q, K, params(), db, ib), VS_OK);
    assert_memory_equal(ia, ib, nq * K * sizeof *ia);
    assert_memory_equal(da, db, nq * K * sizeof *da);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void test_build_save_load_view(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char *store = path_in(dir, "rerank.vsr"), *file = path_in(dir, "index.vsi");
    float *x = u8_rows(11);
    vs_index *ix = make(store, VS_METRIC_L2, x, N);
    assert_int_equal(vs_index_size(ix), N);
    expect_self(ix, x, N);
    /* The vector kept is the uint8 row, read back from the store. */
    float got[D];
    assert_int_equal(vs_index_get(ix, 123, got), VS_OK);
    assert_memory_equal(got, x + 123 * D, sizeof got);
    /* RAM per vector is the base's code (4 x 4 bits): the rows are on disk. */
    assert_int_equal(vs_index_code_size(ix), 2);
    /* Range search: candidates by the base's estimate, kept and sorted by exact keys (row 3
     * first, at 0). */
    vs_range_result *rr = NULL;
    const float radius = 1500;
    assert_int_equal(vs_index_range_search(ix, 1, x + 3 * D, radius, params(), &rr), VS_OK);
    assert_true(rr->lims[1] >= 1);
    assert_int_equal(rr->ids[0], 3);
    assert_true(rr->distances[0] == 0.0f);
    for (size_t j = 0; j < rr->lims[1]; j++) {
        assert_true(rr->distances[j] < radius);
        assert_true(fabs(rr->distances[j] - tu_score(VS_METRIC_L2, x + 3 * D, x + rr->ids[j] * D, D)) < 1e-2);
    }
    vs_range_result_free(rr);

    assert_int_equal(vs_index_save(ix, file), VS_OK);
    struct stat st;
    assert_int_equal(stat(store, &st), 0);
    assert_int_equal(st.st_size, VS_RU8_HEADER + N * D);
    vs_index *loaded = NULL, *viewed = NULL;
    assert_int_equal(vs_index_load(file, &loaded), VS_OK);
    assert_int_equal(vs_index_view(file, &viewed), VS_OK);
    assert_string_equal(vs_index_factory(loaded), SPEC);
    assert_int_equal(vs_index_size(loaded), N);
    same_results(ix, loaded, x, N);
    same_results(ix, viewed, x, 100);

    /* The store's name is recorded relative to the index file: the directory can move. */
    char *moved = path_in(dir, "moved");
    assert_int_equal(mkdir(moved, 0755), 0);
    char *mfile = path_in(moved, "index.vsi"), *mstore = path_in(moved, "rerank.vsr");
    assert_int_equal(rename(file, mfile), 0);
    assert_int_equal(rename(store, mstore), 0);
    vs_index *again = NULL;
    assert_int_equal(vs_index_load(mfile, &again), VS_OK);
    same_results(ix, again, x, 50);
    vs_index_free(again);
    /* ... and a store missing beside it is an error naming it. */
    assert_int_equal(rename(mstore, store), 0);
    assert_int_equal(vs_index_load(mfile, &again), VS_ERR_NOT_FOUND);
    assert_non_null(strstr(vs_last_error(), "rerank.vsr"));

    /* A buffer records the store's absolute path. */
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(vs_index_save_buffer(ix, &buf, &len), VS_OK);
    assert_int_equal(vs_index_load_buffer(buf, len, &again), VS_OK);
    same_results(ix, again, x, 50);
    vs_index_free(again);
    vs_buffer_free(buf);

    vs_index_free(ix);
    vs_index_free(loaded);
    vs_index_free(viewed);
    free(moved);
    free(mfile);
    free(mstore);
    free(store);
    free(file);
    free(x);
    tu_rmdir(dir);
}

/* The build's resume: saved at 300 rows, 100 more appended and committed by a save to
 * another file (a checkpoint the crash cut short), loaded again from the first: the index
 * holds 300, the next add cuts the 100 off and appends after row 300. */
static void test_grow_after_load(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char *store = path_in(dir, "rerank.vsr"), *file = path_in(dir, "index.vsi");
    float *x = u8_rows(12), *other = u8_rows(99);
    vs_index *ix = make(store, VS_METRIC_L2, x, 300);
    assert_int_equal(vs_index_save(ix, file), VS_OK);
    assert_int_equal(vs_index_add(ix, 100, other, NULL), VS_OK);
    char *later = path_in(dir, "later.vsi");
    assert_int_equal(vs_index_save(ix, later), VS_OK);
    free(later);
    vs_index_free(ix);
    struct stat st;
    assert_int_equal(stat(store, &st), 0);
    assert_int_equal(st.st_size, VS_RU8_HEADER + 400 * D);

    assert_int_equal(vs_index_load(file, &ix), VS_OK);
    assert_int_equal(vs_index_size(ix), 300);
    assert_int_equal(vs_index_add(ix, N - 300, x + 300 * D, NULL), VS_OK);
    assert_int_equal(stat(store, &st), 0);
    assert_int_equal(st.st_size, VS_RU8_HEADER + N * D);
    expect_self(ix, x, N);
    assert_int_equal(vs_index_save(ix, file), VS_OK);
    vs_index_free(ix);
    assert_int_equal(vs_index_load(file, &ix), VS_OK);
    expect_self(ix, x, N);
    const vs_ru8_store *s = vs_refine_u8_store(ix);
    assert_non_null(s);
    assert_int_equal(vs_ru8_verify(s), VS_OK);
    vs_index_free(ix);
    free(store);
    free(file);
    free(x);
    free(other);
    tu_rmdir(dir);
}

/* Inner product: scores are inner products with the uint8 rows, best first. */
static void test_inner_product(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char *store = path_in(dir, "rerank.vsr");
    float *x = u8_rows(13);
    vs_index *ix = make(store, VS_METRIC_IP, x, N);
    enum { K = 4 };
    float dist[K];
    int64_t ids[K];
    vs_search_params p = *params();
    p.k_factor = 1000; /* every vector a candidate: the exact top K */
    p.nprobe = 8;
    assert_int_equal(vs_index_search(ix, 1, x, K, &p, dist, ids), VS_OK);
    double best = -1;
    for (int r = 0; r < N; r++) {
        double ip = tu_score(VS_METRIC_IP, x, x + r * D, D);
        if (ip > best) best = ip;
    }
    assert_true(fabs(dist[0] - best) < 1e-3 * best);
    assert_true(dist[0] >= dist[1] && dist[1] >= dist[2]);
    assert_true(fabs(dist[0] - tu_score(VS_METRIC_IP, x, x + ids[0] * D, D)) < 1e-3 * best);
    vs_index_free(ix);
    free(store);
    free(x);
    tu_rmdir(dir);
}

static void test_errors(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char *store = path_in(dir, "rerank.vsr"), *file = path_in(dir, "index.vsi");
    float *x = u8_rows(14);
    vs_index_options o;
    vs_index_options_init(&o);
    o.dim = D;
    o.factory = SPEC;
    vs_index *ix = NULL;
    assert_int_equal(vs_index_create(&o, &ix), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "refine_store"));
    o.refine_store = store;
    o.metric = VS_METRIC_COSINE;
    assert_int_equal(vs_index_create(&o, &ix), VS_ERR_UNSUPPORTED);

    vs_factory_spec fs = {.struct_size = sizeof fs};
    assert_int_equal(vs_factory_parse("IVF8,PQ4x4fs,Ru8", &fs), VS_OK);
    assert_int_equal(fs.refine_u8, 1);
    assert_int_equal(fs.refine_flat, 0);
    char back[64];
    assert_int_equal(vs_factory_format(&fs, back, sizeof back), VS_OK);
    assert_string_equal(back, "IVF8,PQ4x4fs,Ru8");
    assert_int_equal(vs_factory_parse("Shards2,IVF8,PQ4x4fs,Ru8", &fs), VS_ERR_FACTORY);
    assert_int_equal(vs_factory_parse("Flat,Ru8", &fs), VS_ERR_FACTORY);
    assert_int_equal(vs_factory_parse("IVF8,PQ4x4fs,Ru8,RFlat", &fs), VS_ERR_FACTORY);

    ix = make(store, VS_METRIC_L2, x, 100);
    /* Not a uint8 value, or an ID that is not the next row: nothing is added. */
    float bad[D];
    memcpy(bad, x, sizeof bad);
    bad[5] = 3.5f;
    assert_int_equal(vs_index_add(ix, 1, bad, NULL), VS_ERR_INVALID_ARG);
    bad[5] = 256;
    assert_int_equal(vs_index_add(ix, 1, bad, NULL), VS_ERR_INVALID_ARG);
    int64_t id = 7;
    assert_int_equal(vs_index_add(ix, 1, x, &id), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_index_size(ix), 100);
    id = 100; /* the next row, given explicitly, is fine */
    assert_int_equal(vs_index_add(ix, 1, x + 100 * D, &id), VS_OK);
    /* A removed ID is gone from results and from get; its row stays unreachable. */
    size_t gone = 0;
    assert_int_equal(vs_index_remove(ix, 1, &id, &gone), VS_OK);
    assert_int_equal(gone, 1);
    float got[D];
    assert_int_not_equal(vs_index_get(ix, 100, got), VS_OK);
    assert_int_equal(vs_index_save(ix, file), VS_OK);
    vs_index_free(ix);

    /* Another store of the same rows in its place is refused (the checksum differs). */
    float *y = u8_rows(15);
    ix = make(store, VS_METRIC_L2, y, 101);
    char *other = path_in(dir, "other.vsi");
    assert_int_equal(vs_index_save(ix, other), VS_OK);
    vs_index_free(ix);
    free(other);
    assert_int_equal(vs_index_load(file, &ix), VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "not the store"));
    free(y);
    free(store);
    free(file);
    free(x);
    tu_rmdir(dir);
}

#ifdef VS_TEST_HAVE_LIBURING
static const vs_bread_mode IO_MODES[] = {VS_BREAD_PREAD, VS_BREAD_URING, VS_BREAD_AUTO, VS_BREAD_MMAP};
#else
static const vs_bread_mode IO_MODES[] = {VS_BREAD_PREAD, VS_BREAD_AUTO, VS_BREAD_MMAP};
#endif

/* vs_index_search's answer (scores) against vs_refine_u8_search_io's (keys) with every read
 * path and batch size: the same IDs, the same numbers. */
static void search_io_matches(const vs_index *ix, const float *q, size_t nq, uint32_t k, const vs_search_params *p)
{
    float *want_d = malloc(nq * k * sizeof *want_d), *got_d = malloc(nq * k * sizeof *got_d);
    int64_t *want_i = malloc(nq * k * sizeof *want_i), *got_i = malloc(nq * k * sizeof *got_i);
    assert_true(want_d && got_d && want_i && got_i);
    assert_int_equal(vs_index_search(ix, nq, q, k, p, want_d, want_i), VS_OK);
    const uint32_t batches[] = {1, 7, 64, 100000};
    for (size_t m = 0; m < sizeof IO_MODES / sizeof *IO_MODES; m++)
        for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
            memset(got_i, 0x5a, nq * k * sizeof *got_i);
            assert_int_equal(vs_refine_u8_search_io(ix, nq, q, k, p, batches[b], IO_MODES[m], NULL, NULL, got_d, got_i),
                             VS_OK);
            if (vs_index_metric(ix) == VS_METRIC_IP)
                for (size_t j = 0; j < nq * k; j++) got_d[j] = -got_d[j];
            assert_memory_equal(want_i, got_i, nq * k * sizeof *got_i);
            assert_memory_equal(want_d, got_d, nq * k * sizeof *got_d);
        }
    free(want_d);
    free(got_d);
    free(want_i);
    free(got_i);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The library's search re-ranks through the batched reads (two batches pipelined): with every
 * vector a candidate it is the exact top k by the stored rows' keys, and vecscale search's
 * choices of batch size and read path give the same answer, l2 and ip. */
static void test_batched_reads(void **state)
{
    (void)state;
    enum { K = 6, NQ = 150 };
    const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP};
    for (size_t mi = 0; mi < 2; mi++) {
        char *dir = tu_tempdir();
        char *store = path_in(dir, "rerank.vsr");
        float *x = u8_rows(21 + mi);
        vs_index *ix = make(store, metrics[mi], x, N);
        vs_search_params p = *params();
        p.k_factor = 1000; /* every vector a candidate */
        float d[NQ * K], keys[N];
        int64_t ids[NQ * K];
        /* Queries off the rows (a shift), so that they are not all at distance 0. */
        float *q = malloc((size_t)NQ * D * sizeof *q);
        assert_non_null(q);
        for (size_t j = 0; j < (size_t)NQ * D; j++) q[j] = x[j] + (float)(j % 7) - 3.0f;
        assert_int_equal(vs_index_search(ix, NQ, q, K, &p, d, ids), VS_OK);
        for (size_t i = 0; i < NQ; i++) {
            for (size_t r = 0; r < N; r++) {
                double s = tu_score(metrics[mi], q + i * D, x + r * D, D);
                keys[r] = (float)(metrics[mi] == VS_METRIC_IP ? -s : s);
            }
            qsort(keys, N, sizeof *keys, cmp_float);
            for (size_t j = 0; j < K; j++) {
                float key = metrics[mi] == VS_METRIC_IP ? -d[i * K + j] : d[i * K + j];
                assert_true(fabsf(key - keys[j]) <= 1e-3f * fabsf(keys[j]) + 1e-3f);
                double s = tu_score(metrics[mi], q + i * D, x + ids[i * K + j] * D, D);
                assert_true(fabs(s - d[i * K + j]) <= 1e-3 * fabs(s) + 1e-3);
            }
        }
        search_io_matches(ix, q, NQ, K, &p);
        p.k_factor = 3; /* fewer candidates than vectors: the base's choice matters too */
        search_io_matches(ix, q, NQ, K, &p);
        vs_index_free(ix);
        free(q);
        free(store);
        free(x);
        tu_rmdir(dir);
    }
}

/* The layout `vecscale build` wrote before the store moved into the library: index.vsi holds
 * the base alone (IVF4,PQ4x4fs), rerank.vsr is a version-1 store beside it. */
static void test_old_layout_fixture(void **state)
{
    (void)state;
    const char *fix = VS_TEST_SOURCE_DIR "/fixtures/ru8_v1/";
    vs_index *base = NULL, *ix = NULL;
    assert_int_equal(vs_index_load(VS_TEST_SOURCE_DIR "/fixtures/ru8_v1/index.vsi", &base), VS_OK);
    assert_string_equal(vs_index_factory(base), "IVF4,PQ4x4fs");
    assert_null(vs_refine_u8_store(base));
    char store[1024];
    snprintf(store, sizeof store, "%srerank.vsr", fix);
    assert_int_equal(vs_refine_u8_attach(base, store, &ix), VS_OK);
    assert_string_equal(vs_index_factory(ix), "IVF4,PQ4x4fs,Ru8");
    const vs_ru8_store *s = vs_refine_u8_store(ix);
    assert_int_equal(s->version, 1);
    assert_int_equal(s->rows, 300);
    assert_int_equal(vs_ru8_verify(s), VS_OK);
    vs_matrix *m = NULL;
    assert_int_equal(vs_matrix_read(VS_TEST_SOURCE_DIR "/fixtures/ru8_v1/base.bvecs", 0, &m), VS_OK);
    assert_int_equal(vs_matrix_to_f32(m), VS_OK);
    vs_search_params p;
    vs_search_params_init(&p);
    p.nprobe = 4;
    p.k_factor = 10;
    float dist[300];
    int64_t ids[300];
    assert_int_equal(vs_index_search(ix, 300, m->data, 1, &p, dist, ids), VS_OK);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(ids[i], i);
        assert_true(dist[i] == 0.0f);
    }
    /* Read-only: the old index file cannot record new rows. */
    assert_int_not_equal(vs_index_add(ix, 1, m->data, NULL), VS_OK);
    assert_int_equal(vs_index_size(ix), 300);
    search_io_matches(ix, m->data, 300, 3, &p); /* a version-1 store through the batched reads */
    vs_matrix_free(m);
    vs_index_free(ix);
}

/* The layout of today's writer (store version 2, the index naming it): a fixture, so a change
 * to either format shows up here. */
static void test_v2_fixture(void **state)
{
    (void)state;
    vs_index *ix = NULL;
    assert_int_equal(vs_index_load(VS_TEST_SOURCE_DIR "/fixtures/ru8_v2/index.vsi", &ix), VS_OK);
    assert_string_equal(vs_index_factory(ix), "IVF4,PQ4x4fs,Ru8");
    const vs_ru8_store *s = vs_refine_u8_store(ix);
    assert_non_null(s);
    assert_int_equal(s->version, 2);
    assert_int_equal(s->rows, 300);
    assert_int_equal(vs_ru8_verify(s), VS_OK);
    vs_matrix *m = NULL;
    assert_int_equal(vs_matrix_read(VS_TEST_SOURCE_DIR "/fixtures/ru8_v1/base.bvecs", 0, &m), VS_OK);
    assert_int_equal(vs_matrix_to_f32(m), VS_OK);
    vs_search_params p;
    vs_search_params_init(&p);
    p.nprobe = 4;
    p.k_factor = 10;
    float dist[300];
    int64_t ids[300];
    assert_int_equal(vs_index_search(ix, 300, m->data, 1, &p, dist, ids), VS_OK);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(ids[i], i);
        assert_true(dist[i] == 0.0f);
    }
    search_io_matches(ix, m->data, 300, 3, &p);
    vs_matrix_free(m);
    vs_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_save_load_view),
        cmocka_unit_test(test_grow_after_load),
        cmocka_unit_test(test_inner_product),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_batched_reads),
        cmocka_unit_test(test_old_layout_fixture),
        cmocka_unit_test(test_v2_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
