/* Quantizer files: a trained scalar or product quantizer in the section container
 * (io/container.h: magic, format version, XXH3-64 checksums, atomic replacement), kind 5.
 *
 *   QNTZ  (metadata, 32 bytes) u32 layout (1) | u32 type (1 scalar, 2 product) | u32 dim |
 *         u32 SQ code kind or PQ m | u32 PQ bits (0 for SQ) | u32 trained | u64 reserved (0)
 *   QSQR  (SQ8 / SQ4, trained) dim float32 minima, then dim float32 ranges
 *   QPQC  (PQ, trained) m x 2^bits x (dim / m) float32 sub-centroids
 *
 * A layout above 1 is a file from a newer library: VS_ERR_VERSION. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/container.h"
#include "quant/quant_api.h"

#define VS_FILE_KIND_QUANTIZER 5u
#define TAG_QNTZ VS_TAG('Q', 'N', 'T', 'Z')
#define TAG_QSQR VS_TAG('Q', 'S', 'Q', 'R')
#define TAG_QPQC VS_TAG('Q', 'P', 'Q', 'C')
#define QNTZ_SIZE 32
#define QUANT_LAYOUT 1u
enum { TYPE_SCALAR = 1, TYPE_PRODUCT = 2 };

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void meta(uint8_t *m, uint32_t type, uint32_t dim, uint32_t a, uint32_t bits, int trained)
{
    memset(m, 0, QNTZ_SIZE);
    put32(m, QUANT_LAYOUT);
    put32(m + 4, type);
    put32(m + 8, dim);
    put32(m + 12, a);
    put32(m + 16, bits);
    put32(m + 20, trained ? 1u : 0u);
}

/* Writes the sections into a file (path) or a buffer (path NULL: *buf, *len). */
static int write_quantizer(const uint8_t *m, uint32_t tag, const void *const *parts, const uint64_t *lens,
                           size_t n_parts, const char *path, void **buf, size_t *len)
{
    vs_container_writer *w;
    int rc = path ? vs_container_create(path, VS_FILE_KIND_QUANTIZER, &w)
                  : vs_container_create_memory(VS_FILE_KIND_QUANTIZER, &w);
    if (rc) return rc;
    rc = vs_container_add(w, TAG_QNTZ, 0, m, QNTZ_SIZE);
    if (!rc && n_parts) rc = vs_container_add_parts(w, tag, 0, parts, lens, n_parts);
    if (rc) {
        vs_container_abort(w);
        return rc;
    }
    return path ? vs_container_commit(w) : vs_container_commit_memory(w, buf, len);
}

static int save_sq(const vs_scalar_quantizer *q, const char *path, void **buf, size_t *len)
{
    if (!q) return vs_fail(VS_ERR_INVALID_ARG, "quantizer must not be NULL");
    uint8_t m[QNTZ_SIZE];
    meta(m, TYPE_SCALAR, q->sq.d, (uint32_t)q->sq.kind, 0, q->sq.trained);
    int ranges = q->sq.trained && q->sq.vmin;
    const void *parts[2] = {q->sq.vmin, q->sq.vdiff};
    uint64_t lens[2] = {(uint64_t)q->sq.d * 4, (uint64_t)q->sq.d * 4};
    return write_quantizer(m, TAG_QSQR, parts, lens, ranges ? 2 : 0, path, buf, len);
}

static int save_pq(const vs_product_quantizer *q, const char *path, void **buf, size_t *len)
{
    if (!q) return vs_fail(VS_ERR_INVALID_ARG, "quantizer must not be NULL");
    uint8_t m[QNTZ_SIZE];
    meta(m, TYPE_PRODUCT, q->pq.d, q->pq.m, q->pq.nbits, q->pq.trained);
    const void *parts[1] = {q->pq.centroids};
    uint64_t lens[1] = {(uint64_t)q->pq.m * q->pq.ksub * q->pq.dsub * 4};
    return write_quantizer(m, TAG_QPQC, parts, lens, q->pq.trained ? 1 : 0, path, buf, len);
}

int vs_scalar_quantizer_save(const vs_scalar_quantizer *q, const char *path)
{
    if (!path) return vs_fail(VS_ERR_INVALID_ARG, "path must not be NULL");
    return save_sq(q, path, NULL, NULL);
}

int vs_product_quantizer_save(const vs_product_quantizer *q, const char *path)
{
    if (!path) return vs_fail(VS_ERR_INVALID_ARG, "path must not be NULL");
    return save_pq(q, path, NULL, NULL);
}

int vs_scalar_quantizer_save_buffer(const vs_scalar_quantizer *q, void **buf, size_t *len)
{
    if (!buf || !len) return vs_fail(VS_ERR_INVALID_ARG, "buf and len must not be NULL");
    *buf = NULL;
    *len = 0;
    return save_sq(q, NULL, buf, len);
}

int vs_product_quantizer_save_buffer(const vs_product_quantizer *q, void **buf, size_t *len)
{
    if (!buf || !len) return vs_fail(VS_ERR_INVALID_ARG, "buf and len must not be NULL");
    *buf = NULL;
    *len = 0;
    return save_pq(q, NULL, buf, len);
}

/* Opens and checks the container and its QNTZ section; *m points at the 32 metadata bytes. */
static int open_quantizer(vs_container *c, const void *base, size_t size, uint32_t want, const char *origin,
                          const uint8_t **m)
{
    int rc = vs_container_open(c, base, size, 0, origin);
    if (rc) return rc;
    if (c->kind != VS_FILE_KIND_QUANTIZER)
        return vs_fail(VS_ERR_CORRUPT, "%s: this vecscale file holds kind %u, not a quantizer", origin, c->kind);
    *m = vs_container_require(c, TAG_QNTZ, QNTZ_SIZE, origin, &rc);
    if (!*m) return rc;
    if (get32(*m) > QUANT_LAYOUT)
        return vs_fail(VS_ERR_VERSION, "%s: quantizer layout %u is newer than this library's (%u)", origin, get32(*m),
                       QUANT_LAYOUT);
    if (get32(*m) == 0 || get32(*m + 20) > 1)
        return vs_fail(VS_ERR_CORRUPT, "%s: quantizer metadata holds invalid values", origin);
    uint32_t type = get32(*m + 4);
    if (type != TYPE_SCALAR && type != TYPE_PRODUCT)
        return vs_fail(VS_ERR_CORRUPT, "%s: unknown quantizer type %u", origin, type);
    if (type != want)
        return vs_fail(VS_ERR_INVALID_ARG, "%s holds a %s quantizer, not a %s one", origin,
                       type == TYPE_SCALAR ? "scalar" : "product", want == TYPE_SCALAR ? "scalar" : "product");
    return VS_OK;
}

/* The metadata names a quantizer the library cannot make: corrupt, with the reason (copied:
 * vs_fail writes the buffer vs_last_error returns). */
static int refused(const char *origin)
{
    char why[400];
    snprintf(why, sizeof why, "%s", vs_last_error());
    return vs_fail(VS_ERR_CORRUPT, "%s: %s", origin, why);
}

static int load_sq(const void *base, size_t size, const char *origin, vs_scalar_quantizer **out)
{
    vs_container *c = malloc(sizeof *c);
    if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
    const uint8_t *m;
    int rc = open_quantizer(c, base, size, TYPE_SCALAR, origin, &m);
    vs_scalar_quantizer *q = NULL;
    if (!rc) {
        uint32_t dim = get32(m + 8), kind = get32(m + 12);
        if (dim == 0 || dim > 65536 || get32(m + 16) != 0)
            rc = vs_fail(VS_ERR_CORRUPT, "%s: scalar quantizer dimension %u or bits is invalid", origin, dim);
        if (!rc && vs_scalar_quantizer_create(dim, (vs_code_kind)kind, &q)) rc = refused(origin);
    }
    if (!rc && q->sq.vmin && get32(m + 20)) {
        const float *r = vs_container_require(c, TAG_QSQR, (uint64_t)q->sq.d * 8, origin, &rc);
        if (r) rc = vs_sq_set_ranges(&q->sq, r, r + q->sq.d);
    }
    free(c);
    if (rc) {
        vs_scalar_quantizer_free(q);
        return rc;
    }
    *out = q;
    return VS_OK;
}

static int load_pq(const void *base, size_t size, const char *origin, vs_product_quantizer **out)
{
    vs_container *c = malloc(sizeof *c);
    if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
    const uint8_t *m;
    int rc = open_quantizer(c, base, size, TYPE_PRODUCT, origin, &m);
    vs_product_quantizer *q = NULL;
    if (!rc) {
        uint32_t dim = get32(m + 8), pm = get32(m + 12), bits = get32(m + 16);
        if (dim == 0 || dim > 65536)
            rc = vs_fail(VS_ERR_CORRUPT, "%s: product quantizer dimension %u is invalid", origin, dim);
        if (!rc && vs_product_quantizer_create(dim, pm, bits, &q)) rc = refused(origin);
    }
    if (!rc && get32(m + 20)) {
        uint64_t n = (uint64_t)q->pq.m * q->pq.ksub * q->pq.dsub;
        const float *cent = vs_container_require(c, TAG_QPQC, n * 4, origin, &rc);
        if (cent) rc = vs_pq_set_centroids(&q->pq, cent);
    }
    free(c);
    if (rc) {
        vs_product_quantizer_free(q);
        return rc;
    }
    *out = q;
    return VS_OK;
}

/* The whole file in a heap buffer (quantizers are small: at most a few MiB). */
static int read_file(const char *path, void **data, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st) ? vs_fail(VS_ERR_IO, "stat %s: %s", path, strerror(errno)) : VS_OK;
    uint8_t *buf = rc ? NULL : malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!rc && !buf) rc = vs_fail(VS_ERR_NOMEM, "out of memory reading %s", path);
    size_t got = 0;
    while (!rc && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) rc = vs_fail(VS_ERR_IO, "read %s: %s", path, r < 0 ? strerror(errno) : "file shrank");
        else got += (size_t)r;
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *size = got;
    return VS_OK;
}

/* A copy of the caller's bytes: sections are read as float arrays, which the caller's buffer
 * need not be aligned for. */
static int copy_buffer(const void *buf, size_t len, void **copy)
{
    *copy = malloc(len ? len : 1);
    if (!*copy) return vs_fail(VS_ERR_NOMEM, "out of memory");
    if (len) memcpy(*copy, buf, len);
    return VS_OK;
}

int vs_scalar_quantizer_load_buffer(const void *buf, size_t len, vs_scalar_quantizer **out)
{
    if (!out || (!buf && len)) return vs_fail(VS_ERR_INVALID_ARG, "buf and out must not be NULL");
    *out = NULL;
    void *copy;
    int rc = copy_buffer(buf, len, &copy);
    if (rc) return rc;
    rc = load_sq(copy, len, "buffer", out);
    free(copy);
    return rc;
}

int vs_product_quantizer_load_buffer(const void *buf, size_t len, vs_product_quantizer **out)
{
    if (!out || (!buf && len)) return vs_fail(VS_ERR_INVALID_ARG, "buf and out must not be NULL");
    *out = NULL;
    void *copy;
    int rc = copy_buffer(buf, len, &copy);
    if (rc) return rc;
    rc = load_pq(copy, len, "buffer", out);
    free(copy);
    return rc;
}

int vs_scalar_quantizer_load(const char *path, vs_scalar_quantizer **out)
{
    if (!path || !out) return vs_fail(VS_ERR_INVALID_ARG, "path and out must not be NULL");
    *out = NULL;
    void *data;
    size_t size;
    int rc = read_file(path, &data, &size);
    if (rc) return rc;
    rc = load_sq(data, size, path, out);
    free(data);
    return rc;
}

int vs_product_quantizer_load(const char *path, vs_product_quantizer **out)
{
    if (!path || !out) return vs_fail(VS_ERR_INVALID_ARG, "path and out must not be NULL");
    *out = NULL;
    void *data;
    size_t size;
    int rc = read_file(path, &data, &size);
    if (rc) return rc;
    rc = load_pq(data, size, path, out);
    free(data);
    return rc;
}
