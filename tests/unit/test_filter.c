/* Filtered search: bitset and predicate filters at several selectivities return exactly the
 * filtered brute-force answer, and k results whenever at least k vectors pass. */
#include "test_util.h"

static int allow_mod(int64_t id, void *ctx)
{
    int m = *(int *)ctx;
    return id % m == 0;
}

static void run(vs_metric metric, double pass_rate, int use_predicate, unsigned threads, size_t nq)
{
    size_t n = 6000, d = 32;
    float *base = tu_random_vectors(n, d, 1234);
    float *q = tu_random_vectors(nq, d, 4321);
    vs_index *ix = tu_flat((uint32_t)d, metric);
    assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);

    uint8_t *allow = calloc(n, 1);
    uint8_t *bits = calloc((n + 7) / 8, 1);
    int mod = (int)(1.0 / pass_rate);
    uint64_t seed = 9;
    for (size_t i = 0; i < n; i++) {
        allow[i] = use_predicate ? (i % (size_t)mod == 0) : ((tu_rng_next(&seed) % 1000) < pass_rate * 1000);
        if (allow[i]) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    vs_filter f = use_predicate ? (vs_filter){.kind = VS_FILTER_PREDICATE, .fn = allow_mod, .ctx = &mod}
                                : (vs_filter){.kind = VS_FILTER_BITSET, .bits = bits, .n_bits = n};
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads, .filter = &f};
    uint32_t k = 10;
    float *s = malloc(nq * k * sizeof *s);
    int64_t *id = malloc(nq * k * sizeof *id);
    assert_int_equal(vs_index_search(ix, nq, q, k, &p, s, id), VS_OK);
    size_t passing = 0;
    for (size_t i = 0; i < n; i++) passing += allow[i];
    for (size_t i = 0; i < nq; i++) {
        tu_check_row(metric, base, n, d, q + i * d, k, allow, s + i * k, id + i * k);
        if (passing >= k) assert_true(id[i * k + k - 1] >= 0); /* always k results */
    }
    free(s); free(id); free(allow); free(bits); free(base); free(q);
    vs_index_free(ix);
}

static void bitset_selectivities(void **state)
{
    (void)state;
    const double rates[] = {0.001, 0.01, 0.1, 0.5};
    for (int r = 0; r < 4; r++) {
        run(VS_METRIC_L2, rates[r], 0, 1, 20); /* GEMM path */
        run(VS_METRIC_L2, rates[r], 0, 2, 1);  /* direct path, base split */
        run(VS_METRIC_COSINE, rates[r], 0, 1, 3);
    }
}

static void predicate_selectivities(void **state)
{
    (void)state;
    const double rates[] = {0.01, 0.1, 0.5};
    for (int r = 0; r < 3; r++) {
        run(VS_METRIC_IP, rates[r], 1, 1, 20);
        run(VS_METRIC_L2, rates[r], 1, 3, 300);
    }
}

static void fewer_than_k_pass(void **state)
{
    (void)state;
    size_t n = 100, d = 4;
    float *base = tu_random_vectors(n, d, 3);
    vs_index *ix = tu_flat((uint32_t)d, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);
    uint8_t bits[2] = {0x05, 0x00}; /* IDs 0 and 2; bitset shorter than the ID space */
    vs_filter f = {.kind = VS_FILTER_BITSET, .bits = bits, .n_bits = 16};
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .filter = &f};
    float s[5];
    int64_t id[5];
    assert_int_equal(vs_index_search(ix, 1, base + 50 * d, 5, &p, s, id), VS_OK);
    assert_true((id[0] == 0 && id[1] == 2) || (id[0] == 2 && id[1] == 0));
    assert_int_equal(id[2], -1);
    /* Nothing passes: a valid answer with no results, not an error. */
    vs_filter none = {.kind = VS_FILTER_BITSET, .bits = NULL, .n_bits = 0};
    p.filter = &none;
    assert_int_equal(vs_index_search(ix, 1, base, 5, &p, s, id), VS_OK);
    assert_int_equal(id[0], -1);
    /* Malformed filters are rejected. */
    vs_filter bad = {.kind = VS_FILTER_PREDICATE, .fn = NULL};
    p.filter = &bad;
    assert_int_equal(vs_index_search(ix, 1, base, 5, &p, s, id), VS_ERR_INVALID_ARG);
    vs_filter bad2 = {.kind = VS_FILTER_BITSET, .bits = NULL, .n_bits = 10};
    p.filter = &bad2;
    assert_int_equal(vs_index_search(ix, 1, base, 5, &p, s, id), VS_ERR_INVALID_ARG);
    vs_index_free(ix);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bitset_selectivities),
        cmocka_unit_test(predicate_selectivities),
        cmocka_unit_test(fewer_than_k_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
