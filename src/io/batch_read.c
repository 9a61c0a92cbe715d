/* Batched positional reads: io_uring or WILLNEED + pread (batch_read.h). */
#include "io/batch_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef VS_HAVE_LIBURING
#include <liburing.h>
#endif

#include "core/error.h"

typedef struct {
    int fd;
    uint8_t *buf;
    size_t len, done;
    uint64_t off;
} bread_op;

struct vs_bread {
    vs_bread_mode kind; /* VS_BREAD_URING or VS_BREAD_PREAD once created */
    unsigned depth;
    size_t max_io;
    bread_op *ops;
    size_t n, cap;
    size_t hinted; /* pread: ops given a WILLNEED hint */
#ifdef VS_HAVE_LIBURING
    struct io_uring ring;
    size_t next;       /* next op to put in the ring */
    unsigned inflight; /* ops in the ring (prepared, submitted or completing) */
    int broken;        /* the ring failed in a way that leaves requests unaccounted for */
#endif
};

int vs_bread_create(vs_bread_mode mode, unsigned depth, vs_bread **out)
{
    *out = NULL;
    if (mode != VS_BREAD_AUTO && mode != VS_BREAD_URING && mode != VS_BREAD_PREAD) /* VS_BREAD_MMAP too */
        return vs_fail(VS_ERR_INVALID_ARG, "batched reads: unknown mode %d", (int)mode);
    vs_bread *r = calloc(1, sizeof *r);
    if (!r) return vs_fail(VS_ERR_NOMEM, "out of memory");
    unsigned d = 1;
    while (d < depth && d < 4096) d <<= 1;
    r->depth = d;
    r->kind = VS_BREAD_PREAD;
#ifdef VS_HAVE_LIBURING
    if (mode != VS_BREAD_PREAD) {
        int ret = io_uring_queue_init(d, &r->ring, 0);
        if (ret == 0) {
            r->kind = VS_BREAD_URING;
        } else if (mode == VS_BREAD_URING) {
            free(r);
            return vs_fail(VS_ERR_UNSUPPORTED, "io_uring is not available here: %s", strerror(-ret));
        }
        /* AUTO: kernels or sandboxes without io_uring fall back to pread. */
    }
#else
    if (mode == VS_BREAD_URING) {
        free(r);
        return vs_fail(VS_ERR_UNSUPPORTED, "this vecscale was built without liburing (io_uring)");
    }
#endif
    *out = r;
    return VS_OK;
}

void vs_bread_free(vs_bread *r)
{
    if (!r) return;
#ifdef VS_HAVE_LIBURING
    if (r->kind == VS_BREAD_URING) io_uring_queue_exit(&r->ring);
#endif
    free(r->ops);
    free(r);
}

const char *vs_bread_kind(const vs_bread *r) { return r->kind == VS_BREAD_URING ? "io_uring" : "pread"; }

void vs_bread_set_max_io(vs_bread *r, size_t max_bytes) { r->max_io = max_bytes; }

int vs_bread_add(vs_bread *r, int fd, void *buf, size_t len, uint64_t off)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        bread_op *o = realloc(r->ops, cap * sizeof *o);
        if (!o) return vs_fail(VS_ERR_NOMEM, "out of memory");
        r->ops = o;
        r->cap = cap;
    }
    r->ops[r->n++] = (bread_op){.fd = fd, .buf = buf, .len = len, .off = off};
    return VS_OK;
}

static size_t piece(const vs_bread *r, const bread_op *o)
{
    size_t left = o->len - o->done;
    return r->max_io && left > r->max_io ? r->max_io : left;
}

static void clear(vs_bread *r)
{
    r->n = 0;
    r->hinted = 0;
#ifdef VS_HAVE_LIBURING
    r->next = 0;
#endif
}

static int op_error(const bread_op *o, int err, const char *name)
{
    if (!err)
        return vs_fail(VS_ERR_IO, "%s: the file ends before byte %llu (truncated while open?)", name,
                       (unsigned long long)(o->off + o->len));
    return vs_fail(VS_ERR_IO, "%s: read of %zu bytes at offset %llu failed: %s", name, o->len,
                   (unsigned long long)o->off, strerror(err));
}

/* --- pread --------------------------------------------------------------------------- */

static void pread_hint(vs_bread *r)
{
    /* The kernel starts reading these pages now, asynchronously, while the caller computes. */
    for (; r->hinted < r->n; r->hinted++) {
        const bread_op *o = &r->ops[r->hinted];
        (void)posix_fadvise(o->fd, (off_t)o->off, (off_t)o->len, POSIX_FADV_WILLNEED);
    }
}

static int pread_wait(vs_bread *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++) {
        bread_op *o = &r->ops[i];
        while (o->done < o->len) {
            ssize_t got = pread(o->fd, o->buf + o->done, piece(r, o), (off_t)(o->off + o->done));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return op_error(o, got < 0 ? errno : 0, name);
            o->done += (size_t)got;
        }
    }
    return VS_OK;
}

/* --- io_uring ------------------------------------------------------------------------ */

#ifdef VS_HAVE_LIBURING
static int ring_put(vs_bread *r, size_t i)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -1;
    bread_op *o = &r->ops[i];
    io_uring_prep_read(sqe, o->fd, o->buf + o->done, (unsigned)piece(r, o), o->off + o->done);
    io_uring_sqe_set_data64(sqe, i);
    r->inflight++;
    return 0;
}

/* Fills the free slots of the ring with the next queued reads. */
static void ring_fill(vs_bread *r)
{
    while (r->next < r->n && r->inflight < r->depth && ring_put(r, r->next) == 0) r->next++;
}

static int ring_submit(vs_bread *r)
{
    ring_fill(r);
    int ret;
    do ret = io_uring_submit(&r->ring);
    while (ret == -EINTR);
    /* EAGAIN / EBUSY: the kernel takes them at the next submit, once completions are reaped. */
    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY)
        return vs_fail(VS_ERR_IO, "io_uring submit: %s", strerror(-ret));
    return VS_OK;
}

static int ring_wait(vs_bread *r, const char *name)
{
    int rc = VS_OK, stalls = 0;
    ring_fill(r);
    while (r->inflight) {
        int ret = io_uring_submit_and_wait(&r->ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            /* Requests may still be in the kernel: the ring cannot be trusted again. */
            r->broken = 1;
            return vs_fail(VS_ERR_IO, "%s: io_uring wait: %s", name, strerror(-ret));
        }
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&r->ring, head, cqe)
        {
            seen++;
            r->inflight--;
            bread_op *o = &r->ops[io_uring_cqe_get_data64(cqe)];
            int res = cqe->res;
            if (res > 0) {
                o->done += (size_t)res;
            } else if (res != -EINTR && res != -EAGAIN) { /* those two are retried as they are */
                if (!rc) rc = op_error(o, -res, name);     /* 0: end of file */
                continue;
            }
            /* A short read: the rest of the range goes back into the ring (a slot just freed). */
            if (o->done < o->len && !rc && ring_put(r, (size_t)(o - r->ops)))
                rc = vs_fail(VS_ERR_IO, "%s: io_uring queue full", name);
        }
        io_uring_cq_advance(&r->ring, seen);
        if (rc) r->next = r->n; /* issue nothing more; drain what is in flight */
        else ring_fill(r);
        if (!seen && ++stalls > 100000) {
            r->broken = 1;
            return vs_fail(VS_ERR_IO, "%s: io_uring makes no progress", name);
        }
        if (seen) stalls = 0;
    }
    return rc;
}
#endif

/* --- dispatch ------------------------------------------------------------------------ */

int vs_bread_submit(vs_bread *r)
{
#ifdef VS_HAVE_LIBURING
    if (r->kind == VS_BREAD_URING) {
        if (r->broken) return vs_fail(VS_ERR_IO, "io_uring: the ring failed earlier");
        return ring_submit(r);
    }
#endif
    pread_hint(r);
    return VS_OK;
}

int vs_bread_wait(vs_bread *r, const char *name)
{
    int rc;
#ifdef VS_HAVE_LIBURING
    if (r->kind == VS_BREAD_URING) {
        rc = r->broken ? vs_fail(VS_ERR_IO, "io_uring: the ring failed earlier") : ring_wait(r, name);
        clear(r);
        return rc;
    }
#endif
    rc = pread_wait(r, name);
    clear(r);
    return rc;
}
