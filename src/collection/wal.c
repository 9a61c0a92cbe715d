/* Write-ahead log: append-only records, group commit, torn-tail recovery (see wal.h). */
#include "collection/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/log.h"

#define RETIRE_WAIT_MS 5000

static const char WAL_MAGIC[8] = {'V', 'S', 'W', 'A', 'L', 0, 0, 0};
/* 2: record type ADD_KEYED (string ids). Version 1 logs hold only ADD and DELETE and replay
 * unchanged; a build that knows only version 1 refuses a version 2 log (and so the collection).
 * Record types added since without a bump (PAYLOAD_INDEX 8, LOG_POS 9) appear only in
 * collections that use them; a build without them refuses such a log as corrupt. */
#define WAL_VERSION 2u

struct vs_wal {
    int fd;
    char *path;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *buf;          /* records appended but not yet written */
    size_t len, cap;
    uint64_t next_seq;     /* sequence number of the next record */
    uint64_t buffered_seq; /* last sequence number in buf (or already written) */
    uint64_t durable_seq;  /* last sequence number known to be on disk */
    uint64_t file_size;
    /* file_size + len, readable without mu: the maintenance thread polls it at background
     * priority and must never hold a lock that appends need (it could be preempted inside). */
    atomic_uint_least64_t size;
    uint64_t syncs;
    int flushing;          /* a thread is writing outside the mutex */
    int failed;            /* a write or sync failed (or the log was retired) */
    int cut_back;          /* after a failure: the file was truncated to durable records */
    char why[160];         /* the failure, for the callers whose records it took */
};

_Atomic(vs_wal_fault_fn) vs_wal_fault_hook;

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int write_all(int fd, const void *data, size_t len, const char *path)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return vs_fail(VS_ERR_IO, "write %s: %s", path, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return VS_OK;
}

static int fsync_dir_of(const char *path)
{
    char dir[4096];
    size_t n = strlen(path);
    if (n >= sizeof dir) return vs_fail(VS_ERR_INVALID_ARG, "path too long: %s", path);
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else strcpy(dir, ".");
    if (!dir[0]) strcpy(dir, "/");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return vs_fail(VS_ERR_IO, "open directory %s: %s", dir, strerror(errno));
    int rc = fsync(fd) ? vs_fail(VS_ERR_IO, "fsync directory %s: %s", dir, strerror(errno)) : VS_OK;
    close(fd);
    return rc;
}

/* The header is written to a temporary file and renamed into place, so a crash during
 * creation (a snapshot switching logs) leaves either no log or a complete empty one. */
static int create_file(const char *path, uint64_t generation, int *fd_out)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.new", path);
    unlink(tmp);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return vs_fail(VS_ERR_IO, "create %s: %s", tmp, strerror(errno));
    uint8_t h[VS_WAL_HEADER_SIZE];
    memcpy(h, WAL_MAGIC, 8);
    put32(h + 8, WAL_VERSION);
    put32(h + 12, VS_WAL_HEADER_SIZE);
    put64(h + 16, generation);
    put64(h + 24, XXH3_64bits(h, 24));
    int rc = write_all(fd, h, sizeof h, tmp);
    if (!rc && fdatasync(fd)) rc = vs_fail(VS_ERR_IO, "fdatasync %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path)) rc = vs_fail(VS_ERR_IO, "rename %s: %s", tmp, strerror(errno));
    if (!rc) rc = fsync_dir_of(path);
    if (rc) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    *fd_out = fd;
    return VS_OK;
}

static int read_file(int fd, const char *path, uint8_t **out, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st)) return vs_fail(VS_ERR_IO, "stat %s: %s", path, strerror(errno));
    uint8_t *b = malloc((size_t)st.st_size + 1);
    if (!b) return vs_fail(VS_ERR_NOMEM, "out of memory reading %s", path);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            free(b);
            return vs_fail(VS_ERR_IO, "read %s: %s", path, n < 0 ? strerror(errno) : "unexpected end");
        }
        got += (size_t)n;
    }
    *out = b;
    *size = (uint64_t)st.st_size;
    return VS_OK;
}

/* Replays the records of an opened file; returns where the intact prefix ends. */
static int replay(vs_wal *w, const uint8_t *b, uint64_t size, uint64_t generation, vs_wal_replay_fn fn,
                  void *ctx, uint64_t *end)
{
    if (size < VS_WAL_HEADER_SIZE || memcmp(b, WAL_MAGIC, 8))
        return vs_fail(VS_ERR_CORRUPT, "%s: not a vecscale write-ahead log", w->path);
    if (get64(b + 24) != XXH3_64bits(b, 24))
        return vs_fail(VS_ERR_CORRUPT, "%s: log header checksum mismatch", w->path);
    if (get32(b + 8) > WAL_VERSION)
        return vs_fail(VS_ERR_VERSION, "%s: log format version %u is newer than this build (%u); upgrade vecscale",
                       w->path, get32(b + 8), WAL_VERSION);
    if (get32(b + 12) != VS_WAL_HEADER_SIZE)
        return vs_fail(VS_ERR_CORRUPT, "%s: bad log header size %u", w->path, get32(b + 12));
    if (get64(b + 16) != generation)
        return vs_fail(VS_ERR_CORRUPT, "%s: log generation %llu does not match the snapshot's %llu", w->path,
                       (unsigned long long)get64(b + 16), (unsigned long long)generation);
    uint64_t off = VS_WAL_HEADER_SIZE, last_seq = 0;
    while (size - off >= VS_WAL_RECORD_OVERHEAD) {
        uint64_t len = get32(b + off);
        uint32_t type = get32(b + off + 4);
        uint64_t seq = get64(b + off + 8);
        if (len > size - off - VS_WAL_RECORD_OVERHEAD) break; /* cut short */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* let the fuzzer past checksums */
        if (get64(b + off + 16 + len) != XXH3_64bits(b + off, 16 + len)) break;
#endif
        if (seq <= last_seq) break; /* stale bytes from an earlier, longer file */
        int rc = fn ? fn(type, b + off + 16, len, ctx) : VS_OK;
        if (rc) return rc;
        last_seq = seq;
        off += VS_WAL_RECORD_OVERHEAD + len;
    }
    w->next_seq = last_seq + 1;
    w->buffered_seq = w->durable_seq = last_seq;
    *end = off;
    return VS_OK;
}

int vs_wal_open(const char *path, uint64_t generation, vs_wal_replay_fn fn, void *ctx, vs_wal **out,
                uint64_t *dropped_bytes)
{
    if (!path || !out) return vs_fail(VS_ERR_INVALID_ARG, "log path must not be NULL");
    if (dropped_bytes) *dropped_bytes = 0;
    vs_wal *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    w->fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size < (off_t)VS_WAL_HEADER_SIZE) {
        /* Shorter than its header: a creation cut short, before any record could exist. */
        close(fd);
        fd = -1;
        errno = ENOENT;
        if (unlink(path)) fd = -2;
    }
    if (fd < 0 && errno == ENOENT && fd != -2) {
        rc = create_file(path, generation, &w->fd);
        w->next_seq = 1;
        w->file_size = VS_WAL_HEADER_SIZE;
    } else if (fd < 0) {
        rc = vs_fail(VS_ERR_IO, "open %s: %s", path, strerror(errno));
    } else {
        w->fd = fd;
        uint8_t *b = NULL;
        uint64_t size = 0, end = 0;
        rc = read_file(fd, path, &b, &size);
        if (!rc) rc = replay(w, b, size, generation, fn, ctx, &end);
        free(b);
        if (!rc && end < size) {
            /* A crash mid-write leaves a torn tail: those records were never acknowledged. */
            vs_log(VS_LOG_WARNING, "%s: dropping %llu bytes of an incomplete final write", path,
                   (unsigned long long)(size - end));
            if (dropped_bytes) *dropped_bytes = size - end;
            if (ftruncate(fd, (off_t)end) || fdatasync(fd))
                rc = vs_fail(VS_ERR_IO, "truncate %s: %s", path, strerror(errno));
        }
        if (!rc && lseek(fd, (off_t)end, SEEK_SET) < 0) rc = vs_fail(VS_ERR_IO, "seek %s: %s", path, strerror(errno));
        w->file_size = end;
    }
    if (rc) {
        if (w->fd >= 0) close(w->fd);
        w->fd = -1;
        vs_wal_close(w);
        return rc;
    }
    atomic_store(&w->size, w->file_size);
    *out = w;
    return VS_OK;
}

int vs_wal_append(vs_wal *w, uint32_t type, const void *payload, size_t len, uint64_t *seq)
{
    if (len > VS_WAL_MAX_PAYLOAD) return vs_fail(VS_ERR_INVALID_ARG, "log record of %zu bytes is too large", len);
    pthread_mutex_lock(&w->mu);
    if (w->failed) {
        pthread_mutex_unlock(&w->mu);
        return vs_fail(VS_ERR_IO, "%s: an earlier write failed; the log is read-only until restart", w->path);
    }
    size_t need = w->len + VS_WAL_RECORD_OVERHEAD + len;
    if (need > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < need) cap *= 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            pthread_mutex_unlock(&w->mu);
            return vs_fail(VS_ERR_NOMEM, "out of memory buffering a log record");
        }
        w->buf = nb;
        w->cap = cap;
    }
    uint8_t *r = w->buf + w->len;
    uint64_t s = w->next_seq++;
    put32(r, (uint32_t)len);
    put32(r + 4, type);
    put64(r + 8, s);
    if (len) memcpy(r + 16, payload, len);
    put64(r + 16 + len, XXH3_64bits(r, 16 + len));
    w->len = need;
    w->buffered_seq = s;
    atomic_store(&w->size, w->file_size + w->len);
    pthread_mutex_unlock(&w->mu);
    if (seq) *seq = s;
    return VS_OK;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int vs_wal_sync(vs_wal *w, uint64_t seq, int timeout_ms)
{
    struct timespec deadline;
    deadline_in(&deadline, timeout_ms > 0 ? timeout_ms : 30000);
    pthread_mutex_lock(&w->mu);
    int rc = VS_OK;
    while (w->durable_seq < seq && !w->failed) {
        if (w->flushing) {
            if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) == ETIMEDOUT) {
                rc = vs_fail(VS_ERR_IO, "%s: timed out waiting for the log to reach disk", w->path);
                break;
            }
            continue;
        }
        /* Become the flusher: take everything buffered so far, write it outside the lock. */
        w->flushing = 1;
        uint8_t *data = w->buf;
        size_t len = w->len;
        uint64_t upto = w->buffered_seq;
        w->buf = NULL;
        w->len = w->cap = 0;
        pthread_mutex_unlock(&w->mu);
        vs_wal_fault_fn fault = atomic_load(&vs_wal_fault_hook);
        rc = write_all(w->fd, data, len, w->path);
        if (!rc) {
            int err = fault && fault(w->path) ? EIO : fdatasync(w->fd) ? errno : 0;
            if (err) rc = vs_fail(VS_ERR_IO, "fdatasync %s: %s", w->path, strerror(err));
        }
        free(data);
        if (rc) {
            /* Cut the file back to what is known durable, so the failed records cannot come
             * back at the next open (their writers are told they failed). If even that fails,
             * say so: they may. */
            int cut = ftruncate(w->fd, (off_t)w->file_size) == 0 && fdatasync(w->fd) == 0 &&
                      lseek(w->fd, (off_t)w->file_size, SEEK_SET) >= 0;
            pthread_mutex_lock(&w->mu);
            w->cut_back = cut;
            snprintf(w->why, sizeof w->why, "%s", vs_last_error());
            pthread_mutex_unlock(&w->mu);
        }
        pthread_mutex_lock(&w->mu);
        w->flushing = 0;
        w->syncs++;
        if (rc) w->failed = 1;
        else {
            w->durable_seq = upto;
            w->file_size += len;
        }
        atomic_store(&w->size, w->file_size + w->len);
        pthread_cond_broadcast(&w->cv);
        if (rc) break;
    }
    if (w->failed && w->durable_seq < seq) {
        if (w->cut_back)
            rc = vs_fail(VS_ERR_IO, "%s: writing the log failed (%s); this change was not applied and is not in the log "
                         "(cut back to its last durable record); the collection refuses writes until reopened", w->path, w->why);
        else
            rc = vs_fail(VS_ERR_IO, "%s: writing the log failed (%s) and the log could not be cut back; this change was "
                         "not applied now but may reappear when the collection is reopened", w->path, w->why);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

uint64_t vs_wal_last_seq(vs_wal *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t s = w->next_seq - 1;
    pthread_mutex_unlock(&w->mu);
    return s;
}

uint64_t vs_wal_size(vs_wal *w)
{
    return atomic_load(&w->size);
}

uint64_t vs_wal_sync_count(vs_wal *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t s = w->syncs;
    pthread_mutex_unlock(&w->mu);
    return s;
}

int vs_wal_retire(vs_wal *w)
{
    /* Every appender calls vs_wal_sync right after its append, so the records left in the
     * buffer have a writer about to flush them: wait for that flush rather than become the
     * flusher: retiring is maintenance's work, and writers must not wait for maintenance
     * (its thread runs at background priority). It flushes itself only if no one did within
     * RETIRE_WAIT_MS (an appender that never syncs, which the library has not). */
    struct timespec until;
    deadline_in(&until, RETIRE_WAIT_MS);
    pthread_mutex_lock(&w->mu);
    uint64_t last = w->next_seq - 1;
    int late = 0;
    while (w->durable_seq < last && !w->failed) {
        if (late) pthread_cond_wait(&w->cv, &w->mu); /* a flush is under way: its end wakes us */
        else if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT) late = 1;
        if (late && !w->flushing) break;
    }
    pthread_mutex_unlock(&w->mu);
    int rc = vs_wal_sync(w, last, 30000);
    pthread_mutex_lock(&w->mu);
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    if (!rc) w->failed = 1; /* nothing may be appended any more */
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int vs_wal_close(vs_wal *w)
{
    if (!w) return VS_OK;
    int rc = VS_OK;
    if (w->fd >= 0) {
        rc = vs_wal_sync(w, vs_wal_last_seq(w), 30000);
        close(w->fd);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->buf);
    free(w->path);
    free(w);
    return rc;
}
