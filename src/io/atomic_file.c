/* Temp-file + fsync + rename, so a crash never leaves a half-written file under the real name. */
#define _GNU_SOURCE /* sync_file_range (Linux), guarded below */
#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

struct vs_atomic_file {
    int fd;
    uint64_t size;
    char *path;
    char *tmp_path;
    uint64_t paced_off, paced_len; /* the piece last written by a paced thread */
};

int vs_atomic_open(const char *path, vs_atomic_file **out)
{
    if (!path || !*path || !out)
        return vs_fail(VS_ERR_INVALID_ARG, "atomic write: empty path");
    vs_atomic_file *f = calloc(1, sizeof *f);
    size_t n = strlen(path);
    if (!f || !(f->path = strdup(path)) || !(f->tmp_path = malloc(n + 12))) {
        if (f) { free(f->path); free(f); }
        return vs_fail(VS_ERR_NOMEM, "atomic write: out of memory");
    }
    memcpy(f->tmp_path, path, n);
    memcpy(f->tmp_path + n, ".tmp.XXXXXX", 12);
    f->fd = mkstemp(f->tmp_path);
    if (f->fd < 0) {
        int e = errno;
        free(f->tmp_path); free(f->path); free(f);
        return vs_fail(VS_ERR_IO, "cannot create a temporary file beside %s: %s", path, strerror(e));
    }
    *out = f;
    return VS_OK;
}

_Thread_local int vs_atomic_paced;

#define PACED_CHUNK (1u << 20)

/* Waits for the piece written before [offset, offset + len) to reach the disk and starts
 * writing this one. Errors are left to the final fsync, which reports them. */
static void pace(vs_atomic_file *f, uint64_t offset, size_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (f->paced_len)
        (void)sync_file_range(f->fd, (off_t)f->paced_off, (off_t)f->paced_len,
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    (void)sync_file_range(f->fd, (off_t)offset, (off_t)len, SYNC_FILE_RANGE_WRITE);
#endif
    f->paced_off = offset;
    f->paced_len = len;
    sched_yield();
}

int vs_atomic_pwrite(vs_atomic_file *f, const void *data, size_t len, uint64_t offset)
{
    const char *p = data;
    while (len > 0) {
        size_t piece = vs_atomic_paced && len > PACED_CHUNK ? PACED_CHUNK : len;
        ssize_t w = pwrite(f->fd, p, piece, (off_t)offset);
        if (w < 0) {
            if (errno == EINTR) continue;
            return vs_fail(VS_ERR_IO, "write %s: %s", f->tmp_path, strerror(errno));
        }
        if (vs_atomic_paced) pace(f, offset, (size_t)w);
        p += w; len -= (size_t)w; offset += (uint64_t)w;
    }
    return VS_OK;
}

int vs_atomic_write(vs_atomic_file *f, const void *data, size_t len)
{
    int rc = vs_atomic_pwrite(f, data, len, f->size);
    if (rc == VS_OK) f->size += len;
    return rc;
}

uint64_t vs_atomic_size(const vs_atomic_file *f) { return f->size; }

static void free_file(vs_atomic_file *f)
{
    free(f->tmp_path);
    free(f->path);
    free(f);
}

/* The rename is durable only once the directory entry itself is on disk. */
static int fsync_parent_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir) return vs_fail(VS_ERR_NOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir) d = "/";
    else if (slash) { *slash = '\0'; d = dir; }
    int fd = open(d, O_RDONLY | O_DIRECTORY);
    int rc = VS_OK;
    if (fd < 0 || fsync(fd) != 0)
        rc = vs_fail(VS_ERR_IO, "fsync directory %s: %s", d, strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

int vs_atomic_commit(vs_atomic_file *f)
{
    int rc = VS_OK;
    if (fsync(f->fd) != 0)
        rc = vs_fail(VS_ERR_IO, "fsync %s: %s", f->tmp_path, strerror(errno));
    if (close(f->fd) != 0 && rc == VS_OK)
        rc = vs_fail(VS_ERR_IO, "close %s: %s", f->tmp_path, strerror(errno));
    if (rc == VS_OK && rename(f->tmp_path, f->path) != 0)
        rc = vs_fail(VS_ERR_IO, "rename %s -> %s: %s", f->tmp_path, f->path, strerror(errno));
    if (rc != VS_OK) unlink(f->tmp_path);
    else rc = fsync_parent_dir(f->path);
    free_file(f);
    return rc;
}

void vs_atomic_abort(vs_atomic_file *f)
{
    if (!f) return;
    close(f->fd);
    unlink(f->tmp_path);
    free_file(f);
}
