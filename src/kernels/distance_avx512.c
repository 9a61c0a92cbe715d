/* AVX-512 (F+VL+BW+DQ) kernels. Compiled with -mavx512*; only reached when dispatch.c has
 * checked CPUID and that the OS saves the opmask/ZMM state (XCR0). Tails use zero-masking
 * loads, which never fault on masked-off lanes. */
#include <immintrin.h>

#include "kernels/kernels.h"

static inline __mmask16 tail_mask16(size_t r) /* r in 1..15 */
{
    return (__mmask16)((1u << r) - 1u);
}

static float avx512_dot(const float *a, const float *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= d; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < d) {
        __mmask16 m = tail_mask16(d - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float avx512_l2sq(const float *a, const float *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 t2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 t3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
        s2 = _mm512_fmadd_ps(t2, t2, s2);
        s3 = _mm512_fmadd_ps(t3, t3, s3);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __mmask16 m = tail_mask16(d - i);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(t, t, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float avx512_norm_sq(const float *a, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512 t0 = _mm512_loadu_ps(a + i), t1 = _mm512_loadu_ps(a + i + 16);
        __m512 t2 = _mm512_loadu_ps(a + i + 32), t3 = _mm512_loadu_ps(a + i + 48);
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
        s2 = _mm512_fmadd_ps(t2, t2, s2);
        s3 = _mm512_fmadd_ps(t3, t3, s3);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_loadu_ps(a + i);
        s0 = _mm512_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __m512 t = _mm512_maskz_loadu_ps(tail_mask16(d - i), a + i);
        s1 = _mm512_fmadd_ps(t, t, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* Four rows per pass share each query load (four independent FMA chains; with 16-wide
 * vectors a second column step would mostly add register pressure for d ~ 100). */
static void avx512_dot_many(const float *q, const float *x, size_t n, size_t d, float *out)
{
    size_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const float *x0 = x + r * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= d; i += 16) {
            __m512 qv = _mm512_loadu_ps(q + i);
            a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x0 + i), a0);
            a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x1 + i), a1);
            a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x2 + i), a2);
            a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x3 + i), a3);
        }
        if (i < d) {
            __mmask16 m = tail_mask16(d - i);
            __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
            a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x0 + i), a0);
            a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x1 + i), a1);
            a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x2 + i), a2);
            a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x3 + i), a3);
        }
        out[r] = _mm512_reduce_add_ps(a0);
        out[r + 1] = _mm512_reduce_add_ps(a1);
        out[r + 2] = _mm512_reduce_add_ps(a2);
        out[r + 3] = _mm512_reduce_add_ps(a3);
    }
    for (; r < n; r++)
        out[r] = avx512_dot(q, x + r * d, d);
}

static void avx512_l2sq_many(const float *q, const float *x, size_t n, size_t d, float *out)
{
    size_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const float *x0 = x + r * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= d; i += 16) {
            __m512 qv = _mm512_loadu_ps(q + i);
            __m512 t0 = _mm512_sub_ps(qv, _mm512_loadu_ps(x0 + i));
            __m512 t1 = _mm512_sub_ps(qv, _mm512_loadu_ps(x1 + i));
            __m512 t2 = _mm512_sub_ps(qv, _mm512_loadu_ps(x2 + i));
            __m512 t3 = _mm512_sub_ps(qv, _mm512_loadu_ps(x3 + i));
            a0 = _mm512_fmadd_ps(t0, t0, a0);
            a1 = _mm512_fmadd_ps(t1, t1, a1);
            a2 = _mm512_fmadd_ps(t2, t2, a2);
            a3 = _mm512_fmadd_ps(t3, t3, a3);
        }
        if (i < d) {
            /* Masked-off lanes are 0 on both sides and contribute 0. */
            __mmask16 m = tail_mask16(d - i);
            __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
            __m512 t0 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, x0 + i));
            __m512 t1 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, x1 + i));
            __m512 t2 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, x2 + i));
            __m512 t3 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, x3 + i));
            a0 = _mm512_fmadd_ps(t0, t0, a0);
            a1 = _mm512_fmadd_ps(t1, t1, a1);
            a2 = _mm512_fmadd_ps(t2, t2, a2);
            a3 = _mm512_fmadd_ps(t3, t3, a3);
        }
        out[r] = _mm512_reduce_add_ps(a0);
        out[r + 1] = _mm512_reduce_add_ps(a1);
        out[r + 2] = _mm512_reduce_add_ps(a2);
        out[r + 3] = _mm512_reduce_add_ps(a3);
    }
    for (; r < n; r++)
        out[r] = avx512_l2sq(q, x + r * d, d);
}

/* Sums of four vectors' lanes, as {sum(a), sum(b), sum(c), sum(d)}: one reduction tree for
 * all four instead of four. */
static inline __m128 hsum4x512(__m512 a, __m512 b, __m512 c, __m512 d)
{
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a8, b8), _mm256_hadd_ps(c8, d8));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* Four rows at arbitrary addresses (graph neighbours). Two accumulators per row above 32
 * dimensions keep eight FMA chains in flight, enough for both FMA ports at latency 4. */
#define ROWS4_KERNEL(name, TERM)                                                                  \
    static void name(const float *q, const float *const *x, size_t d, float *out)                \
    {                                                                                             \
        const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];                               \
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                                \
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();                                \
        __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();                                \
        __m512 b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();                                \
        size_t i = 0;                                                                             \
        for (; i + 32 <= d; i += 32) {                                                            \
            __m512 qv = _mm512_loadu_ps(q + i), qw = _mm512_loadu_ps(q + i + 16);                 \
            a0 = TERM(qv, _mm512_loadu_ps(x0 + i), a0);                                           \
            a1 = TERM(qv, _mm512_loadu_ps(x1 + i), a1);                                           \
            a2 = TERM(qv, _mm512_loadu_ps(x2 + i), a2);                                           \
            a3 = TERM(qv, _mm512_loadu_ps(x3 + i), a3);                                           \
            b0 = TERM(qw, _mm512_loadu_ps(x0 + i + 16), b0);                                      \
            b1 = TERM(qw, _mm512_loadu_ps(x1 + i + 16), b1);                                      \
            b2 = TERM(qw, _mm512_loadu_ps(x2 + i + 16), b2);                                      \
            b3 = TERM(qw, _mm512_loadu_ps(x3 + i + 16), b3);                                      \
        }                                                                                         \
        for (; i < d; i += 16) {                                                                  \
            /* Masked-off lanes are 0 on both sides and contribute 0. */                         \
            __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : tail_mask16(d - i);                   \
            __m512 qv = _mm512_maskz_loadu_ps(m, q + i);                                          \
            b0 = TERM(qv, _mm512_maskz_loadu_ps(m, x0 + i), b0);                                  \
            b1 = TERM(qv, _mm512_maskz_loadu_ps(m, x1 + i), b1);                                  \
            b2 = TERM(qv, _mm512_maskz_loadu_ps(m, x2 + i), b2);                                  \
            b3 = TERM(qv, _mm512_maskz_loadu_ps(m, x3 + i), b3);                                  \
        }                                                                                         \
        _mm_storeu_ps(out, hsum4x512(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1),                \
                                     _mm512_add_ps(a2, b2), _mm512_add_ps(a3, b3)));              \
    }

static inline __m512 term_dot(__m512 q, __m512 x, __m512 acc) { return _mm512_fmadd_ps(q, x, acc); }
static inline __m512 term_l2(__m512 q, __m512 x, __m512 acc)
{
    __m512 t = _mm512_sub_ps(q, x);
    return _mm512_fmadd_ps(t, t, acc);
}

ROWS4_KERNEL(avx512_dot4, term_dot)
ROWS4_KERNEL(avx512_l2sq4, term_l2)

/* Emits base + each set bit of m, lowest first. */
#define EMIT_BITS64(m, base)                                                                  \
    do {                                                                                      \
        while (m) {                                                                           \
            pos[cnt++] = (uint32_t)((base) + (size_t)__builtin_ctzll(m));                     \
            m &= m - 1;                                                                       \
        }                                                                                     \
    } while (0)

/* Most elements fail, so 64 are tested per step and bits are walked only when one passes.
 * The masked tail adds s + bias with the same single rounding as the scalar reference. */
static size_t avx512_select_lt(const float *s, const float *bias, size_t n, float thr,
                               uint32_t *pos)
{
    const __m512 t = _mm512_set1_ps(thr);
    size_t cnt = 0, i = 0;
    if (bias) {
        for (; i + 64 <= n; i += 64) {
            __m512 v0 = _mm512_add_ps(_mm512_loadu_ps(s + i), _mm512_loadu_ps(bias + i));
            __m512 v1 = _mm512_add_ps(_mm512_loadu_ps(s + i + 16), _mm512_loadu_ps(bias + i + 16));
            __m512 v2 = _mm512_add_ps(_mm512_loadu_ps(s + i + 32), _mm512_loadu_ps(bias + i + 32));
            __m512 v3 = _mm512_add_ps(_mm512_loadu_ps(s + i + 48), _mm512_loadu_ps(bias + i + 48));
            uint64_t m = (uint64_t)_mm512_cmp_ps_mask(v0, t, _CMP_LT_OQ) |
                         ((uint64_t)_mm512_cmp_ps_mask(v1, t, _CMP_LT_OQ) << 16) |
                         ((uint64_t)_mm512_cmp_ps_mask(v2, t, _CMP_LT_OQ) << 32) |
                         ((uint64_t)_mm512_cmp_ps_mask(v3, t, _CMP_LT_OQ) << 48);
            EMIT_BITS64(m, i);
        }
        for (; i < n; i += 16) {
            __mmask16 lm = n - i >= 16 ? (__mmask16)0xffff : tail_mask16(n - i);
            __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(lm, s + i),
                                     _mm512_maskz_loadu_ps(lm, bias + i));
            uint64_t m = _mm512_mask_cmp_ps_mask(lm, v, t, _CMP_LT_OQ);
            EMIT_BITS64(m, i);
        }
    } else {
        for (; i + 64 <= n; i += 64) {
            uint64_t m =
                (uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(s + i), t, _CMP_LT_OQ) |
                ((uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(s + i + 16), t, _CMP_LT_OQ) << 16) |
                ((uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(s + i + 32), t, _CMP_LT_OQ) << 32) |
                ((uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(s + i + 48), t, _CMP_LT_OQ) << 48);
            EMIT_BITS64(m, i);
        }
        for (; i < n; i += 16) {
            __mmask16 lm = n - i >= 16 ? (__mmask16)0xffff : tail_mask16(n - i);
            uint64_t m = _mm512_mask_cmp_ps_mask(lm, _mm512_maskz_loadu_ps(lm, s + i), t,
                                                 _CMP_LT_OQ);
            EMIT_BITS64(m, i);
        }
    }
    return cnt;
}

const vs_kernel_table vs_kernels_avx512 = {
    .l2sq = avx512_l2sq,
    .dot = avx512_dot,
    .norm_sq = avx512_norm_sq,
    .dot_many = avx512_dot_many,
    .l2sq_many = avx512_l2sq_many,
    .l2sq4 = avx512_l2sq4,
    .dot4 = avx512_dot4,
    .select_lt = avx512_select_lt,
};
