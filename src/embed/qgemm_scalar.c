/* Scalar reference of the qgemm kernels: the definition the SIMD copies must match bit for bit. */
#include "embed/qgemm_kernels.h"
#define QROWS quant_rows
#include "embed/qgemm_quant_impl.h"
#define QROWS16 quant_rows16
#include "embed/qgemm_quant16_impl.h"

static void linear_s8s8(size_t m, const int8_t *a, const float *sa, const float *za, const vs_qlinear *q, float *c,
                        size_t ldc)
{ /* walks the packed layout in order (one block of 16 channels at a time): the compiler
   * vectorises the inner loops, so a machine without AVX2 is slow, not unusable */
    const size_t kq = q->kp / 4;
    for (size_t i = 0; i < m; i++)
        for (size_t jb = 0; jb * 16 < q->n; jb++) {
            int32_t acc[16] = {0};
            const int8_t *w = q->w8 + jb * kq * 64, *ar = a + i * q->kp;
            for (size_t g = 0; g < kq; g++)
                for (int col = 0; col < 16; col++)
                    for (int t = 0; t < 4; t++) acc[col] += (int32_t)ar[4 * g + t] * w[g * 64 + col * 4 + t];
            for (size_t j = jb * 16; j < jb * 16 + 16 && j < q->n; j++) {
                float s = sa[i] * q->sw[j];
                float v = (float)acc[j - jb * 16] * s;
                float zp = za[i] * q->wf[j];
                c[i * ldc + j] = (v + zp) + q->bias[j];
            }
        }
}

static void linear_s16(size_t m, const int16_t *a, const float *sa, const float *za, const vs_qlinear *q, float *c,
                       size_t ldc)
{ /* as linear_s8s8, over int16 pairs (layout G = 2); exact in int32 (kp * lv^2 < 2^31) */
    const size_t kq = q->kp / 2;
    for (size_t i = 0; i < m; i++)
        for (size_t jb = 0; jb * 16 < q->n; jb++) {
            int32_t acc[16] = {0};
            const int16_t *w = q->w16 + jb * kq * 32, *ar = a + i * q->kp;
            for (size_t g = 0; g < kq; g++)
                for (int col = 0; col < 16; col++)
                    for (int t = 0; t < 2; t++) acc[col] += (int32_t)ar[2 * g + t] * w[g * 32 + col * 2 + t];
            for (size_t j = jb * 16; j < jb * 16 + 16 && j < q->n; j++) {
                float s = sa[i] * q->sw[j];
                float v = (float)acc[j - jb * 16] * s;
                float zp = za[i] * q->wf[j];
                c[i * ldc + j] = (v + zp) + q->bias[j];
            }
        }
}

void vs_qgemm_bf16_reference(size_t m, const uint16_t *a, const vs_qlinear *q, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < q->n; j++) {
            float acc = 0;
            for (size_t t = 0; t < q->kp; t += 2) {
                acc += vs_bf16_to_f32(a[i * q->kp + t + 1]) * vs_bf16_to_f32(q->wbf[vs_qpack_at(j, t + 1, q->kp, 2)]);
                acc += vs_bf16_to_f32(a[i * q->kp + t]) * vs_bf16_to_f32(q->wbf[vs_qpack_at(j, t, q->kp, 2)]);
            }
            c[i * ldc + j] = acc + q->bias[j];
        }
}

/* No bf16 here: a bf16 model on a machine without AVX512-BF16 is refused, never run slowly. */
const vs_qgemm_kernels vs_qgemm_scalar = {"scalar", quant_rows, linear_s8s8, NULL, quant_rows16, linear_s16, 0};
