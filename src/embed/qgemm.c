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
        q->wbf = aligned_alloc(64, q->np * q->kp * sizeof(uint16_t));
        if (!q->wbf) goto nomem;
        memset(q->wbf, 0, q->np * q->kp * sizeof(uint16_t));
        for (size_t j = 0; j < n; j++)
            for (size_t t = 0; t < k; t++) q->wbf[vs_qpack_at(j, t, q->kp, 2)] = vs_f32_to_bf16(w[j * k + t]);
        return VS_OK;
    }
    q->w8 = aligned_alloc(64, q->np * q->kp);
    q->sw = calloc(q->np, sizeof(float));
    q->wsum = calloc(q->np, sizeof(int32_t));
    if (!q->w8 || !q->sw || !q->wsum) goto nomem;
    memset(q->w8, 0, q->np * q->kp);
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
    }
    return VS_OK;
nomem:
    vs_qlinear_free(q);
    return vs_fail(VS_ERR_NOMEM, "out of memory for a %zu x %zu weight", n, k);
}

void vs_qlinear_free(vs_qlinear *q)
{
    free(q->w8);
    free(q->wbf);
    free(q->sw);
    free(q->wsum);
    free(q->bias);
    memset(q, 0, sizeof *q);
}

size_t vs_qlinear_scratch_bytes(size_t m, size_t k)
{ /* bf16 rows (2 bytes a value) or int8 rows, then the row scales */
    return round_up(m * round_up(k, 4) * 2, 64) + m * sizeof(float);
}

void vs_quant_rows_s8(size_t m, size_t k, const float *a, size_t lda, int8_t *q, size_t kp, float *sa)
{
    vs_qgemm_kernels_get()->quant_rows(m, k, a, lda, q, kp, sa);
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
    float *sa = (float *)(buf + round_up(m * q->kp * 2, 64));
    k->quant_rows(m, q->k, a, lda, (int8_t *)buf, q->kp, sa);
    k->linear_s8s8(m, (const int8_t *)buf, sa, q, c, ldc);
    return VS_OK;
}
