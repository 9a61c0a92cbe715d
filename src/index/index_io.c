/* Index persistence: the generic META section plus the type's own sections, in the
 * container format (io/container.h). load = read + verify everything; view = mmap + verify
 * metadata only; the index points into the image either way (no second copy). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bigalloc.h"
#include "core/error.h"
#include "index/index_impl.h"

#define TAG_META VS_TAG('M', 'E', 'T', 'A')
#define META_FIXED 32

/* META and the type's sections into w (a file or a memory writer). */
static int write_sections(const vs_index *ix, vs_container_writer *w)
{
    uint8_t meta[META_FIXED + sizeof ix->factory];
    uint32_t dim = ix->dim, metric = (uint32_t)ix->metric, trained = (uint32_t)ix->trained;
    uint32_t flen = (uint32_t)strlen(ix->factory);
    uint64_t ntotal = ix->ops->size(ix);
    int64_t next_id = ix->next_id;
    memcpy(meta, &dim, 4);
    memcpy(meta + 4, &metric, 4);
    memcpy(meta + 8, &ntotal, 8);
    memcpy(meta + 16, &next_id, 8);
    memcpy(meta + 24, &trained, 4);
    memcpy(meta + 28, &flen, 4);
    memcpy(meta + META_FIXED, ix->factory, flen);
    int rc = vs_container_add(w, TAG_META, 0, meta, META_FIXED + flen);
    return rc ? rc : ix->ops->save(ix, w);
}

int vs_index_save(const vs_index *ix, const char *path)
{
    if (!ix || !path) return vs_fail(VS_ERR_INVALID_ARG, "index and path must not be NULL");
    vs_container_writer *w;
    int rc = vs_container_create(path, VS_FILE_KIND_INDEX, &w);
    if (rc) return rc;
    rc = write_sections(ix, w);
    if (rc) {
        vs_container_abort(w);
        return rc;
    }
    return vs_container_commit(w);
}

int vs_index_save_buffer(const vs_index *ix, void **buf, size_t *len)
{
    if (!ix || !buf || !len) return vs_fail(VS_ERR_INVALID_ARG, "index, buf and len must not be NULL");
    *buf = NULL;
    *len = 0;
    vs_container_writer *w;
    int rc = vs_container_create_memory(VS_FILE_KIND_INDEX, &w);
    if (rc) return rc;
    rc = write_sections(ix, w);
    if (rc) {
        vs_container_abort(w);
        return rc;
    }
    return vs_container_commit_memory(w, buf, len);
}

void vs_buffer_free(void *buf) { free(buf); }

/* Builds an index over a verified file image; the caller attaches the image as backing. */
static int open_image(const void *base, size_t size, int view, const char *origin, const char *path, vs_index **out)
{
    vs_container *c = malloc(sizeof *c);
    if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = vs_container_open(c, base, size, view, origin);
    if (rc) goto done;
    if (c->kind != VS_FILE_KIND_INDEX) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: this vecscale file holds kind %u, not an index", origin, c->kind);
        goto done;
    }
    uint64_t mlen;
    const uint8_t *m = vs_container_find(c, TAG_META, &mlen);
    if (!m || mlen < META_FIXED) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: missing or short META section", origin);
        goto done;
    }
    uint32_t dim, metric, trained, flen;
    uint64_t ntotal;
    int64_t next_id;
    memcpy(&dim, m, 4);
    memcpy(&metric, m + 4, 4);
    memcpy(&ntotal, m + 8, 8);
    memcpy(&next_id, m + 16, 8);
    memcpy(&trained, m + 24, 4);
    memcpy(&flen, m + 28, 4);
    char factory[64];
    if (flen == 0 || flen >= sizeof factory || META_FIXED + flen != mlen) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: META factory string length %u is invalid", origin, flen);
        goto done;
    }
    memcpy(factory, m + META_FIXED, flen);
    factory[flen] = '\0';
    if (metric > VS_METRIC_COSINE || next_id < 0 || trained > 1) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: META holds invalid values", origin);
        goto done;
    }
    vs_index_options opts = {.struct_size = sizeof(vs_index_options), .dim = dim, .metric = (vs_metric)metric, .factory = factory};
    vs_index *ix;
    rc = vs_index_create_opening(&opts, path, &ix);
    if (rc) {
        /* Keep the specific reason but say which file it came from. */
        char why[400];
        strncpy(why, vs_last_error(), sizeof why - 1);
        why[sizeof why - 1] = '\0';
        rc = vs_fail(rc == VS_ERR_UNSUPPORTED ? rc : VS_ERR_CORRUPT, "%s: %s", origin, why);
        goto done;
    }
    rc = ix->ops->load(ix, c, ntotal, origin);
    ix->opening = NULL;
    if (rc) {
        vs_index_free(ix);
        goto done;
    }
    ix->next_id = next_id;
    ix->trained = (int)trained;
    *out = ix;
done:
    free(c);
    return rc;
}

static int read_all(int fd, void *buf, size_t len, const char *path)
{
    char *p = buf;
    while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return vs_fail(VS_ERR_IO, "read %s: %s", path, strerror(errno));
        if (r == 0) return vs_fail(VS_ERR_CORRUPT, "%s: file shrank while reading", path);
        p += r;
        len -= (size_t)r;
    }
    return VS_OK;
}

static int open_file(const char *path, int *fd, size_t *size)
{
    if (!path) return vs_fail(VS_ERR_INVALID_ARG, "path is NULL");
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(*fd);
        return vs_fail(VS_ERR_IO, "%s is not a regular file", path);
    }
    *size = (size_t)st.st_size;
    return VS_OK;
}

/* 64-byte aligned copy so sections keep the alignment they have in the file (huge pages
 * for a large image: searches read it at random, see core/bigalloc.h). */
static void *aligned_buffer(size_t size) { return vs_big_alloc(size); }

static int attach(vs_index *ix, vs_backing_kind kind, void *addr, size_t len)
{
    ix->backing.kind = kind;
    ix->backing.addr = addr;
    ix->backing.len = len;
    return VS_OK;
}

int vs_index_load(const char *path, vs_index **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    int fd;
    size_t size;
    int rc = open_file(path, &fd, &size);
    if (rc) return rc;
    void *buf = aligned_buffer(size);
    if (!buf) {
        close(fd);
        return vs_fail(VS_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, size);
    }
    rc = read_all(fd, buf, size, path);
    close(fd);
    vs_index *ix = NULL;
    if (!rc) rc = open_image(buf, size, 0, path, path, &ix);
    if (rc) {
        free(buf);
        return rc;
    }
    attach(ix, VS_BACKING_HEAP, buf, size);
    *out = ix;
    return VS_OK;
}

int vs_index_load_buffer(const void *data, size_t len, vs_index **out)
{
    if (!out || (!data && len)) return vs_fail(VS_ERR_INVALID_ARG, "buffer and out must not be NULL");
    *out = NULL;
    void *buf = aligned_buffer(len);
    if (!buf) return vs_fail(VS_ERR_NOMEM, "out of memory");
    if (len) memcpy(buf, data, len);
    vs_index *ix = NULL;
    int rc = open_image(buf, len, 0, "buffer", "", &ix);
    if (rc) {
        free(buf);
        return rc;
    }
    attach(ix, VS_BACKING_HEAP, buf, len);
    *out = ix;
    return VS_OK;
}

static int map_file(const char *path, void **addr, size_t *size)
{
    int fd;
    int rc = open_file(path, &fd, size);
    if (rc) return rc;
    if (*size < 64) {
        close(fd);
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated: %zu bytes, smaller than the 64-byte header", path, *size);
    }
    *addr = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (*addr == MAP_FAILED) return vs_fail(VS_ERR_IO, "mmap %s: %s", path, strerror(e));
    return VS_OK;
}

int vs_index_view(const char *path, vs_index **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    void *addr;
    size_t size;
    int rc = map_file(path, &addr, &size);
    if (rc) return rc;
    vs_index *ix = NULL;
    rc = open_image(addr, size, 1, path, path, &ix);
    if (rc) {
        munmap(addr, size);
        return rc;
    }
    attach(ix, VS_BACKING_MMAP, addr, size);
    *out = ix;
    return VS_OK;
}

int vs_index_verify_file(const char *path)
{
    void *addr;
    size_t size;
    int rc = map_file(path, &addr, &size);
    if (rc) return rc;
    vs_container *c = malloc(sizeof *c);
    rc = c ? vs_container_open(c, addr, size, 0, path) : vs_fail(VS_ERR_NOMEM, "out of memory");
    free(c);
    munmap(addr, size);
    return rc;
}
