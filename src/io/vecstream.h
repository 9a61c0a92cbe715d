/* Streaming reads of a vector file (.fvecs, .bvecs, .npy) by row ranges, with pread, so a
 * build or an exact k-NN pass never holds the whole input: the caller asks for rows
 * [first, first + count) into its own buffer. open() checks the file's shape once (the
 * size must be a whole number of rows: a truncated .bvecs fails there, naming the row);
 * read() checks every row's dimension header it passes over. The identity (size, mtime and
 * a hash of the first 4 KiB) lets a resumed build refuse an input that changed. */
#ifndef VS_IO_VECSTREAM_H
#define VS_IO_VECSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct {
    int fd;
    vs_dtype dtype;
    uint32_t dim;
    size_t n;            /* rows (after max_rows) */
    size_t row_bytes;    /* bytes per row in the file, header included */
    size_t row_head;     /* 4 for .fvecs/.bvecs (the dimension), 0 for .npy */
    uint64_t data_off;   /* where row 0 starts */
    uint64_t file_size;
    int64_t mtime_ns;
    uint64_t head_hash;  /* XXH3-64 of the first min(4096, size) bytes */
    char name[512];
} vs_vecstream;

int vs_vecstream_open(const char *path, size_t max_rows, vs_vecstream *s);
/* Rows [first, first + count): their elements (dtype, row-major, headers stripped) into raw
 * if non-NULL, and as float32 into f32 if non-NULL. */
int vs_vecstream_read(const vs_vecstream *s, size_t first, size_t count, void *raw, float *f32);
/* count rows at the given ascending row numbers (a training sample), as float32. */
int vs_vecstream_gather(const vs_vecstream *s, const size_t *rows, size_t count, float *f32);
void vs_vecstream_close(vs_vecstream *s);
/* Bytes of one element. */
static inline size_t vs_vecstream_esize(const vs_vecstream *s) { return s->dtype == VS_DTYPE_U8 ? 1 : 4; }

#endif
