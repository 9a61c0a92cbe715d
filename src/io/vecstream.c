/* Row-range reads of .fvecs / .bvecs / .npy files (see vecstream.h). */
#include "io/vecstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "io/fd_io.h"
#include "io/npy.h"

#define MAX_DIM 65536u
/* A read of many rows goes through the caller's buffer in pieces of at most this much. */
#define PIECE ((size_t)4 << 20)

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int open_texmex(vs_vecstream *s, size_t esize)
{
    uint8_t h[4];
    if (s->file_size == 0) return vs_fail(VS_ERR_EMPTY, "%s: file is empty (no vectors)", s->name);
    if (s->file_size < 4 || vs_pread_all(s->fd, h, 4, 0))
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated at row 0 (no dimension header)", s->name);
    uint32_t d = le32(h);
    if (d == 0 || d > MAX_DIM)
        return vs_fail(VS_ERR_CORRUPT, "%s: row 0 has dimension %d (expected 1..%u)", s->name, (int)d, MAX_DIM);
    s->dim = d;
    s->row_head = 4;
    s->row_bytes = 4 + (size_t)d * esize;
    s->data_off = 0;
    uint64_t whole = s->file_size / s->row_bytes, extra = s->file_size % s->row_bytes;
    if (extra)
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated at row %llu (%llu of its %zu bytes present; the file "
                       "size %llu is not a whole number of %u-dimensional rows)", s->name,
                       (unsigned long long)whole, (unsigned long long)extra, s->row_bytes,
                       (unsigned long long)s->file_size, d);
    s->n = (size_t)whole;
    return VS_OK;
}

static int open_npy(vs_vecstream *s)
{
    if (s->file_size == 0) return vs_fail(VS_ERR_EMPTY, "%s: file is empty (no vectors)", s->name);
    /* The header parser checks the data against the bytes it is given: give it a mapping of
     * the whole file (only the header's page is touched). */
    void *map = mmap(NULL, (size_t)s->file_size, PROT_READ, MAP_SHARED, s->fd, 0);
    if (map == MAP_FAILED) return vs_fail(VS_ERR_IO, "%s: cannot map: %s", s->name, strerror(errno));
    vs_npy_info info;
    int rc = vs_npy_parse_header(map, (size_t)s->file_size, s->name, &info);
    munmap(map, (size_t)s->file_size);
    if (rc) return rc;
    if (info.dtype == VS_DTYPE_I32) return vs_fail(VS_ERR_UNSUPPORTED, "%s: int32 arrays are not vectors to index", s->name);
    s->dim = info.dim;
    s->dtype = info.dtype;
    s->row_head = 0;
    s->row_bytes = (size_t)info.dim * (info.dtype == VS_DTYPE_U8 ? 1 : 4);
    s->data_off = info.data_offset;
    s->n = info.n;
    return VS_OK;
}

int vs_vecstream_open(const char *path, size_t max_rows, vs_vecstream *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    snprintf(s->name, sizeof s->name, "%s", path);
    int fmt = ends_with(path, ".fvecs") ? 1 : ends_with(path, ".bvecs") ? 2 : ends_with(path, ".npy") ? 3 : 0;
    if (!fmt) return vs_fail(VS_ERR_UNSUPPORTED, "%s: streaming reads take .fvecs, .bvecs or .npy", path);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(s->fd, &st)) {
        vs_vecstream_close(s);
        return vs_fail(VS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    s->file_size = (uint64_t)st.st_size;
    s->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    int rc = fmt == 1 ? (s->dtype = VS_DTYPE_F32, open_texmex(s, 4))
           : fmt == 2 ? (s->dtype = VS_DTYPE_U8, open_texmex(s, 1))
                      : open_npy(s);
    if (!rc) {
        uint8_t h[4096];
        size_t len = s->file_size < sizeof h ? (size_t)s->file_size : sizeof h;
        if (vs_pread_all(s->fd, h, len, 0)) rc = vs_fail(VS_ERR_IO, "%s: cannot read", path);
        else s->head_hash = XXH3_64bits(h, len);
    }
    if (rc) {
        vs_vecstream_close(s);
        return rc;
    }
    if (max_rows && max_rows < s->n) s->n = max_rows;
    return VS_OK;
}

/* Copies count rows from the file image in buf (starting at row first) out. */
static int unpack(const vs_vecstream *s, const uint8_t *buf, size_t first, size_t count, uint8_t *raw, float *f32)
{
    const size_t es = vs_vecstream_esize(s), payload = (size_t)s->dim * es;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *row = buf + i * s->row_bytes;
        if (s->row_head) {
            uint32_t d = le32(row);
            if (d != s->dim)
                return vs_fail(VS_ERR_CORRUPT, "%s: row %zu has dimension %d but row 0 has %u (all rows must "
                               "have the same dimension)", s->name, first + i, (int)d, s->dim);
            row += 4;
        }
        if (raw) memcpy(raw + i * payload, row, payload);
        if (f32) {
            float *o = f32 + i * s->dim;
            if (s->dtype == VS_DTYPE_U8)
                for (uint32_t j = 0; j < s->dim; j++) o[j] = (float)row[j];
            else
                memcpy(o, row, payload); /* little-endian hosts (x86, arm64) */
        }
    }
    return VS_OK;
}

int vs_vecstream_read(const vs_vecstream *s, size_t first, size_t count, void *raw, float *f32)
{
    if (first > s->n || count > s->n - first)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: rows %zu..%zu are past its %zu rows", s->name, first, first + count, s->n);
    size_t per = PIECE / s->row_bytes ? PIECE / s->row_bytes : 1;
    uint8_t *buf = malloc(per * s->row_bytes);
    if (!buf) return vs_fail(VS_ERR_NOMEM, "out of memory");
    const size_t es = vs_vecstream_esize(s);
    int rc = VS_OK;
    for (size_t at = 0; at < count && !rc; at += per) {
        size_t c = count - at < per ? count - at : per;
        if (vs_pread_all(s->fd, buf, c * s->row_bytes, s->data_off + (uint64_t)(first + at) * s->row_bytes)) {
            rc = vs_fail(VS_ERR_IO, "%s: read failed at row %zu (file changed or shrank?)", s->name, first + at);
            break;
        }
        rc = unpack(s, buf, first + at, c, raw ? (uint8_t *)raw + at * s->dim * es : NULL,
                    f32 ? f32 + at * s->dim : NULL);
    }
    free(buf);
    return rc;
}

int vs_vecstream_gather(const vs_vecstream *s, const size_t *rows, size_t count, float *f32)
{
    uint8_t *buf = malloc(s->row_bytes);
    if (!buf) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = VS_OK;
    for (size_t i = 0; i < count && !rc; i++) {
        if (rows[i] >= s->n) rc = vs_fail(VS_ERR_INVALID_ARG, "%s: row %zu is past its %zu rows", s->name, rows[i], s->n);
        else if (vs_pread_all(s->fd, buf, s->row_bytes, s->data_off + (uint64_t)rows[i] * s->row_bytes))
            rc = vs_fail(VS_ERR_IO, "%s: read failed at row %zu", s->name, rows[i]);
        else rc = unpack(s, buf, rows[i], 1, NULL, f32 + i * s->dim);
    }
    free(buf);
    return rc;
}

void vs_vecstream_close(vs_vecstream *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}
