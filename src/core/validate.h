/* Input checks shared by every index: finite values, dimensions, cosine normalisation. */
#ifndef VS_CORE_VALIDATE_H
#define VS_CORE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

/* Fails with VS_ERR_INVALID_ARG naming the first non-finite component ("what" names the input). */
int vs_check_finite(const float *x, size_t n, uint32_t d, const char *what);
/* Copies x into a new buffer of unit-norm rows (*out freed by the caller with free()).
 * A zero row cannot be normalised and fails with VS_ERR_INVALID_ARG. */
int vs_normalized_copy(const float *x, size_t n, uint32_t d, const char *what, float **out);
/* n * d * size without overflow, or VS_ERR_INVALID_ARG. */
int vs_checked_size(size_t n, size_t d, size_t elem, size_t *out);

#endif
