/* Collections under concurrency (ThreadSanitizer in CI): writers add and remove while
 * readers search and read documents and another thread takes snapshots. Readers must never
 * see an error or an ID that was never added; at the end every acknowledged document is
 * there, also after reopening. Run for Flat (chunked exclusive writes) and HNSW (lock-free
 * readers beside one writer). Searches and writes must have overlapped, on both sides
 * (test_concurrent_overlap.h: every 8th search is gated so that they do). */
#include <pthread.h>
#include <stdatomic.h>

#include "test_util.h"

#include "test_concurrent_overlap.h"

/* BASE documents (IDs after the writers' ranges) are there before the threads start, so that
 * the first searches already run the index's search (an empty collection answers without). */
enum { D = 8, WRITERS = 3, PER_WRITER = 60, BATCH = 4, READERS = 2, K = 4, BASE = 4 };

typedef struct {
    vs_collection *c;
    const float *x;
    atomic_int writers_done;
    atomic_int bad;
    atomic_long searches;
    tu_overlap ov;
} shared;

typedef struct {
    shared *S;
    int w;
} warg;

static void *writer(void *arg)
{
    warg *a = arg;
    tu_writer_wait_for_gate(&a->S->ov);
    for (int b = 0; b < PER_WRITER / BATCH; b++) {
        int64_t ids[BATCH];
        const char *texts[BATCH];
        char buf[BATCH][32];
        for (int i = 0; i < BATCH; i++) {
            ids[i] = (int64_t)a->w * 100000 + b * BATCH + i;
            snprintf(buf[i], sizeof buf[i], "doc %lld", (long long)ids[i]);
            texts[i] = buf[i];
        }
        const float *x = a->S->x + ((size_t)a->w * PER_WRITER + (size_t)b * BATCH) * D;
        int seen = tu_write_begin(&a->S->ov);
        if (vs_collection_add(a->S->c, BATCH, x, ids, texts, NULL, NULL) != VS_OK) atomic_fetch_add(&a->S->bad, 1);
        tu_write_end(&a->S->ov, seen);
        if (b % 5 == 4) { /* remove the first document of this batch again */
            size_t removed = 0;
            seen = tu_write_begin(&a->S->ov);
            if (vs_collection_remove(a->S->c, 1, ids, &removed) != VS_OK || removed != 1) atomic_fetch_add(&a->S->bad, 1);
            tu_write_end(&a->S->ov, seen);
        }
    }
    atomic_fetch_add(&a->S->writers_done, 1);
    return NULL;
}

static void on_doc(int64_t id, const char *text, const char *meta, void *ctx)
{
    (void)meta;
    char want[32];
    snprintf(want, sizeof want, "doc %lld", (long long)id);
    if (!text || strcmp(text, want)) atomic_fetch_add((atomic_int *)ctx, 1);
}

static void *reader(void *arg)
{
    shared *S = arg;
    uint64_t rng = 99;
    for (long n = 0; atomic_load(&S->writers_done) < WRITERS; n++) {
        float q[D], s[K];
        int64_t id[K];
        for (int j = 0; j < D; j++) q[j] = tu_uniform(&rng);
        tu_read_mark mark;
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .filter = tu_read_begin(&S->ov, &mark, n % 8 == 0)};
        int rc = vs_collection_search(S->c, 1, q, K, &p, s, id);
        tu_read_end(&S->ov, &mark);
        if (rc != VS_OK) {
            fprintf(stderr, "search: %s\n", vs_last_error());
            atomic_fetch_add(&S->bad, 1);
        }
        for (int i = 0; i < K; i++) {
            if (id[i] < 0) continue;
            int base = id[i] >= WRITERS * 100000 && id[i] < WRITERS * 100000 + BASE;
            if (!base && (id[i] % 100000 >= PER_WRITER || id[i] / 100000 >= WRITERS)) atomic_fetch_add(&S->bad, 1);
            /* A document may have been removed since the search: NOT_FOUND is fine. */
            vs_collection_with_doc(S->c, id[i], on_doc, &S->bad);
        }
        atomic_fetch_add(&S->searches, 1);
    }
    return NULL;
}

static void *snapshotter(void *arg)
{
    shared *S = arg;
    while (atomic_load(&S->writers_done) < WRITERS) {
        if (vs_collection_snapshot(S->c) != VS_OK) atomic_fetch_add(&S->bad, 1);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void run(const char *factory)
{
    char *dir = tu_tempdir();
    shared S = {0};
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D, .metric = VS_METRIC_L2, .factory = factory};
    assert_int_equal(vs_collection_create(dir, &o, &S.c), VS_OK);
    float *x = tu_random_vectors(WRITERS * PER_WRITER + BASE, D, 7);
    S.x = x;
    {
        int64_t ids[BASE];
        char buf[BASE][32];
        const char *texts[BASE];
        for (int i = 0; i < BASE; i++) {
            ids[i] = WRITERS * 100000 + i;
            snprintf(buf[i], sizeof buf[i], "doc %lld", (long long)ids[i]);
            texts[i] = buf[i];
        }
        assert_int_equal(vs_collection_add(S.c, BASE, x + (size_t)WRITERS * PER_WRITER * D, ids, texts, NULL, NULL), VS_OK);
    }
    pthread_t w[WRITERS], r[READERS], s;
    warg wa[WRITERS];
    for (int i = 0; i < READERS; i++) assert_int_equal(pthread_create(&r[i], NULL, reader, &S), 0);
    assert_int_equal(pthread_create(&s, NULL, snapshotter, &S), 0);
    for (int i = 0; i < WRITERS; i++) {
        wa[i] = (warg){&S, i};
        assert_int_equal(pthread_create(&w[i], NULL, writer, &wa[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) assert_int_equal(pthread_join(w[i], NULL), 0);
    atomic_store(&S.ov.no_more_writes, 1);
    for (int i = 0; i < READERS; i++) assert_int_equal(pthread_join(r[i], NULL), 0);
    assert_int_equal(pthread_join(s, NULL), 0);
    assert_int_equal(atomic_load(&S.bad), 0);
    print_message("%s: %ld of %ld searches overlapped a write, %ld of %ld writes overlapped a search\n", factory,
                  atomic_load(&S.ov.reads_overlapped), atomic_load(&S.ov.reads), atomic_load(&S.ov.writes_overlapped),
                  atomic_load(&S.ov.writes));
    assert_true(atomic_load(&S.ov.reads_overlapped) > 0);
    assert_true(atomic_load(&S.ov.writes_overlapped) > 0);
    size_t expect = WRITERS * (PER_WRITER - PER_WRITER / BATCH / 5) + BASE;
    assert_int_equal(vs_collection_size(S.c), expect);
    vs_collection_info info = {.struct_size = sizeof info};
    assert_int_equal(vs_collection_info_get(S.c, &info), VS_OK);
    print_message("%s: %ld searches during the writes; %llu log syncs since the last snapshot\n", factory,
                  atomic_load(&S.searches), (unsigned long long)info.log_syncs);
    assert_int_equal(vs_collection_close(S.c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &S.c), VS_OK);
    assert_int_equal(vs_collection_size(S.c), expect);
    for (int w2 = 0; w2 < WRITERS; w2++)
        for (int i = 0; i < PER_WRITER; i++) {
            int64_t id = (int64_t)w2 * 100000 + i;
            int removed = (i / BATCH) % 5 == 4 && i % BATCH == 0;
            float s1;
            int64_t got;
            vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = 128};
            assert_int_equal(vs_collection_search(S.c, 1, x + ((size_t)w2 * PER_WRITER + i) * D, 1, &p, &s1, &got), VS_OK);
            if (!removed) assert_int_equal(got, id);
            else assert_int_not_equal(got, id);
        }
    assert_int_equal(vs_collection_close(S.c), VS_OK);
    free(x);
    tu_rmdir(dir);
}

static void test_flat(void **state) { (void)state; run("Flat"); }
static void test_hnsw(void **state) { (void)state; run("HNSW8"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat),
        cmocka_unit_test(test_hnsw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
