/* Filtered searches beside a writer: one thread adds, removes and snapshots an HNSW
 * collection while three threads search with random filters, which start automatic index
 * builds on the way (so the builder thread runs against the writer and the readers). Every
 * hit must pass its filter and must not be a document whose removal had returned before the
 * search began; at the end the indexes agree with the oracle. Runs under TSan (label
 * concurrent). It runs at least 3 s (VS_FILTER_STRESS_SECONDS overrides) and until searches have
 * overlapped writes on both sides and some were answered from payload indexes (bounded at 120 s:
 * a loaded machine under TSan may need longer for the first automatic build). */
#include <time.h>
#include <stdatomic.h>

#include "filter_oracle.h"
#include "test_util.h"

#define DIM 8
#define CAP 200000

static vs_collection *coll;
static atomic_int stop;
static atomic_uint_fast64_t epoch = 1;
static _Atomic uint64_t removed_at[CAP]; /* epoch at which the removal returned; 0 = live */
static _Atomic uint8_t added[CAP];
static atomic_long n_checked, n_indexed;
/* Overlap evidence: searches during which a writer round completed, and writer rounds during
 * which a search completed. */
static atomic_long n_rounds, reads_overlapped, writes_overlapped;

static void vector_of(int64_t id, float *v)
{
    uint64_t s = (uint64_t)id * 31 + 5;
    for (int j = 0; j < DIM; j++) v[j] = tu_uniform(&s);
}

static int add_range(int64_t from, size_t n)
{
    float x[64 * DIM] = {0};
    char bufs[64][512];
    const char *md[64] = {0};
    int64_t ids[64] = {0};
    for (size_t i = 0; i < n; i++) {
        ids[i] = from + (int64_t)i;
        vector_of(ids[i], x + i * DIM);
        fo_meta m = fo_meta_of(ids[i]);
        md[i] = fo_json(&m, bufs[i], sizeof bufs[i]);
    }
    int rc = vs_collection_add(coll, n, x, ids, NULL, md, NULL);
    for (size_t i = 0; !rc && i < n; i++) atomic_store(&added[ids[i]], 1);
    return rc;
}

static void *writer(void *arg)
{
    (void)arg;
    int64_t next = 2000;
    uint64_t rng = 5;
    int round = 0;
    while (!atomic_load(&stop) && next + 64 < CAP) {
        long c0 = atomic_load(&n_checked);
        assert_int_equal(add_range(next, 50), VS_OK);
        next += 50;
        int64_t rm[10];
        for (int i = 0; i < 10; i++) rm[i] = (int64_t)(tu_rng_next(&rng) % (uint64_t)next);
        assert_int_equal(vs_collection_remove(coll, 10, rm, NULL), VS_OK);
        uint64_t e = atomic_fetch_add(&epoch, 1) + 1;
        for (int i = 0; i < 10; i++)
            if (atomic_load(&added[rm[i]]) && !atomic_load(&removed_at[rm[i]])) atomic_store(&removed_at[rm[i]], e);
        if (++round % 40 == 0) assert_int_equal(vs_collection_snapshot(coll), VS_OK);
        if (atomic_load(&n_checked) != c0) atomic_fetch_add(&writes_overlapped, 1);
        atomic_fetch_add(&n_rounds, 1);
    }
    return NULL;
}

static void *reader(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 1000003;
    while (!atomic_load(&stop)) {
        fo_pool pool = {.n = 0};
        const fo_node *f = fo_gen(&pool, &rng, 1);
        char json[4096];
        fo_print(f, json, sizeof json, 0);
        float q[DIM], d[20];
        int64_t ids[20];
        vector_of((int64_t)(rng % 100000), q);
        uint64_t e0 = atomic_load(&epoch);
        long w0 = atomic_load(&n_rounds);
        vs_filter_report rep = {.struct_size = sizeof rep};
        int rc = vs_collection_search_where(coll, 1, q, 20, NULL, json, d, ids, &rep);
        if (atomic_load(&n_rounds) != w0) atomic_fetch_add(&reads_overlapped, 1);
        if (rc) fail_msg("%s: %s", json, vs_last_error());
        for (int i = 0; i < 20 && ids[i] >= 0; i++) {
            fo_meta m = fo_meta_of(ids[i]);
            if (!fo_eval(f, &m)) fail_msg("%s returned %lld, which does not pass", json, (long long)ids[i]);
            uint64_t r = atomic_load(&removed_at[ids[i]]);
            if (r && r <= e0) fail_msg("%s returned %lld, removed before the search began", json, (long long)ids[i]);
        }
        atomic_fetch_add(&n_checked, 1);
        atomic_fetch_add(&n_indexed, rep.indexed);
    }
    return NULL;
}

static void filters_beside_writer(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = DIM, .metric = VS_METRIC_L2, .factory = "HNSW16"};
    assert_int_equal(vs_collection_create(dir, &o, &coll), VS_OK);
    for (int64_t i = 0; i < 2000; i += 50) assert_int_equal(add_range(i, 50), VS_OK);
    double seconds = 3;
    const char *env = getenv("VS_FILTER_STRESS_SECONDS");
    if (env) seconds = atof(env);
    pthread_t w, r[3];
    assert_int_equal(pthread_create(&w, NULL, writer, NULL), 0);
    for (uintptr_t i = 0; i < 3; i++) assert_int_equal(pthread_create(&r[i], NULL, reader, (void *)(i + 1)), 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        usleep(100000);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9;
        int enough = atomic_load(&n_indexed) > 0 && atomic_load(&reads_overlapped) > 0 &&
                     atomic_load(&writes_overlapped) > 0;
        if ((el >= seconds && enough) || el >= 120) break;
    }
    atomic_store(&stop, 1);
    assert_int_equal(pthread_join(w, NULL), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_join(r[i], NULL), 0);
    print_message("%ld filtered searches checked, %ld from payload indexes; %ld searches overlapped a write, "
                  "%ld of %ld writer rounds overlapped a search\n", (long)atomic_load(&n_checked),
                  (long)atomic_load(&n_indexed), (long)atomic_load(&reads_overlapped),
                  (long)atomic_load(&writes_overlapped), (long)atomic_load(&n_rounds));
    assert_true(atomic_load(&n_indexed) > 0);
    assert_true(atomic_load(&reads_overlapped) > 0);
    assert_true(atomic_load(&writes_overlapped) > 0);
    /* Quiet now: wait for the builds, then every index agrees with the oracle. */
    int ready = 0; /* a deadline (120 s), not a count of tries: TSan on a loaded machine */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (now = t0; !ready && now.tv_sec - t0.tv_sec < 120; clock_gettime(CLOCK_MONOTONIC, &now)) {
        vs_payload_index_info info[8] = {{.struct_size = sizeof info[0]}};
        size_t n = 0;
        assert_int_equal(vs_collection_payload_indexes(coll, info, 8, &n), VS_OK);
        ready = n == 5;
        for (size_t i = 0; i < n && i < 8; i++) ready &= info[i].ready;
        if (!ready) usleep(5000);
    }
    assert_true(ready);
    for (int t = 0; t < 200; t++) {
        fo_pool pool = {.n = 0};
        uint64_t rng = 999 + (uint64_t)t * 77;
        const fo_node *f = fo_gen(&pool, &rng, 0);
        char json[4096];
        fo_print(f, json, sizeof json, 0);
        uint64_t expect = 0, got = 0;
        for (int64_t id = 0; id < CAP; id++) {
            if (!atomic_load(&added[id]) || atomic_load(&removed_at[id])) continue;
            fo_meta m = fo_meta_of(id);
            expect += (uint64_t)fo_eval(f, &m);
        }
        vs_filter_report rep = {.struct_size = sizeof rep};
        assert_int_equal(vs_collection_count_where(coll, json, &got, &rep), VS_OK);
        assert_int_equal(rep.indexed, 1);
        if (got != expect) fail_msg("%s: %llu, oracle %llu", json, (unsigned long long)got, (unsigned long long)expect);
    }
    assert_int_equal(vs_collection_close(coll), VS_OK);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(filters_beside_writer)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
