/* Crash safety: 20 times, clients stream adds (and the odd /save) at the server from several
 * connections and the server is killed with SIGKILL in the middle. After each restart every
 * acknowledged document is there (GET) and is its own nearest neighbour (search), nothing is
 * duplicated (the count equals the distinct IDs present), and nothing that was never sent
 * appears. Two of every three documents have string ids ("s-<n>", and "\xc3\xa9/<n>", which a
 * GET must percent-encode), so the string-id log records and snapshot sections go through the
 * same kills. Documents carry metadata {"g": n % 7}: the first round's filtered searches create
 * a payload index on g (then saved); from then on it must be listed ready right after each
 * restart (snapshot + log replay) and answer {"g": ...} filters with every acknowledged
 * document of its group its own nearest neighbour. VS_CRASH_ROUNDS overrides the 20 rounds. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server_util.h"

enum { D = 8, CLIENTS = 4, BATCH = 3, MAX_IDS = 1 << 20 };

static const char *BIN;
static char DIR_[256];

/* State of every ID ever sent: 0 never sent, 1 sent (no reply), 2 acknowledged. */
static _Atomic unsigned char state[MAX_IDS];
static atomic_long next_id;
static atomic_int stop;
static int port;

static void vec_of(long id, float *v)
{
    uint64_t s = (uint64_t)id * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < D; i++) {
        s ^= s >> 33;
        s *= 0xff51afd7ed558ccdull;
        s ^= s >> 33;
        v[i] = (float)((s >> 40) % 2001) / 1000.0f - 1.0f;
    }
}

/* Document n's id: in a JSON body, as a search result shows it, and in a URL path. */
static void id_json(long id, char *out, size_t cap)
{
    if (id % 3 == 0) snprintf(out, cap, "%ld", id);
    else if (id % 3 == 1) snprintf(out, cap, "\"s-%ld\"", id);
    else snprintf(out, cap, "\"\xc3\xa9/%ld\"", id);
}

static void id_path(long id, char *out, size_t cap)
{
    if (id % 3 == 0) snprintf(out, cap, "/documents/%ld", id);
    else if (id % 3 == 1) snprintf(out, cap, "/documents/s-%ld", id);
    else snprintf(out, cap, "/documents/%%C3%%A9%%2F%ld", id);
}

static void *client(void *arg)
{
    intptr_t me = (intptr_t)arg;
    char body[2048];
    while (!atomic_load(&stop)) {
        long first = atomic_fetch_add(&next_id, BATCH);
        if (first + BATCH >= MAX_IDS) break;
        int n = snprintf(body, sizeof body, "{\"ids\":[");
        for (int b = 0; b < BATCH; b++) {
            char idj[64];
            id_json(first + b, idj, sizeof idj);
            n += snprintf(body + n, sizeof body - n, "%s%s", b ? "," : "", idj);
        }
        n += snprintf(body + n, sizeof body - n, "],\"texts\":[");
        for (int b = 0; b < BATCH; b++) n += snprintf(body + n, sizeof body - n, "%s\"doc %ld\"", b ? "," : "", first + b);
        n += snprintf(body + n, sizeof body - n, "],\"metadata\":[");
        for (int b = 0; b < BATCH; b++) n += snprintf(body + n, sizeof body - n, "%s{\"g\":%ld}", b ? "," : "", (first + b) % 7);
        n += snprintf(body + n, sizeof body - n, "],\"vectors\":[");
        for (int b = 0; b < BATCH; b++) {
            float v[D];
            vec_of(first + b, v);
            n += snprintf(body + n, sizeof body - n, "%s[", b ? "," : "");
            for (int i = 0; i < D; i++) n += snprintf(body + n, sizeof body - n, "%s%.3f", i ? "," : "", v[i]);
            n += snprintf(body + n, sizeof body - n, "]");
        }
        snprintf(body + n, sizeof body - n, "]}");
        for (int b = 0; b < BATCH; b++) atomic_store(&state[first + b], 1);
        su_resp r;
        int rc = su_http(port, "POST", "/vectors", body, NULL, &r);
        if (rc == 0 && r.status == 200)
            for (int b = 0; b < BATCH; b++) atomic_store(&state[first + b], 2);
        su_free(&r);
        if (rc == -2) { /* refused: the server is gone and never saw this batch */
            for (int b = 0; b < BATCH; b++) atomic_store(&state[first + b], 0);
            break;
        }
        if (me == 0 && first % 97 < BATCH) { /* now and then a snapshot in the middle of the stream */
            su_http(port, "POST", "/save", NULL, NULL, &r);
            su_free(&r);
        }
    }
    return NULL;
}

static long stat_total(void)
{
    su_resp r;
    assert_int_equal(su_http(port, "GET", "/stats", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    const char *t = strstr(r.body, "\"total_vectors\":");
    assert_non_null(t);
    long v = atol(t + 16);
    su_free(&r);
    return v;
}

static void append_vec(char *body, size_t cap, int *n, long id)
{
    float v[D];
    vec_of(id, v);
    *n += snprintf(body + *n, cap - (size_t)*n, "[");
    for (int i = 0; i < D; i++) *n += snprintf(body + *n, cap - (size_t)*n, "%s%.3f", i ? "," : "", v[i]);
    *n += snprintf(body + *n, cap - (size_t)*n, "]");
}

/* Every ID in ids[0..n) must be its own nearest neighbour (one batch search per 1000). */
static void check_searchable(int round, const long *ids, long n)
{
    size_t cap = 1000 * (D * 8 + 8) + 64;
    char *body = malloc(cap);
    for (long at = 0; at < n; at += 1000) {
        long m = n - at < 1000 ? n - at : 1000;
        int len = snprintf(body, cap, "{\"k\":1,\"vectors\":[");
        for (long i = 0; i < m; i++) {
            if (i) len += snprintf(body + len, cap - (size_t)len, ",");
            append_vec(body, cap, &len, ids[at + i]);
        }
        snprintf(body + len, cap - (size_t)len, "]}");
        su_resp r;
        assert_int_equal(su_http(port, "POST", "/search/batch", body, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        const char *p = r.body;
        for (long i = 0; i < m; i++) {
            char want[96], idj[64];
            id_json(ids[at + i], idj, sizeof idj);
            snprintf(want, sizeof want, "\"results\":[{\"id\":%s,", idj);
            const char *hit = strstr(p, want);
            if (!hit) fprintf(stderr, "round %d: acknowledged id %ld is not found by its vector\n", round, ids[at + i]);
            assert_non_null(hit);
            p = hit + 1;
        }
        su_free(&r);
    }
    free(body);
}

static int g_index_ready(void)
{
    su_resp r;
    assert_int_equal(su_http(port, "GET", "/stats", NULL, NULL, &r), 0);
    int ready = strstr(r.body, "{\"field\":\"g\",\"type\":\"integer\",\"ready\":true") != NULL;
    su_free(&r);
    return ready;
}

/* Up to 150 acknowledged documents of each group g are their own nearest neighbour under the
 * filter {"g": g}; indexed: the reply must say the payload index answered. */
static void check_filtered(int round, const long *ids, long n, int indexed)
{
    size_t cap = 150 * (D * 8 + 8) + 128;
    char *body = malloc(cap);
    long *pick = malloc(150 * sizeof *pick);
    for (int g = 0; g < 7; g++) {
        long m = 0;
        for (long i = n - 1; i >= 0 && m < 150; i--)
            if (ids[i] % 7 == g) pick[m++] = ids[i];
        if (!m) continue;
        int len = snprintf(body, cap, "{\"k\":1,\"filter\":{\"g\":%d},\"vectors\":[", g);
        for (long i = 0; i < m; i++) {
            if (i) len += snprintf(body + len, cap - (size_t)len, ",");
            append_vec(body, cap, &len, pick[i]);
        }
        snprintf(body + len, cap - (size_t)len, "]}");
        su_resp r;
        assert_int_equal(su_http(port, "POST", "/search/batch", body, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        if (indexed && !strstr(r.body, "\"filter\":{\"indexed\":true")) {
            fprintf(stderr, "round %d: filter {\"g\": %d} not answered from the payload index: %.200s\n", round, g,
                    strstr(r.body, "\"filter\"") ? strstr(r.body, "\"filter\"") : r.body);
            fail();
        }
        const char *p = r.body;
        for (long i = 0; i < m; i++) {
            char want[96], idj[64];
            id_json(pick[i], idj, sizeof idj);
            snprintf(want, sizeof want, "\"results\":[{\"id\":%s,", idj);
            const char *hit = strstr(p, want);
            if (!hit) fprintf(stderr, "round %d: id %ld not found under the filter {\"g\": %d}\n", round, pick[i], g);
            assert_non_null(hit);
            p = hit + 1;
        }
        su_free(&r);
    }
    free(pick);
    free(body);
}

/* Checks the restarted server against what the clients saw. */
static void verify(int round)
{
    long upto = atomic_load(&next_id), acked = 0, doubtful = 0, doubtful_present = 0;
    long *ids = malloc((size_t)(upto + 1) * sizeof *ids);
    for (long id = 0; id < upto && id < MAX_IDS; id++) {
        unsigned char st = atomic_load(&state[id]);
        if (st == 2) {
            ids[acked++] = id;
        } else if (st == 1) {
            /* Sent, no reply: may or may not have been logged; either way it must be whole. */
            char path[96];
            id_path(id, path, sizeof path);
            su_resp r;
            assert_int_equal(su_http(port, "GET", path, NULL, NULL, &r), 0);
            assert_true(r.status == 200 || r.status == 404);
            doubtful++;
            if (r.status == 200) {
                char want[64];
                snprintf(want, sizeof want, "\"text\":\"doc %ld\"", id);
                assert_non_null(strstr(r.body, want));
                doubtful_present++;
                atomic_store(&state[id], 2); /* present now: must survive every later crash too */
            } else {
                atomic_store(&state[id], 0);
            }
            su_free(&r);
        }
    }
    /* From round 2 the index on g is in a snapshot: ready before any filter names it. */
    int ready_at_start = g_index_ready();
    if (round >= 2) assert_true(ready_at_start);
    check_searchable(round, ids, acked);
    check_filtered(round, ids, acked, round >= 2);
    if (round == 1) { /* the filters above started the automatic index: wait, then save it */
        for (double end = su_now() + 60; !g_index_ready() && su_now() < end;) su_sleep_ms(20); /* ASan, loaded */
        assert_true(g_index_ready());
        su_resp r;
        assert_int_equal(su_http(port, "POST", "/save", NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        su_free(&r);
        check_filtered(round, ids, acked, 1);
    }
    /* No duplicates and nothing unknown: the count is exactly the IDs accounted for. */
    assert_int_equal(stat_total(), acked + doubtful_present);
    print_message("round %2d: %ld acknowledged, all searchable (also by filter); %ld in flight at the kill, %ld of "
                  "them kept; count %ld; payload index ready at restart: %s\n", round, acked, doubtful, doubtful_present,
                  acked + doubtful_present, ready_at_start ? "yes" : "no");
    free(ids);
}

static void test_sigkill_during_adds(void **state_)
{
    (void)state_;
    const char *env = getenv("VS_CRASH_ROUNDS");
    int rounds = env ? atoi(env) : 20;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/data", DIR_);
    const char *first[] = {"--dim", "8", "--threads", "4", NULL};
    su_server s;
    assert_int_equal(su_start(&s, BIN, dir, first), 0);
    port = s.port;
    uint64_t rng = 42;
    for (int round = 1; round <= rounds; round++) {
        atomic_store(&stop, 0);
        pthread_t t[CLIENTS];
        for (intptr_t i = 0; i < CLIENTS; i++) pthread_create(&t[i], NULL, client, (void *)i);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        su_sleep_ms(60 + (int)((rng >> 33) % 200));
        assert_int_equal(su_stop(&s, SIGKILL), 128 + SIGKILL);
        atomic_store(&stop, 1);
        for (int i = 0; i < CLIENTS; i++) pthread_join(t[i], NULL);
        assert_int_equal(su_start(&s, BIN, dir, NULL), 0);
        port = s.port;
        verify(round);
    }
    assert_int_equal(su_stop(&s, SIGTERM), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/vecscale\n", argv[0]);
        return 2;
    }
    BIN = argv[1];
    snprintf(DIR_, sizeof DIR_, "/tmp/vecscale-crash-XXXXXX");
    if (!mkdtemp(DIR_)) return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sigkill_during_adds)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", DIR_);
        if (system(cmd)) rc = 1;
    }
    return rc;
}
