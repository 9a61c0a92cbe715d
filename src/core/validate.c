/* Input validation: reject what would silently poison an index (NaN, Inf, zero cosine rows). */
#include "core/validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int vs_check_finite(const float *x, size_t n, uint32_t d, const char *what)
{
    size_t total = n * d, i = 0;
    /* Every search checks its queries: whole chunks branch-free (the compiler vectorises
     * it; an exit per element kept it scalar, 2% of a one-query IVF search at d = 784), and
     * only a chunk holding a bad value is searched element by element. */
    enum { CHUNK = 64 };
    for (; i + CHUNK <= total; i += CHUNK) {
        uint32_t bad = 0;
        for (size_t j = 0; j < CHUNK; j++) {
            uint32_t u;
            memcpy(&u, &x[i + j], sizeof u);
            bad |= (u & 0x7f800000u) == 0x7f800000u; /* exponent all ones: inf or NaN */
        }
        if (bad) break;
    }
    for (; i < total; i++) {
        if (!isfinite(x[i]))
            return vs_fail(VS_ERR_INVALID_ARG, "%s %zu component %zu is %s", what, i / d, i % d,
                           isnan(x[i]) ? "NaN" : "infinite");
    }
    return VS_OK;
}

int vs_checked_size(size_t n, size_t d, size_t elem, size_t *out)
{
    if (d && n > SIZE_MAX / d / elem)
        return vs_fail(VS_ERR_INVALID_ARG, "size %zu x %zu overflows", n, d);
    *out = n * d * elem;
    return VS_OK;
}

int vs_normalized_copy(const float *x, size_t n, uint32_t d, const char *what, float **out)
{
    size_t bytes = 0;
    int rc = vs_checked_size(n, d, sizeof(float), &bytes);
    if (rc) return rc;
    float *y = malloc(bytes ? bytes : 1);
    if (!y) return vs_fail(VS_ERR_NOMEM, "out of memory normalising %zu vectors", n);
    for (size_t i = 0; i < n; i++) {
        const float *src = x + i * d;
        float *dst = y + i * d;
        /* Accumulate in double: a float sum of squares can underflow to 0 or overflow. */
        double s = 0;
        for (uint32_t j = 0; j < d; j++) s += (double)src[j] * src[j];
        if (!(s > 0) || !isfinite(s)) {
            free(y);
            return vs_fail(VS_ERR_INVALID_ARG, "%s %zu has %s norm and cannot be normalised for cosine",
                           what, i, s > 0 ? "infinite" : "zero");
        }
        float inv = (float)(1.0 / sqrt(s));
        for (uint32_t j = 0; j < d; j++) dst[j] = src[j] * inv;
    }
    *out = y;
    return VS_OK;
}
