/* Scalar quantizer: reconstruction error within half a bucket, clamping, the float codes'
 * rounding, and every SIMD kernel equal to the scalar reference and to decode-then-distance. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "quant/kmeans.h"
#include "quant/sq.h"

static void fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)(vs_rng_next(&seed) >> 11) * 0x1p-53f;
}

static const vs_code_kind KINDS[] = {VS_CODE_SQ8, VS_CODE_SQ4, VS_CODE_SQFP16, VS_CODE_SQBF16};

static void roundtrip_error_bounded(void **state)
{
    (void)state;
    const uint32_t d = 37;
    const size_t n = 500;
    float *x = malloc(n * d * sizeof *x), *y = malloc(n * d * sizeof *y);
    fill(x, n * d, 1, -3, 5);
    for (size_t k = 0; k < 4; k++) {
        vs_sq sq;
        assert_int_equal(vs_sq_init(&sq, KINDS[k], d), VS_OK);
        assert_int_equal(vs_sq_train(&sq, n, x), VS_OK);
        uint8_t *c = malloc(n * vs_sq_code_size(&sq));
        vs_sq_encode(&sq, n, x, c);
        vs_sq_decode(&sq, n, c, y);
        for (size_t i = 0; i < n * d; i++) {
            float tol;
            switch (KINDS[k]) {
            case VS_CODE_SQ8: tol = sq.vdiff[i % d] / 256 / 2 * 1.0001f; break;
            case VS_CODE_SQ4: tol = sq.vdiff[i % d] / 16 / 2 * 1.0001f; break;
            case VS_CODE_SQFP16: tol = fabsf(x[i]) * 0x1p-11f + 1e-7f; break;
            default: tol = fabsf(x[i]) * 0x1p-8f + 1e-30f;
            }
            if (fabsf(x[i] - y[i]) > tol) fail_msg("kind %d value %zu: %g decoded as %g", KINDS[k], i, x[i], y[i]);
        }
        free(c);
        vs_sq_destroy(&sq);
    }
    assert_int_equal(vs_sq_code_size(&(vs_sq){.kind = VS_CODE_SQ4, .d = 37}), 19);
    free(x);
    free(y);
}

static void out_of_range_values_clamp(void **state)
{
    (void)state;
    float train[4] = {0, 1, 1, 2}; /* d = 2: ranges [0,1] and [1,2] */
    vs_sq sq;
    assert_int_equal(vs_sq_init(&sq, VS_CODE_SQ8, 2), VS_OK);
    assert_int_equal(vs_sq_train(&sq, 2, train), VS_OK);
    float x[2] = {-50, 70}, y[2];
    uint8_t c[2];
    vs_sq_encode(&sq, 1, x, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 255);
    vs_sq_decode(&sq, 1, c, y);
    assert_true(y[0] >= 0 && y[0] < 0.01f);
    assert_true(y[1] <= 2 && y[1] > 1.99f);
    vs_sq_destroy(&sq);
    /* fp16 saturates instead of producing infinity. */
    assert_int_equal(vs_sq_init(&sq, VS_CODE_SQFP16, 2), VS_OK);
    float big[2] = {1e9f, -1e9f};
    uint8_t h[4];
    vs_sq_encode(&sq, 1, big, h);
    vs_sq_decode(&sq, 1, h, y);
    assert_true(isfinite(y[0]) && y[0] == 65504.0f && y[1] == -65504.0f);
    /* Subnormal halves count 2^-24 units, rounded to nearest even: 41.0e-6 is 688 units, 1e-7
     * is 1.68 units -> 2, 2^-25 is the tie 0.5 -> 0 (even), 1.5 * 2^-24 ties up to 2. */
    float sub[2] = {688 * 0x1p-24f, 1e-7f};
    vs_sq_encode(&sq, 1, sub, h);
    assert_int_equal(h[0] | h[1] << 8, 688);
    assert_int_equal(h[2] | h[3] << 8, 2);
    vs_sq_decode(&sq, 1, h, y);
    assert_true(y[0] == sub[0] && y[1] == 2 * 0x1p-24f);
    float ties[2] = {0x1p-25f, 1.5f * 0x1p-24f};
    vs_sq_encode(&sq, 1, ties, h);
    assert_int_equal(h[0] | h[1] << 8, 0);
    assert_int_equal(h[2] | h[3] << 8, 2);
    vs_sq_destroy(&sq);
}

/* The AVX2/F16C decode of fp16 and bf16 equals the scalar one bit for bit, for every tail
 * length and every finite 16-bit pattern, subnormals included. (fp16 infinities and NaNs
 * never occur in codes: encoding saturates, and a file's checksums catch damage.) */
static void half_decode_simd_equals_scalar(void **state)
{
    (void)state;
    if (vs_simd_detected() < VS_SIMD_AVX2) skip();
    const vs_code_kind kinds[2] = {VS_CODE_SQFP16, VS_CODE_SQBF16};
    const uint32_t d = 65536 + 7;
    uint8_t *c = malloc(2 * (size_t)d);
    float *a = malloc(d * sizeof *a), *b = malloc(d * sizeof *b);
    for (uint32_t j = 0; j < d; j++) {
        uint16_t h = (uint16_t)(j * 40503u);
        if ((h & 0x7c00u) == 0x7c00u) h &= 0xbfffu; /* exponent all ones (fp16 inf/NaN): one less */
        memcpy(c + 2 * j, &h, 2);
    }
    for (int k = 0; k < 2; k++)
        for (uint32_t dd = 1; dd <= d; dd = dd < 40 ? dd + 1 : dd < d ? d : d + 1) {
            vs_sq sq;
            assert_int_equal(vs_sq_init(&sq, kinds[k], dd), VS_OK);
            assert_int_equal(vs_simd_force(VS_SIMD_SCALAR), VS_OK);
            vs_sq_decode(&sq, 1, c, a);
            assert_int_equal(vs_simd_force(vs_simd_detected()), VS_OK);
            assert_int_equal(vs_sq_decode_avx2(&sq, c, b), 1);
            assert_memory_equal(a, b, dd * sizeof *a);
            vs_sq_destroy(&sq);
        }
    free(c);
    free(a);
    free(b);
}

static void kernels_match_reference(void **state)
{
    (void)state;
    const uint32_t dims[] = {1, 7, 8, 16, 33, 100, 784};
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        uint32_t d = dims[di];
        const size_t n = 64;
        float *x = malloc(n * d * sizeof *x), *q = malloc(d * sizeof *q), *dec = malloc(n * d * sizeof *dec);
        fill(x, n * d, 7 + d, -1, 2);
        fill(q, d, 99 + d, -1, 2);
        for (size_t k = 0; k < 4; k++)
            for (int l2 = 0; l2 <= 1; l2++) {
                vs_sq sq;
                assert_int_equal(vs_sq_init(&sq, KINDS[k], d), VS_OK);
                assert_int_equal(vs_sq_train(&sq, n, x), VS_OK);
                size_t cs = vs_sq_code_size(&sq);
                uint8_t *c = malloc(n * cs);
                vs_sq_encode(&sq, n, x, c);
                vs_sq_decode(&sq, n, c, dec);
                vs_sq_query pq;
                assert_int_equal(vs_sq_query_init(&pq, &sq, l2), VS_OK);
                vs_sq_query_set(&pq, q);
                vs_sq_key_fn ref = vs_sq_key_scalar_for(KINDS[k], l2);
                vs_sq_key_fn simd = vs_simd_active() >= VS_SIMD_AVX2 ? vs_sq_key_avx2_for(KINDS[k], l2) : NULL;
                for (size_t i = 0; i < n; i++) {
                    double exact = 0;
                    for (uint32_t j = 0; j < d; j++) {
                        double t = l2 ? (double)q[j] - dec[i * d + j] : (double)q[j] * dec[i * d + j];
                        exact += l2 ? t * t : t;
                    }
                    if (!l2) exact = -exact;
                    float r = ref(&pq, c + i * cs);
                    double tol = 1e-4 * (fabs(exact) + d);
                    if (fabs(r - exact) > tol) fail_msg("kind %d l2 %d d %u row %zu: ref %g decoded %g", KINDS[k], l2, d, i, r, exact);
                    if (simd) {
                        float s = simd(&pq, c + i * cs);
                        if (fabs(s - r) > tol) fail_msg("kind %d l2 %d d %u row %zu: simd %g ref %g", KINDS[k], l2, d, i, s, r);
                    }
                }
                float *keys = malloc(n * sizeof *keys);
                vs_sq_keys(&pq, c, n, keys);
                for (size_t i = 0; i < n; i++) assert_float_equal(keys[i], vs_sq_key(&pq, c + i * cs), 0);
                free(keys);
                vs_sq_query_destroy(&pq);
                free(c);
                vs_sq_destroy(&sq);
            }
        free(x);
        free(q);
        free(dec);
    }
}

static void bad_arguments_fail_cleanly(void **state)
{
    (void)state;
    vs_sq sq;
    assert_int_equal(vs_sq_init(&sq, VS_CODE_PQ, 4), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_sq_init(&sq, VS_CODE_SQ8, 0), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_sq_init(&sq, VS_CODE_SQ8, 2), VS_OK);
    assert_int_equal(vs_sq_train(&sq, 0, NULL), VS_ERR_INVALID_ARG);
    float vmin[2] = {0, NAN}, vdiff[2] = {1, 1};
    assert_int_equal(vs_sq_set_ranges(&sq, vmin, vdiff), VS_ERR_CORRUPT);
    assert_false(sq.trained);
    vs_sq_destroy(&sq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_error_bounded),
        cmocka_unit_test(out_of_range_values_clamp),
        cmocka_unit_test(half_decode_simd_equals_scalar), cmocka_unit_test(kernels_match_reference),
        cmocka_unit_test(bad_arguments_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
