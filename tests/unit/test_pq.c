/* Product quantizer and 4-bit fast-scan: training lowers the error, ADC tables give the
 * exact distance to the decoded vector, the blocked layout round-trips, every fast-scan
 * kernel equals the scalar reference, and quantised sums stay within their rounding bound. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "quant/fastscan.h"
#include "quant/kmeans.h"
#include "quant/pq.h"

static void fill(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(vs_rng_next(&seed) >> 11) * 0x1p-53f * 2 - 1;
}

static double sq_err(const float *a, const float *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return e;
}

static void encode_decode_and_tables(void **state)
{
    (void)state;
    const uint32_t d = 32;
    const size_t n = 2000;
    float *x = malloc(n * d * sizeof *x), *y = malloc(n * d * sizeof *y), q[32];
    fill(x, n * d, 3);
    fill(q, d, 4);
    const uint32_t bits[] = {4, 6, 8};
    double prev = INFINITY;
    for (size_t b = 0; b < 3; b++) {
        vs_pq pq;
        assert_int_equal(vs_pq_init(&pq, d, 8, bits[b]), VS_OK);
        assert_int_equal(vs_pq_train(&pq, n, x, 1, 2), VS_OK);
        size_t cs = vs_pq_code_size(&pq);
        assert_int_equal(cs, bits[b] == 4 ? 4 : 8);
        uint8_t *c = malloc(n * cs);
        assert_int_equal(vs_pq_encode(&pq, n, x, c, 1), VS_OK);
        vs_pq_decode(&pq, n, c, y);
        double err = sq_err(x, y, n * d) / (double)n;
        /* Uniform data in [-1,1]^32 has energy 32/3 per vector; more bits, less error. */
        assert_true(err < 32.0 / 3 * 0.6);
        assert_true(err < prev);
        prev = err;
        float *tab = malloc(pq.m * pq.ksub * sizeof *tab), keys[16];
        vs_pq_table_l2(&pq, q, tab);
        vs_pq_scan(&pq, tab, 0.5f, c, 16, keys);
        for (size_t i = 0; i < 16; i++) assert_float_equal(keys[i], 0.5f + sq_err(q, y + i * d, d), 1e-3);
        vs_pq_table_ip(&pq, q, tab);
        vs_pq_scan(&pq, tab, 0, c, 16, keys);
        for (size_t i = 0; i < 16; i++) {
            double dot = 0;
            for (uint32_t j = 0; j < d; j++) dot += (double)q[j] * y[i * d + j];
            assert_float_equal(keys[i], dot, 1e-3);
        }
        free(tab);
        free(c);
        vs_pq_destroy(&pq);
    }
    free(x);
    free(y);
}

static void bad_parameters(void **state)
{
    (void)state;
    vs_pq pq;
    assert_int_equal(vs_pq_init(&pq, 30, 8, 8), VS_ERR_INVALID_ARG); /* 8 does not divide 30 */
    assert_non_null(strstr(vs_last_error(), "divide"));
    assert_int_equal(vs_pq_init(&pq, 32, 8, 3), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_pq_init(&pq, 32, 8, 9), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_pq_init(&pq, 32, 8, 8), VS_OK);
    float x[32 * 10] = {0};
    assert_int_equal(vs_pq_train(&pq, 10, x, 1, 1), VS_ERR_INVALID_ARG); /* fewer than 256 */
    assert_false(pq.trained);
    vs_pq_destroy(&pq);
}

static void fastscan_layout_and_kernels(void **state)
{
    (void)state;
    const uint32_t ms[] = {1, 2, 7, 16, 50, 392};
    uint64_t seed = 11;
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++) {
        uint32_t m = ms[mi];
        size_t n = 77, cs = (m + 1) / 2;
        uint8_t *codes = malloc(n * cs), *blocks = calloc(vs_fs_blocks(n), vs_fs_block_bytes(m)), back[256]; /* the code of m <= 512 */
        for (size_t i = 0; i < n * cs; i++) codes[i] = (uint8_t)vs_rng_next(&seed);
        if (m & 1)
            for (size_t i = 0; i < n; i++) codes[i * cs + cs - 1] &= 15; /* unused nibble stays 0 */
        for (size_t i = 0; i < n; i++) vs_fs_put(blocks, m, i, codes + i * cs);
        for (size_t i = 0; i < n; i++) {
            vs_fs_get(blocks, m, i, back);
            assert_memory_equal(back, codes + i * cs, cs);
        }
        float *tab = malloc(m * 16 * sizeof *tab), bias, scale;
        for (size_t i = 0; i < m * 16; i++) tab[i] = (float)(vs_rng_next(&seed) % 1000) * 0.01f;
        if (m > 256) /* one small entry per sub-quantizer, the rest near the top: sums past 16 bits */
            for (size_t i = 0; i < m * 16; i++) tab[i] = i % 16 ? 9.0f + (float)(vs_rng_next(&seed) % 100) * 0.01f : 0;
        uint8_t *lut = malloc(vs_fs_block_bytes(m));
        vs_fs_quantize(tab, m, lut, &bias, &scale);
        vs_fs_block_fn kern[3] = {vs_fs_block_scalar, NULL, NULL};
        if (vs_simd_active() >= VS_SIMD_AVX2) kern[1] = vs_fs_block_avx2;
        if (vs_simd_active() >= VS_SIMD_AVX512) kern[2] = vs_fs_block_avx512;
        uint32_t ref[32], got[32];
        for (size_t blk = 0; blk < vs_fs_blocks(n); blk++) {
            const uint8_t *bp = blocks + blk * vs_fs_block_bytes(m);
            uint32_t thr = m * 120 * (m > 256 ? 2 : 1);
            uint32_t rmask = vs_fs_block_scalar(bp, lut, vs_fs_pairs(m), thr, ref);
            for (unsigned v = 0; v < 32; v++) {
                size_t i = blk * 32 + v;
                if (i >= n) continue;
                double exact = 0;
                for (uint32_t j = 0; j < m; j++) exact += tab[j * 16 + ((codes[i * cs + j / 2] >> ((j & 1) * 4)) & 15)];
                double approx = bias + ref[v] / scale;
                assert_true(fabs(approx - exact) <= m * 0.5 / scale + 1e-4);
                assert_int_equal((rmask >> v) & 1, ref[v] < thr);
            }
            for (int k = 1; k < 3; k++) {
                if (!kern[k]) continue;
                uint32_t mask = kern[k](bp, lut, vs_fs_pairs(m), thr, got);
                assert_memory_equal(got, ref, sizeof ref);
                assert_int_equal(mask, rmask);
                assert_int_equal(kern[k](bp, lut, vs_fs_pairs(m), 0, got), 0);
            }
        }
        free(codes);
        free(blocks);
        free(tab);
        free(lut);
    }
}

/* The public API: the codes of a PQ compress 32 floats (128 bytes) to 8 or 4 bytes and
 * decode close to the input; misuse gets a clear error and writes nothing. */
static void public_quantizer_api(void **state)
{
    (void)state;
    const uint32_t d = 32;
    const size_t n = 1000;
    float *x = malloc(n * d * sizeof *x), *y = malloc(n * d * sizeof *y);
    fill(x, n * d, 21);
    vs_product_quantizer *pq = NULL;
    assert_int_equal(vs_product_quantizer_create(d, 7, 8, &pq), VS_ERR_INVALID_ARG);
    assert_null(pq);
    assert_int_equal(vs_product_quantizer_create(d, 8, 4, &pq), VS_OK);
    assert_int_equal(vs_product_quantizer_code_size(pq), 4);
    uint8_t *codes = malloc(n * 8);
    assert_int_equal(vs_product_quantizer_encode(pq, n, x, codes), VS_ERR_NOT_TRAINED);
    assert_int_equal(vs_product_quantizer_train(pq, n, x, 0, 2), VS_OK);
    assert_int_equal(vs_product_quantizer_encode(pq, n, x, codes), VS_OK);
    assert_int_equal(vs_product_quantizer_decode(pq, n, codes, y), VS_OK);
    assert_true(sq_err(x, y, n * d) / (double)n < 32.0 / 3 * 0.6);
    float bad[32] = {0};
    bad[5] = INFINITY;
    assert_int_equal(vs_product_quantizer_encode(pq, 1, bad, codes), VS_ERR_INVALID_ARG);
    vs_product_quantizer_free(pq);

    vs_scalar_quantizer *sq = NULL;
    assert_int_equal(vs_scalar_quantizer_create(d, VS_CODE_PQ, &sq), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_scalar_quantizer_create(d, VS_CODE_SQ8, &sq), VS_OK);
    assert_int_equal(vs_scalar_quantizer_code_size(sq), 32);
    assert_int_equal(vs_scalar_quantizer_encode(sq, n, x, codes), VS_ERR_NOT_TRAINED);
    assert_int_equal(vs_scalar_quantizer_train(sq, n, x), VS_OK);
    uint8_t *sc = malloc(n * 32);
    assert_int_equal(vs_scalar_quantizer_encode(sq, n, x, sc), VS_OK);
    assert_int_equal(vs_scalar_quantizer_decode(sq, n, sc, y), VS_OK);
    for (size_t i = 0; i < n * d; i++) assert_true(fabsf(x[i] - y[i]) <= 2.0f / 256);
    vs_scalar_quantizer_free(sq);
    vs_product_quantizer_free(NULL);
    vs_scalar_quantizer_free(NULL);
    free(sc);
    free(codes);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_decode_and_tables),
        cmocka_unit_test(bad_parameters),
        cmocka_unit_test(fastscan_layout_and_kernels),
        cmocka_unit_test(public_quantizer_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
