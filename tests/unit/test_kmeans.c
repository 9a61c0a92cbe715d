/* k-means: objective decreases with iterations, separated clusters are recovered, seeds make
 * runs reproducible (also across thread counts), empty clusters are repaired, the warning
 * below 39 points per centroid reaches the log handler, and bad arguments fail clearly. */
#include "test_util.h"

/* n points around `nc` centres spread over [-10, 10]^d with noise of +-noise. */
static float *blobs(size_t n, size_t d, size_t nc, float noise, uint64_t seed, float **centres_out)
{
    float *c = tu_random_vectors(nc, d, seed);
    for (size_t i = 0; i < nc * d; i++) c[i] *= 10.0f;
    float *x = malloc(n * d * sizeof *x);
    assert_non_null(x);
    uint64_t s = seed * 31 + 7;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x[i * d + j] = c[(i % nc) * d + j] + noise * tu_uniform(&s);
    if (centres_out) *centres_out = c;
    else free(c);
    return x;
}

static void objective_decreases(void **state)
{
    (void)state;
    size_t n = 4000, d = 16;
    float *x = tu_random_vectors(n, d, 3);
    float *c = malloc(32 * d * sizeof *c);
    float prev = INFINITY;
    const uint32_t iters[] = {1, 2, 5, 10, 25};
    for (size_t i = 0; i < 5; i++) {
        vs_kmeans_params p = {.struct_size = sizeof(vs_kmeans_params), .n_iter = iters[i], .seed = 42};
        float obj;
        assert_int_equal(vs_kmeans(n, (uint32_t)d, x, 32, &p, c, &obj), VS_OK);
        assert_true(obj > 0);
        assert_true(obj <= prev); /* Lloyd's steps never increase the L2 objective */
        if (i == 4) assert_true(obj < prev * 0.999f || iters[i - 1] >= 10);
        prev = obj;
    }
    free(c);
    free(x);
}

static void recovers_separated_clusters(void **state)
{
    (void)state;
    size_t n = 2000, d = 8, k = 10;
    float *centres;
    float *x = blobs(n, d, k, 0.05f, 5, &centres);
    /* k-means++ only: a random start can leave two centroids in one blob and one centroid
     * spanning two blobs, a local optimum no Lloyd step leaves (a property of the algorithm). */
    const vs_kmeans_init inits[] = {VS_KMEANS_INIT_PLUSPLUS};
    for (size_t t = 0; t < 1; t++) {
        float *c = malloc(k * d * sizeof *c);
        vs_kmeans_params p = {.struct_size = sizeof(vs_kmeans_params), .seed = 9, .init = inits[t], .n_iter = 25};
        float obj;
        assert_int_equal(vs_kmeans(n, (uint32_t)d, x, (uint32_t)k, &p, c, &obj), VS_OK);
        /* Every true centre has a centroid within the noise. */
        for (size_t i = 0; i < k; i++) {
            float best = INFINITY;
            for (size_t j = 0; j < k; j++) best = fminf(best, vs_l2sq(centres + i * d, c + j * d, d));
            if (best > 0.01f) print_error("init %zu centre %zu: nearest centroid at %g\n", t, i, best);
            assert_true(best < 0.01f);
        }
        /* Noise is uniform in +-0.05 per dimension: the mean squared distance is 8 * 0.05^2 / 3. */
        assert_true(obj / n < 0.01f);
        free(c);
    }
    free(centres);
    free(x);
}

static void seed_reproducible(void **state)
{
    (void)state;
    size_t n = 3000, d = 12, k = 20;
    float *x = tu_random_vectors(n, d, 8);
    float *a = malloc(k * d * 4), *b = malloc(k * d * 4), *c = malloc(k * d * 4);
    for (int init = 0; init < 2; init++) {
        for (int ip = 0; ip < 2; ip++) {
            vs_kmeans_params p = {.struct_size = sizeof(vs_kmeans_params), .seed = 77, .init = (vs_kmeans_init)init, .inner_product = ip, .spherical = ip,
                                  .max_points_per_centroid = 100}; /* subsampling on: 3000 > 2000 */
            assert_int_equal(vs_kmeans(n, (uint32_t)d, x, (uint32_t)k, &p, a, NULL), VS_OK);
            p.n_threads = 3;
            assert_int_equal(vs_kmeans(n, (uint32_t)d, x, (uint32_t)k, &p, b, NULL), VS_OK);
            assert_memory_equal(a, b, k * d * 4);
            p.seed = 78;
            assert_int_equal(vs_kmeans(n, (uint32_t)d, x, (uint32_t)k, &p, c, NULL), VS_OK);
            assert_true(memcmp(a, c, k * d * 4) != 0);
            if (ip)
                for (size_t i = 0; i < k; i++) assert_true(fabsf(vs_norm_sq(a + i * d, d) - 1.0f) < 1e-4f);
        }
    }
    free(a); free(b); free(c);
    free(x);
}

/* Four random locations, 250 identical copies each, k = 4: a random start almost surely puts
 * two centroids on one location, and the duplicate then stays empty; only repair by splitting
 * a cluster that spans two locations reaches the zero objective. (Locations are random, not
 * axis-aligned: FAISS's split perturbs by a fixed +-1/1024 sign pattern per dimension, which
 * cannot separate two locations whose difference is orthogonal to it, and neither can ours.) */
static void empty_clusters_repaired(void **state)
{
    (void)state;
    size_t d = 8, n = 1000, k = 4;
    float *loc = tu_random_vectors(k, d, 17);
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) memcpy(x + i * d, loc + (i % k) * d, d * sizeof(float));
    int reached = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        float c[32], obj;
        vs_kmeans_params p = {.struct_size = sizeof(vs_kmeans_params), .seed = seed, .n_iter = 40};
        assert_int_equal(vs_kmeans(n, (uint32_t)d, x, (uint32_t)k, &p, c, &obj), VS_OK);
        for (size_t i = 0; i < k * d; i++) assert_true(isfinite(c[i]));
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < i; j++) assert_true(memcmp(c + i * d, c + j * d, d * sizeof(float)) != 0);
        reached += obj < 1e-3f;
    }
    /* Without repair, the 1 - 4!/4^4 = 91% of starts that duplicate a location never reach 0. */
    assert_int_equal(reached, 8);
    free(loc);
    free(x);
}

static int warnings;
static char last_warning[512];
static void on_log(vs_log_level level, const char *msg, void *ctx)
{
    (void)ctx;
    if (level == VS_LOG_WARNING) warnings++;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
}

static void warns_below_39_per_centroid(void **state)
{
    (void)state;
    size_t d = 4, k = 10;
    float *x = tu_random_vectors(400, d, 1), c[40];
    warnings = 0;
    vs_kmeans(400, (uint32_t)d, x, (uint32_t)k, NULL, c, NULL); /* 40 per centroid, no handler: silent */
    vs_set_log_handler(on_log, NULL);
    assert_int_equal(vs_kmeans(390, (uint32_t)d, x, (uint32_t)k, NULL, c, NULL), VS_OK);
    assert_int_equal(warnings, 0);
    assert_int_equal(vs_kmeans(389, (uint32_t)d, x, (uint32_t)k, NULL, c, NULL), VS_OK);
    assert_int_equal(warnings, 1);
    assert_non_null(strstr(last_warning, "390"));
    vs_set_log_handler(NULL, NULL);
    assert_int_equal(vs_kmeans(100, (uint32_t)d, x, (uint32_t)k, NULL, c, NULL), VS_OK);
    assert_int_equal(warnings, 1);
    free(x);
}

static void errors(void **state)
{
    (void)state;
    float x[40] = {0}, c[40];
    for (int i = 0; i < 40; i++) x[i] = (float)i;
    assert_int_equal(vs_kmeans(9, 4, x, 10, NULL, c, NULL), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "at least 10 training vectors, got 9"));
    assert_int_equal(vs_kmeans(10, 4, x, 0, NULL, c, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_kmeans(10, 0, x, 2, NULL, c, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_kmeans(10, 4, NULL, 2, NULL, c, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_kmeans(10, 4, x, 2, NULL, NULL, NULL), VS_ERR_INVALID_ARG);
    vs_kmeans_params p = {.struct_size = sizeof(vs_kmeans_params), .init = (vs_kmeans_init)7};
    assert_int_equal(vs_kmeans(10, 4, x, 2, &p, c, NULL), VS_ERR_INVALID_ARG);
    x[13] = NAN;
    assert_int_equal(vs_kmeans(10, 4, x, 2, NULL, c, NULL), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "NaN"));
    /* n == k works: every point is a centroid. */
    x[13] = 13;
    float obj;
    assert_int_equal(vs_kmeans(10, 4, x, 10, NULL, c, &obj), VS_OK);
    assert_true(obj < 1e-3f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(objective_decreases),
        cmocka_unit_test(recovers_separated_clusters),
        cmocka_unit_test(seed_reproducible),
        cmocka_unit_test(empty_clusters_repaired),
        cmocka_unit_test(warns_below_39_per_centroid),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
