/* vs_qlinear: weight quantization at load, activation quantization per call, dispatch. */
#include "embed/qgemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/qgemm_kernels.h"

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

int vs_qlinear_init(vs_qlinear *q, vs_precision p, const float *w, const float *bias, size_t n, size_t k)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    q->k = k;
    q->np = round_up(n, 32);
    q->kp = round_up(k, 4);
    q->bias = calloc(q->np, sizeof(float));
    if (!q->bias) return vs_fail(VS_ERR_NOMEM, "out of memory");
    if (bias) memcpy(q->bias, bias, n * sizeof(float));
    if (p == VS_PRECISION_BF16) {
        q->wbf = aligned_alloc(64, q->np * q->kp * sizeof(uint16_t) + VS_QPACK_SLACK);
        if (!q->wbf) goto nomem;
        memset(q->wbf, 0, q->np * q->kp * sizeof(uint16_t) + VS_QPACK_SLACK);
        for (size_t j = 0; j < n; j++)
            for (size_t t = 0; t < k; t++) q->wbf[vs_qpack_at(j, t, q->kp, 2)] = vs_f32_to_bf16(w[j * k + t]);
        return VS_OK;
    }
    q->w8 = aligned_alloc(64, q->np * q->kp + VS_QPACK_SLACK);
    q->sw = calloc(q->np, sizeof(float));
    q->wsum = calloc(q->np, sizeof(int32_t));
    q->wf = calloc(q->np, sizeof(float));
    if (!q->w8 || !q->sw || !q->wsum || !q->wf) goto nomem;
    memset(q->w8, 0, q->np * q->kp + VS_QPACK_SLACK);
    for (size_t j = 0; j < n; j++) {
        const float *r = w + j * k;
        float mx = 0;
        for (size_t t = 0; t < k; t++) mx = fabsf(r[t]) > mx ? fabsf(r[t]) : mx;
        float s = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / s;
        int32_t sum = 0;
        for (size_t t = 0; t < k; t++) {
            float v = nearbyintf(r[t] * inv);
            int8_t b = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            q->w8[vs_qpack_at(j, t, q->kp, 4)] = b;
            sum += b;
        }
        q->sw[j] = s;
        q->wsum[j] = sum;
        q->wf[j] = s * (float)sum;
    }
    return VS_OK;
nomem:
    vs_qlinear_free(q);
    return vs_fail(VS_ERR_NOMEM, "out of memory for a %zu x %zu weight", n, k);
}

int vs_qlinear_s16_levels(size_t k)
{
    double l = floor(sqrt(2147483647.0 / (double)round_up(k ? k : 1, 4)));
    return l > 16383 ? 16383 : (int)l;
}

int vs_qlinear_init_s16(vs_qlinear *q, const float *w, const float *bias, size_t n, size_t k)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    q->k = k;
    q->np = round_up(n, 32);
    q->kp = round_up(k, 4);
    q->lv = vs_qlinear_s16_levels(k);
    q->bias = calloc(q->np, sizeof(float));
    q->w16 = aligned_alloc(64, q->np * q->kp * sizeof(int16_t));
    q->sw = calloc(q->np, sizeof(float));
    q->wf = calloc(q->np, sizeof(float));
    if (!q->bias || !q->w16 || !q->sw || !q->wf) {
        vs_qlinear_free(q);
        return vs_fail(VS_ERR_NOMEM, "out of memory for a %zu x %zu weight", n, k);
    }
    if (bias) memcpy(q->bias, bias, n * sizeof(float));
    memset(q->w16, 0, q->np * q->kp * sizeof(int16_t));
    const float lv = (float)q->lv;
    for (size_t j = 0; j < n; j++) {
        const float *r = w + j * k;
        float mx = 0;
        for (size_t t = 0; t < k; t++) mx = fabsf(r[t]) > mx ? fabsf(r[t]) : mx;
        float s = mx > 0 ? mx / lv : 1.0f, inv = 1.0f / s;
        int32_t sum = 0;
        for (size_t t = 0; t < k; t++) {
            float v = nearbyintf(r[t] * inv);
            int16_t b = (int16_t)(v > lv ? lv : v < -lv ? -lv : v);
            q->w16[vs_qpack_at(j, t, q->kp, 2)] = b;
            sum += b;
        }
        q->sw[j] = s;
        q->wf[j] = s * (float)sum;
    }
    return VS_OK;
}

int vs_qlinear_split(vs_qlinear *q, const float *w)
{
    if (!q->w8) return vs_fail(VS_ERR_INVALID_ARG, "only an int8 layer can be split");
    vs_qlinear *lo = calloc(1, sizeof *lo);
    if (!lo) return vs_fail(VS_ERR_NOMEM, "out of memory");
    q->lo = lo;
    const size_t n = q->n, k = q->k, kp2 = 2 * q->kp;
    *lo = (vs_qlinear){.n = n, .k = kp2, .np = q->np, .kp = kp2};
    lo->w8 = aligned_alloc(64, q->np * kp2 + VS_QPACK_SLACK);
    lo->sw = calloc(q->np, sizeof(float));
    lo->wsum = calloc(q->np, sizeof(int32_t));
    lo->wf = calloc(q->np, sizeof(float));
    lo->bias = calloc(q->np, sizeof(float));
    if (!lo->w8 || !lo->sw || !lo->wsum || !lo->wf || !lo->bias) {
        vs_qlinear_free(q);
        return vs_fail(VS_ERR_NOMEM, "out of memory for a split %zu x %zu weight", n, k);
    }
    memset(lo->w8, 0, q->np * kp2 + VS_QPACK_SLACK);
    for (size_t j = 0; j < n; j++) {
        const float *r = w + j * k;
        float s = q->sw[j], inv = 254.0f / s;
        int32_t sum = 0, rsum = 0;
        for (size_t t = 0; t < k; t++) {
            int8_t w8 = q->w8[vs_qpack_at(j, t, q->kp, 4)];
            float v = nearbyintf((r[t] - s * (float)w8) * inv);
            int8_t b = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            lo->w8[vs_qpack_at(j, t, kp2, 4)] = b; /* [wr8 | w8] against [a8 | r8] */
            lo->w8[vs_qpack_at(j, q->kp + t, kp2, 4)] = w8;
            sum += b + w8;
            rsum += b;
        }
        lo->sw[j] = s / 254.0f;
        lo->wsum[j] = sum;
        /* the zero point multiplies the whole weight row, residual included */
        q->wf[j] = s * (float)q->wsum[j] + lo->sw[j] * (float)rsum;
    }
    return VS_OK;
}

void vs_qlinear_free(vs_qlinear *q)
{
    if (q->lo) {
        vs_qlinear_free(q->lo);
        free(q->lo);
    }
    free(q->w8);
    free(q->w16);
    free(q->wbf);
    free(q->sw);
    free(q->wsum);
    free(q->wf);
    free(q->bias);
    memset(q, 0, sizeof *q);
}

size_t vs_qlinear_scratch_bytes(size_t m, size_t k, size_t n)
{ /* bf16 rows (2 bytes a value) or int8 rows [a8 | r8], the row scales and zero points, zeros
   * for the residual pass, and its output */
    size_t out = n * sizeof(float) > round_up(k, 4) ? n * sizeof(float) : round_up(k, 4);
    return round_up(m * round_up(k, 4) * 2, 64) + 3 * m * sizeof(float) + round_up(m * out, 64) + 64;
}

/* The residual rows of a split layer: [a8 | r8] per row, r8 one level below a8 (qgemm.h). */
static void residual_rows(size_t m, size_t k, const float *a, size_t lda, const int8_t *a8, size_t kp,
                          const float *sa, const float *za, int8_t *out)
{
    for (size_t i = 0; i < m; i++) {
        const float *r = a + i * lda;
        const int8_t *q = a8 + i * kp;
        int8_t *o = out + i * 2 * kp;
        float s = sa[i], inv = 254.0f / s, z = za[i];
        const float magic = 12582912.0f; /* round to nearest even as nearbyintf, but vectorised
                                          * (qgemm_quant_impl.h): exact while |v| < 2^22; larger
                                          * values (none: |v| <= 127 + rounding) clamp alike */
        memcpy(o, q, kp);
        for (size_t t = 0; t < k; t++) {
            float v = ((r[t] - z) - s * (float)q[t]) * inv;
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            v = (v + magic) - magic;
            o[kp + t] = (int8_t)(int32_t)v;
        }
        memset(o + kp + k, 0, kp - k);
    }
}

void vs_quant_rows_s8(size_t m, size_t k, const float *a, size_t lda, int8_t *q, size_t kp, float *sa, float *za)
{
    vs_qgemm_kernels_get()->quant_rows(m, k, a, lda, q, kp, sa, za);
}

int vs_qlinear_forward(const vs_qlinear *q, vs_precision p, size_t m, const float *a, size_t lda, float *c,
                       size_t ldc, void *scratch)
{
    const vs_qgemm_kernels *k = vs_qgemm_kernels_get();
    uint8_t *buf = scratch;
    if (p == VS_PRECISION_BF16) {
        if (!k->linear_bf16)
            return vs_fail(VS_ERR_UNSUPPORTED, "bf16 needs AVX512-BF16 at the active SIMD level (%s)",
                           vs_simd_name(vs_simd_active()));
        uint16_t *ab = (uint16_t *)buf;
        for (size_t i = 0; i < m; i++) {
            for (size_t t = 0; t < q->k; t++) ab[i * q->kp + t] = vs_f32_to_bf16(a[i * lda + t]);
            for (size_t t = q->k; t < q->kp; t++) ab[i * q->kp + t] = 0;
        }
        k->linear_bf16(m, ab, q, c, ldc);
        return VS_OK;
    }
    float *sa = (float *)(buf + round_up(m * q->kp * 2, 64)), *za = sa + m;
    if (q->w16) { /* int16 layer (every table runs one: AVX2 kernels above it) */
        int16_t *a16 = (int16_t *)buf;
        k->quant_rows16(m, q->k, a, lda, a16, q->kp, q->lv, sa, za);
        k->linear_s16(m, a16, sa, za, q, c, ldc);
        return VS_OK;
    }
    int8_t *a8 = (int8_t *)buf;
    if (!q->lo) {
        k->quant_rows(m, q->k, a, lda, a8, q->kp, sa, za);
        k->linear_s8s8(m, a8, sa, za, q, c, ldc);
        return VS_OK;
    }
    /* Split: a8 goes to the residual pass's output area (free until that pass), the rows
     * [a8 | r8] to the activation area (sized for 2 bytes a value). */
    float *zero = za + m, *lo_out = (float *)(buf + round_up(round_up(m * q->kp * 2, 64) + 3 * m * sizeof(float), 64));
    int8_t *rows = (int8_t *)buf;
    a8 = (int8_t *)lo_out;
    k->quant_rows(m, q->k, a, lda, a8, q->kp, sa, za);
    residual_rows(m, q->k, a, lda, a8, q->kp, sa, za, rows);
    memset(zero, 0, m * sizeof(float));
    k->linear_s8s8(m, a8, sa, za, q, c, ldc);
    k->linear_s8s8(m, rows, sa, zero, q->lo, lo_out, q->n);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < q->n; j++) c[i * ldc + j] += lo_out[i * q->n + j];
    return VS_OK;
}
