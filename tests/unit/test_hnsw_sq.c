/* HNSW over scalar-quantised codes (HNSW{M},SQ8 / SQfp16 / SQbf16, with and without ,RFlat). */
#include "test_util.h"

#include "index/hnsw.h"
#include "test_hnsw_util.h"

/* Quantised storage: traversal on SQ8 / fp16 / bf16 codes, with and without re-ranking on
 * the float vectors; SQ8 must be trained first; save / load keep the ranges. */
static void quantised(void **state)
{
    (void)state;
    float *base = tu_random_vectors(N, D, 41);
    float *q = tu_random_vectors(NQ, D, 42);
    const char *specs[] = {"HNSW16,SQ8", "HNSW16,SQfp16", "HNSW16,SQbf16", "HNSW16,SQ8,RFlat"};
    /* Measured at ef 64 (seed 42, d 32, 5,000 uniform vectors; fp32 storage gives 0.9875):
     * SQ8 0.9735 (l2) / 0.9815 (cosine), fp16 0.9835 / 0.9880, bf16 0.9830 / 0.9855,
     * SQ8,RFlat 0.9820 / 0.9875. Floors about 0.02 below. */
    const double floor64[] = {0.95, 0.965, 0.96, 0.965};
    const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_COSINE};
    char *dir = tu_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/q.vsi", dir);
    for (int mi = 0; mi < 2; mi++) {
        vs_index *flat = make(D, metrics[mi], "Flat", 1);
        assert_int_equal(vs_index_add(flat, N, base, NULL), VS_OK);
        int64_t *exact = malloc(NQ * K * sizeof *exact), *got = malloc(NQ * K * sizeof *got), *back_ids = malloc(NQ * K * sizeof *back_ids);
        search_ids(flat, q, NQ, K, NULL, exact, NULL);
        for (int si = 0; si < 4; si++) {
            vs_index *ix = make(D, metrics[mi], specs[si], 2);
            if (si == 0 || si == 3) {
                assert_int_equal(vs_index_add(ix, N, base, NULL), VS_ERR_NOT_TRAINED);
                assert_int_equal(vs_index_train(ix, N, base), VS_OK);
            }
            assert_int_equal(vs_index_add(ix, N, base, NULL), VS_OK);
            assert_string_equal(vs_index_factory(ix), specs[si]);
            vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = 64};
            search_ids(ix, q, NQ, K, &p, got, NULL);
            double r = recall(got, exact, NQ, K);
            print_message("%s %s ef 64: recall@10 %.4f, %zu bytes per vector\n", specs[si], vs_metric_name(metrics[mi]), r,
                          vs_index_code_size(ix));
            assert_true(r >= floor64[si]);
            /* The stored vector comes back within the code's precision. */
            float v[D];
            assert_int_equal(vs_index_get(ix, 17, v), VS_OK);
            for (int j = 0; j < D; j++) {
                float want = base[17 * D + j];
                if (metrics[mi] == VS_METRIC_COSINE) {
                    double nrm = 0;
                    for (int t = 0; t < D; t++) nrm += (double)base[17 * D + t] * base[17 * D + t];
                    want = (float)(want / sqrt(nrm));
                }
                assert_true(fabs(v[j] - want) < 0.02);
            }
            assert_int_equal(vs_index_save(ix, path), VS_OK);
            vs_index *back = NULL;
            assert_int_equal(vs_index_load(path, &back), VS_OK);
            search_ids(back, q, NQ, K, &p, back_ids, NULL);
            assert_memory_equal(got, back_ids, NQ * K * sizeof *got);
            vs_index_free(back);
            vs_index_free(ix);
        }
        free(exact); free(got); free(back_ids);
        vs_index_free(flat);
    }
    tu_rmdir(dir);
    free(base);
    free(q);
}

/* The SQ8 integer kernel: AVX2 and scalar give the same integer for every tail length, and
 * the keys it yields (int16 query weights, stored L2 norms) match the float kernel of the
 * quantizer on the same codes to well within one code step. */
static void sq8_integer_kernel(void **state)
{
    (void)state;
    const uint32_t dims[] = {1, 7, 8, 15, 16, 17, 31, 33, 100, 784, 3000};
    for (size_t t = 0; t < sizeof dims / sizeof *dims; t++) {
        uint32_t d = dims[t];
        int16_t *w = malloc(d * sizeof *w);
        uint8_t *c = malloc(d);
        int32_t wmax = vs_hnsw_dot8_wmax(d);
        assert_true(wmax > 1000);
        srand(7 + d);
        for (uint32_t j = 0; j < d; j++) {
            w[j] = (int16_t)(j % 3 == 0 ? wmax : j % 3 == 1 ? -wmax : rand() % (2 * wmax + 1) - wmax);
            c[j] = (uint8_t)(j % 5 == 0 ? 255 : rand() & 255);
        }
        int64_t ref = vs_hnsw_dot8_scalar(w, c, d);
        if (vs_simd_detected() >= VS_SIMD_AVX2) assert_true(vs_hnsw_dot8_avx2(w, c, d) == ref);
        /* All weights at +wmax and codes at 255: the worst case for an int32 lane. */
        for (uint32_t j = 0; j < d; j++) {
            w[j] = (int16_t)wmax;
            c[j] = 255;
        }
        if (vs_simd_detected() >= VS_SIMD_AVX2) assert_true(vs_hnsw_dot8_avx2(w, c, d) == (int64_t)d * 255 * wmax);
        free(w);
        free(c);
    }
    for (int mi = 0; mi < 2; mi++) {
        vs_metric m = mi ? VS_METRIC_COSINE : VS_METRIC_L2;
        const uint32_t d = 100;
        float *base = tu_random_vectors(500, d, 5), *q = tu_random_vectors(20, d, 6);
        for (size_t i = 0; i < 500 * d; i++) base[i] = base[i] * (1.0f + (float)(i % d)) - 3.0f; /* unequal ranges */
        vs_index *ix = make(d, m, "HNSW16,SQ8", 1);
        assert_int_equal(vs_index_train(ix, 500, base), VS_OK);
        assert_int_equal(vs_index_add(ix, 500, base, NULL), VS_OK);
        vs_hnsw *h = ix->impl;
        vs_hnsw_anchor a = {0};
        vs_sq_query ref;
        assert_int_equal(vs_sq_query_init(&ref, &h->sq, m == VS_METRIC_L2), VS_OK);
        ref.fn = vs_sq_key_scalar_for(VS_CODE_SQ8, m == VS_METRIC_L2);
        float qn[100];
        for (int i = 0; i < 20; i++) {
            memcpy(qn, q + i * d, sizeof qn);
            if (m == VS_METRIC_COSINE) {
                double nrm = 0;
                for (uint32_t j = 0; j < d; j++) nrm += (double)qn[j] * qn[j];
                for (uint32_t j = 0; j < d; j++) qn[j] = (float)(qn[j] / sqrt(nrm));
            }
            assert_int_equal(vs_hnsw_anchor_vec(h, &a, qn), 0);
            vs_sq_query_set(&ref, qn);
            for (uint32_t v = 0; v < 500; v++) {
                const uint8_t *code = vs_hnsw_rec(h, v) + h->off_vec;
                float want = ref.fn(&ref, code), got = vs_hnsw_adist(h, NULL, &a, vs_hnsw_rec(h, v));
                float tol = m == VS_METRIC_L2 ? 1e-3f * fabsf(want) + 1e-2f : 1e-3f;
                if (fabsf(got - want) > tol) fail_msg("%s node %u: key %g, float kernel %g", vs_metric_name(m), v, got, want);
            }
        }
        /* A stored node's anchor, prepared from its code (AVX2 and scalar), measures like the
         * float kernel from its decoded vector. */
        float dec[100], w[100];
        int16_t w8a[100], w8b[100];
        for (uint32_t u = 0; u < 500; u += 37) {
            const uint8_t *cu = vs_hnsw_rec(h, u) + h->off_vec;
            assert_int_equal(vs_hnsw_anchor_node(h, &a, u), 0);
            vs_sq_decode(&h->sq, 1, cu, dec);
            vs_sq_query_set(&ref, dec);
            for (uint32_t v = 0; v < 500; v++) {
                const uint8_t *code = vs_hnsw_rec(h, v) + h->off_vec;
                float want = ref.fn(&ref, code), got = vs_hnsw_adist(h, NULL, &a, vs_hnsw_rec(h, v));
                /* int16 weights: the error scales with the terms that cancel (base), not the key. */
                float tol = 1e-3f * (fabsf(want) + fabsf(a.base)) + 1e-2f;
                if (fabsf(got - want) > tol) fail_msg("%s node %u from node %u: key %g, float kernel %g", vs_metric_name(m), v, u, got, want);
            }
            float al1, al2;
            int l2 = m == VS_METRIC_L2;
            float s1 = vs_hnsw_node8_scalar(cu, h->sq.vmin, a.pq.s, d, l2, vs_hnsw_dot8_wmax(d), w, w8a, &al1);
            if (vs_simd_detected() >= VS_SIMD_AVX2) {
                float s2 = vs_hnsw_node8_avx2(cu, h->sq.vmin, a.pq.s, d, l2, vs_hnsw_dot8_wmax(d), w, w8b, &al2);
                assert_true(al1 == al2);
                assert_true(fabsf(s1 - s2) <= 1e-5f * fmaxf(1.0f, fabsf(s1)));
                for (uint32_t j = 0; j < d; j++) assert_true(abs(w8a[j] - w8b[j]) <= 1);
            }
        }
        vs_sq_query_destroy(&ref);
        vs_sq_query_destroy(&a.pq);
        free(a.w8);
        free(a.buf);
        vs_index_free(ix);
        free(base);
        free(q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(quantised), cmocka_unit_test(sq8_integer_kernel)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
