/* The uint8 re-ranking store (see rerank_u8.h). */
#include "index/rerank_u8.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/parallel.h"
#include "io/fd_io.h"
#include "kernels/topk.h"

enum { SLOT_BYTES = 64, SLOT_SUMMED = 56, SLOT_1 = 2048, ELEM_U8 = 2 };

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint64_t slot_offset(int slot) { return slot ? SLOT_1 : 0; }

static void slot_encode(uint8_t *h, uint32_t dim, uint64_t rows, uint64_t sum, uint64_t seq)
{
    memset(h, 0, SLOT_BYTES);
    memcpy(h, VS_RU8_MAGIC, 8);
    put32(h + 8, VS_RU8_VERSION);
    put32(h + 12, VS_RU8_HEADER);
    put32(h + 16, dim);
    put32(h + 20, ELEM_U8);
    put64(h + 24, rows);
    put64(h + 32, VS_RU8_HEADER);
    put64(h + 40, sum);
    put64(h + 48, seq);
    put64(h + 56, XXH3_64bits(h, SLOT_SUMMED));
}

static int dir_sync(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return VS_OK;
    int rc = fsync(dfd) ? vs_fail(VS_ERR_IO, "fsync of the directory of %s: %s", path, strerror(errno)) : VS_OK;
    close(dfd);
    return rc;
}

/* XXH3-64 state of bytes [off, off + len) of fd, read in pieces. */
static int hash_range(int fd, uint64_t off, uint64_t len, XXH3_state_t *st, const char *name)
{
    enum { PIECE = 8 << 20 };
    uint8_t *buf = malloc(PIECE);
    int rc = buf ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    for (uint64_t at = 0; at < len && !rc; at += PIECE) {
        size_t n = len - at < PIECE ? (size_t)(len - at) : PIECE;
        if (vs_pread_all(fd, buf, n, off + at)) rc = vs_fail(VS_ERR_IO, "%s: read failed", name);
        else XXH3_64bits_update(st, buf, n);
    }
    free(buf);
    return rc;
}

int vs_ru8_checksum(const vs_ru8_store *s, uint64_t *sum)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st || XXH3_64bits_reset(st) != XXH_OK) {
        XXH3_freeState(st);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    int rc = hash_range(s->fd, VS_RU8_HEADER, s->rows * s->dim, st, s->path);
    if (!rc) *sum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return rc;
}

int vs_ru8_create(vs_ru8_store *s, const char *path, uint32_t dim)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (dim == 0 || dim > 65536) return vs_fail(VS_ERR_DIMENSION, "re-ranking store dimension %u is out of range", dim);
    char tmp[4300];
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return vs_fail(VS_ERR_IO, "%s: %s", tmp, strerror(errno));
    uint8_t h[VS_RU8_HEADER];
    memset(h, 0, sizeof h);
    XXH3_state_t *st = XXH3_createState();
    int rc = st && XXH3_64bits_reset(st) == XXH_OK ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    if (!rc) {
        slot_encode(h, dim, 0, XXH3_64bits_digest(st), 1);
        if (vs_pwrite_all(fd, h, sizeof h, 0) || fsync(fd) || rename(tmp, path))
            rc = vs_fail(VS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (!rc) rc = dir_sync(path);
    if (rc) {
        XXH3_freeState(st);
        close(fd);
        unlink(tmp);
        return rc;
    }
    s->fd = fd;
    s->writable = 1;
    s->dim = dim;
    s->version = VS_RU8_VERSION;
    s->data_checksum = XXH3_64bits_digest(st);
    s->seq = 1;
    s->hash = st;
    s->cut = 1;
    return VS_OK;
}

/* The valid slot with the higher sequence into *h; -1 when neither is valid. */
static int read_slots(int fd, uint8_t h[SLOT_BYTES], int *slot)
{
    uint8_t a[SLOT_BYTES], b[SLOT_BYTES];
    int va = !vs_pread_all(fd, a, sizeof a, 0) && !memcmp(a, VS_RU8_MAGIC, 8) && get64(a + 56) == XXH3_64bits(a, SLOT_SUMMED);
    int vb = !vs_pread_all(fd, b, sizeof b, SLOT_1) && !memcmp(b, VS_RU8_MAGIC, 8) && get64(b + 56) == XXH3_64bits(b, SLOT_SUMMED);
    if (va && vb) *slot = get64(b + 48) > get64(a + 48);
    else if (va || vb) *slot = vb;
    else return -1;
    memcpy(h, *slot ? b : a, SLOT_BYTES);
    return 0;
}

/* Maps the rows found at open (see vs_ru8_store.map). A failure only disables the mmap
 * read path (its batches report map_err); the other paths do not need the mapping. The
 * mapping stays inside the file for as long as the store is open: rows are only appended,
 * and the one cut (vs_ru8_append's first) keeps every row up to s->rows >= map_rows. */
static void map_rows(vs_ru8_store *s)
{
    uint64_t len = VS_RU8_HEADER + s->rows * s->dim;
    if (!s->rows) return;
    if (len > SIZE_MAX) { /* a 32-bit size_t: the store does not fit the address space */
        s->map_err = EFBIG;
        return;
    }
    void *m = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, s->fd, 0);
    if (m == MAP_FAILED) {
        s->map_err = errno;
        return;
    }
    /* Scattered rows: no readahead around a faulting row (as POSIX_FADV_RANDOM for reads). */
    (void)madvise(m, (size_t)len, MADV_RANDOM);
    s->map = m;
    s->map_len = (size_t)len;
    s->map_rows = s->rows;
}

int vs_ru8_open(vs_ru8_store *s, const char *path, uint64_t rows, int writable)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (s->fd < 0) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "%s: %s", path, strerror(errno));
    uint8_t h[SLOT_BYTES] = {0}, magic[8] = {0};
    struct stat st;
    int rc = VS_OK;
    if (fstat(s->fd, &st) || st.st_size < VS_RU8_HEADER)
        rc = vs_fail(VS_ERR_CORRUPT, "%s: too short for a re-ranking store header", path);
    else if (read_slots(s->fd, h, &s->slot))
        rc = vs_pread_all(s->fd, magic, 8, 0) || memcmp(magic, VS_RU8_MAGIC, 8)
                 ? vs_fail(VS_ERR_CORRUPT, "%s: not a re-ranking store (bad magic)", path)
                 : vs_fail(VS_ERR_CORRUPT, "%s: header checksum mismatch", path);
    else if (get32(h + 8) > VS_RU8_VERSION || get32(h + 8) == 0)
        rc = vs_fail(VS_ERR_VERSION, "%s: re-ranking store version %u (this vecscale reads 1..%u)", path, get32(h + 8),
                     VS_RU8_VERSION);
    else if (get32(h + 12) != VS_RU8_HEADER || get64(h + 32) != VS_RU8_HEADER || get32(h + 20) != ELEM_U8 ||
             get32(h + 16) == 0 || get32(h + 16) > 65536)
        rc = vs_fail(VS_ERR_CORRUPT, "%s: header holds invalid values", path);
    if (!rc) {
        s->version = get32(h + 8);
        s->dim = get32(h + 16);
        s->committed = get64(h + 24);
        s->data_checksum = get64(h + 40);
        s->seq = get64(h + 48);
        uint64_t need = VS_RU8_HEADER + s->committed * s->dim;
        /* Version 1 files are exactly their rows; version 2 may hold uncommitted rows after. */
        if (s->committed > ((uint64_t)1 << 50) / s->dim || (uint64_t)st.st_size < need ||
            (s->version == 1 && (uint64_t)st.st_size != need))
            rc = vs_fail(VS_ERR_CORRUPT, "%s: file size %lld does not match %llu rows of %u bytes", path,
                         (long long)st.st_size, (unsigned long long)s->committed, s->dim);
        else if (rows > s->committed)
            rc = vs_fail(VS_ERR_CORRUPT, "%s: holds %llu committed rows, fewer than the %llu the index was saved with",
                         path, (unsigned long long)s->committed, (unsigned long long)rows);
        s->rows = rows ? rows : s->committed;
        s->writable = writable;
    }
    /* The reads are scattered rows of dim bytes: without this, a miss also reads ahead
     * (128 KiB by default) around the row, which costs a cold search disk time for pages it
     * will not use. */
    if (!rc) (void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_RANDOM);
    if (!rc) map_rows(s);
    if (rc) vs_ru8_close(s);
    return rc;
}

int vs_ru8_append(vs_ru8_store *s, const uint8_t *rows, size_t n)
{
    if (!s->writable) return vs_fail(VS_ERR_UNSUPPORTED, "%s: the re-ranking store is open read-only", s->path);
    if (!s->hash) {
        /* The first append after an open: the running checksum covers the rows kept. */
        XXH3_state_t *st = XXH3_createState();
        int rc = st && XXH3_64bits_reset(st) == XXH_OK ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
        if (!rc) rc = hash_range(s->fd, VS_RU8_HEADER, s->rows * s->dim, st, s->path);
        if (rc) {
            XXH3_freeState(st);
            return rc;
        }
        s->hash = st;
    }
    if (!s->cut) {
        /* Rows past those the index holds were written by a writer that stopped (or by a
         * later save the index predates): they go. */
        if (ftruncate(s->fd, (off_t)(VS_RU8_HEADER + s->rows * s->dim)))
            return vs_fail(VS_ERR_IO, "%s: %s", s->path, strerror(errno));
        s->cut = 1;
    }
    if (vs_pwrite_all(s->fd, rows, n * s->dim, VS_RU8_HEADER + s->rows * s->dim))
        return vs_fail(VS_ERR_IO, "%s: write failed: %s", s->path, strerror(errno));
    XXH3_64bits_update(s->hash, rows, n * s->dim);
    s->rows += n;
    return VS_OK;
}

int vs_ru8_commit(vs_ru8_store *s)
{
    if (!s->writable || !s->hash) return VS_OK; /* nothing appended since the open */
    uint64_t sum = XXH3_64bits_digest(s->hash);
    if (s->rows == s->committed && sum == s->data_checksum && s->version == VS_RU8_VERSION) return VS_OK;
    if (fdatasync(s->fd)) return vs_fail(VS_ERR_IO, "%s: fdatasync: %s", s->path, strerror(errno));
    uint8_t h[SLOT_BYTES];
    int slot = !s->slot;
    slot_encode(h, s->dim, s->rows, sum, s->seq + 1);
    if (vs_pwrite_all(s->fd, h, sizeof h, slot_offset(slot)) || fdatasync(s->fd))
        return vs_fail(VS_ERR_IO, "%s: header write: %s", s->path, strerror(errno));
    s->slot = slot;
    s->seq++;
    s->committed = s->rows;
    s->data_checksum = sum;
    s->version = VS_RU8_VERSION;
    return VS_OK;
}

int vs_ru8_verify(const vs_ru8_store *s)
{
    uint64_t sum;
    (void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* one pass front to back */
    int rc = vs_ru8_checksum(s, &sum);
    (void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_RANDOM);
    if (!rc && sum != s->data_checksum) rc = vs_fail(VS_ERR_CORRUPT, "%s: data checksum mismatch", s->path);
    return rc;
}

void vs_ru8_close(vs_ru8_store *s)
{
    if (s->map) munmap((void *)s->map, s->map_len);
    s->map = NULL;
    s->map_len = 0;
    s->map_rows = 0;
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    XXH3_freeState(s->hash);
    s->hash = NULL;
}

int vs_ru8_row(const vs_ru8_store *s, int64_t id, uint8_t *out)
{
    if (id < 0 || (uint64_t)id >= s->rows) return vs_fail(VS_ERR_NOT_FOUND, "id %lld is not in the index", (long long)id);
    if (vs_pread_all(s->fd, out, s->dim, VS_RU8_HEADER + (uint64_t)id * s->dim))
        return vs_fail(VS_ERR_IO, "%s: read failed", s->path);
    return VS_OK;
}

float vs_ru8_key(vs_metric metric, const float *q, const uint8_t *x, size_t d)
{
    float acc = 0;
    if (metric == VS_METRIC_L2) {
        for (size_t t = 0; t < d; t++) {
            float diff = q[t] - (float)x[t];
            acc += diff * diff;
        }
    } else {
        for (size_t t = 0; t < d; t++) acc -= q[t] * (float)x[t];
    }
    return acc;
}

struct vs_ru8_batch {
    const vs_ru8_store *s;
    size_t max_nq, nq;
    uint32_t kc;
    int started;
    int64_t *ord;   /* per query: its distinct candidate IDs, ascending (kc slots) */
    uint32_t *cnt;  /* per query: how many */
    uint8_t *rows;  /* per query: kc rows of dim bytes, in ord's order (mmap: only rows >= map_rows) */
    vs_bread *io;
    /* VS_BREAD_MMAP: the store's mapping and the rows it holds (IDs below map_rows are scored
     * in place); map_rows 0 otherwise, so every row comes from `rows`. */
    int mmap;
    const uint8_t *map;
    uint64_t map_rows;
    size_t page;
    /* _finish's job */
    vs_metric metric;
    const float *q;
    uint32_t k;
    float *keys;
    int64_t *ids;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int vs_ru8_batch_create(const vs_ru8_store *s, size_t max_nq, uint32_t kc, vs_bread_mode io, vs_ru8_batch **out)
{
    *out = NULL;
    if (!max_nq || !kc) return vs_fail(VS_ERR_INVALID_ARG, "re-ranking batch: max_nq and kc must be > 0");
    if (io == VS_BREAD_MMAP && s->map_err)
        return vs_fail(VS_ERR_IO, "%s: cannot memory-map the re-ranking store: %s", s->path, strerror(s->map_err));
    vs_ru8_batch *b = calloc(1, sizeof *b);
    if (!b) return vs_fail(VS_ERR_NOMEM, "out of memory");
    b->s = s;
    if (io == VS_BREAD_MMAP) {
        b->mmap = 1;
        b->map = s->map;
        b->map_rows = s->map_rows;
        long pg = sysconf(_SC_PAGESIZE);
        b->page = pg > 0 ? (size_t)pg : 4096;
        io = VS_BREAD_PREAD; /* for the rows appended after the mapping */
    }
    b->max_nq = max_nq;
    b->kc = kc;
    b->ord = malloc(max_nq * kc * sizeof *b->ord);
    b->cnt = malloc(max_nq * sizeof *b->cnt);
    b->rows = malloc(max_nq * kc * (size_t)s->dim);
    int rc = b->ord && b->cnt && b->rows ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    /* Depth: a batch's reads, up to the ring's limit (the rest go in as slots free up). */
    if (!rc) rc = vs_bread_create(io, max_nq * kc > 4096 ? 4096 : (unsigned)(max_nq * kc), &b->io);
    if (rc) {
        vs_ru8_batch_free(b);
        return rc;
    }
    *out = b;
    return VS_OK;
}

const char *vs_ru8_batch_io(const vs_ru8_batch *b) { return b->mmap ? "mmap" : vs_bread_kind(b->io); }

void vs_ru8_batch_set_max_io(vs_ru8_batch *b, size_t max_bytes) { vs_bread_set_max_io(b->io, max_bytes); }

void vs_ru8_batch_free(vs_ru8_batch *b)
{
    if (!b) return;
    if (b->started) (void)vs_bread_wait(b->io, b->s->path); /* the kernel must be done with rows */
    vs_bread_free(b->io);
    free(b->ord);
    free(b->cnt);
    free(b->rows);
    free(b);
}

/* Whether a batch's mapped rows need WILLNEED hints: not when a sample of their pages is
 * resident (a warm store), so that the usual case makes no system call per row. A sample
 * that misses a non-resident page costs the batch only synchronous faults for the misses. */
static int want_hints(const vs_ru8_batch *b, size_t nq)
{
    enum { SAMPLE = 16 };
    size_t total = 0;
    for (size_t i = 0; i < nq; i++) total += b->cnt[i];
    if (!total) return 0;
    size_t step = total / SAMPLE ? total / SAMPLE : 1, seen = 0, next = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < b->cnt[i]; j++, seen++) {
            int64_t id = b->ord[i * b->kc + j];
            if (seen < next) continue;
            if ((uint64_t)id >= b->map_rows) { /* read, not mapped: sample the next row instead */
                next = seen + 1;
                continue;
            }
            next = seen + step;
            uintptr_t at = (uintptr_t)(b->map + VS_RU8_HEADER + (uint64_t)id * b->s->dim);
            unsigned char in = 0;
            if (mincore((void *)(at & ~(uintptr_t)(b->page - 1)), 1, &in) || !(in & 1)) return 1;
        }
    return 0;
}

/* madvise(WILLNEED) on the pages of query i's mapped rows, adjacent pages as one range: the
 * kernel starts reading them all now, as the other paths' reads are issued together. */
static void hint_rows(const vs_ru8_batch *b, size_t i)
{
    const int64_t *ord = b->ord + i * b->kc;
    const uint64_t d = b->s->dim, pg = b->page;
    uint64_t first = 0, last = 0;
    int open = 0;
    for (size_t j = 0; j < b->cnt[i] && (uint64_t)ord[j] < b->map_rows; j++) {
        uint64_t off = VS_RU8_HEADER + (uint64_t)ord[j] * d, p0 = off / pg, p1 = (off + d - 1) / pg;
        if (open && p0 <= last + 1) {
            if (p1 > last) last = p1;
            continue;
        }
        if (open) (void)madvise((void *)(b->map + first * pg), (size_t)((last - first + 1) * pg), MADV_WILLNEED);
        first = p0;
        last = p1;
        open = 1;
    }
    if (open) (void)madvise((void *)(b->map + first * pg), (size_t)((last - first + 1) * pg), MADV_WILLNEED);
}

int vs_ru8_batch_start(vs_ru8_batch *b, size_t nq, const int64_t *cids)
{
    if (b->started) return vs_fail(VS_ERR_INVALID_ARG, "re-ranking batch: started twice without a finish");
    if (nq > b->max_nq)
        return vs_fail(VS_ERR_INVALID_ARG, "re-ranking batch: %zu queries, made for %zu", nq, b->max_nq);
    const vs_ru8_store *s = b->s;
    const size_t d = s->dim;
    int rc = VS_OK;
    if (b->mmap && b->map) {
        /* A mapped page past the end of the file raises SIGBUS on access: catch the usual
         * cause (the store cut short while open) before touching it. */
        struct stat st;
        if (fstat(s->fd, &st)) return vs_fail(VS_ERR_IO, "%s: %s", s->path, strerror(errno));
        if ((uint64_t)st.st_size < b->s->map_len)
            return vs_fail(VS_ERR_IO, "%s: the file ends before byte %llu (truncated while open?)", s->path,
                           (unsigned long long)b->s->map_len);
    }
    for (size_t i = 0; i < nq && !rc; i++) {
        int64_t *ord = b->ord + i * b->kc;
        size_t n = 0;
        for (uint32_t c = 0; c < b->kc; c++) {
            int64_t id = cids[i * b->kc + c];
            if (id >= 0 && (uint64_t)id < s->rows) ord[n++] = id;
        }
        /* Sorted by offset: the reads walk the file forward and neighbours merge into one. */
        qsort(ord, n, sizeof *ord, cmp_i64);
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (!m || ord[j] != ord[m - 1]) ord[m++] = ord[j];
        b->cnt[i] = (uint32_t)m;
        uint8_t *rows = b->rows + i * b->kc * d;
        size_t j = 0;
        while (j < m && (uint64_t)ord[j] < b->map_rows) j++; /* scored in the mapping */
        while (j < m && !rc) {
            size_t e = j + 1;
            while (e < m && ord[e] == ord[e - 1] + 1) e++;
            rc = vs_bread_add(b->io, s->fd, rows + j * d, (e - j) * d, VS_RU8_HEADER + (uint64_t)ord[j] * d);
            j = e;
        }
    }
    if (!rc && b->map_rows && want_hints(b, nq))
        for (size_t i = 0; i < nq; i++) hint_rows(b, i);
    if (!rc) rc = vs_bread_submit(b->io);
    if (rc) {
        (void)vs_bread_wait(b->io, s->path); /* empties the queue; nothing may stay in flight */
        return rc;
    }
    b->nq = nq;
    b->started = 1;
    return VS_OK;
}

static void score_one(size_t i, unsigned worker, void *ctx)
{
    (void)worker;
    vs_ru8_batch *b = ctx;
    const size_t d = b->s->dim;
    const float *q = b->q + i * d;
    float *kh = b->keys + i * b->k;
    int64_t *lh = b->ids + i * b->k;
    const int64_t *ord = b->ord + i * b->kc;
    const uint8_t *rows = b->rows + i * b->kc * d;
    vs_heap_reset(kh, lh, b->k);
    for (size_t j = 0; j < b->cnt[i]; j++) {
        const uint8_t *x =
            (uint64_t)ord[j] < b->map_rows ? b->map + VS_RU8_HEADER + (uint64_t)ord[j] * d : rows + j * d;
        float acc = vs_ru8_key(b->metric, q, x, d);
        if (acc <= kh[0]) vs_heap_push(kh, lh, b->k, acc, ord[j]);
    }
    vs_heap_sort(kh, lh, b->k);
}

int vs_ru8_batch_finish(vs_ru8_batch *b, vs_metric metric, const float *q, uint32_t k, unsigned n_threads,
                        float *keys, int64_t *ids)
{
    if (!b->started) return vs_fail(VS_ERR_INVALID_ARG, "re-ranking batch: finish without a start");
    b->started = 0;
    int rc = vs_bread_wait(b->io, b->s->path);
    if (rc) return rc;
    if (metric == VS_METRIC_COSINE)
        return vs_fail(VS_ERR_UNSUPPORTED, "re-ranking on uint8 vectors supports l2 and ip, not cosine");
    b->metric = metric;
    b->q = q;
    b->k = k;
    b->keys = keys;
    b->ids = ids;
    vs_parallel_for(b->nq, n_threads ? n_threads : 1, score_one, b);
    return VS_OK;
}

int vs_ru8_rerank(const vs_ru8_store *s, vs_metric metric, size_t nq, const float *q, uint32_t kc,
                  const int64_t *cids, uint32_t k, unsigned n_threads, float *keys, int64_t *ids)
{
    enum { BATCH = 64 };
    if (metric == VS_METRIC_COSINE)
        return vs_fail(VS_ERR_UNSUPPORTED, "re-ranking on uint8 vectors supports l2 and ip, not cosine");
    if (!nq) return VS_OK;
    vs_ru8_batch *b = NULL;
    int rc = vs_ru8_batch_create(s, nq < BATCH ? nq : BATCH, kc, VS_BREAD_AUTO, &b);
    for (size_t i = 0; i < nq && !rc; i += BATCH) {
        size_t n = nq - i < BATCH ? nq - i : BATCH;
        rc = vs_ru8_batch_start(b, n, cids + i * kc);
        if (!rc) rc = vs_ru8_batch_finish(b, metric, q + i * s->dim, k, n_threads, keys + i * k, ids + i * k);
    }
    vs_ru8_batch_free(b);
    return rc;
}
