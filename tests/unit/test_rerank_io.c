/* Re-ranking reads from the ",Ru8" store (src/index/rerank_u8.c over src/io/batch_read.c):
 * io_uring, the pread fallback and the mapped store give the same neighbours as a brute force
 * over the same rows, also when every read completes in short pieces, when more reads are
 * queued than the ring holds, with two batches in flight at once, and (mmap) for rows
 * appended after the store was mapped; a missing or truncated store fails with an error
 * naming the file and the problem. */
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>

#include "index/rerank_u8.h"
#include "io/batch_read.h"
#include "test_util.h"

enum { DIM = 16, ROWS = 1000, NQ = 37, KC = 40, K = 10 };

typedef struct {
    char *dir;
    char path[600];
    uint8_t *rows;
    float *q;
    int64_t *cids;
} fixture;

static void make_store(fixture *f)
{
    f->dir = tu_tempdir();
    snprintf(f->path, sizeof f->path, "%s/" VS_RU8_FILE, f->dir);
    uint64_t seed = 18;
    f->rows = malloc((size_t)ROWS * DIM);
    assert_non_null(f->rows);
    for (size_t i = 0; i < (size_t)ROWS * DIM; i++) f->rows[i] = (uint8_t)(tu_rng_next(&seed) >> 56);
    vs_ru8_store w;
    assert_int_equal(vs_ru8_create(&w, f->path, DIM), VS_OK);
    assert_int_equal(vs_ru8_append(&w, f->rows, ROWS), VS_OK);
    assert_int_equal(vs_ru8_commit(&w), VS_OK);
    vs_ru8_close(&w);
    f->q = malloc((size_t)NQ * DIM * sizeof *f->q);
    f->cids = malloc((size_t)NQ * KC * sizeof *f->cids);
    assert_non_null(f->q);
    assert_non_null(f->cids);
    for (size_t i = 0; i < (size_t)NQ * DIM; i++) f->q[i] = 128.0f + 127.0f * tu_uniform(&seed);
    /* Candidates as an index hands them over: runs of adjacent rows (one read each), repeats,
     * -1 for "none", IDs past the end (ignored), scattered rows; the first and last row too. */
    for (size_t i = 0; i < NQ; i++) {
        int64_t *c = f->cids + i * KC;
        for (size_t j = 0; j < KC; j++) {
            uint64_t r = tu_rng_next(&seed);
            switch (r % 8) {
            case 0: c[j] = -1; break;
            case 1: c[j] = ROWS + (int64_t)(r >> 40) % 50; break;
            case 2: c[j] = j ? c[j - 1] : 0; break;
            case 3: case 4: c[j] = j && c[j - 1] >= 0 && c[j - 1] + 1 < ROWS ? c[j - 1] + 1 : 0; break;
            default: c[j] = (int64_t)((r >> 20) % ROWS); break;
            }
        }
        if (i == 0) c[0] = ROWS - 1;
    }
}

static void drop_store(fixture *f)
{
    free(f->rows);
    free(f->q);
    free(f->cids);
    tu_rmdir(f->dir);
}

typedef struct {
    float key;
    int64_t id;
} hit;

static int hit_cmp(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The answer from the first `rows` rows in memory, summed in the store's order (so keys
 * compare exactly). */
static void reference_upto(const fixture *f, vs_metric m, int64_t rows, float *keys, int64_t *ids)
{
    for (size_t i = 0; i < NQ; i++) {
        hit h[KC];
        size_t n = 0;
        const float *q = f->q + i * DIM;
        for (size_t j = 0; j < KC; j++) {
            int64_t id = f->cids[i * KC + j];
            int dup = 0;
            for (size_t t = 0; t < n; t++) dup |= h[t].id == id;
            if (id < 0 || id >= rows || dup) continue;
            const uint8_t *x = f->rows + (size_t)id * DIM;
            float acc = 0;
            for (size_t t = 0; t < DIM; t++) {
                if (m == VS_METRIC_L2) acc += (q[t] - (float)x[t]) * (q[t] - (float)x[t]);
                else acc -= q[t] * (float)x[t];
            }
            h[n++] = (hit){acc, id};
        }
        qsort(h, n, sizeof *h, hit_cmp);
        for (size_t j = 0; j < K; j++) {
            keys[i * K + j] = j < n ? h[j].key : INFINITY;
            ids[i * K + j] = j < n ? h[j].id : -1;
        }
    }
}

static void reference(const fixture *f, vs_metric m, float *keys, int64_t *ids)
{
    reference_upto(f, m, ROWS, keys, ids);
}

static void assert_same(const float *k1, const int64_t *i1, const float *k2, const int64_t *i2)
{
    for (size_t j = 0; j < (size_t)NQ * K; j++) {
        assert_int_equal(i1[j], i2[j]);
        if (i1[j] >= 0) assert_true(k1[j] == k2[j]);
    }
}

/* Re-ranks all NQ queries through batches of `per` queries, two batches in flight at once
 * (as vecscale search runs them). */
static int rerank_modes(const vs_ru8_store *s, vs_bread_mode io, size_t per, size_t max_io, vs_metric m,
                        float *keys, int64_t *ids, const fixture *f)
{
    vs_ru8_batch *b[2] = {NULL, NULL};
    int rc = VS_OK;
    for (int j = 0; j < 2 && !rc; j++) {
        rc = vs_ru8_batch_create(s, per, KC, io, &b[j]);
        if (!rc) vs_ru8_batch_set_max_io(b[j], max_io);
    }
    size_t prev = 0, c = 0;
    for (size_t i = 0; i < NQ && !rc; i += per, c++) {
        size_t n = NQ - i < per ? NQ - i : per;
        rc = vs_ru8_batch_start(b[c & 1], n, f->cids + i * KC);
        if (!rc && c)
            rc = vs_ru8_batch_finish(b[(c - 1) & 1], m, f->q + prev * DIM, K, 2, keys + prev * K, ids + prev * K);
        prev = i;
        if (!rc && i + n == NQ) rc = vs_ru8_batch_finish(b[c & 1], m, f->q + i * DIM, K, 1, keys + i * K, ids + i * K);
    }
    vs_ru8_batch_free(b[0]);
    vs_ru8_batch_free(b[1]);
    return rc;
}

/* MODES: a re-ranking batch's read paths; READERS: those a vs_bread has (not mmap). */
#ifdef VS_TEST_HAVE_LIBURING
static const vs_bread_mode MODES[] = {VS_BREAD_PREAD, VS_BREAD_URING, VS_BREAD_AUTO, VS_BREAD_MMAP};
static const vs_bread_mode READERS[] = {VS_BREAD_PREAD, VS_BREAD_URING, VS_BREAD_AUTO};
#else
static const vs_bread_mode MODES[] = {VS_BREAD_PREAD, VS_BREAD_AUTO, VS_BREAD_MMAP};
static const vs_bread_mode READERS[] = {VS_BREAD_PREAD, VS_BREAD_AUTO};
#endif

static void uring_and_pread_match_reference(void **state)
{
    (void)state;
    fixture f;
    make_store(&f);
    vs_ru8_store s;
    assert_int_equal(vs_ru8_open(&s, f.path, 0, 0), VS_OK);
    static float want_k[NQ * K], got_k[NQ * K];
    static int64_t want_i[NQ * K], got_i[NQ * K];
    const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP};
    /* max_io 5: every row (16 B) arrives in 4 short reads that end mid-row; 0: whole runs. */
    const size_t max_ios[] = {0, 5};
    const size_t pers[] = {1, 8, NQ};
    for (size_t mi = 0; mi < 2; mi++) {
        reference(&f, metrics[mi], want_k, want_i);
        for (size_t o = 0; o < sizeof MODES / sizeof *MODES; o++)
            for (size_t x = 0; x < 2; x++)
                for (size_t p = 0; p < 3; p++) {
                    memset(got_i, 0x55, sizeof got_i);
                    assert_int_equal(rerank_modes(&s, MODES[o], pers[p], max_ios[x], metrics[mi], got_k, got_i, &f),
                                     VS_OK);
                    assert_same(want_k, want_i, got_k, got_i);
                }
        /* The one-call form. */
        memset(got_i, 0x55, sizeof got_i);
        assert_int_equal(vs_ru8_rerank(&s, metrics[mi], NQ, f.q, KC, f.cids, K, 2, got_k, got_i), VS_OK);
        assert_same(want_k, want_i, got_k, got_i);
    }
    vs_ru8_close(&s);
    drop_store(&f);
}

/* The reader alone: more reads than its depth, each cut into 3-byte pieces, land whole. */
static void reader_refills_and_resumes_short_reads(void **state)
{
    (void)state;
    fixture f;
    make_store(&f);
    int fd = open(f.path, O_RDONLY);
    assert_true(fd >= 0);
    for (size_t o = 0; o < sizeof READERS / sizeof *READERS; o++) {
        vs_bread *r;
        assert_int_equal(vs_bread_create(READERS[o], 4, &r), VS_OK);
        vs_bread_set_max_io(r, 3);
        static uint8_t got[300][DIM];
        memset(got, 0, sizeof got);
        for (size_t i = 0; i < 300; i++)
            assert_int_equal(vs_bread_add(r, fd, got[i], DIM, VS_RU8_HEADER + (uint64_t)((i * 7) % ROWS) * DIM), VS_OK);
        assert_int_equal(vs_bread_submit(r), VS_OK);
        assert_int_equal(vs_bread_wait(r, f.path), VS_OK);
        for (size_t i = 0; i < 300; i++) assert_memory_equal(got[i], f.rows + ((i * 7) % ROWS) * DIM, DIM);
        /* Reused for a second batch after the first was waited for. */
        assert_int_equal(vs_bread_add(r, fd, got[0], DIM, VS_RU8_HEADER), VS_OK);
        assert_int_equal(vs_bread_wait(r, f.path), VS_OK);
        assert_memory_equal(got[0], f.rows, DIM);
        vs_bread_free(r);
    }
    close(fd);
    drop_store(&f);
}

static void uring_mode_is_what_the_build_says(void **state)
{
    (void)state;
    vs_bread *r = NULL;
#ifdef VS_TEST_HAVE_LIBURING
    assert_int_equal(vs_bread_create(VS_BREAD_URING, 8, &r), VS_OK);
    assert_string_equal(vs_bread_kind(r), "io_uring");
#else
    assert_int_equal(vs_bread_create(VS_BREAD_URING, 8, &r), VS_ERR_UNSUPPORTED);
    assert_non_null(strstr(vs_last_error(), "liburing"));
    assert_int_equal(vs_bread_create(VS_BREAD_AUTO, 8, &r), VS_OK);
#endif
    vs_bread_free(r);
    assert_int_equal(vs_bread_create(VS_BREAD_PREAD, 8, &r), VS_OK);
    assert_string_equal(vs_bread_kind(r), "pread");
    vs_bread_free(r);
    /* mmap is the store's path, not a reader's. */
    assert_int_equal(vs_bread_create(VS_BREAD_MMAP, 8, &r), VS_ERR_INVALID_ARG);
}

/* The mapped path with the store's pages evicted first (so the batch's WILLNEED hints are
 * issued: the sample of pages is not resident) and warm (no hints): both as the reference. */
static void mmap_cold_and_warm_match_reference(void **state)
{
    (void)state;
    fixture f;
    make_store(&f);
    vs_ru8_store s;
    assert_int_equal(vs_ru8_open(&s, f.path, 0, 0), VS_OK);
    assert_non_null(s.map);
    assert_int_equal(s.map_rows, ROWS);
    static float want_k[NQ * K], got_k[NQ * K];
    static int64_t want_i[NQ * K], got_i[NQ * K];
    reference(&f, VS_METRIC_L2, want_k, want_i);
    for (int round = 0; round < 2; round++) {
        /* Round 0: clean pages not yet mapped by anyone are dropped (a hint; the answer
         * does not depend on whether it took). */
        if (!round) (void)posix_fadvise(s.fd, 0, 0, POSIX_FADV_DONTNEED);
        memset(got_i, 0x55, sizeof got_i);
        assert_int_equal(rerank_modes(&s, VS_BREAD_MMAP, 8, 0, VS_METRIC_L2, got_k, got_i, &f), VS_OK);
        assert_same(want_k, want_i, got_k, got_i);
    }
    vs_ru8_batch *b;
    assert_int_equal(vs_ru8_batch_create(&s, 2, KC, VS_BREAD_MMAP, &b), VS_OK);
    assert_string_equal(vs_ru8_batch_io(b), "mmap");
    vs_ru8_batch_free(b);
    vs_ru8_close(&s);
    assert_null(s.map);
    drop_store(&f);
}

/* An index still being added to: the store opened writable with the rows of an older save
 * (its later rows are cut off by the first append), then grown past what the open mapped.
 * Mapped rows are scored in place, the rest are read; every path gives the reference. */
static void mmap_store_grown_after_open(void **state)
{
    (void)state;
    fixture f;
    make_store(&f);
    vs_ru8_store s;
    enum { SAVED = ROWS / 3 };
    assert_int_equal(vs_ru8_open(&s, f.path, SAVED, 1), VS_OK);
    assert_int_equal(s.map_rows, SAVED);
    static float want_k[NQ * K], got_k[NQ * K];
    static int64_t want_i[NQ * K], got_i[NQ * K];
    /* The rows appended in two steps, with a search between: at first only some candidates
     * exist (the reference with the rest absent), then all of them. */
    assert_int_equal(vs_ru8_append(&s, f.rows + (size_t)SAVED * DIM, ROWS / 2 - SAVED), VS_OK);
    reference_upto(&f, VS_METRIC_L2, ROWS / 2, want_k, want_i);
    for (size_t o = 0; o < sizeof MODES / sizeof *MODES; o++) {
        memset(got_i, 0x55, sizeof got_i);
        assert_int_equal(rerank_modes(&s, MODES[o], 8, 0, VS_METRIC_L2, got_k, got_i, &f), VS_OK);
        assert_same(want_k, want_i, got_k, got_i);
    }
    assert_int_equal(vs_ru8_append(&s, f.rows + (size_t)(ROWS / 2) * DIM, ROWS - ROWS / 2), VS_OK);
    assert_int_equal(vs_ru8_commit(&s), VS_OK);
    assert_int_equal(s.rows, ROWS);
    assert_int_equal(s.map_rows, SAVED);
    const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP};
    for (size_t mi = 0; mi < 2; mi++) {
        reference(&f, metrics[mi], want_k, want_i);
        for (size_t o = 0; o < sizeof MODES / sizeof *MODES; o++) {
            memset(got_i, 0x55, sizeof got_i);
            assert_int_equal(rerank_modes(&s, MODES[o], 8, 0, metrics[mi], got_k, got_i, &f), VS_OK);
            assert_same(want_k, want_i, got_k, got_i);
        }
    }
    vs_ru8_close(&s);
    /* Reopened, the whole store is mapped. */
    assert_int_equal(vs_ru8_open(&s, f.path, 0, 0), VS_OK);
    assert_int_equal(s.map_rows, ROWS);
    memset(got_i, 0x55, sizeof got_i);
    assert_int_equal(rerank_modes(&s, VS_BREAD_MMAP, NQ, 0, VS_METRIC_IP, got_k, got_i, &f), VS_OK);
    assert_same(want_k, want_i, got_k, got_i);
    vs_ru8_close(&s);
    drop_store(&f);
}

/* A store cut short after it was opened: every read path reports the end of the file with the
 * file's name, whether the batch is read whole or in short pieces. */
static void truncated_store_fails_clearly(void **state)
{
    (void)state;
    fixture f;
    make_store(&f);
    vs_ru8_store s;
    assert_int_equal(vs_ru8_open(&s, f.path, 0, 0), VS_OK);
    assert_int_equal(truncate(f.path, VS_RU8_HEADER + 500 * DIM + 3), 0);
    static float k[NQ * K];
    static int64_t ids[NQ * K];
    for (size_t o = 0; o < sizeof MODES / sizeof *MODES; o++)
        for (size_t x = 0; x < 2; x++) {
            int rc = rerank_modes(&s, MODES[o], 8, x ? 5 : 0, VS_METRIC_L2, k, ids, &f);
            assert_int_equal(rc, VS_ERR_IO);
            assert_non_null(strstr(vs_last_error(), f.path));
            assert_non_null(strstr(vs_last_error(), "ends before byte"));
        }
    vs_ru8_close(&s);
    /* Opened again, the size no longer matches the header. */
    assert_int_equal(vs_ru8_open(&s, f.path, 0, 0), VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "does not match"));
    /* And a missing store. */
    assert_int_equal(unlink(f.path), 0);
    assert_int_equal(vs_ru8_open(&s, f.path, 0, 0), VS_ERR_NOT_FOUND);
    assert_non_null(strstr(vs_last_error(), f.path));
    drop_store(&f);
}

static void batch_misuse_fails(void **state)
{
    (void)state;
    fixture f;
    make_store(&f);
    vs_ru8_store s;
    assert_int_equal(vs_ru8_open(&s, f.path, 0, 0), VS_OK);
    vs_ru8_batch *b;
    float k[K];
    int64_t ids[K];
    assert_int_equal(vs_ru8_batch_create(&s, 2, KC, VS_BREAD_AUTO, &b), VS_OK);
    assert_int_equal(vs_ru8_batch_finish(b, VS_METRIC_L2, f.q, K, 1, k, ids), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_ru8_batch_start(b, 3, f.cids), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_ru8_batch_start(b, 1, f.cids), VS_OK);
    assert_int_equal(vs_ru8_batch_start(b, 1, f.cids), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_ru8_batch_finish(b, VS_METRIC_COSINE, f.q, K, 1, k, ids), VS_ERR_UNSUPPORTED);
    /* Freed with a batch in flight: waits for it (ASan would see a late write). */
    assert_int_equal(vs_ru8_batch_start(b, 2, f.cids), VS_OK);
    vs_ru8_batch_free(b);
    vs_ru8_close(&s);
    drop_store(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uring_and_pread_match_reference), cmocka_unit_test(reader_refills_and_resumes_short_reads),
        cmocka_unit_test(uring_mode_is_what_the_build_says), cmocka_unit_test(truncated_store_fails_clearly),
        cmocka_unit_test(batch_misuse_fails), cmocka_unit_test(mmap_cold_and_warm_match_reference),
        cmocka_unit_test(mmap_store_grown_after_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
