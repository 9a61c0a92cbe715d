/* Range search: exactly the vectors strictly inside the radius, best first, for every
 * metric, with filters, threads and empty results. */
#include "test_util.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A radius halfway inside the widest gap near the 30th-best score, so float rounding
 * cannot move a vector across it. */
static float pick_radius(vs_metric m, const float *base, size_t n, size_t d, const float *q)
{
    double *s = malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) s[i] = tu_score(m, q, base + i * d, d) * (m == VS_METRIC_L2 ? 1 : -1);
    qsort(s, n, sizeof *s, cmp_double);
    size_t best = 25;
    for (size_t i = 25; i < 40; i++)
        if (s[i + 1] - s[i] > s[best + 1] - s[best]) best = i;
    double r = (s[best] + s[best + 1]) / 2;
    free(s);
    return (float)(m == VS_METRIC_L2 ? r : -r);
}

static void check(vs_metric m, unsigned threads, int filtered)
{
    size_t n = 3000, d = 16, nq = 7;
    float *base = tu_random_vectors(n, d, 50);
    float *q = tu_random_vectors(nq, d, 51);
    vs_index *ix = tu_flat((uint32_t)d, m);
    assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);
    uint8_t *bits = calloc((n + 7) / 8, 1);
    for (size_t i = 0; i < n; i += 2) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    vs_filter f = {.kind = VS_FILTER_BITSET, .bits = bits, .n_bits = n};
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads, .filter = filtered ? &f : NULL};
    for (size_t qi = 0; qi < nq; qi++) {
        const float *qq = q + qi * d;
        float radius = pick_radius(m, base, n, d, qq);
        vs_range_result *r = NULL;
        assert_int_equal(vs_index_range_search(ix, 1, qq, radius, &p, &r), VS_OK);
        assert_int_equal(r->nq, 1);
        size_t expect = 0;
        for (size_t i = 0; i < n; i++) {
            if (filtered && i % 2) continue;
            double s = tu_score(m, qq, base + i * d, d);
            if (m == VS_METRIC_L2 ? s < radius : s > radius) expect++;
        }
        assert_int_equal(r->lims[1] - r->lims[0], expect);
        for (size_t j = 0; j < expect; j++) {
            int64_t id = r->ids[j];
            double s = tu_score(m, qq, base + (size_t)id * d, d);
            assert_true(m == VS_METRIC_L2 ? s < radius : s > radius);
            if (filtered) assert_int_equal(id % 2, 0);
            assert_float_equal(r->distances[j], s, 1e-4 * fmax(1, fabs(s)));
            if (j) assert_true(m == VS_METRIC_L2 ? r->distances[j] >= r->distances[j - 1] : r->distances[j] <= r->distances[j - 1]);
            for (size_t t = 0; t < j; t++) assert_true(r->ids[t] != id);
        }
        vs_range_result_free(r);
    }
    /* Several queries at once: lims partition the results. */
    vs_range_result *r = NULL;
    float tiny = m == VS_METRIC_L2 ? 0.0f : 1e9f; /* nothing is strictly inside */
    assert_int_equal(vs_index_range_search(ix, nq, q, tiny, &p, &r), VS_OK);
    for (size_t i = 0; i <= nq; i++) assert_int_equal(r->lims[i], 0);
    vs_range_result_free(r);
    free(bits); free(base); free(q);
    vs_index_free(ix);
}

static void range_all_metrics(void **state)
{
    (void)state;
    for (int m = 0; m < 3; m++) {
        check((vs_metric)m, 1, 0);
        check((vs_metric)m, 3, 1);
    }
}

static void range_errors(void **state)
{
    (void)state;
    vs_index *ix = tu_flat(2, VS_METRIC_L2);
    float q[2] = {0, 0};
    vs_range_result *r = NULL;
    assert_int_equal(vs_index_range_search(ix, 1, q, 1.0f, NULL, &r), VS_ERR_EMPTY);
    assert_null(r);
    assert_int_equal(vs_index_add(ix, 1, q, NULL), VS_OK);
    assert_int_equal(vs_index_range_search(ix, 1, q, NAN, NULL, &r), VS_ERR_INVALID_ARG);
    float bad[2] = {INFINITY, 0};
    assert_int_equal(vs_index_range_search(ix, 1, bad, 1.0f, NULL, &r), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_index_range_search(ix, 0, q, 1.0f, NULL, &r), VS_OK);
    assert_int_equal(r->lims[0], 0);
    vs_range_result_free(r);
    vs_range_result_free(NULL);
    vs_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_all_metrics),
        cmocka_unit_test(range_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
