/* Collections under concurrency (ThreadSanitizer in CI): writers add and remove while
 * readers search and read documents and another thread takes snapshots. Readers must never
 * see an error or an ID that was never added; at the end every acknowledged document is
 * there, also after reopening. Run for Flat (chunked exclusive writes) and HNSW (lock-free
 * readers beside one writer). */
#include <pthread.h>
#include <stdatomic.h>

#include "test_util.h"

enum { D = 8, WRITERS = 3, PER_WRITER = 60, BATCH = 4, READERS = 2, K = 4 };

typedef struct {
    vs_collection *c;
    const float *x;
    atomic_int writers_done;
    atomic_int bad;
    atomic_long searches;
} shared;

typedef struct {
    shared *S;
    int w;
} warg;

static void *writer(void *arg)
{
    warg *a = arg;
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
        if (vs_collection_add(a->S->c, BATCH, x, ids, texts, NULL, NULL) != VS_OK) atomic_fetch_add(&a->S->bad, 1);
        if (b % 5 == 4) { /* remove the first document of this batch again */
            size_t removed = 0;
            if (vs_collection_remove(a->S->c, 1, ids, &removed) != VS_OK || removed != 1) atomic_fetch_add(&a->S->bad, 1);
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
    while (atomic_load(&S->writers_done) < WRITERS) {
        float q[D], s[K];
        int64_t id[K];
        for (int j = 0; j < D; j++) q[j] = tu_uniform(&rng);
        if (vs_collection_search(S->c, 1, q, K, NULL, s, id) != VS_OK) {
            fprintf(stderr, "search: %s\n", vs_last_error());
            atomic_fetch_add(&S->bad, 1);
        }
        for (int i = 0; i < K; i++) {
            if (id[i] < 0) continue;
            if (id[i] % 100000 >= PER_WRITER || id[i] / 100000 >= WRITERS) atomic_fetch_add(&S->bad, 1);
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
    vs_collection_options o = {.dim = D, .metric = VS_METRIC_L2, .factory = factory};
    assert_int_equal(vs_collection_create(dir, &o, &S.c), VS_OK);
    float *x = tu_random_vectors(WRITERS * PER_WRITER, D, 7);
    S.x = x;
    pthread_t w[WRITERS], r[READERS], s;
    warg wa[WRITERS];
    for (int i = 0; i < READERS; i++) pthread_create(&r[i], NULL, reader, &S);
    pthread_create(&s, NULL, snapshotter, &S);
    for (int i = 0; i < WRITERS; i++) {
        wa[i] = (warg){&S, i};
        pthread_create(&w[i], NULL, writer, &wa[i]);
    }
    for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
    for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
    pthread_join(s, NULL);
    assert_int_equal(atomic_load(&S.bad), 0);
    size_t expect = WRITERS * (PER_WRITER - PER_WRITER / BATCH / 5);
    assert_int_equal(vs_collection_size(S.c), expect);
    vs_collection_info info;
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
            vs_search_params p = {.ef_search = 128};
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
