/* Bad input gets a clear error code and message and changes nothing: wrong dimension,
 * NaN/Inf, k <= 0, bad factory strings, NULLs; vs_last_error is per thread. */
#include <pthread.h>

#include "test_util.h"

static void expect(int rc, int code, const char *needle)
{
    assert_int_equal(rc, code);
    if (needle && !strstr(vs_last_error(), needle)) {
        print_error("message \"%s\" lacks \"%s\"\n", vs_last_error(), needle);
        fail();
    }
}

static void wrong_dimension(void **state)
{
    (void)state;
    vs_index *ix = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = 0, .metric = VS_METRIC_L2};
    expect(vs_index_create(&o, &ix), VS_ERR_DIMENSION, "dimension 0");
    assert_null(ix);
    o.dim = 70000;
    expect(vs_index_create(&o, &ix), VS_ERR_DIMENSION, "70000");
    ix = tu_flat(4, VS_METRIC_L2);
    float data[3 * 5] = {0};
    vs_matrix m = {.n = 3, .dim = 5, .dtype = VS_DTYPE_F32, .data = data};
    expect(vs_index_add_matrix(ix, &m, NULL), VS_ERR_DIMENSION, "dimension 5");
    assert_int_equal(vs_index_size(ix), 0);
    m.dim = 4;
    m.n = 2;
    assert_int_equal(vs_index_add_matrix(ix, &m, NULL), VS_OK);
    m.dim = 3;
    float s[2];
    int64_t id[2];
    expect(vs_index_search_matrix(ix, &m, 2, NULL, s, id), VS_ERR_DIMENSION, "index has dimension 4");
    m.dtype = VS_DTYPE_U8;
    m.dim = 4;
    expect(vs_index_search_matrix(ix, &m, 2, NULL, s, id), VS_ERR_INVALID_ARG, "float32");
    vs_index_free(ix);
}

static void non_finite_values(void **state)
{
    (void)state;
    vs_index *ix = tu_flat(3, VS_METRIC_L2);
    float ok[3] = {1, 2, 3};
    assert_int_equal(vs_index_add(ix, 1, ok, NULL), VS_OK);
    float bad[6] = {1, 2, 3, 4, NAN, 6};
    expect(vs_index_add(ix, 2, bad, NULL), VS_ERR_INVALID_ARG, "vector 1 component 1 is NaN");
    assert_int_equal(vs_index_size(ix), 1); /* the valid first row was not added either */
    bad[4] = INFINITY;
    expect(vs_index_add(ix, 2, bad, NULL), VS_ERR_INVALID_ARG, "infinite");
    float s[1];
    int64_t id[1];
    float q[3] = {0, -INFINITY, 0};
    expect(vs_index_search(ix, 1, q, 1, NULL, s, id), VS_ERR_INVALID_ARG, "query 0 component 1");
    expect(vs_index_train(ix, 1, bad + 3), VS_ERR_INVALID_ARG, "training vector");
    vs_index_free(ix);

    ix = tu_flat(3, VS_METRIC_COSINE);
    float zero[3] = {0, 0, 0};
    expect(vs_index_add(ix, 1, zero, NULL), VS_ERR_INVALID_ARG, "zero norm");
    assert_int_equal(vs_index_size(ix), 0);
    float huge[3] = {3e38f, 3e38f, 3e38f}; /* finite, but its norm overflows float */
    assert_int_equal(vs_index_add(ix, 1, huge, NULL), VS_OK);
    vs_index_free(ix);
}

static void bad_k_and_nulls(void **state)
{
    (void)state;
    vs_index *ix = tu_flat(2, VS_METRIC_L2);
    float x[2] = {1, 1}, s[4];
    int64_t id[4];
    assert_int_equal(vs_index_add(ix, 1, x, NULL), VS_OK);
    expect(vs_index_search(ix, 1, x, 0, NULL, s, id), VS_ERR_INVALID_ARG, "k must be at least 1");
    expect(vs_index_search(ix, 1, x, 200000, NULL, s, id), VS_ERR_INVALID_ARG, "exceeds");
    expect(vs_index_search(ix, 1, NULL, 1, NULL, s, id), VS_ERR_INVALID_ARG, "queries");
    expect(vs_index_search(ix, 1, x, 1, NULL, NULL, id), VS_ERR_INVALID_ARG, NULL);
    expect(vs_index_search(NULL, 1, x, 1, NULL, s, id), VS_ERR_INVALID_ARG, "index is NULL");
    assert_int_equal(vs_index_search(ix, 0, x, 1, NULL, s, id), VS_OK);
    expect(vs_index_add(ix, 1, NULL, NULL), VS_ERR_INVALID_ARG, NULL);
    expect(vs_index_add(NULL, 1, x, NULL), VS_ERR_INVALID_ARG, NULL);
    expect(vs_index_remove(ix, 1, NULL, NULL), VS_ERR_INVALID_ARG, NULL);
    expect(vs_index_get(ix, 0, NULL), VS_ERR_INVALID_ARG, NULL);
    expect(vs_index_create(NULL, &ix), VS_ERR_INVALID_ARG, NULL);
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = 2, .metric = (vs_metric)7};
    vs_index *other = NULL;
    expect(vs_index_create(&o, &other), VS_ERR_INVALID_ARG, "metric");
    vs_metric m;
    expect(vs_metric_parse("hamming", &m), VS_ERR_INVALID_ARG, "hamming");
    assert_int_equal(vs_metric_parse("COSINE", &m), VS_OK);
    assert_int_equal(m, VS_METRIC_COSINE);
    vs_index_free(NULL);
    vs_index_free(ix);
}

static void factory_errors(void **state)
{
    (void)state;
    vs_index *ix = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = 8, .metric = VS_METRIC_L2, .factory = "Falt"};
    expect(vs_index_create(&o, &ix), VS_ERR_FACTORY, "unknown encoding at position 0");
    o.factory = "IVF4096,PQ32x4fs,RFlat"; /* valid syntax, but 32 sub-quantizers cannot split 8 dims */
    expect(vs_index_create(&o, &ix), VS_ERR_INVALID_ARG, "do not divide 8");
    o.factory = "IVF16,PQ4x6fs";
    expect(vs_index_create(&o, &ix), VS_ERR_FACTORY, "fast-scan (fs) needs 4-bit");
    o.factory = "HNSW32,PQ8"; /* HNSW{M},SQ8 exists since issue 4; HNSW over PQ does not */
    expect(vs_index_create(&o, &ix), VS_ERR_FACTORY, "HNSW over PQ");
    assert_null(ix);
}

static void *other_thread(void *arg)
{
    (void)arg;
    /* A fresh thread has no message, whatever happened elsewhere. */
    return (void *)(intptr_t)(vs_last_error()[0] == '\0');
}

static void last_error_is_thread_local(void **state)
{
    (void)state;
    vs_metric m;
    assert_int_equal(vs_metric_parse("nope", &m), VS_ERR_INVALID_ARG);
    assert_true(strlen(vs_last_error()) > 0);
    pthread_t t;
    void *clean;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, &clean);
    assert_true((intptr_t)clean);
    assert_non_null(strstr(vs_last_error(), "nope"));
    assert_string_equal(vs_strerror(VS_ERR_CORRUPT), "VS_ERR_CORRUPT");
    assert_string_equal(vs_strerror(12345), "VS_ERR_UNKNOWN");
}

/* One version: the library's numbers, its string, the generated header's macros and CMake's
 * project(VERSION) (passed in as VS_TEST_CMAKE_VERSION) all agree. */
static void version_matches_header_and_cmake(void **state)
{
    (void)state;
    int major = -1, minor = -1, patch = -1;
    assert_int_equal(vs_version(&major, &minor, &patch), VS_OK);
    assert_int_equal(major, VS_VERSION_MAJOR);
    assert_int_equal(minor, VS_VERSION_MINOR);
    assert_int_equal(patch, VS_VERSION_PATCH);
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", major, minor, patch);
    assert_string_equal(buf, VS_TEST_CMAKE_VERSION);
    assert_string_equal(vs_version_string(), VS_TEST_CMAKE_VERSION);
    assert_string_equal(VS_VERSION_STRING, VS_TEST_CMAKE_VERSION);
    assert_int_equal(vs_version(NULL, NULL, NULL), VS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_dimension),
        cmocka_unit_test(non_finite_values),
        cmocka_unit_test(bad_k_and_nulls),
        cmocka_unit_test(factory_errors),
        cmocka_unit_test(last_error_is_thread_local),
        cmocka_unit_test(version_matches_header_and_cmake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
