/* AMX int8 (tdpbssd) and AMX-BF16 (tdpbf16ps) kernels, built with the AVX512 flags plus
 * -mamx-tile -mamx-int8 -mamx-bf16. One tile instruction multiplies 16 rows by 16 channels
 * over 64 int8 (or 32 bf16) of k: 16,384 int8 products, where vpdpbusd does 64.
 *
 * The packed weights are already what a B tile wants: block jb holds, for each group of 4 k
 * (int8) or 2 k (bf16), the 16 channels' values side by side, 64 bytes a group, so the 16 groups
 * of a k chunk are 16 consecutive 64-byte rows (qgemm.h). The last chunk of a block may run
 * past its kp / 4 groups into the next block (or into the 1 KB of zeros after the last one,
 * VS_QPACK_SLACK): those rows meet the zero columns the activations are padded with here, and
 * 0 x w = 0 exactly (weights are finite). A tiles come from a copy of the activation rows padded
 * with zeros to a multiple of 64 bytes and of 16 rows.
 *
 * int8: tdpbssd multiplies signed by signed, so no +128 offset: the int32 sums are the scalar
 * reference's, and the float epilogue is its, lane by lane in its order: bit-identical.
 * bf16: tdpbf16ps adds each product pair into fp32 in its own order (and flushes denormals),
 * so results differ from vdpbf16ps in the last bits; the tests bound the difference.
 *
 * Linux grants the tile data state per process on request (arch_prctl ARCH_REQ_XCOMP_PERM);
 * vs_qgemm_amx_ready asks once, and a refusal leaves the AVX512 kernels in place. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "embed/qgemm_kernels.h"
#define QROWS quant_rows
#include "embed/qgemm_quant_impl.h"

#define ARCH_REQ_XCOMP_PERM_ 0x1023
#define XFEATURE_XTILEDATA_ 18
#define PAD_BYTES 131072 /* the padded copy of a block of rows, on the stack */

int vs_qgemm_amx_ready(void)
{
    static int state; /* 0 unknown, 1 yes, -1 no; the answer is the same from every thread */
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (s) return s > 0;
    __builtin_cpu_init();
    int ok = __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8") &&
             __builtin_cpu_supports("amx-bf16") && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("avx512bf16");
    const char *off = getenv("VECSCALE_NO_AMX");
    if (off && *off && strcmp(off, "0")) ok = 0;
    if (ok) ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM_, XFEATURE_XTILEDATA_) == 0;
    __atomic_store_n(&state, ok ? 1 : -1, __ATOMIC_RELEASE);
    return ok;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

/* Tiles 0-3: a 32 x 32 block of sums (2 x 2 tiles of 16 x 16), 4-5: two A tiles of 16 rows,
 * 6-7: two B tiles of 16 channels; all 16 rows of 64 bytes. */
static void tiles_on(void)
{
    tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* Copies rows i0..i1 of a (stride kp bytes) into buf (stride kpad, rows padded to 32). */
static void pad_rows(const uint8_t *a, size_t kp, size_t kpad, size_t i0, size_t i1, uint8_t *buf)
{
    size_t rows = round_up(i1 - i0, 32);
    for (size_t r = 0; r < rows; r++) {
        uint8_t *o = buf + r * kpad;
        if (i0 + r < i1) {
            memcpy(o, a + (i0 + r) * kp, kp);
            memset(o + kp, 0, kpad - kp);
        } else {
            memset(o, 0, kpad);
        }
    }
}

/* 32 rows (two A tiles from ar, stride kpad) x 32 channels (blocks w0, w0 + bstride) summed over
 * nk chunks of 64 bytes into the 2 x 2 result tiles 0-3 (left there: STORE_TILES fetches them). */
#define MAC(DOT)                                                                                            \
    _tile_zero(0);                                                                                          \
    _tile_zero(1);                                                                                          \
    _tile_zero(2);                                                                                          \
    _tile_zero(3);                                                                                          \
    for (size_t ck = 0; ck < nk; ck++) {                                                                    \
        _tile_loadd(4, ar + ck * 64, (long)kpad);                                                           \
        _tile_loadd(5, ar + 16 * kpad + ck * 64, (long)kpad);                                               \
        _tile_loadd(6, w0 + ck * 1024, 64);                                                                 \
        _tile_loadd(7, w0 + bstride + ck * 1024, 64);                                                       \
        DOT(0, 4, 6);                                                                                       \
        DOT(1, 4, 7);                                                                                       \
        DOT(2, 5, 6);                                                                                       \
        DOT(3, 5, 7);                                                                                       \
    }
/* The result tiles as out[32][32] (row stride 128 bytes). */
#define STORE_TILES(out)                                                                                    \
    _tile_stored(0, (out), 128);                                                                            \
    _tile_stored(1, (out) + 16, 128);                                                                       \
    _tile_stored(2, (out) + 512, 128);                                                                      \
    _tile_stored(3, (out) + 528, 128);

static inline __mmask16 tail_mask(const vs_qlinear *q, size_t j)
{
    size_t nn = q->n > j ? q->n - j : 0;
    return nn >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nn) - 1);
}

/* Rows per block of the padded copy: up to 128 (8 tiles of 16), a multiple of 32, within
 * PAD_BYTES; 0 for rows longer than 4 KB (k > 4096 int8, 2048 bf16): the AVX512 kernels then. */
static size_t block_rows(size_t kpad)
{
    size_t r = PAD_BYTES / kpad / 32 * 32;
    return r > 128 ? 128 : r;
}

/* Float epilogues of one finished 32 x 32 block (rows i.., channel blocks jb, jb + 1), the
 * scalar reference's operations lane by lane. */
static void epi_s8(const int32_t *out, size_t i, size_t rows, size_t jb, const float *sa, const float *za,
                   const vs_qlinear *q, float *c, size_t ldc)
{
    for (int h = 0; h < 2; h++) {
        size_t j = (jb + (size_t)h) * 16;
        __mmask16 mk = tail_mask(q, j);
        if (!mk) break;
        __m512 sw = _mm512_loadu_ps(q->sw + j), bias = _mm512_loadu_ps(q->bias + j), wf = _mm512_loadu_ps(q->wf + j);
        for (size_t r = 0; r < rows; r++) {
            size_t row = i + r;
            __m512i acc = _mm512_load_si512(out + r * 32 + 16 * h);
            __m512 s = _mm512_mul_ps(_mm512_set1_ps(sa[row]), sw);
            __m512 zp = _mm512_mul_ps(_mm512_set1_ps(za[row]), wf);
            __m512 v = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), s), zp), bias);
            _mm512_mask_storeu_ps(c + row * ldc + j, mk, v);
        }
    }
}

static void epi_bf16(const float *out, size_t i, size_t rows, size_t jb, const vs_qlinear *q, float *c, size_t ldc)
{
    for (int h = 0; h < 2; h++) {
        size_t j = (jb + (size_t)h) * 16;
        __mmask16 mk = tail_mask(q, j);
        if (!mk) break;
        __m512 bias = _mm512_loadu_ps(q->bias + j);
        for (size_t r = 0; r < rows; r++)
            _mm512_mask_storeu_ps(c + (i + r) * ldc + j, mk, _mm512_add_ps(_mm512_load_ps(out + r * 32 + 16 * h), bias));
    }
}

/* Blocks of ib rows (their padded copy), channel pairs, 32-row tiles. Software-pipelined: the
 * tile instructions of one 32 x 32 block are issued before the vector epilogue of the previous
 * one (kept in the other half of out), so the tile unit and the vector units overlap; at K = 384
 * the epilogue is about a third of the tile work. */
#define SWEEP_AMX(DOT, OUT_T, EPI_CALL)                                                                     \
    _Alignas(64) OUT_T out[2][32 * 32];                                                                     \
    int have = 0, cur = 0;                                                                                  \
    size_t pi = 0, prow = 0, pjb = 0;                                                                       \
    tiles_on();                                                                                             \
    for (size_t i0 = 0; i0 < m; i0 += ib) {                                                                 \
        size_t i1 = i0 + ib < m ? i0 + ib : m;                                                              \
        if (have) { /* the copy is about to change: finish the pending block first */                       \
            EPI_CALL(out[cur ^ 1], pi, prow, pjb);                                                          \
            have = 0;                                                                                       \
        }                                                                                                   \
        pad_rows((const uint8_t *)a, kb, kpad, i0, i1, buf);                                                \
        for (size_t jb = 0; jb < q->np / 16; jb += 2) {                                                     \
            const uint8_t *w0 = wbase + jb * bstride;                                                       \
            for (size_t i = i0; i < i1; i += 32) {                                                          \
                const uint8_t *ar = buf + (i - i0) * kpad;                                                  \
                MAC(DOT)                                                                                    \
                if (have) EPI_CALL(out[cur ^ 1], pi, prow, pjb);                                            \
                STORE_TILES(out[cur])                                                                       \
                have = 1, pi = i, prow = i1 - i < 32 ? i1 - i : 32, pjb = jb, cur ^= 1;                     \
            }                                                                                               \
        }                                                                                                   \
    }                                                                                                       \
    if (have) EPI_CALL(out[cur ^ 1], pi, prow, pjb);                                                        \
    _tile_release();

static void linear_s8s8(size_t m, const int8_t *a, const float *sa, const float *za, const vs_qlinear *q, float *c,
                        size_t ldc)
{
    const size_t kb = q->kp, kpad = round_up(kb, 64), nk = kpad / 64, bstride = q->kp / 4 * 64;
    const uint8_t *wbase = (const uint8_t *)q->w8;
    const size_t ib = block_rows(kpad);
    if (!ib) {
        vs_qgemm_avx512.linear_s8s8(m, a, sa, za, q, c, ldc);
        return;
    }
    _Alignas(64) uint8_t buf[PAD_BYTES];
#define EPI8(o, i, rows, jb) epi_s8(o, i, rows, jb, sa, za, q, c, ldc)
    SWEEP_AMX(_tile_dpbssd, int32_t, EPI8)
}

static void linear_bf16(size_t m, const uint16_t *a, const vs_qlinear *q, float *c, size_t ldc)
{
    const size_t kb = q->kp * 2, kpad = round_up(kb, 64), nk = kpad / 64, bstride = q->kp / 2 * 64;
    const uint8_t *wbase = (const uint8_t *)q->wbf;
    const size_t ib = block_rows(kpad);
    if (!ib) {
        vs_qgemm_avx512.linear_bf16(m, a, q, c, ldc);
        return;
    }
    _Alignas(64) uint8_t buf[PAD_BYTES];
#define EPIBF(o, i, rows, jb) epi_bf16(o, i, rows, jb, q, c, ldc)
    SWEEP_AMX(_tile_dpbf16ps, float, EPIBF)
}

const vs_qgemm_kernels vs_qgemm_amx = {"amx", quant_rows, linear_s8s8, linear_bf16,
                                       vs_qgemm_avx2_quant_rows16, vs_qgemm_avx2_linear_s16, 0};
