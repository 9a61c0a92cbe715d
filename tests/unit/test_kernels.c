/* Distance kernels: every SIMD level this CPU has is compared with the scalar reference, and
 * the scalar reference with double-precision sums. Vectors are placed so their last element
 * ends right before a PROT_NONE page, so any over-read in a tail faults. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "vecscale.h"

#define MAX_D 1024
#define MAX_ROWS 11

/* ---- deterministic data ------------------------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t s) { rng_state = s ? s : 1; }

static uint64_t rng_next(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static float rng_unit(void) /* uniform in [-1, 1] */
{
    return (float)((double)(rng_next() >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* kind 0: [-1, 1]; kind 1: [-1000, 1000]; kind 2: magnitudes spread over 2^-10 .. 2^10. */
static void fill(float *v, size_t n, int kind)
{
    for (size_t i = 0; i < n; i++) {
        float u = rng_unit();
        if (kind == 1)
            u *= 1000.0f;
        else if (kind == 2)
            u = ldexpf(u, (int)(rng_next() % 21) - 10);
        v[i] = u;
    }
}

/* ---- guarded buffers ---------------------------------------------------------------- */

typedef struct {
    void *map;
    size_t map_len;
} guard_buf;

/* Returns room for `bytes` bytes that end exactly where an inaccessible page starts. */
static void *guard_alloc(guard_buf *g, size_t bytes)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t page = (size_t)pg;
    size_t data_pages = (bytes + page - 1) / page + 1;
    g->map_len = (data_pages + 1) * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    char *guard = (char *)g->map + data_pages * page;
    assert_int_equal(mprotect(guard, page, PROT_NONE), 0);
    return guard - bytes;
}

static void guard_free(guard_buf *g) { munmap(g->map, g->map_len); }

/* ---- comparisons -------------------------------------------------------------------- */

/* Kernels sum in different orders, so they may differ by rounding: accept a relative error
 * of 1e-5 of the sum of the absolute values of the terms. */
static double worst_rel_err; /* reported, to show how much of the tolerance is used */

static void check_close(float got, float ref, double scale, const char *what, const char *lvl,
                        size_t d, size_t row, int kind)
{
    double tol = 1e-5 * scale + 1e-30;
    double err = fabs((double)got - (double)ref);
    if (scale > 0 && err / scale > worst_rel_err)
        worst_rel_err = err / scale;
    if (!(err <= tol))
        fail_msg("%s %s d=%zu row=%zu kind=%d: got %.9g, scalar %.9g (err %.3g > tol %.3g)",
                 lvl, what, d, row, kind, (double)got, (double)ref, err, tol);
}

static double abs_dot_scale(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += fabs((double)a[i] * (double)b[i]);
    return s;
}

static double l2_scale(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++) {
        double t = (double)a[i] - (double)b[i];
        s += t * t;
    }
    return s;
}

static float *align64(float *p)
{
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* Compares all distance kernels of `k` with the scalar table for d = 1..MAX_D in three
 * layouts: 64-byte aligned, one float past that (unaligned), and ending exactly at a guard
 * page (so a tail that reads one float too many faults). */
static void compare_distances(const vs_kernel_table *k, const char *lvl)
{
    const vs_kernel_table *ref = &vs_kernels_scalar;
    guard_buf ga, gb, gx;
    const size_t pad = 32; /* floats of room for the aligned layouts */
    const size_t xlen = (size_t)MAX_ROWS * MAX_D;
    float *abuf = guard_alloc(&ga, (MAX_D + pad) * sizeof(float));
    float *bbuf = guard_alloc(&gb, (MAX_D + pad) * sizeof(float));
    float *xbuf = guard_alloc(&gx, (xlen + pad) * sizeof(float));
    float out[MAX_ROWS], out_ref[MAX_ROWS];

    rng_seed(12345);
    for (int kind = 0; kind < 3; kind++) {
        for (size_t d = 1; d <= MAX_D; d++) {
            /* Row counts 0..MAX_ROWS-1 cover the 4-row blocks and every remainder. */
            const size_t n = d % MAX_ROWS;
            for (int layout = 0; layout < 3; layout++) {
                float *a, *b, *x;
                if (layout == 2) {
                    a = abuf + MAX_D + pad - d;
                    b = bbuf + MAX_D + pad - d;
                    x = xbuf + xlen + pad - n * d;
                } else {
                    a = align64(abuf) + layout;
                    b = align64(bbuf) + layout;
                    x = align64(xbuf) + layout;
                }
                fill(a, d, kind);
                fill(b, d, kind);

                float r = ref->dot(a, b, d), g = k->dot(a, b, d);
                check_close(g, r, abs_dot_scale(a, b, d), "dot", lvl, d, 0, kind);
                r = ref->l2sq(a, b, d);
                g = k->l2sq(a, b, d);
                check_close(g, r, l2_scale(a, b, d), "l2sq", lvl, d, 0, kind);
                r = ref->norm_sq(a, d);
                g = k->norm_sq(a, d);
                check_close(g, r, abs_dot_scale(a, a, d), "norm_sq", lvl, d, 0, kind);

                fill(x, n * d, kind);
                for (size_t i = 0; i < MAX_ROWS; i++)
                    out[i] = out_ref[i] = NAN;
                k->dot_many(a, x, n, d, out);
                ref->dot_many(a, x, n, d, out_ref);
                for (size_t i = 0; i < n; i++)
                    check_close(out[i], out_ref[i], abs_dot_scale(a, x + i * d, d), "dot_many",
                                lvl, d, i, kind);
                for (size_t i = n; i < MAX_ROWS; i++)
                    if (!isnan(out[i]))
                        fail_msg("%s dot_many d=%zu n=%zu wrote out[%zu]", lvl, d, n, i);
                k->l2sq_many(a, x, n, d, out);
                ref->l2sq_many(a, x, n, d, out_ref);
                for (size_t i = 0; i < n; i++)
                    check_close(out[i], out_ref[i], l2_scale(a, x + i * d, d), "l2sq_many", lvl,
                                d, i, kind);
                for (size_t i = n; i < MAX_ROWS; i++)
                    if (!isnan(out[i]))
                        fail_msg("%s l2sq_many d=%zu n=%zu wrote out[%zu]", lvl, d, n, i);
                /* Four rows anywhere: the query `a`, rows b and three of x's (in this
                 * layout the last one ends at the guard page when n >= 3). */
                if (n >= 3) {
                    const float *rows[4] = {b, x, x + (n - 2) * d, x + (n - 1) * d};
                    float o4[5] = {NAN, NAN, NAN, NAN, NAN};
                    k->dot4(a, rows, d, o4);
                    for (int j = 0; j < 4; j++)
                        check_close(o4[j], ref->dot(a, rows[j], d), abs_dot_scale(a, rows[j], d), "dot4", lvl, d,
                                    (size_t)j, kind);
                    k->l2sq4(a, rows, d, o4);
                    for (int j = 0; j < 4; j++)
                        check_close(o4[j], ref->l2sq(a, rows[j], d), l2_scale(a, rows[j], d), "l2sq4", lvl, d,
                                    (size_t)j, kind);
                    if (!isnan(o4[4])) fail_msg("%s dot4/l2sq4 d=%zu wrote out[4]", lvl, d);
                }
            }
        }
    }
    /* A large row count with a dimension that is not a multiple of any vector width. */
    {
        const size_t d = 100, n = 103;
        float *q = malloc(d * sizeof(float)), *x = malloc(n * d * sizeof(float));
        float *o = malloc(n * sizeof(float)), *o_ref = malloc(n * sizeof(float));
        assert_non_null(q);
        assert_non_null(x);
        assert_non_null(o);
        assert_non_null(o_ref);
        fill(q, d, 0);
        fill(x, n * d, 0);
        k->dot_many(q, x, n, d, o);
        ref->dot_many(q, x, n, d, o_ref);
        for (size_t i = 0; i < n; i++)
            check_close(o[i], o_ref[i], abs_dot_scale(q, x + i * d, d), "dot_many", lvl, d, i, 0);
        k->l2sq_many(q, x, n, d, o);
        ref->l2sq_many(q, x, n, d, o_ref);
        for (size_t i = 0; i < n; i++)
            check_close(o[i], o_ref[i], l2_scale(q, x + i * d, d), "l2sq_many", lvl, d, i, 0);
        free(q);
        free(x);
        free(o);
        free(o_ref);
    }
    guard_free(&ga);
    guard_free(&gb);
    guard_free(&gx);
}

/* ---- select_lt ---------------------------------------------------------------------- */

enum { BIAS_NONE, BIAS_FINITE, BIAS_WITH_INF };

static void check_select(const vs_kernel_table *k, const char *lvl, size_t n, int bias_kind,
                         float thr, int with_nan, int mis)
{
    /* s and bias end at a guard page (mis = 0) or one float before it, which also shifts
     * their alignment; pos has room for exactly n entries before its guard page. */
    guard_buf gs, gbias, gp, gpr;
    float *s = (float *)guard_alloc(&gs, (n + 1) * sizeof(float)) + 1 - mis;
    float *bias = (float *)guard_alloc(&gbias, (n + 1) * sizeof(float)) + 1 - mis;
    uint32_t *pos = guard_alloc(&gp, n * sizeof(uint32_t));
    uint32_t *pos_ref = guard_alloc(&gpr, n * sizeof(uint32_t));

    for (size_t i = 0; i < n; i++) {
        for (;;) {
            s[i] = rng_unit();
            if (bias_kind == BIAS_NONE)
                bias[i] = 0.0f;
            else if (bias_kind == BIAS_WITH_INF && rng_next() % 5 == 0)
                bias[i] = INFINITY;
            else
                bias[i] = 0.5f * (rng_unit() + 1.0f);
            float v = s[i] + bias[i];
            if (isinf(v) || isinf(thr) || fabsf(v - thr) > 1e-6f)
                break;
        }
        if (with_nan && rng_next() % 17 == 0)
            s[i] = NAN;
    }
    const float *bp = bias_kind == BIAS_NONE ? NULL : bias;
    memset(pos, 0xAB, n * sizeof(uint32_t));
    memset(pos_ref, 0xCD, n * sizeof(uint32_t));
    size_t c_ref = vs_kernels_scalar.select_lt(s, bp, n, thr, pos_ref);
    size_t c = k->select_lt(s, bp, n, thr, pos);
    if (c != c_ref)
        fail_msg("%s select_lt n=%zu bias=%d thr=%g nan=%d mis=%d: count %zu, scalar %zu", lvl, n,
                 bias_kind, (double)thr, with_nan, mis, c, c_ref);
    for (size_t i = 0; i < c; i++)
        if (pos[i] != pos_ref[i])
            fail_msg("%s select_lt n=%zu bias=%d thr=%g: pos[%zu] = %u, scalar %u", lvl, n,
                     bias_kind, (double)thr, i, pos[i], pos_ref[i]);
    guard_free(&gs);
    guard_free(&gbias);
    guard_free(&gp);
    guard_free(&gpr);
}

static void compare_select(const vs_kernel_table *k, const char *lvl)
{
    static const float thrs[] = {-3.0f, -0.98f, 0.0f, 0.3f, 1.5f, 5.0f, INFINITY};
    rng_seed(777);
    for (size_t n = 0; n <= 100; n++)
        for (int b = 0; b < 3; b++)
            for (size_t t = 0; t < sizeof thrs / sizeof thrs[0]; t++)
                for (int mis = 0; mis < 2; mis++)
                    check_select(k, lvl, n, b, thrs[t], (int)(n % 3 == 0), mis);
    static const size_t big[] = {1000, 4095, 4096, 4097};
    for (size_t j = 0; j < sizeof big / sizeof big[0]; j++)
        for (int b = 0; b < 3; b++)
            for (size_t t = 0; t < sizeof thrs / sizeof thrs[0]; t++)
                for (int mis = 0; mis < 2; mis++)
                    check_select(k, lvl, big[j], b, thrs[t], 0, mis);
}

/* ---- per-level tests ---------------------------------------------------------------- */

static void run_level_distances(vs_simd_level level)
{
    const vs_kernel_table *k = vs_kernels_for(level);
    if (!k) {
        print_message("[  SKIPPED ] %s not supported by this CPU/OS\n", vs_simd_name(level));
        skip();
    }
    worst_rel_err = 0;
    compare_distances(k, vs_simd_name(level));
    print_message("%s: worst error / scale = %.3g (tolerance 1e-5)\n", vs_simd_name(level),
                  worst_rel_err);
}

static void run_level_select(vs_simd_level level)
{
    const vs_kernel_table *k = vs_kernels_for(level);
    if (!k) {
        print_message("[  SKIPPED ] %s not supported by this CPU/OS\n", vs_simd_name(level));
        skip();
    }
    compare_select(k, vs_simd_name(level));
}

static void test_avx2_distances_vs_scalar(void **state)
{
    (void)state;
    run_level_distances(VS_SIMD_AVX2);
}

static void test_avx2_select_lt_vs_scalar(void **state)
{
    (void)state;
    run_level_select(VS_SIMD_AVX2);
}

static void test_avx512_distances_vs_scalar(void **state)
{
    (void)state;
    run_level_distances(VS_SIMD_AVX512);
}

static void test_avx512_select_lt_vs_scalar(void **state)
{
    (void)state;
    run_level_select(VS_SIMD_AVX512);
}

/* ---- the reference itself ----------------------------------------------------------- */

static void test_scalar_known_values(void **state)
{
    (void)state;
    const vs_kernel_table *k = &vs_kernels_scalar;
    const float a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
    assert_float_equal(k->dot(a, b, 3), 32.0f, 0.0f);
    assert_float_equal(k->l2sq(a, b, 3), 27.0f, 0.0f);
    assert_float_equal(k->norm_sq(a, 3), 14.0f, 0.0f);
    assert_float_equal(k->dot(a, b, 0), 0.0f, 0.0f);

    const float x[6] = {1, 0, 0, 0, 1, 1}; /* rows {1,0,0}, {0,1,1} */
    float out[2];
    k->dot_many(a, x, 2, 3, out);
    assert_float_equal(out[0], 1.0f, 0.0f);
    assert_float_equal(out[1], 5.0f, 0.0f);
    k->l2sq_many(a, x, 2, 3, out);
    assert_float_equal(out[0], 13.0f, 0.0f);
    assert_float_equal(out[1], 6.0f, 0.0f);

    const float s[5] = {0.5f, -1.0f, 2.0f, 0.0f, INFINITY};
    const float bias[5] = {0.0f, INFINITY, -3.0f, 0.0f, 0.0f};
    uint32_t pos[5] = {99, 99, 99, 99, 99};
    assert_int_equal(k->select_lt(s, bias, 5, 0.25f, pos), 2);
    assert_int_equal(pos[0], 2);
    assert_int_equal(pos[1], 3);
    assert_int_equal(k->select_lt(s, NULL, 5, 0.25f, pos), 2);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 3);
    /* inf < inf is false: +inf bias and +inf score never pass, even with thr = +inf. */
    assert_int_equal(k->select_lt(s, bias, 5, INFINITY, pos), 3);
    assert_int_equal(pos[0], 0);
    assert_int_equal(pos[1], 2);
    assert_int_equal(pos[2], 3);
}

static void test_scalar_vs_double(void **state)
{
    (void)state;
    float a[MAX_D], b[MAX_D];
    rng_seed(99);
    for (size_t d = 1; d <= MAX_D; d += 7) {
        fill(a, d, 0);
        fill(b, d, 0);
        double dot = 0, l2 = 0, nrm = 0;
        for (size_t i = 0; i < d; i++) {
            dot += (double)a[i] * b[i];
            l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
            nrm += (double)a[i] * a[i];
        }
        check_close(vs_kernels_scalar.dot(a, b, d), (float)dot, abs_dot_scale(a, b, d), "dot",
                    "scalar-vs-double", d, 0, 0);
        check_close(vs_kernels_scalar.l2sq(a, b, d), (float)l2, l2_scale(a, b, d), "l2sq",
                    "scalar-vs-double", d, 0, 0);
        check_close(vs_kernels_scalar.norm_sq(a, d), (float)nrm, abs_dot_scale(a, a, d),
                    "norm_sq", "scalar-vs-double", d, 0, 0);
    }
}

/* ---- dispatch and public API -------------------------------------------------------- */

static void test_simd_names(void **state)
{
    (void)state;
    assert_string_equal(vs_simd_name(VS_SIMD_SCALAR), "scalar");
    assert_string_equal(vs_simd_name(VS_SIMD_AVX2), "avx2");
    assert_string_equal(vs_simd_name(VS_SIMD_AVX512), "avx512");
    assert_non_null(vs_simd_name((vs_simd_level)42));
}

static void test_kernels_for(void **state)
{
    (void)state;
    vs_simd_level det = vs_simd_detected();
    print_message("detected SIMD level: %s, active: %s\n", vs_simd_name(det),
                  vs_simd_name(vs_simd_active()));
    assert_ptr_equal(vs_kernels_for(VS_SIMD_SCALAR), &vs_kernels_scalar);
    assert_ptr_equal(vs_kernels_for(VS_SIMD_AVX2),
                     det >= VS_SIMD_AVX2 ? &vs_kernels_avx2 : NULL);
    assert_ptr_equal(vs_kernels_for(VS_SIMD_AVX512),
                     det >= VS_SIMD_AVX512 ? &vs_kernels_avx512 : NULL);
    assert_null(vs_kernels_for((vs_simd_level)3));
    assert_null(vs_kernels_for((vs_simd_level)-1));
    assert_non_null(vs_kernels());
    for (int l = 0; l < 3; l++) {
        const vs_kernel_table *t = vs_kernels_for((vs_simd_level)l);
        if (!t)
            continue;
        assert_non_null(t->l2sq);
        assert_non_null(t->dot);
        assert_non_null(t->norm_sq);
        assert_non_null(t->dot_many);
        assert_non_null(t->l2sq_many);
        assert_non_null(t->select_lt);
        assert_non_null(t->dot4);
        assert_non_null(t->l2sq4);
    }
}

static void test_simd_force(void **state)
{
    (void)state;
    vs_simd_level start = vs_simd_active(), det = vs_simd_detected();
    assert_true(start <= det);
    for (int l = 0; l <= (int)det; l++) {
        assert_int_equal(vs_simd_force((vs_simd_level)l), VS_OK);
        assert_int_equal(vs_simd_active(), l);
        assert_ptr_equal(vs_kernels(), vs_kernels_for((vs_simd_level)l));
    }
    assert_int_equal(vs_simd_force(VS_SIMD_SCALAR), VS_OK);
    for (int l = (int)det + 1; l <= VS_SIMD_AVX512; l++) {
        assert_int_equal(vs_simd_force((vs_simd_level)l), VS_ERR_UNSUPPORTED);
        assert_non_null(strstr(vs_last_error(), vs_simd_name((vs_simd_level)l)));
        assert_int_equal(vs_simd_active(), VS_SIMD_SCALAR); /* unchanged by the failure */
    }
    assert_int_equal(vs_simd_force((vs_simd_level)3), VS_ERR_INVALID_ARG);
    assert_true(strlen(vs_last_error()) > 0);
    assert_int_equal(vs_simd_force((vs_simd_level)-1), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_simd_active(), VS_SIMD_SCALAR);
    assert_int_equal(vs_simd_force(start), VS_OK);
}

static void test_public_wrappers(void **state)
{
    (void)state;
    vs_simd_level start = vs_simd_active();
    float a[37], b[37];
    rng_seed(4242);
    fill(a, 37, 0);
    fill(b, 37, 0);
    for (int l = 0; l <= (int)vs_simd_detected(); l++) {
        const vs_kernel_table *k = vs_kernels_for((vs_simd_level)l);
        assert_int_equal(vs_simd_force((vs_simd_level)l), VS_OK);
        /* Same function, same inputs: bit-identical results. */
        assert_true(vs_l2sq(a, b, 37) == k->l2sq(a, b, 37));
        assert_true(vs_dot(a, b, 37) == k->dot(a, b, 37));
        assert_true(vs_norm_sq(a, 37) == k->norm_sq(a, 37));
        assert_float_equal(vs_dot(a, b, 37), vs_kernels_scalar.dot(a, b, 37),
                           1e-5f * (float)abs_dot_scale(a, b, 37));
        const float p[2] = {3, 4}, o[2] = {0, 0};
        assert_float_equal(vs_l2sq(p, o, 2), 25.0f, 0.0f);
        assert_float_equal(vs_dot(p, p, 2), 25.0f, 0.0f);
        assert_float_equal(vs_norm_sq(p, 2), 25.0f, 0.0f);
        assert_float_equal(vs_norm_sq(p, 0), 0.0f, 0.0f);
    }
    assert_int_equal(vs_simd_force(start), VS_OK);
}

/* VECSCALE_SIMD is read once, so each value is checked in a fresh process (this binary,
 * re-executed with --print-simd). */
static const char *self_exe;

static void run_with_env(const char *value, char *buf, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        setenv("VECSCALE_SIMD", value, 1);
        execl(self_exe, self_exe, "--print-simd", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(fds[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_env_variable(void **state)
{
    (void)state;
    vs_simd_level det = vs_simd_detected();
    static const struct {
        const char *value;
        int want;
    } cases[] = {{"scalar", VS_SIMD_SCALAR}, {"avx2", VS_SIMD_AVX2},
                 {"AVX512", VS_SIMD_AVX512}, {"avx512", VS_SIMD_AVX512},
                 {"bogus", VS_SIMD_AVX512},  {"", VS_SIMD_AVX512}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64], expect[64];
        int want = cases[i].want < (int)det ? cases[i].want : (int)det;
        run_with_env(cases[i].value, buf, sizeof buf);
        snprintf(expect, sizeof expect, "%s\n", vs_simd_name((vs_simd_level)want));
        if (strcmp(buf, expect) != 0)
            fail_msg("VECSCALE_SIMD=%s: child reports '%s', expected '%s'", cases[i].value, buf,
                     expect);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-simd") == 0) {
        /* Use the kernels first so the level comes from lazy initialisation. */
        const float v[3] = {1, 2, 2};
        if (vs_norm_sq(v, 3) != 9.0f)
            return 1;
        printf("%s\n", vs_simd_name(vs_simd_active()));
        return 0;
    }
    /* Resolved path rather than "/proc/self/exe" itself, which valgrind refuses to exec. */
    static char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        self_exe = exe;
    } else {
        self_exe = argv[0];
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar_known_values),
        cmocka_unit_test(test_scalar_vs_double),
        cmocka_unit_test(test_simd_names),
        cmocka_unit_test(test_kernels_for),
        cmocka_unit_test(test_simd_force),
        cmocka_unit_test(test_public_wrappers),
        cmocka_unit_test(test_env_variable),
        cmocka_unit_test(test_avx2_distances_vs_scalar),
        cmocka_unit_test(test_avx2_select_lt_vs_scalar),
        cmocka_unit_test(test_avx512_distances_vs_scalar),
        cmocka_unit_test(test_avx512_select_lt_vs_scalar),
    };
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
