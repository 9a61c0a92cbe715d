/* Vector files: .fvecs/.ivecs/.bvecs (TEXMEX), .npy (see npy.c) and MNIST idx3-ubyte.
 * Reading maps the file and shares one in-memory parser with vs_matrix_parse; every length
 * read from a file is checked against the bytes actually present before it is used. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "vecscale.h"

#define VS_MAX_DIM 65536u
#define WRITE_CHUNK ((size_t)8 << 20)

typedef enum { FMT_UNKNOWN = 0, FMT_FVECS, FMT_IVECS, FMT_BVECS, FMT_NPY, FMT_IDX3 } vec_format;

static const char supported_formats[] = ".fvecs, .ivecs, .bvecs, .npy, idx3-ubyte";

/* ---- helpers -------------------------------------------------------------------------- */

static int host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t rd_be32(const uint8_t *p)
{
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static void wr_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* Copies count elements of esize bytes between host order and little-endian (same thing on
 * x86/arm64; byte-swapped on big-endian hosts). */
static void copy_le(void *dst, const void *src, size_t count, size_t esize)
{
    memcpy(dst, src, count * esize);
    if (esize == 4 && !host_is_le()) {
        uint8_t *p = dst;
        for (size_t i = 0; i < count; i++, p += 4) {
            uint8_t t0 = p[0], t1 = p[1];
            p[0] = p[3]; p[1] = p[2]; p[2] = t1; p[3] = t0;
        }
    }
}

static size_t dtype_size(vs_dtype t) { return t == VS_DTYPE_U8 ? 1 : 4; }

static const char *dtype_name(vs_dtype t)
{
    return t == VS_DTYPE_F32 ? "float32" : t == VS_DTYPE_I32 ? "int32" : t == VS_DTYPE_U8 ? "uint8"
                                                                                           : "invalid";
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

/* `ext` is an extension without the dot ("fvecs"); a leading dot is tolerated. */
static vec_format format_from_ext(const char *ext)
{
    if (ext[0] == '.') ext++;
    if (strcasecmp(ext, "fvecs") == 0) return FMT_FVECS;
    if (strcasecmp(ext, "ivecs") == 0) return FMT_IVECS;
    if (strcasecmp(ext, "bvecs") == 0) return FMT_BVECS;
    if (strcasecmp(ext, "npy") == 0) return FMT_NPY;
    if (strcasecmp(ext, "idx3-ubyte") == 0 || strcasecmp(ext, "idx3") == 0) return FMT_IDX3;
    return FMT_UNKNOWN;
}

static vec_format format_from_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (ends_with_ci(base, ".fvecs")) return FMT_FVECS;
    if (ends_with_ci(base, ".ivecs")) return FMT_IVECS;
    if (ends_with_ci(base, ".bvecs")) return FMT_BVECS;
    if (ends_with_ci(base, ".npy")) return FMT_NPY;
    /* MNIST names: "train-images-idx3-ubyte", "foo.idx3-ubyte", or just "idx3-ubyte". */
    if (ends_with_ci(base, "idx3-ubyte")) {
        size_t n = strlen(base);
        if (n == 10 || base[n - 11] == '.' || base[n - 11] == '-') return FMT_IDX3;
    }
    return FMT_UNKNOWN;
}

static int unknown_format(const char *what)
{
    if (ends_with_ci(what, ".gz"))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: compressed files are not supported; decompress "
                       "first (supported: %s)", what, supported_formats);
    return vs_fail(VS_ERR_UNSUPPORTED, "%s: unknown vector file format (supported: %s)", what,
                   supported_formats);
}

static int matrix_new(size_t n, uint32_t dim, vs_dtype dtype, const char *name, vs_matrix **out)
{
    size_t es = dtype_size(dtype);
    if (dim == 0 || n > SIZE_MAX / dim || n * dim > SIZE_MAX / es)
        return vs_fail(VS_ERR_NOMEM, "%s: %zu x %u matrix is too large", name, n, (unsigned)dim);
    vs_matrix *m = calloc(1, sizeof *m);
    size_t bytes = n * dim * es;
    void *data = malloc(bytes ? bytes : 1);
    if (!m || !data) {
        free(m);
        free(data);
        return vs_fail(VS_ERR_NOMEM, "%s: out of memory for a %zu x %u %s matrix", name, n,
                       (unsigned)dim, dtype_name(dtype));
    }
    m->n = n;
    m->dim = dim;
    m->dtype = dtype;
    m->data = data;
    *out = m;
    return VS_OK;
}

/* ---- parsers -------------------------------------------------------------------------- */

static int parse_texmex(const uint8_t *buf, size_t len, vec_format fmt, const char *name,
                        size_t max_rows, vs_matrix **out)
{
    vs_dtype dtype = fmt == FMT_FVECS ? VS_DTYPE_F32 : fmt == FMT_IVECS ? VS_DTYPE_I32 : VS_DTYPE_U8;
    size_t es = dtype_size(dtype);
    if (len < 4)
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated at row 0 (%zu bytes, the dimension "
                       "header needs 4)", name, len);
    int32_t d0 = (int32_t)rd_le32(buf);
    if (d0 <= 0 || (uint32_t)d0 > VS_MAX_DIM)
        return vs_fail(VS_ERR_CORRUPT, "%s: row 0 has invalid dimension %d (must be 1..%u)", name,
                       (int)d0, VS_MAX_DIM);
    size_t payload = (size_t)d0 * es, row_bytes = 4 + payload;
    size_t limit = max_rows ? max_rows : SIZE_MAX;

    /* Validate every row header first so nothing is allocated for a bad file. */
    size_t n = 0, off = 0;
    while (off < len && n < limit) {
        size_t left = len - off;
        if (left < 4)
            return vs_fail(VS_ERR_CORRUPT, "%s: truncated at row %zu (%zu of 4 dimension-header "
                           "bytes present)", name, n, left);
        int32_t d = (int32_t)rd_le32(buf + off);
        if (d != d0)
            return vs_fail(VS_ERR_CORRUPT, "%s: row %zu has dimension %d but row 0 has %d (all "
                           "rows must have the same dimension)", name, n, (int)d, (int)d0);
        if (left - 4 < payload)
            return vs_fail(VS_ERR_CORRUPT, "%s: truncated at row %zu (%zu of %zu data bytes "
                           "present)", name, n, left - 4, payload);
        off += row_bytes;
        n++;
    }

    vs_matrix *m;
    int rc = matrix_new(n, (uint32_t)d0, dtype, name, &m);
    if (rc) return rc;
    uint8_t *dst = m->data;
    for (size_t i = 0; i < n; i++)
        copy_le(dst + i * payload, buf + i * row_bytes + 4, (size_t)d0, es);
    *out = m;
    return VS_OK;
}

/* MNIST idx: big-endian magic 00 00 <type> <ndims>, then ndims big-endian uint32 sizes. */
static int parse_idx3(const uint8_t *buf, size_t len, const char *name, size_t max_rows,
                      vs_matrix **out)
{
    if (len < 4) return vs_fail(VS_ERR_CORRUPT, "%s: truncated idx header (%zu bytes)", name, len);
    uint32_t magic = rd_be32(buf);
    uint8_t type = buf[2], ndims = buf[3];
    int known_type = type == 0x08 || type == 0x09 || type == 0x0B || type == 0x0C ||
                     type == 0x0D || type == 0x0E;
    if (buf[0] != 0 || buf[1] != 0 || !known_type || ndims == 0)
        return vs_fail(VS_ERR_CORRUPT, "%s: not an idx file (bad magic 0x%08x, expected "
                       "0x00000803)", name, (unsigned)magic);
    if (type != 0x08)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: idx element type 0x%02x is not supported (only "
                       "unsigned byte, magic 0x00000803)", name, type);
    if (ndims != 3)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: idx file has %u dimensions; only 3-D image files "
                       "(magic 0x00000803) are supported", name, ndims);
    if (len < 16) return vs_fail(VS_ERR_CORRUPT, "%s: truncated idx header (%zu of 16 bytes)", name, len);
    uint32_t n32 = rd_be32(buf + 4), rows = rd_be32(buf + 8), cols = rd_be32(buf + 12);
    if (n32 == 0) return vs_fail(VS_ERR_EMPTY, "%s: idx file holds no images", name);
    if (rows == 0 || cols == 0)
        return vs_fail(VS_ERR_CORRUPT, "%s: idx image size %u x %u is empty", name,
                       (unsigned)rows, (unsigned)cols);
    uint64_t dim64 = (uint64_t)rows * cols;
    if (dim64 > VS_MAX_DIM)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: idx image size %u x %u exceeds the maximum "
                       "dimension %u", name, (unsigned)rows, (unsigned)cols, VS_MAX_DIM);
    size_t n = n32, dim = (size_t)dim64, avail = len - 16;
    if (n > SIZE_MAX / dim)
        return vs_fail(VS_ERR_CORRUPT, "%s: idx size %zu x %zu overflows", name, n, dim);
    if (n * dim > avail)
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated at row %zu (header says %zu images of %zu "
                       "bytes, file has %zu data bytes)", name, avail / dim, n, dim, avail);
    if (n * dim < avail)
        return vs_fail(VS_ERR_CORRUPT, "%s: idx file has %zu unexpected bytes after the data",
                       name, avail - n * dim);
    if (max_rows && max_rows < n) n = max_rows;
    vs_matrix *m;
    int rc = matrix_new(n, (uint32_t)dim, VS_DTYPE_U8, name, &m);
    if (rc) return rc;
    memcpy(m->data, buf + 16, n * dim);
    *out = m;
    return VS_OK;
}

static int parse_npy(const uint8_t *buf, size_t len, const char *name, size_t max_rows,
                     vs_matrix **out)
{
    vs_npy_info info;
    int rc = vs_npy_parse_header(buf, len, name, &info);
    if (rc) return rc;
    size_t n = max_rows && max_rows < info.n ? max_rows : info.n;
    vs_matrix *m;
    if ((rc = matrix_new(n, info.dim, info.dtype, name, &m))) return rc;
    copy_le(m->data, buf + info.data_offset, n * info.dim, dtype_size(info.dtype));
    *out = m;
    return VS_OK;
}

static int parse_any(const uint8_t *buf, size_t len, vec_format fmt, const char *name,
                     size_t max_rows, vs_matrix **out)
{
    if (len == 0) return vs_fail(VS_ERR_EMPTY, "%s: file is empty (no vectors)", name);
    switch (fmt) {
    case FMT_FVECS:
    case FMT_IVECS:
    case FMT_BVECS: return parse_texmex(buf, len, fmt, name, max_rows, out);
    case FMT_NPY: return parse_npy(buf, len, name, max_rows, out);
    case FMT_IDX3: return parse_idx3(buf, len, name, max_rows, out);
    default: return unknown_format(name);
    }
}

/* ---- public API ----------------------------------------------------------------------- */

int vs_matrix_parse(const void *buf, size_t len, const char *format, size_t max_rows,
                    vs_matrix **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_parse: out is NULL");
    *out = NULL;
    if (!format) return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_parse: format is NULL");
    if (!buf && len > 0) return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_parse: buf is NULL");
    vec_format fmt = format_from_ext(format);
    if (fmt == FMT_UNKNOWN)
        return vs_fail(VS_ERR_UNSUPPORTED, "unknown vector format '%.32s' (supported: fvecs, "
                       "ivecs, bvecs, npy, idx3-ubyte)", format);
    char name[48];
    snprintf(name, sizeof name, "in-memory .%s data", format[0] == '.' ? format + 1 : format);
    return parse_any(buf, len, fmt, name, max_rows, out);
}

static int read_fd_fully(int fd, const char *path, uint8_t **data, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) return vs_fail(VS_ERR_NOMEM, "%s: out of memory", path);
    for (;;) {
        if (n == cap) {
            uint8_t *nb = cap <= SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
            if (!nb) { free(b); return vs_fail(VS_ERR_NOMEM, "%s: out of memory", path); }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(b);
            return vs_fail(VS_ERR_IO, "read %s: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *data = b;
    *len = n;
    return VS_OK;
}

int vs_matrix_read(const char *path, size_t max_rows, vs_matrix **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_read: out is NULL");
    *out = NULL;
    if (!path || !*path) return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_read: empty path");
    vec_format fmt = format_from_path(path);
    if (fmt == FMT_UNKNOWN) return unknown_format(path);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return vs_fail(VS_ERR_NOT_FOUND, "%s: no such file", path);
        return vs_fail(VS_ERR_IO, "open %s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return vs_fail(VS_ERR_IO, "stat %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return vs_fail(VS_ERR_IO, "%s: is a directory", path);
    }

    int rc;
    if (S_ISREG(st.st_mode)) {
        if (st.st_size == 0) {
            close(fd);
            return vs_fail(VS_ERR_EMPTY, "%s: file is empty (no vectors)", path);
        }
        if ((uint64_t)st.st_size > SIZE_MAX) {
            close(fd);
            return vs_fail(VS_ERR_NOMEM, "%s: file too large for this address space", path);
        }
        size_t len = (size_t)st.st_size;
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            close(fd);
            (void)madvise(map, len, MADV_SEQUENTIAL);
            rc = parse_any(map, len, fmt, path, max_rows, out);
            munmap(map, len);
            return rc;
        }
        /* Some filesystems cannot be mapped; fall through to plain reads. */
    }
    uint8_t *data = NULL;
    size_t len = 0;
    rc = read_fd_fully(fd, path, &data, &len);
    close(fd);
    if (rc) return rc;
    rc = parse_any(data, len, fmt, path, max_rows, out);
    free(data);
    return rc;
}

int vs_matrix_to_f32(vs_matrix *m)
{
    if (!m) return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_to_f32: matrix is NULL");
    if (m->dtype == VS_DTYPE_F32) return VS_OK;
    if (m->dtype != VS_DTYPE_U8 && m->dtype != VS_DTYPE_I32)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_to_f32: invalid dtype %d", (int)m->dtype);
    if (m->dim != 0 && m->n > SIZE_MAX / m->dim)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_to_f32: %zu x %u overflows", m->n, m->dim);
    size_t count = m->n * m->dim;
    if (count > SIZE_MAX / 4)
        return vs_fail(VS_ERR_NOMEM, "vs_matrix_to_f32: %zu elements overflow", count);
    if (count == 0) {
        m->dtype = VS_DTYPE_F32;
        return VS_OK;
    }
    if (!m->data) return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_to_f32: data is NULL");
    if (m->dtype == VS_DTYPE_I32) {
        uint8_t *p = m->data;
        for (size_t i = 0; i < count; i++, p += 4) {
            int32_t v;
            memcpy(&v, p, 4);
            float f = (float)v;
            memcpy(p, &f, 4);
        }
    } else {
        uint8_t *p = realloc(m->data, count * 4);
        if (!p) return vs_fail(VS_ERR_NOMEM, "vs_matrix_to_f32: out of memory for %zu floats", count);
        m->data = p;
        /* Back to front: float i occupies bytes 4i..4i+3, which only hold bytes not yet read. */
        float *f = (float *)(void *)p;
        for (size_t i = count; i-- > 0;) f[i] = (float)p[i];
    }
    m->dtype = VS_DTYPE_F32;
    return VS_OK;
}

static int write_texmex(vs_atomic_file *af, const vs_matrix *m)
{
    size_t es = dtype_size(m->dtype), payload = (size_t)m->dim * es, row_bytes = 4 + payload;
    size_t rows_per_chunk = WRITE_CHUNK / row_bytes;
    if (rows_per_chunk == 0) rows_per_chunk = 1;
    if (rows_per_chunk > m->n) rows_per_chunk = m->n;
    uint8_t *chunk = malloc(rows_per_chunk * row_bytes);
    if (!chunk) return vs_fail(VS_ERR_NOMEM, "out of memory for a write buffer");
    const uint8_t *src = m->data;
    int rc = VS_OK;
    for (size_t i = 0; i < m->n && rc == VS_OK;) {
        size_t k = m->n - i < rows_per_chunk ? m->n - i : rows_per_chunk;
        for (size_t r = 0; r < k; r++) {
            uint8_t *row = chunk + r * row_bytes;
            wr_le32(row, m->dim);
            copy_le(row + 4, src + (i + r) * payload, m->dim, es);
        }
        rc = vs_atomic_write(af, chunk, k * row_bytes);
        i += k;
    }
    free(chunk);
    return rc;
}

static int write_npy(vs_atomic_file *af, const vs_matrix *m)
{
    uint8_t header[128];
    size_t hlen;
    int rc = vs_npy_format_header(m->dtype, m->n, m->dim, header, sizeof header, &hlen);
    if (rc || (rc = vs_atomic_write(af, header, hlen))) return rc;
    size_t es = dtype_size(m->dtype), total = m->n * m->dim * es;
    size_t cap = total < WRITE_CHUNK ? total : WRITE_CHUNK;
    uint8_t *chunk = malloc(cap);
    if (!chunk) return vs_fail(VS_ERR_NOMEM, "out of memory for a write buffer");
    const uint8_t *src = m->data;
    for (size_t off = 0; off < total && rc == VS_OK;) {
        size_t k = total - off < cap ? total - off : cap; /* cap is a multiple of 4 when es == 4 */
        copy_le(chunk, src + off, k / es, es);
        rc = vs_atomic_write(af, chunk, k);
        off += k;
    }
    free(chunk);
    return rc;
}

int vs_matrix_write(const char *path, const vs_matrix *m)
{
    if (!path || !*path) return vs_fail(VS_ERR_INVALID_ARG, "vs_matrix_write: empty path");
    if (!m) return vs_fail(VS_ERR_INVALID_ARG, "%s: matrix is NULL", path);
    vec_format fmt = format_from_path(path);
    if (fmt == FMT_UNKNOWN) return unknown_format(path);
    if (fmt == FMT_IDX3)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: writing idx3-ubyte is not supported (write .bvecs "
                       "or .npy)", path);
    if (m->dtype != VS_DTYPE_F32 && m->dtype != VS_DTYPE_I32 && m->dtype != VS_DTYPE_U8)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: matrix has invalid dtype %d", path, (int)m->dtype);
    if (m->dim == 0 || m->dim > VS_MAX_DIM)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: matrix dimension %u is out of range 1..%u", path,
                       (unsigned)m->dim, VS_MAX_DIM);
    if (m->n == 0) return vs_fail(VS_ERR_EMPTY, "%s: matrix has no rows to write", path);
    if (!m->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: matrix data is NULL", path);
    size_t es = dtype_size(m->dtype);
    if (m->n > SIZE_MAX / m->dim || m->n * m->dim > SIZE_MAX / (es + 4))
        return vs_fail(VS_ERR_INVALID_ARG, "%s: %zu x %u matrix is too large", path, m->n,
                       (unsigned)m->dim);
    vs_dtype want = fmt == FMT_FVECS ? VS_DTYPE_F32 : fmt == FMT_IVECS ? VS_DTYPE_I32
                                                                      : VS_DTYPE_U8;
    if (fmt != FMT_NPY && m->dtype != want)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: the extension holds %s vectors but the matrix is "
                       "%s (convert it, or write .npy)", path, dtype_name(want),
                       dtype_name(m->dtype));

    vs_atomic_file *af;
    int rc = vs_atomic_open(path, &af);
    if (rc) return rc;
    rc = fmt == FMT_NPY ? write_npy(af, m) : write_texmex(af, m);
    if (rc) {
        vs_atomic_abort(af);
        return rc;
    }
    return vs_atomic_commit(af);
}

void vs_matrix_free(vs_matrix *m)
{
    if (!m) return;
    free(m->data);
    free(m);
}
