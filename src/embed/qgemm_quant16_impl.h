/* Row quantization of activations to int16 layers' lv levels (qgemm.h), included by the scalar
 * reference and the AVX2 kernel file (QROWS16 names the function): qgemm_quant_impl.h's steps
 * with 127 -> lv, so both copies give the same values (exactly rounded operations, no
 * contraction). */
#include <math.h>

static void QROWS16(size_t m, size_t k, const float *a, size_t lda, int16_t *q, size_t kp, int lv, float *sa,
                    float *za)
{
    const float l = (float)lv, l2 = (float)(2 * lv);
    for (size_t i = 0; i < m; i++) {
        const float *r = a + i * lda;
        int16_t *o = q + i * kp;
        float mx = r[0], mn = r[0];
        for (size_t t = 1; t < k; t++) {
            mx = r[t] > mx ? r[t] : mx;
            mn = r[t] < mn ? r[t] : mn;
        }
        float z = 0.5f * mx + 0.5f * mn, s = mx > mn ? (mx - mn) / l2 : 1.0f, inv = 1.0f / s;
        const float magic = 12582912.0f; /* round to nearest even: exact for |v| < 2^22 */
        for (size_t t = 0; t < k; t++) {
            float v = ((r[t] - z) * inv + magic) - magic;
            o[t] = (int16_t)(int32_t)(v > l ? l : v < -l ? -l : v);
        }
        for (size_t t = k; t < kp; t++) o[t] = 0;
        sa[i] = s;
        za[i] = z;
    }
}
