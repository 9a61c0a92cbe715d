/* AVX2+FMA kernels. Compiled with -mavx2 -mfma; only reached when dispatch.c has checked
 * CPUID and XGETBV. Tails use vmaskmovps, which never touches masked-off lanes, so a vector
 * may end right before an unmapped page. */
#include <immintrin.h>

#include "kernels/kernels.h"

/* Sliding window: loading 8 ints at tail_mask_tbl + 8 - r enables exactly the first r lanes. */
static const int32_t tail_mask_tbl[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                          0,  0,  0,  0,  0,  0,  0,  0};

static inline __m256i tail_mask(size_t r)
{
    return _mm256_loadu_si256((const __m256i *)(tail_mask_tbl + 8 - r));
}

static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Horizontal sums of four vectors, returned as {sum(a), sum(b), sum(c), sum(d)}. */
static inline __m128 hsum4x256(__m256 a, __m256 b, __m256 c, __m256 d)
{
    __m256 ab = _mm256_hadd_ps(a, b);
    __m256 cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

static float avx2_dot(const float *a, const float *b, size_t d)
{
    /* Four accumulators hide the FMA latency (4 cycles, 2 ports). */
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= d; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < d) {
        __m256i m = tail_mask(d - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static float avx2_l2sq(const float *a, const float *b, size_t d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 t2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 t3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
        s2 = _mm256_fmadd_ps(t2, t2, s2);
        s3 = _mm256_fmadd_ps(t3, t3, s3);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __m256i m = tail_mask(d - i);
        __m256 t = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
        s1 = _mm256_fmadd_ps(t, t, s1);
    }
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static float avx2_norm_sq(const float *a, size_t d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m256 t0 = _mm256_loadu_ps(a + i), t1 = _mm256_loadu_ps(a + i + 8);
        __m256 t2 = _mm256_loadu_ps(a + i + 16), t3 = _mm256_loadu_ps(a + i + 24);
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
        s2 = _mm256_fmadd_ps(t2, t2, s2);
        s3 = _mm256_fmadd_ps(t3, t3, s3);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t = _mm256_loadu_ps(a + i);
        s0 = _mm256_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __m256 t = _mm256_maskload_ps(a + i, tail_mask(d - i));
        s1 = _mm256_fmadd_ps(t, t, s1);
    }
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* Four rows per pass share each query load; two column steps per iteration give eight
 * independent FMA chains. Rows are contiguous, so the hardware prefetcher streams them; the
 * explicit prefetch only warms the first line of the next block. */
static void avx2_dot_many(const float *q, const float *x, size_t n, size_t d, float *out)
{
    size_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const float *x0 = x + r * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        if (r + 8 <= n)
            _mm_prefetch((const char *)(x3 + d), _MM_HINT_T0);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= d; i += 16) {
            __m256 qa = _mm256_loadu_ps(q + i), qb = _mm256_loadu_ps(q + i + 8);
            a0 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(x0 + i), a0);
            a1 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(x1 + i), a1);
            a2 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(x2 + i), a2);
            a3 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(x3 + i), a3);
            b0 = _mm256_fmadd_ps(qb, _mm256_loadu_ps(x0 + i + 8), b0);
            b1 = _mm256_fmadd_ps(qb, _mm256_loadu_ps(x1 + i + 8), b1);
            b2 = _mm256_fmadd_ps(qb, _mm256_loadu_ps(x2 + i + 8), b2);
            b3 = _mm256_fmadd_ps(qb, _mm256_loadu_ps(x3 + i + 8), b3);
        }
        if (i + 8 <= d) {
            __m256 qa = _mm256_loadu_ps(q + i);
            a0 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(x0 + i), a0);
            a1 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(x1 + i), a1);
            a2 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(x2 + i), a2);
            a3 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(x3 + i), a3);
            i += 8;
        }
        if (i < d) {
            __m256i m = tail_mask(d - i);
            __m256 qa = _mm256_maskload_ps(q + i, m);
            b0 = _mm256_fmadd_ps(qa, _mm256_maskload_ps(x0 + i, m), b0);
            b1 = _mm256_fmadd_ps(qa, _mm256_maskload_ps(x1 + i, m), b1);
            b2 = _mm256_fmadd_ps(qa, _mm256_maskload_ps(x2 + i, m), b2);
            b3 = _mm256_fmadd_ps(qa, _mm256_maskload_ps(x3 + i, m), b3);
        }
        __m128 s = hsum4x256(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1),
                             _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3));
        _mm_storeu_ps(out + r, s);
    }
    for (; r < n; r++)
        out[r] = avx2_dot(q, x + r * d, d);
}

static void avx2_l2sq_many(const float *q, const float *x, size_t n, size_t d, float *out)
{
    size_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const float *x0 = x + r * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        if (r + 8 <= n)
            _mm_prefetch((const char *)(x3 + d), _MM_HINT_T0);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= d; i += 16) {
            __m256 qa = _mm256_loadu_ps(q + i), qb = _mm256_loadu_ps(q + i + 8);
            __m256 t0 = _mm256_sub_ps(qa, _mm256_loadu_ps(x0 + i));
            __m256 t1 = _mm256_sub_ps(qa, _mm256_loadu_ps(x1 + i));
            __m256 t2 = _mm256_sub_ps(qa, _mm256_loadu_ps(x2 + i));
            __m256 t3 = _mm256_sub_ps(qa, _mm256_loadu_ps(x3 + i));
            a0 = _mm256_fmadd_ps(t0, t0, a0);
            a1 = _mm256_fmadd_ps(t1, t1, a1);
            a2 = _mm256_fmadd_ps(t2, t2, a2);
            a3 = _mm256_fmadd_ps(t3, t3, a3);
            t0 = _mm256_sub_ps(qb, _mm256_loadu_ps(x0 + i + 8));
            t1 = _mm256_sub_ps(qb, _mm256_loadu_ps(x1 + i + 8));
            t2 = _mm256_sub_ps(qb, _mm256_loadu_ps(x2 + i + 8));
            t3 = _mm256_sub_ps(qb, _mm256_loadu_ps(x3 + i + 8));
            b0 = _mm256_fmadd_ps(t0, t0, b0);
            b1 = _mm256_fmadd_ps(t1, t1, b1);
            b2 = _mm256_fmadd_ps(t2, t2, b2);
            b3 = _mm256_fmadd_ps(t3, t3, b3);
        }
        if (i + 8 <= d) {
            __m256 qa = _mm256_loadu_ps(q + i);
            __m256 t0 = _mm256_sub_ps(qa, _mm256_loadu_ps(x0 + i));
            __m256 t1 = _mm256_sub_ps(qa, _mm256_loadu_ps(x1 + i));
            __m256 t2 = _mm256_sub_ps(qa, _mm256_loadu_ps(x2 + i));
            __m256 t3 = _mm256_sub_ps(qa, _mm256_loadu_ps(x3 + i));
            a0 = _mm256_fmadd_ps(t0, t0, a0);
            a1 = _mm256_fmadd_ps(t1, t1, a1);
            a2 = _mm256_fmadd_ps(t2, t2, a2);
            a3 = _mm256_fmadd_ps(t3, t3, a3);
            i += 8;
        }
        if (i < d) {
            /* Masked-off lanes load 0 on both sides, so they add 0 to the sum. */
            __m256i m = tail_mask(d - i);
            __m256 qa = _mm256_maskload_ps(q + i, m);
            __m256 t0 = _mm256_sub_ps(qa, _mm256_maskload_ps(x0 + i, m));
            __m256 t1 = _mm256_sub_ps(qa, _mm256_maskload_ps(x1 + i, m));
            __m256 t2 = _mm256_sub_ps(qa, _mm256_maskload_ps(x2 + i, m));
            __m256 t3 = _mm256_sub_ps(qa, _mm256_maskload_ps(x3 + i, m));
            b0 = _mm256_fmadd_ps(t0, t0, b0);
            b1 = _mm256_fmadd_ps(t1, t1, b1);
            b2 = _mm256_fmadd_ps(t2, t2, b2);
            b3 = _mm256_fmadd_ps(t3, t3, b3);
        }
        __m128 s = hsum4x256(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1),
                             _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3));
        _mm_storeu_ps(out + r, s);
    }
    for (; r < n; r++)
        out[r] = avx2_l2sq(q, x + r * d, d);
}

/* compress_lut[m] packs, one byte each from the lowest, the indices of the set bits of m. */
static const uint64_t compress_lut[256] = {
    0x0000000000000000ull, 0x0000000000000000ull, 0x0000000000000001ull, 0x0000000000000100ull,
    0x0000000000000002ull, 0x0000000000000200ull, 0x0000000000000201ull, 0x0000000000020100ull,
    0x0000000000000003ull, 0x0000000000000300ull, 0x0000000000000301ull, 0x0000000000030100ull,
    0x0000000000000302ull, 0x0000000000030200ull, 0x0000000000030201ull, 0x0000000003020100ull,
    0x0000000000000004ull, 0x0000000000000400ull, 0x0000000000000401ull, 0x0000000000040100ull,
    0x0000000000000402ull, 0x0000000000040200ull, 0x0000000000040201ull, 0x0000000004020100ull,
    0x0000000000000403ull, 0x0000000000040300ull, 0x0000000000040301ull, 0x0000000004030100ull,
    0x0000000000040302ull, 0x0000000004030200ull, 0x0000000004030201ull, 0x0000000403020100ull,
    0x0000000000000005ull, 0x0000000000000500ull, 0x0000000000000501ull, 0x0000000000050100ull,
    0x0000000000000502ull, 0x0000000000050200ull, 0x0000000000050201ull, 0x0000000005020100ull,
    0x0000000000000503ull, 0x0000000000050300ull, 0x0000000000050301ull, 0x0000000005030100ull,
    0x0000000000050302ull, 0x0000000005030200ull, 0x0000000005030201ull, 0x0000000503020100ull,
    0x0000000000000504ull, 0x0000000000050400ull, 0x0000000000050401ull, 0x0000000005040100ull,
    0x0000000000050402ull, 0x0000000005040200ull, 0x0000000005040201ull, 0x0000000504020100ull,
    0x0000000000050403ull, 0x0000000005040300ull, 0x0000000005040301ull, 0x0000000504030100ull,
    0x0000000005040302ull, 0x0000000504030200ull, 0x0000000504030201ull, 0x0000050403020100ull,
    0x0000000000000006ull, 0x0000000000000600ull, 0x0000000000000601ull, 0x0000000000060100ull,
    0x0000000000000602ull, 0x0000000000060200ull, 0x0000000000060201ull, 0x0000000006020100ull,
    0x0000000000000603ull, 0x0000000000060300ull, 0x0000000000060301ull, 0x0000000006030100ull,
    0x0000000000060302ull, 0x0000000006030200ull, 0x0000000006030201ull, 0x0000000603020100ull,
    0x0000000000000604ull, 0x0000000000060400ull, 0x0000000000060401ull, 0x0000000006040100ull,
    0x0000000000060402ull, 0x0000000006040200ull, 0x0000000006040201ull, 0x0000000604020100ull,
    0x0000000000060403ull, 0x0000000006040300ull, 0x0000000006040301ull, 0x0000000604030100ull,
    0x0000000006040302ull, 0x0000000604030200ull, 0x0000000604030201ull, 0x0000060403020100ull,
    0x0000000000000605ull, 0x0000000000060500ull, 0x0000000000060501ull, 0x0000000006050100ull,
    0x0000000000060502ull, 0x0000000006050200ull, 0x0000000006050201ull, 0x0000000605020100ull,
    0x0000000000060503ull, 0x0000000006050300ull, 0x0000000006050301ull, 0x0000000605030100ull,
    0x0000000006050302ull, 0x0000000605030200ull, 0x0000000605030201ull, 0x0000060503020100ull,
    0x0000000000060504ull, 0x0000000006050400ull, 0x0000000006050401ull, 0x0000000605040100ull,
    0x0000000006050402ull, 0x0000000605040200ull, 0x0000000605040201ull, 0x0000060504020100ull,
    0x0000000006050403ull, 0x0000000605040300ull, 0x0000000605040301ull, 0x0000060504030100ull,
    0x0000000605040302ull, 0x0000060504030200ull, 0x0000060504030201ull, 0x0006050403020100ull,
    0x0000000000000007ull, 0x0000000000000700ull, 0x0000000000000701ull, 0x0000000000070100ull,
    0x0000000000000702ull, 0x0000000000070200ull, 0x0000000000070201ull, 0x0000000007020100ull,
    0x0000000000000703ull, 0x0000000000070300ull, 0x0000000000070301ull, 0x0000000007030100ull,
    0x0000000000070302ull, 0x0000000007030200ull, 0x0000000007030201ull, 0x0000000703020100ull,
    0x0000000000000704ull, 0x0000000000070400ull, 0x0000000000070401ull, 0x0000000007040100ull,
    0x0000000000070402ull, 0x0000000007040200ull, 0x0000000007040201ull, 0x0000000704020100ull,
    0x0000000000070403ull, 0x0000000007040300ull, 0x0000000007040301ull, 0x0000000704030100ull,
    0x0000000007040302ull, 0x0000000704030200ull, 0x0000000704030201ull, 0x0000070403020100ull,
    0x0000000000000705ull, 0x0000000000070500ull, 0x0000000000070501ull, 0x0000000007050100ull,
    0x0000000000070502ull, 0x0000000007050200ull, 0x0000000007050201ull, 0x0000000705020100ull,
    0x0000000000070503ull, 0x0000000007050300ull, 0x0000000007050301ull, 0x0000000705030100ull,
    0x0000000007050302ull, 0x0000000705030200ull, 0x0000000705030201ull, 0x0000070503020100ull,
    0x0000000000070504ull, 0x0000000007050400ull, 0x0000000007050401ull, 0x0000000705040100ull,
    0x0000000007050402ull, 0x0000000705040200ull, 0x0000000705040201ull, 0x0000070504020100ull,
    0x0000000007050403ull, 0x0000000705040300ull, 0x0000000705040301ull, 0x0000070504030100ull,
    0x0000000705040302ull, 0x0000070504030200ull, 0x0000070504030201ull, 0x0007050403020100ull,
    0x0000000000000706ull, 0x0000000000070600ull, 0x0000000000070601ull, 0x0000000007060100ull,
    0x0000000000070602ull, 0x0000000007060200ull, 0x0000000007060201ull, 0x0000000706020100ull,
    0x0000000000070603ull, 0x0000000007060300ull, 0x0000000007060301ull, 0x0000000706030100ull,
    0x0000000007060302ull, 0x0000000706030200ull, 0x0000000706030201ull, 0x0000070603020100ull,
    0x0000000000070604ull, 0x0000000007060400ull, 0x0000000007060401ull, 0x0000000706040100ull,
    0x0000000007060402ull, 0x0000000706040200ull, 0x0000000706040201ull, 0x0000070604020100ull,
    0x0000000007060403ull, 0x0000000706040300ull, 0x0000000706040301ull, 0x0000070604030100ull,
    0x0000000706040302ull, 0x0000070604030200ull, 0x0000070604030201ull, 0x0007060403020100ull,
    0x0000000000070605ull, 0x0000000007060500ull, 0x0000000007060501ull, 0x0000000706050100ull,
    0x0000000007060502ull, 0x0000000706050200ull, 0x0000000706050201ull, 0x0000070605020100ull,
    0x0000000007060503ull, 0x0000000706050300ull, 0x0000000706050301ull, 0x0000070605030100ull,
    0x0000000706050302ull, 0x0000070605030200ull, 0x0000070605030201ull, 0x0007060503020100ull,
    0x0000000007060504ull, 0x0000000706050400ull, 0x0000000706050401ull, 0x0000070605040100ull,
    0x0000000706050402ull, 0x0000070605040200ull, 0x0000070605040201ull, 0x0007060504020100ull,
    0x0000000706050403ull, 0x0000070605040300ull, 0x0000070605040301ull, 0x0007060504030100ull,
    0x0000070605040302ull, 0x0007060504030200ull, 0x0007060504030201ull, 0x0706050403020100ull,
};

/* Appends base + the index of each set bit of the 8-bit mask m: expands the LUT entry to eight
 * positions, stores all eight and advances by popcount. The full store stays inside pos[]
 * because cnt <= base and base + 8 <= n wherever this is used. */
static inline size_t emit8(uint32_t *pos, size_t cnt, unsigned m, size_t base)
{
    __m256i idx = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)compress_lut[m]));
    idx = _mm256_add_epi32(idx, _mm256_set1_epi32((int)(uint32_t)base));
    _mm256_storeu_si256((__m256i *)(pos + cnt), idx);
    return cnt + (size_t)__builtin_popcount(m);
}

/* Emits the 32-bit mask of elements base..base+31 (all within n). */
static inline size_t emit32(uint32_t *pos, size_t cnt, unsigned m, size_t base)
{
    cnt = emit8(pos, cnt, m & 0xff, base);
    cnt = emit8(pos, cnt, (m >> 8) & 0xff, base + 8);
    cnt = emit8(pos, cnt, (m >> 16) & 0xff, base + 16);
    return emit8(pos, cnt, m >> 24, base + 24);
}

/* Most elements fail, so 32 are tested per step and the emit runs only when one passes; the
 * emit is branch-free so that dense passes (a not-yet-full top-k) do not mispredict.
 * The scalar tail computes s + bias with the same single rounding as the vector add, so both
 * paths agree bit for bit. */
static size_t avx2_select_lt(const float *s, const float *bias, size_t n, float thr,
                             uint32_t *pos)
{
    const __m256 t = _mm256_set1_ps(thr);
    size_t cnt = 0, i = 0;
    if (bias) {
        for (; i + 32 <= n; i += 32) {
            __m256 v0 = _mm256_add_ps(_mm256_loadu_ps(s + i), _mm256_loadu_ps(bias + i));
            __m256 v1 = _mm256_add_ps(_mm256_loadu_ps(s + i + 8), _mm256_loadu_ps(bias + i + 8));
            __m256 v2 = _mm256_add_ps(_mm256_loadu_ps(s + i + 16), _mm256_loadu_ps(bias + i + 16));
            __m256 v3 = _mm256_add_ps(_mm256_loadu_ps(s + i + 24), _mm256_loadu_ps(bias + i + 24));
            unsigned m0 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v0, t, _CMP_LT_OQ));
            unsigned m1 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v1, t, _CMP_LT_OQ));
            unsigned m2 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v2, t, _CMP_LT_OQ));
            unsigned m3 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v3, t, _CMP_LT_OQ));
            unsigned m = m0 | (m1 << 8) | (m2 << 16) | (m3 << 24);
            if (m)
                cnt = emit32(pos, cnt, m, i);
        }
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(s + i), _mm256_loadu_ps(bias + i));
            unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, t, _CMP_LT_OQ));
            cnt = emit8(pos, cnt, m, i);
        }
        for (; i < n; i++)
            if (s[i] + bias[i] < thr)
                pos[cnt++] = (uint32_t)i;
    } else {
        for (; i + 32 <= n; i += 32) {
            unsigned m0 = (unsigned)_mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_loadu_ps(s + i), t, _CMP_LT_OQ));
            unsigned m1 = (unsigned)_mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_loadu_ps(s + i + 8), t, _CMP_LT_OQ));
            unsigned m2 = (unsigned)_mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_loadu_ps(s + i + 16), t, _CMP_LT_OQ));
            unsigned m3 = (unsigned)_mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_loadu_ps(s + i + 24), t, _CMP_LT_OQ));
            unsigned m = m0 | (m1 << 8) | (m2 << 16) | (m3 << 24);
            if (m)
                cnt = emit32(pos, cnt, m, i);
        }
        for (; i + 8 <= n; i += 8) {
            unsigned m = (unsigned)_mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_loadu_ps(s + i), t, _CMP_LT_OQ));
            cnt = emit8(pos, cnt, m, i);
        }
        for (; i < n; i++)
            if (s[i] < thr)
                pos[cnt++] = (uint32_t)i;
    }
    return cnt;
}

/* Four rows at arbitrary addresses (graph neighbours), each query load shared by the four;
 * two accumulators per row keep eight FMA chains in flight. */
#define ROWS4_KERNEL(name, TERM)                                                                  \
    static void name(const float *q, const float *const *x, size_t d, float *out)                \
    {                                                                                             \
        const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];                               \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                \
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();                                \
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();                                \
        __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();                                \
        size_t i = 0;                                                                             \
        for (; i + 16 <= d; i += 16) {                                                            \
            __m256 qv = _mm256_loadu_ps(q + i), qw = _mm256_loadu_ps(q + i + 8);                  \
            a0 = TERM(qv, _mm256_loadu_ps(x0 + i), a0);                                           \
            a1 = TERM(qv, _mm256_loadu_ps(x1 + i), a1);                                           \
            a2 = TERM(qv, _mm256_loadu_ps(x2 + i), a2);                                           \
            a3 = TERM(qv, _mm256_loadu_ps(x3 + i), a3);                                           \
            b0 = TERM(qw, _mm256_loadu_ps(x0 + i + 8), b0);                                       \
            b1 = TERM(qw, _mm256_loadu_ps(x1 + i + 8), b1);                                       \
            b2 = TERM(qw, _mm256_loadu_ps(x2 + i + 8), b2);                                       \
            b3 = TERM(qw, _mm256_loadu_ps(x3 + i + 8), b3);                                       \
        }                                                                                         \
        for (; i < d; i += 8) {                                                                   \
            /* vmaskmovps never touches masked-off lanes; they read as 0 on both sides. */       \
            __m256i m = d - i >= 8 ? _mm256_set1_epi32(-1) : tail_mask(d - i);                    \
            __m256 qv = _mm256_maskload_ps(q + i, m);                                             \
            b0 = TERM(qv, _mm256_maskload_ps(x0 + i, m), b0);                                     \
            b1 = TERM(qv, _mm256_maskload_ps(x1 + i, m), b1);                                     \
            b2 = TERM(qv, _mm256_maskload_ps(x2 + i, m), b2);                                     \
            b3 = TERM(qv, _mm256_maskload_ps(x3 + i, m), b3);                                     \
        }                                                                                         \
        _mm_storeu_ps(out, hsum4x256(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1),                \
                                     _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3)));              \
    }

static inline __m256 term_dot(__m256 q, __m256 x, __m256 acc) { return _mm256_fmadd_ps(q, x, acc); }
static inline __m256 term_l2(__m256 q, __m256 x, __m256 acc)
{
    __m256 t = _mm256_sub_ps(q, x);
    return _mm256_fmadd_ps(t, t, acc);
}

ROWS4_KERNEL(avx2_dot4, term_dot)
ROWS4_KERNEL(avx2_l2sq4, term_l2)

const vs_kernel_table vs_kernels_avx2 = {
    .l2sq = avx2_l2sq,
    .dot = avx2_dot,
    .norm_sq = avx2_norm_sq,
    .dot_many = avx2_dot_many,
    .l2sq_many = avx2_l2sq_many,
    .l2sq4 = avx2_l2sq4,
    .dot4 = avx2_dot4,
    .select_lt = avx2_select_lt,
};
