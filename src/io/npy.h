/* NumPy .npy header parsing and formatting (internal to the vecio module). */
#ifndef VS_IO_NPY_H
#define VS_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct {
    vs_dtype dtype;
    size_t n;           /* rows (shape[0]) */
    uint32_t dim;       /* columns (shape[1], or 1 for a 1-D array) */
    size_t data_offset; /* where the row-major data starts in the buffer */
} vs_npy_info;

/* Validates magic, version, header dict and that n * dim elements fit in len bytes.
 * `name` is used in error messages. n == 0 or dim == 0 fails with VS_ERR_EMPTY. */
int vs_npy_parse_header(const uint8_t *buf, size_t len, const char *name, vs_npy_info *out);

/* Writes a version 1.0 header (magic .. trailing '\n', a multiple of 64 bytes) for an
 * (n, dim) C-order array into buf; *out_len receives its size. cap >= 128 always suffices. */
int vs_npy_format_header(vs_dtype dtype, size_t n, uint32_t dim, uint8_t *buf, size_t cap,
                         size_t *out_len);

#endif
