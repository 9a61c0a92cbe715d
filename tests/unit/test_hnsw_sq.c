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
            vs_search_params p = {.ef_search = 64};
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(quantised)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
