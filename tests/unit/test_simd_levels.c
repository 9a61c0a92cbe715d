/* Every SIMD kernel at every level this CPU supports, against its scalar reference. For each
 * level (scalar, avx2, avx512) the test forces it with vs_simd_force and checks what the
 * library dispatches at that level: the distance table, PQ fast-scan blocks, SQ keys and
 * decoding, the HNSW,SQ8 integer dot product and node anchors, and the BERT element-wise
 * kernels. A level the CPU lacks is reported as not tested, so a log says what ran.
 *
 * Also the runner of the per-level ctest entries (tests/CMakeLists.txt):
 *   test_simd_levels --exec-at <level> <test> runs <test> with VECSCALE_SIMD=<level>, or exits
 *   77 (ctest: skipped) after saying the CPU lacks the level. */
#include <errno.h>

#include "test_util.h"

#include "embed/bert_kernels.h"
#include "embed/qgemm_kernels.h"
#include "index/hnsw_sq8.h"
#include "kernels/kernels.h"
#include "quant/fastscan.h"
#include "quant/sq.h"

static uint64_t rng = 1;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static float rndf(void) { return (float)(rnd() % 2000001) / 1000000.0f - 1.0f; } /* [-1, 1] */

/* Dimensions around every vector width and tail length (8, 16, 32, 64 lanes). */
static const uint32_t DIMS[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 96, 100, 127, 128, 129, 255, 256, 257, 384, 1000};
#define N_DIMS (sizeof DIMS / sizeof DIMS[0])

static const char *lvl; /* the level being checked, for messages */

static void close_to(double got, double want, double scale, double rel, const char *what, uint32_t d)
{
    if (fabs(got - want) > rel * (scale + 1e-30) + 1e-30)
        fail_msg("%s: %s d=%u: %.9g, scalar reference %.9g", lvl, what, d, got, want);
}

/* The distance table (kernels.h): l2sq, dot, norm_sq, dot_many, l2sq_many, select_lt. */
static int check_distances(void)
{
    const vs_kernel_table *k = vs_kernels(), *s = &vs_kernels_scalar;
    enum { ROWS = 5 };
    for (size_t t = 0; t < N_DIMS; t++) {
        uint32_t d = DIMS[t];
        float *buf = malloc((ROWS + 2) * (d + 1) * sizeof *buf), out1[ROWS], out2[ROWS];
        for (size_t i = 0; i < (ROWS + 2) * (d + 1); i++) buf[i] = rndf();
        const float *a = buf + 1, *b = buf + d + 2, *x = buf + 2 * d + 3; /* unaligned on purpose */
        double scale = 0, nscale = 0;
        for (uint32_t j = 0; j < d; j++) {
            scale += fabs((double)a[j] * b[j]) + (double)(a[j] - b[j]) * (a[j] - b[j]);
            nscale += (double)a[j] * a[j];
        }
        close_to(k->l2sq(a, b, d), s->l2sq(a, b, d), scale, 1e-5, "l2sq", d);
        close_to(k->dot(a, b, d), s->dot(a, b, d), scale, 1e-5, "dot", d);
        close_to(k->norm_sq(a, d), s->norm_sq(a, d), nscale, 1e-5, "norm_sq", d);
        k->dot_many(a, x, ROWS, d, out1);
        s->dot_many(a, x, ROWS, d, out2);
        for (int r = 0; r < ROWS; r++) close_to(out1[r], out2[r], 4.0 * d, 1e-5, "dot_many", d);
        k->l2sq_many(a, x, ROWS, d, out1);
        s->l2sq_many(a, x, ROWS, d, out2);
        for (int r = 0; r < ROWS; r++) close_to(out1[r], out2[r], 4.0 * d, 1e-5, "l2sq_many", d);
        free(buf);
    }
    /* select_lt: positions must match exactly (ties at the threshold included). */
    for (size_t n = 0; n <= 70; n++) {
        float sc[70], bias[70];
        uint32_t p1[70], p2[70];
        for (size_t i = 0; i < n; i++) {
            sc[i] = (float)(rnd() % 9) * 0.25f;
            bias[i] = rnd() % 7 == 0 ? INFINITY : (float)(rnd() % 5) * 0.25f;
        }
        for (int b = 0; b < 2; b++) {
            size_t c1 = k->select_lt(sc, b ? bias : NULL, n, 1.0f, p1), c2 = s->select_lt(sc, b ? bias : NULL, n, 1.0f, p2);
            if (c1 != c2 || memcmp(p1, p2, c1 * sizeof *p1)) fail_msg("%s: select_lt n=%zu bias=%d differs", lvl, n, b);
        }
    }
    return 6;
}

/* PQ 4-bit fast-scan: sums and mask exactly equal to the scalar block kernel. */
/* PQ fast-scan: the block kernel (one table and the query-block form, pair counts past the
 * 16-bit chunk of 128 pairs, i.e. m > 256) and the table builder, exactly as the scalar ones. */
static int check_fastscan(void)
{
    vs_fs_block_fn f = vs_fs_block_kernel();
    vs_fs_block_qb_fn fq = vs_fs_block_qb_kernel();
    vs_fs_lut_fn fl = vs_fs_lut_kernel();
    static const uint32_t PAIRS[] = {1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 64, 127, 128, 129, 196, 255, 256, 257, 300};
    for (size_t t = 0; t < sizeof PAIRS / sizeof PAIRS[0]; t++) {
        uint32_t pairs = PAIRS[t];
        uint8_t *block = malloc(pairs * 32), *lut = malloc(VS_FS_QB * pairs * 32);
        for (int rep = 0; rep < 8; rep++) {
            for (uint32_t i = 0; i < pairs * 32; i++) block[i] = (uint8_t)rnd();
            for (uint32_t i = 0; i < VS_FS_QB * pairs * 32; i++)
                lut[i] = (uint8_t)(rep == 0 ? 255 : rnd()); /* rep 0: the largest sums */
            uint32_t o1[VS_FS_BLOCK], o2[VS_FS_BLOCK], oq[VS_FS_QB * VS_FS_BLOCK], mq[VS_FS_QB], thr[VS_FS_QB];
            const uint8_t *luts[VS_FS_QB];
            for (unsigned i = 0; i < VS_FS_QB; i++) {
                thr[i] = rnd() % (pairs * 2 * 255 + 2);
                luts[i] = lut + i * pairs * 32;
            }
            uint32_t m1 = f(block, lut, pairs, thr[0], o1), m2 = vs_fs_block_scalar(block, lut, pairs, thr[0], o2);
            if (m1 != m2 || memcmp(o1, o2, sizeof o1))
                fail_msg("%s: fast-scan block, %u pairs, threshold %u: mask %08x sums[0] %u, scalar %08x %u", lvl, pairs,
                         thr[0], m1, o1[0], m2, o2[0]);
            for (unsigned nq = 1; nq <= VS_FS_QB; nq++) {
                fq(block, luts, nq, pairs, thr, oq, mq);
                for (unsigned i = 0; i < nq; i++) {
                    m2 = vs_fs_block_scalar(block, luts[i], pairs, thr[i], o2);
                    if (mq[i] != m2 || memcmp(oq + i * VS_FS_BLOCK, o2, sizeof o2))
                        fail_msg("%s: fast-scan query block of %u, table %u, %u pairs: mask %08x sums[0] %u, scalar %08x %u",
                                 lvl, nq, i, pairs, mq[i], oq[i * VS_FS_BLOCK], m2, o2[0]);
                }
            }
        }
        free(block);
        free(lut);
    }
    /* Candidate collection: the same keys, labels and count as the scalar form, for full and
     * short blocks (ids sized to the block, so a read past it trips ASan) and any threshold. */
    vs_fs_collect_fn fc = vs_fs_collect_kernel();
    for (int rep = 0; rep < 200; rep++) {
        unsigned len = rep % 7 == 0 ? 1 + (unsigned)(rnd() % VS_FS_BLOCK) : VS_FS_BLOCK;
        uint32_t sums[VS_FS_BLOCK], mask = (uint32_t)rnd() & (len == 32 ? ~0u : (1u << len) - 1);
        int64_t *ids = malloc(len * sizeof *ids), l1[VS_FS_BLOCK + VS_FS_COLLECT_SLACK], l2[VS_FS_BLOCK];
        float k1[VS_FS_BLOCK + VS_FS_COLLECT_SLACK], k2[VS_FS_BLOCK];
        for (unsigned u = 0; u < VS_FS_BLOCK; u++) sums[u] = (uint32_t)(rnd() % (rep & 1 ? 300 : 522241));
        for (unsigned u = 0; u < len; u++) ids[u] = (int64_t)(rnd() % 100000) - 3;
        if (rep % 5 == 0) mask = len == 32 ? ~0u : (1u << len) - 1;
        float bias = rndf() * 100, inv = 0.01f + (rndf() + 1) * 0.2f;
        float thr = rep % 11 == 0 ? INFINITY : bias + (float)(rnd() % 400) * inv;
        size_t n1 = fc(sums, mask, bias, inv, thr, ids, k1, l1), n2 = vs_fs_collect_scalar(sums, mask, bias, inv, thr, ids, k2, l2);
        if (n1 != n2 || memcmp(k1, k2, n2 * sizeof *k2) || memcmp(l1, l2, n2 * sizeof *l2))
            fail_msg("%s: fast-scan collect rep %d mask %08x: %zu kept, scalar %zu", lvl, rep, mask, n1, n2);
        free(ids);
    }
    static const uint32_t DS[] = {1, 2, 3, 4, 8};
    for (size_t t = 0; t < sizeof DS / sizeof DS[0]; t++) {
        uint32_t m = 37, dsub = DS[t];
        float *cen = malloc(m * 16 * dsub * sizeof *cen), *ct = malloc(m * 16 * dsub * sizeof *ct);
        float *q = malloc(m * dsub * sizeof *q), t1[37 * 16], t2[37 * 16];
        for (uint32_t i = 0; i < m * 16 * dsub; i++) cen[i] = rndf();
        for (uint32_t i = 0; i < m * dsub; i++) q[i] = rndf();
        vs_fs_transpose_centroids(cen, m, dsub, ct);
        vs_fs_table_kernel()(ct, q, m, dsub, -2.0f, t1);
        vs_fs_table_scalar(ct, q, m, dsub, -2.0f, t2);
        if (memcmp(t1, t2, sizeof t1)) fail_msg("%s: fast-scan query table, dsub %u differs from scalar", lvl, dsub);
        for (uint32_t j = 0; j < m; j++) /* and it is the table: -2 <q_j, p_jc> */
            for (uint32_t c = 0; c < 16; c++) {
                double dot = 0;
                for (uint32_t e = 0; e < dsub; e++) dot += (double)q[j * dsub + e] * cen[(j * 16 + c) * dsub + e];
                close_to(t2[j * 16 + c], -2 * dot, 2 * dsub, 1e-5, "fast-scan query table", dsub);
            }
        free(cen);
        free(ct);
        free(q);
    }
    static const uint32_t MS[] = {1, 2, 3, 16, 49, 50, 196, 392};
    for (size_t t = 0; t < sizeof MS / sizeof MS[0]; t++) {
        uint32_t m = MS[t];
        float *a = malloc(m * 16 * sizeof *a), *b = malloc(m * 16 * sizeof *b), *w = malloc(m * 16 * sizeof *w);
        uint8_t *l1 = malloc(vs_fs_block_bytes(m)), *l2 = malloc(vs_fs_block_bytes(m));
        for (int rep = 0; rep < 4; rep++) {
            for (uint32_t i = 0; i < m * 16; i++) {
                a[i] = rndf() * 1000;
                b[i] = rep == 3 ? 0 : rndf() * 100;
            }
            if (rep == 2) a[5] = INFINITY; /* an overflowed table: NaN and inf entries take 255 */
            for (int with_b = 0; with_b < 2; with_b++) {
                float bias1, bias2, s1, s2;
                memset(l1, 0xAA, vs_fs_block_bytes(m));
                memset(l2, 0x55, vs_fs_block_bytes(m));
                fl(a, with_b ? b : NULL, m, w, l1, &bias1, &s1);
                vs_fs_lut_scalar(a, with_b ? b : NULL, m, w, l2, &bias2, &s2);
                if (memcmp(l1, l2, vs_fs_block_bytes(m)) || (bias1 != bias2 && !(isnan(bias1) && isnan(bias2))) ||
                    (s1 != s2 && !(isnan(s1) && isnan(s2))))
                    fail_msg("%s: fast-scan table m=%u rep %d: bias %.9g scale %.9g, scalar %.9g %.9g", lvl, m, rep,
                             bias1, s1, bias2, s2);
            }
        }
        free(a);
        free(b);
        free(w);
        free(l1);
        free(l2);
    }
    return 1;
}

static const vs_code_kind SQ_KINDS[] = {VS_CODE_SQ8, VS_CODE_SQ4, VS_CODE_SQFP16, VS_CODE_SQBF16};

/* SQ: the prepared-query key kernel (both metrics) and decoding, per code kind. Decoding is
 * compared with what the scalar level decodes (ref_decode). */
static int check_sq(vs_simd_level level)
{
    enum { ROWS = 9 };
    int checked = 0;
    for (size_t kk = 0; kk < 4; kk++) {
        for (size_t t = 0; t < N_DIMS; t++) {
            uint32_t d = DIMS[t];
            vs_sq sq;
            assert_int_equal(vs_sq_init(&sq, SQ_KINDS[kk], d), VS_OK);
            float *x = malloc((size_t)ROWS * d * sizeof *x), *q = malloc(d * sizeof *q);
            float *dec = malloc((size_t)ROWS * d * sizeof *dec), *ref = malloc((size_t)ROWS * d * sizeof *ref);
            for (size_t i = 0; i < (size_t)ROWS * d; i++) x[i] = 3 * rndf();
            for (uint32_t j = 0; j < d; j++) q[j] = 3 * rndf();
            assert_int_equal(vs_sq_train(&sq, ROWS, x), VS_OK);
            size_t cs = vs_sq_code_size(&sq);
            uint8_t *codes = malloc(ROWS * cs);
            vs_sq_encode(&sq, ROWS, x, codes);
            vs_sq_decode(&sq, ROWS, codes, dec);
            assert_int_equal(vs_simd_force(VS_SIMD_SCALAR), VS_OK);
            vs_sq_decode(&sq, ROWS, codes, ref);
            assert_int_equal(vs_simd_force(level), VS_OK);
            if (memcmp(dec, ref, (size_t)ROWS * d * sizeof *dec))
                fail_msg("%s: SQ decode, kind %d d=%u differs from the scalar decode", lvl, SQ_KINDS[kk], d);
            for (int l2 = 0; l2 < 2; l2++) {
                vs_sq_query pq;
                assert_int_equal(vs_sq_query_init(&pq, &sq, l2), VS_OK);
                vs_sq_query_set(&pq, q);
                vs_sq_key_fn simd = vs_sq_key_avx2_for(SQ_KINDS[kk], l2), scalar = vs_sq_key_scalar_for(SQ_KINDS[kk], l2);
                /* The dispatch itself: SIMD kernels from AVX2 up, the reference below. */
                if (level >= VS_SIMD_AVX2 && simd) assert_ptr_equal(pq.fn, simd);
                if (level == VS_SIMD_SCALAR) assert_ptr_equal(pq.fn, scalar);
                float keys[ROWS];
                vs_sq_keys(&pq, codes, ROWS, keys);
                for (int r = 0; r < ROWS; r++) {
                    float want = scalar(&pq, codes + r * cs);
                    double scale = 0;
                    for (uint32_t j = 0; j < d; j++) scale += fabs((double)q[j]) * 4 + 16;
                    close_to(pq.fn(&pq, codes + r * cs), want, scale, 1e-5, l2 ? "SQ key (L2)" : "SQ key (IP)", d);
                    close_to(keys[r], want, scale, 1e-5, l2 ? "SQ keys (L2)" : "SQ keys (IP)", d);
                }
                vs_sq_query_destroy(&pq);
            }
            free(x); free(q); free(dec); free(ref); free(codes);
            vs_sq_destroy(&sq);
        }
        checked += 3; /* decode, L2 key, IP key */
    }
    return checked;
}

/* HNSW,SQ8: the integer dot product (exact) and the node anchor preparation. */
static int check_hnsw_sq8(vs_simd_level level)
{
    vs_hnsw_dot8_fn dot = vs_hnsw_dot8_pick();
    vs_hnsw_node8_fn node = vs_hnsw_node8_pick();
    if (level == VS_SIMD_SCALAR) {
        assert_ptr_equal(dot, vs_hnsw_dot8_scalar);
        assert_ptr_equal(node, vs_hnsw_node8_scalar);
    }
    for (size_t t = 0; t < N_DIMS; t++) {
        uint32_t d = DIMS[t];
        int32_t wmax = vs_hnsw_dot8_wmax(d);
        int16_t *w = malloc(d * sizeof *w), *w8a = malloc(d * sizeof *w8a), *w8b = malloc(d * sizeof *w8b);
        uint8_t *c = malloc(d);
        float *vmin = malloc(d * sizeof *vmin), *s = malloc(d * sizeof *s);
        float *fa = malloc(d * sizeof *fa), *fb = malloc(d * sizeof *fb);
        for (int rep = 0; rep < 3; rep++) {
            for (uint32_t j = 0; j < d; j++) {
                /* rep 0: every product at its extreme (the overflow bound) */
                w[j] = (int16_t)(rep == 0 ? wmax : (int32_t)(rnd() % (2 * (uint32_t)wmax + 1)) - wmax);
                c[j] = (uint8_t)(rep == 0 ? 255 : rnd());
                vmin[j] = rndf();
                s[j] = (rndf() + 1.5f) / 255.0f;
            }
            int64_t got = dot(w, c, d), want = vs_hnsw_dot8_scalar(w, c, d);
            if (got != want) fail_msg("%s: HNSW SQ8 dot d=%u: %lld, scalar %lld", lvl, d, (long long)got, (long long)want);
            for (int l2 = 0; l2 < 2; l2++) {
                float al1, al2;
                float s1 = node(c, vmin, s, d, l2, wmax, fa, w8a, &al1);
                float s2 = vs_hnsw_node8_scalar(c, vmin, s, d, l2, wmax, fb, w8b, &al2);
                close_to(s1, s2, fmaxf(1.0f, fabsf(s2)), 1e-5, "HNSW SQ8 node anchor sum", d);
                close_to(al1, al2, fabsf(al2), 1e-6, "HNSW SQ8 node anchor alpha", d);
                for (uint32_t j = 0; j < d; j++) {
                    close_to(fa[j], fb[j], fabsf(fb[j]), 1e-6, "HNSW SQ8 node anchor weight", d);
                    if (abs(w8a[j] - w8b[j]) > 1)
                        fail_msg("%s: HNSW SQ8 node int16 weight %u of d=%u: %d, scalar %d", lvl, j, d, w8a[j], w8b[j]);
                }
            }
        }
        free(w); free(w8a); free(w8b); free(c); free(vmin); free(s); free(fa); free(fb);
    }
    return 2;
}

/* BERT element-wise kernels: the copy dispatched at this level (the AVX2 copy from avx2 up; it
 * has no AVX-512 one) against the baseline copy. */
static int check_bert(vs_simd_level level)
{
    const vs_bert_kernels *k = vs_bert_kernels_get(), *b = vs_bert_kernels_base();
    assert_ptr_equal(k, level >= VS_SIMD_AVX2 ? vs_bert_kernels_avx2() : b);
    if (k == b) return 0;
    enum { H = 37, ROWS = 3 };
    float x1[ROWS * H], x2[ROWS * H], y[ROWS * H], g[H], bb[H];
    for (int i = 0; i < ROWS * H; i++) x1[i] = x2[i] = 6 * rndf(), y[i] = rndf();
    for (int j = 0; j < H; j++) g[j] = rndf(), bb[j] = rndf();
    k->gelu(x1, ROWS * H);
    b->gelu(x2, ROWS * H);
    for (int i = 0; i < ROWS * H; i++) close_to(x1[i], x2[i], 1, 4e-6, "bert gelu", ROWS * H);
    k->add(x1, y, ROWS * H);
    b->add(x2, y, ROWS * H);
    for (int i = 0; i < ROWS * H; i++) close_to(x1[i], x2[i], 1 + fabsf(x2[i]), 1e-6, "bert add", ROWS * H);
    k->layer_norm(x1, ROWS, H, g, bb, 1e-12f);
    b->layer_norm(x2, ROWS, H, g, bb, 1e-12f);
    for (int i = 0; i < ROWS * H; i++) close_to(x1[i], x2[i], 1 + fabsf(x2[i]), 1e-5, "bert layer_norm", H);
    k->softmax_rows(x1, ROWS, H);
    b->softmax_rows(x2, ROWS, H);
    for (int i = 0; i < ROWS * H; i++) close_to(x1[i], x2[i], 1, 1e-6, "bert softmax", H);
    return 4;
}

/* int8 / bf16 GEMMs (qgemm_kernels.h): the table dispatched at this level, and every other
 * table of the level that this CPU can run (AVX2 without VNNI on a VNNI machine too), against
 * the scalar reference, bit for bit: the sums are integer (int8) or exact products added in
 * one order (bf16), and the float epilogues are the same. The reference itself is checked
 * against a plain triple loop over the unpacked int8 values, and the activation quantizer
 * against its definition (the row's range mapped onto -127..127 around its middle, rounded
 * to nearest even: both ends reached, offset rows included). Shapes cover every tile and
 * tail; one case has every |a8| = |w8| = 127, where a u8 x s8 vpmaddubsw pair would saturate. */
/* Split int8 (vs_qlinear_split, qgemm.h) through vs_qlinear_forward at this level, against a
 * plain loop of its definition (residuals one level down, sums in int64, the kernels' float
 * epilogue order), bit for bit; and much closer to the float product than plain int8 (the
 * point of it): at least 20 times, in the largest error over the output, for k >= 64. q8 and a8, sa, za
 * (the scalar quantizer's) and want (plain int8) are the caller's. */
static void split_case(vs_qlinear *q8, const float *w, const float *a, const float *bias, const int8_t *a8,
                       const float *sa, const float *za, const float *want, size_t m, size_t n, size_t k)
{
    assert_int_equal(vs_qlinear_split(q8, w), VS_OK);
    const vs_qlinear *lo = q8->lo;
    assert_non_null(lo);
    void *scratch = aligned_alloc(64, (vs_qlinear_scratch_bytes(m, k, n) + 63) / 64 * 64);
    float *got = malloc(m * n * sizeof *got);
    assert_int_equal(vs_qlinear_forward(q8, VS_PRECISION_INT8, m, a, k, got, n, scratch), VS_OK);
    double err_split = 0, err_plain = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int64_t s1 = 0, s2 = 0, ws = 0, wrs = 0;
            double exact = bias[j];
            for (size_t t = 0; t < k; t++) {
                int8_t x = a8[i * q8->kp + t], wv = q8->w8[vs_qpack_at(j, t, q8->kp, 4)];
                float rv = nearbyintf(((a[i * k + t] - za[i]) - sa[i] * (float)x) * (254.0f / sa[i]));
                int8_t r8 = (int8_t)(rv > 127 ? 127 : rv < -127 ? -127 : rv);
                float wr = nearbyintf((w[j * k + t] - q8->sw[j] * (float)wv) * (254.0f / q8->sw[j]));
                int8_t wr8 = (int8_t)(wr > 127 ? 127 : wr < -127 ? -127 : wr);
                if (lo->w8[vs_qpack_at(j, t, lo->kp, 4)] != wr8 || lo->w8[vs_qpack_at(j, q8->kp + t, lo->kp, 4)] != wv)
                    fail_msg("%s: split weights (%zu, %zu) differ from their definition", lvl, j, t);
                s1 += (int64_t)x * wv;
                s2 += (int64_t)x * wr8 + (int64_t)r8 * wv;
                ws += wv, wrs += wr8;
                exact += (double)a[i * k + t] * w[j * k + t];
            }
            float swlo = q8->sw[j] / 254.0f, wf = q8->sw[j] * (float)ws + swlo * (float)wrs;
            float hi = ((float)s1 * (sa[i] * q8->sw[j]) + za[i] * wf) + bias[j];
            float lov = ((float)s2 * (sa[i] * swlo) + 0.0f * lo->wf[j]) + lo->bias[j];
            if (hi + lov != got[i * n + j])
                fail_msg("%s: split int8 m=%zu n=%zu k=%zu (%zu,%zu): %.9g, definition %.9g", lvl, m, n, k, i, j,
                         got[i * n + j], hi + lov);
            err_split = fmax(err_split, fabs(got[i * n + j] - exact));
            err_plain = fmax(err_plain, fabs(want[i * n + j] - exact));
        }
    if (k >= 64 && !(err_split * 20 <= err_plain)) /* short rows are nearly exact either way */
        fail_msg("%s: split int8 m=%zu n=%zu k=%zu: largest error %.3g, plain int8 %.3g: not 20 times smaller", lvl, m,
                 n, k, err_split, err_plain);
    free(scratch);
    free(got);
}

/* int16 layers (vs_qlinear_init_s16, qgemm.h: what int8 loads as on AVX2-only machines): the
 * weights and the scalar quantizer against their definitions (lv levels either side of zero,
 * kp * lv^2 < 2^31), the scalar reference against a plain loop in int64 (the extreme case has
 * every |a16| = |w16| = lv: the largest sum, exact in int32), and every table's int16 kernels
 * (AVX2's, shared by the tables above it) against the reference, bit for bit. Much closer to the
 * float product than plain int8 (err8, the caller's): at least lv / 127 / 4 times, k >= 64. */
static void s16_case(const vs_qgemm_kernels *const *ks, size_t nk, const float *w, const float *a, const float *bias,
                     size_t m, size_t n, size_t k, int extreme, double err8)
{
    vs_qlinear q;
    assert_int_equal(vs_qlinear_init_s16(&q, w, bias, n, k), VS_OK);
    const int lv = q.lv;
    if (!((double)q.kp * lv * lv <= 2147483647.0 && ((double)q.kp * (lv + 1) * (lv + 1) > 2147483647.0 || lv == 16383)))
        fail_msg("%s: int16 k=%zu: %d levels", lvl, k, lv);
    for (size_t j = 0; j < n; j++) {
        float mx = 0;
        for (size_t t = 0; t < k; t++) mx = fmaxf(mx, fabsf(w[j * k + t]));
        for (size_t t = 0; t < k; t++) {
            float v = nearbyintf(w[j * k + t] / q.sw[j]);
            if (fabsf(q.sw[j] - mx / (float)lv) > 1e-6f * mx || fabsf(v - q.w16[vs_qpack_at(j, t, q.kp, 2)]) > 1.0f)
                fail_msg("%s: int16 weight (%zu, %zu) = %d, scale %g: not round(%g / (%g / %d))", lvl, j, t,
                         q.w16[vs_qpack_at(j, t, q.kp, 2)], q.sw[j], w[j * k + t], mx, lv);
        }
    }
    int16_t *a16 = malloc(m * q.kp * sizeof *a16), *a16k = malloc(m * q.kp * sizeof *a16k);
    float *sa = malloc(m * sizeof *sa), *za = malloc(m * sizeof *za), *sak = malloc(m * sizeof *sak),
          *zak = malloc(m * sizeof *zak), *want = malloc(m * n * sizeof *want), *got = malloc(m * n * sizeof *got);
    vs_qgemm_scalar.quant_rows16(m, k, a, k, a16, q.kp, lv, sa, za);
    for (size_t i = 0; i < m; i++) {
        int lo = lv, hi = -lv;
        for (size_t t = 0; t < k; t++) {
            int v = a16[i * q.kp + t];
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
            float x = (a[i * k + t] - za[i]) / sa[i];
            if (fabsf(x - (float)v) > 0.5f + 1e-3f)
                fail_msg("%s: int16 quantized a[%zu][%zu] = %d, definition %.9g", lvl, i, t, v, x);
        }
        float mx = a[i * k], mn = a[i * k];
        for (size_t t = 0; t < k; t++) mx = fmaxf(mx, a[i * k + t]), mn = fminf(mn, a[i * k + t]);
        if (mx > mn && (lo != -lv || hi != lv))
            fail_msg("%s: int16 row %zu uses codes %d..%d, not -%d..%d", lvl, i, lo, hi, lv, lv);
    }
    vs_qgemm_scalar.linear_s16(m, a16, sa, za, &q, want, n);
    double err16 = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int64_t sum = 0, ws = 0;
            double exact = bias[j];
            for (size_t t = 0; t < k; t++) {
                int16_t x = a16[i * q.kp + t], wv = q.w16[vs_qpack_at(j, t, q.kp, 2)];
                if (extreme && (abs(x) != lv || abs(wv) != lv)) fail_msg("int16 extreme case: a value is not +-%d", lv);
                sum += (int64_t)x * wv;
                ws += wv;
                exact += (double)a[i * k + t] * w[j * k + t];
            }
            float v = (float)sum * (sa[i] * q.sw[j]), zp = za[i] * (q.sw[j] * (float)ws);
            if ((v + zp) + bias[j] != want[i * n + j])
                fail_msg("%s: scalar int16 reference m=%zu n=%zu k=%zu (%zu,%zu): %.9g, plain loop %.9g", lvl, m, n, k,
                         i, j, want[i * n + j], (v + zp) + bias[j]);
            err16 = fmax(err16, fabs(want[i * n + j] - exact));
        }
    if (!extreme && k >= 64 && !(err16 * ((double)lv / 127.0 / 4.0) <= err8))
        fail_msg("%s: int16 m=%zu n=%zu k=%zu (%d levels): largest error %.3g, int8 %.3g", lvl, m, n, k, lv, err16, err8);
    for (size_t t = 0; t < nk; t++) {
        memset(a16k, 0x55, m * q.kp * sizeof *a16k);
        ks[t]->quant_rows16(m, k, a, k, a16k, q.kp, lv, sak, zak);
        if (memcmp(a16k, a16, m * q.kp * sizeof *a16) || memcmp(sak, sa, m * sizeof *sa) || memcmp(zak, za, m * sizeof *za))
            fail_msg("%s: int16 activation quantization %s m=%zu k=%zu differs from the scalar reference", lvl,
                     ks[t]->name, m, k);
        memset(got, 0xff, m * n * sizeof *got);
        ks[t]->linear_s16(m, a16, sa, za, &q, got, n);
        if (memcmp(got, want, m * n * sizeof *got))
            fail_msg("%s: int16 GEMM %s m=%zu n=%zu k=%zu%s differs from the scalar reference", lvl, ks[t]->name, m, n,
                     k, extreme ? " (all +-lv)" : "");
    }
    /* and through vs_qlinear_forward at this level */
    void *scratch = aligned_alloc(64, (vs_qlinear_scratch_bytes(m, k, n) + 63) / 64 * 64);
    assert_int_equal(vs_qlinear_forward(&q, VS_PRECISION_INT8, m, a, k, got, n, scratch), VS_OK);
    if (memcmp(got, want, m * n * sizeof *got))
        fail_msg("%s: int16 vs_qlinear_forward m=%zu n=%zu k=%zu differs from the scalar reference", lvl, m, n, k);
    free(scratch);
    vs_qlinear_free(&q);
    free(a16); free(a16k); free(sa); free(za); free(sak); free(zak); free(want); free(got);
}

static void qgemm_case(const vs_qgemm_kernels *const *ks, size_t nk, size_t m, size_t n, size_t k, int extreme)
{
    float *w = malloc(n * k * sizeof *w), *a = malloc(m * k * sizeof *a), *bias = malloc(n * sizeof *bias);
    for (size_t i = 0; i < n * k; i++) w[i] = extreme ? (rnd() & 1 ? 1.0f : -1.0f) : rndf() * (float)(1 + i % 7);
    for (size_t i = 0; i < m * k; i++) a[i] = extreme ? (rnd() & 1 ? 3.0f : -3.0f) : rndf() * (float)(1 + i % 5);
    for (size_t i = 0; !extreme && i < m; i += 3) /* every third row offset, as a GELU output is */
        for (size_t t = 0; t < k; t++) a[i * k + t] = 2.5f + 0.5f * a[i * k + t];
    for (size_t j = 0; j < n; j++) bias[j] = rndf();
    vs_qlinear q8, qb;
    assert_int_equal(vs_qlinear_init(&q8, VS_PRECISION_INT8, w, bias, n, k), VS_OK);
    assert_int_equal(vs_qlinear_init(&qb, VS_PRECISION_BF16, w, bias, n, k), VS_OK);
    int8_t *a8 = malloc(m * q8.kp);
    uint16_t *ab = malloc(m * qb.kp * sizeof *ab);
    float *sa = malloc(m * sizeof *sa), *za = malloc(m * sizeof *za), *want = malloc(m * n * sizeof *want),
          *got = malloc(m * n * sizeof *got);
    vs_qgemm_scalar.quant_rows(m, k, a, k, a8, q8.kp, sa, za);
    for (size_t i = 0; i < m; i++) { /* the quantizer against its definition */
        float mx = a[i * k], mn = a[i * k];
        int lo = 127, hi = -127;
        for (size_t t = 0; t < k; t++) mx = fmaxf(mx, a[i * k + t]), mn = fminf(mn, a[i * k + t]);
        if (fabsf(za[i] - (mx + mn) / 2) > 1e-6f * (fabsf(mx) + fabsf(mn)) ||
            (mx > mn && fabsf(sa[i] - (mx - mn) / 254) > 1e-6f * (mx - mn)))
            fail_msg("%s: row %zu of %g..%g: zero point %g, scale %g", lvl, i, mn, mx, za[i], sa[i]);
        for (size_t t = 0; t < k; t++) {
            float x = (a[i * k + t] - za[i]) / sa[i], v = nearbyintf(x);
            int8_t got8 = a8[i * q8.kp + t];
            lo = got8 < lo ? got8 : lo, hi = got8 > hi ? got8 : hi;
            if (fabsf(v - got8) > (fabsf(fabsf(x) - floorf(fabsf(x)) - 0.5f) < 1e-3f ? 1.0f : 0.0f) &&
                !(fabsf(x) > 126.99f && abs(got8) == 127))
                fail_msg("%s: quantized a[%zu][%zu] = %d, round(%.9g) = %g", lvl, i, t, got8, x, v);
        }
        if (mx > mn && (lo != -127 || hi != 127))
            fail_msg("%s: row %zu uses codes %d..%d, not the whole range -127..127", lvl, i, lo, hi);
    }
    for (size_t i = 0; i < m; i++)
        for (size_t t = 0; t < qb.kp; t++) ab[i * qb.kp + t] = t < k ? vs_f32_to_bf16(a[i * k + t]) : 0;
    vs_qgemm_scalar.linear_s8s8(m, a8, sa, za, &q8, want, n);
    for (size_t i = 0; i < m; i++) /* the reference: a plain loop over unpacked values */
        for (size_t j = 0; j < n; j++) {
            int64_t s = 0;
            for (size_t t = 0; t < k; t++) {
                if (extreme && (abs(a8[i * q8.kp + t]) != 127 || abs(q8.w8[vs_qpack_at(j, t, q8.kp, 4)]) != 127))
                    fail_msg("extreme case: a value is not +-127");
                s += (int64_t)a8[i * q8.kp + t] * q8.w8[vs_qpack_at(j, t, q8.kp, 4)];
            }
            int64_t ws = 0;
            for (size_t t = 0; t < k; t++) ws += q8.w8[vs_qpack_at(j, t, q8.kp, 4)];
            float v = (float)s * (sa[i] * q8.sw[j]), zp = za[i] * (q8.sw[j] * (float)ws);
            if ((v + zp) + bias[j] != want[i * n + j])
                fail_msg("%s: scalar int8 reference m=%zu n=%zu k=%zu (%zu,%zu): %.9g, plain loop %.9g", lvl, m, n, k,
                         i, j, want[i * n + j], (v + zp) + bias[j]);
        }
    for (size_t t = 0; t < nk; t++) {
        int8_t *a8k = malloc(m * q8.kp);
        float *sak = malloc(m * sizeof *sak), *zak = malloc(m * sizeof *zak);
        memset(a8k, 0x55, m * q8.kp);
        ks[t]->quant_rows(m, k, a, k, a8k, q8.kp, sak, zak);
        if (memcmp(a8k, a8, m * q8.kp) || memcmp(sak, sa, m * sizeof *sa) || memcmp(zak, za, m * sizeof *za))
            fail_msg("%s: activation quantization %s m=%zu k=%zu differs from the scalar reference", lvl, ks[t]->name,
                     m, k);
        free(a8k);
        free(sak);
        free(zak);
        memset(got, 0xff, m * n * sizeof *got);
        ks[t]->linear_s8s8(m, a8, sa, za, &q8, got, n);
        if (memcmp(got, want, m * n * sizeof *got))
            fail_msg("%s: int8 GEMM %s m=%zu n=%zu k=%zu%s differs from the scalar reference", lvl, ks[t]->name, m, n,
                     k, extreme ? " (all +-127)" : "");
        if (!ks[t]->linear_bf16) continue;
        vs_qgemm_bf16_reference(m, ab, &qb, want, n);
        memset(got, 0xff, m * n * sizeof *got);
        ks[t]->linear_bf16(m, ab, &qb, got, n);
        if (ks[t] == &vs_qgemm_amx) { /* another order of the same exact products: a bounded difference */
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    double mag = fabs(bias[j]);
                    for (size_t x = 0; x < k; x++)
                        mag += fabs((double)vs_bf16_to_f32(ab[i * qb.kp + x]) *
                                    vs_bf16_to_f32(qb.wbf[vs_qpack_at(j, x, qb.kp, 2)]));
                    if (!(fabs((double)got[i * n + j] - want[i * n + j]) <= 1e-5 * mag + 1e-30))
                        fail_msg("%s: bf16 GEMM %s m=%zu n=%zu k=%zu (%zu,%zu): %.9g, reference %.9g (sum of |products| "
                                 "%.3g)", lvl, ks[t]->name, m, n, k, i, j, got[i * n + j], want[i * n + j], mag);
                }
        } else if (memcmp(got, want, m * n * sizeof *got))
            fail_msg("%s: bf16 GEMM %s m=%zu n=%zu k=%zu differs from the reference", lvl, ks[t]->name, m, n, k);
        vs_qgemm_scalar.linear_s8s8(m, a8, sa, za, &q8, want, n);
    }
    double err8 = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double exact = bias[j];
            for (size_t t = 0; t < k; t++) exact += (double)a[i * k + t] * w[j * k + t];
            err8 = fmax(err8, fabs(want[i * n + j] - exact));
        }
    s16_case(ks, nk, w, a, bias, m, n, k, extreme, err8);
    if (!extreme) split_case(&q8, w, a, bias, a8, sa, za, want, m, n, k);
    vs_qlinear_free(&q8);
    vs_qlinear_free(&qb);
    free(w); free(a); free(bias); free(a8); free(ab); free(sa); free(za); free(want); free(got);
}

static int check_qgemm(vs_simd_level level)
{
    const vs_qgemm_kernels *d = vs_qgemm_kernels_get(), *ks[5];
    size_t nk = 0;
    ks[nk++] = d;
    if (level == VS_SIMD_SCALAR) assert_ptr_equal(d, &vs_qgemm_scalar);
    if (level == VS_SIMD_AVX2)
        for (int i = 0; i < 2; i++) {
            const vs_qgemm_kernels *o = i ? &vs_qgemm_avxvnni : &vs_qgemm_avx2;
            if (o != d && vs_qgemm_kernels_usable(o)) ks[nk++] = o;
        }
    if (level == VS_SIMD_AVX512) {
        static const vs_qgemm_kernels *const more[] = {&vs_qgemm_avx512_nobf16, &vs_qgemm_avx512, &vs_qgemm_amx};
        for (int i = 0; i < 3; i++)
            if (more[i] != d && vs_qgemm_kernels_usable(more[i])) ks[nk++] = more[i];
        /* AMX is what runs wherever Linux grants it (VECSCALE_NO_AMX aside) */
        const char *off = getenv("VECSCALE_NO_AMX");
        if (vs_qgemm_amx_ready()) assert_ptr_equal(d, &vs_qgemm_amx);
        else if (!off || !*off || !strcmp(off, "0")) print_message("%s: AMX not available here: not tested\n", lvl);
    }
    /* bf16 only from avx512 up, and only where the CPU has it: never a slow fallback */
    assert_true(!d->linear_bf16 || (level == VS_SIMD_AVX512 && vs_qgemm_bf16_supported()));
    assert_true(level == VS_SIMD_AVX512 || d != &vs_qgemm_amx);
    static const size_t M[] = {1, 2, 3, 5, 8, 9, 17, 64, 67, 130}, N[] = {1, 15, 16, 17, 33, 64, 100};
    static const size_t K[] = {1, 3, 4, 5, 64, 101, 384};
    for (size_t a = 0; a < sizeof M / sizeof *M; a++)
        for (size_t b = 0; b < sizeof N / sizeof *N; b++)
            for (size_t c = 0; c < sizeof K / sizeof *K; c++)
                if ((a + b + c) % 3 == 0 || M[a] == 67) qgemm_case(ks, nk, M[a], N[b], K[c], 0);
    qgemm_case(ks, nk, 9, 40, 1536, 1);
    /* long rows: AMX in 64- and 32-row blocks (k = 1536 int8 / bf16, k = 2100 int8), AMX handing
     * over to AVX512 (k > 4096 int8, > 2048 bf16), the per-broadcast transform of the AVX512
     * (k > 4096) and 256-bit (k > 8192) kernels */
    qgemm_case(ks, nk, 67, 40, 1536, 0);
    qgemm_case(ks, nk, 9, 20, 2100, 0);
    qgemm_case(ks, nk, 5, 17, 8200, 0);
    for (size_t t = 0; t < nk; t++)
        print_message("%s: int8 / int16%s GEMM %s matches the scalar reference bit for bit%s\n", lvl,
                      ks[t]->linear_bf16 && ks[t] != &vs_qgemm_amx ? " and bf16" : "", ks[t]->name,
                      ks[t] == &vs_qgemm_amx ? " (bf16 within 1e-5 of the sum of |products|)" : "");
    return (int)nk;
}

static void every_level(void **state)
{
    (void)state;
    vs_simd_level start = vs_simd_active(), det = vs_simd_detected();
    char ran[64] = "", missing[64] = "";
    for (int l = VS_SIMD_SCALAR; l <= VS_SIMD_AVX512; l++) {
        lvl = vs_simd_name((vs_simd_level)l);
        if (l > (int)det) {
            print_message("%s: not supported by this CPU: not tested\n", lvl);
            strcat(missing, " "), strcat(missing, lvl);
            continue;
        }
        assert_int_equal(vs_simd_force((vs_simd_level)l), VS_OK);
        assert_ptr_equal(vs_kernels(), vs_kernels_for((vs_simd_level)l));
        rng = 42; /* the same inputs at every level */
        int n = check_distances() + check_fastscan() + check_sq((vs_simd_level)l) + check_hnsw_sq8((vs_simd_level)l);
        int bert = check_bert((vs_simd_level)l), q = check_qgemm((vs_simd_level)l);
        print_message("%s: %d dispatched kernels match the scalar reference (distances, fast-scan, SQ decode/keys, "
                      "HNSW SQ8 dot/anchor%s, int8/bf16 GEMM: %s)\n", lvl, n + bert + q, bert ? ", BERT" : "",
                      vs_qgemm_kernels_get()->name);
        strcat(ran, " "), strcat(ran, lvl);
    }
    assert_int_equal(vs_simd_force(start), VS_OK);
    print_message("SIMD levels tested:%s; not tested on this machine:%s\n", ran, *missing ? missing : " none");
}

/* --exec-at: rerun another test binary at one level, or say why it cannot run here. */
static int exec_at(const char *level, char **argv)
{
    int want = !strcmp(level, "scalar") ? VS_SIMD_SCALAR : !strcmp(level, "avx2") ? VS_SIMD_AVX2
             : !strcmp(level, "avx512") ? VS_SIMD_AVX512 : -1;
    if (want < 0) {
        fprintf(stderr, "unknown SIMD level '%s'\n", level);
        return 2;
    }
    if (want > (int)vs_simd_detected()) {
        printf("%s: not supported by this CPU (best: %s): %s not tested at this level\n", level,
               vs_simd_name(vs_simd_detected()), argv[0]);
        return 77;
    }
    printf("running %s with VECSCALE_SIMD=%s\n", argv[0], level);
    fflush(stdout);
    setenv("VECSCALE_SIMD", level, 1);
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    return 2;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "--exec-at")) return exec_at(argv[2], argv + 3);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
