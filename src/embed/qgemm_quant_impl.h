/* Row quantization of activations (qgemm.h), included by every qgemm kernel file so each
 * instruction set vectorises it at its own width. Every step is an exactly rounded IEEE
 * operation (max, multiply, add, compare; no contraction: the files use -ffp-contract=off), so
 * all copies give the same bytes. The including file defines QROWS as the function's name. */
#include <math.h>

static void QROWS(size_t m, size_t k, const float *a, size_t lda, int8_t *q, size_t kp, float *sa, float *za)
{
    for (size_t i = 0; i < m; i++) {
        const float *r = a + i * lda;
        int8_t *o = q + i * kp;
        float mx = r[0], mn = r[0];
        for (size_t t = 1; t < k; t++) {
            mx = r[t] > mx ? r[t] : mx;
            mn = r[t] < mn ? r[t] : mn;
        }
        /* The middle of the range is the zero point; (r - z) * inv is then within 127 of zero up
         * to rounding, which the clamp absorbs. A constant row is z exactly (all codes 0). */
        float z = 0.5f * mx + 0.5f * mn, s = mx > mn ? (mx - mn) / 254.0f : 1.0f, inv = 1.0f / s;
        /* Round to nearest even by adding and subtracting 1.5 * 2^23 (exact for |v| <= 127):
         * nearbyintf is a libm call on baseline x86-64 (no SSE4.1 roundps) and was 23% of the
         * int8 encoder's time; this loop vectorises. */
        const float magic = 12582912.0f;
        for (size_t t = 0; t < k; t++) {
            float v = ((r[t] - z) * inv + magic) - magic;
            o[t] = (int8_t)(int32_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
        for (size_t t = k; t < kp; t++) o[t] = 0;
        sa[i] = s;
        za[i] = z;
    }
}
