/* The etcd client and cluster map against a real etcd (the ctest fixture's): keys, prefixes,
 * leases that expire or are revoked, the shard map with live registrations, and what a user
 * sees when etcd is not there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster_map.h"
#include "cluster/etcd.h"
#include "vecscale.h"

static char endpoint[400];
static char prefix[64]; /* per run, so reruns against one etcd start clean */

static int setup(void **state)
{
    (void)state;
    const char *path = getenv("VS_ETCD_ENV_FILE");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return -1;
    char line[300];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "ETCD_ENDPOINT=", 14)) snprintf(endpoint, sizeof endpoint, "%s", line + 14);
    fclose(f);
    endpoint[strcspn(endpoint, "\r\n")] = 0;
    snprintf(prefix, sizeof prefix, "/vstest-%ld-%d/", (long)time(NULL), (int)getpid());
    return endpoint[0] ? 0 : -1;
}

static vs_etcd *open_etcd(void)
{
    vs_etcd *e = NULL;
    assert_int_equal(vs_etcd_open(endpoint, 2000, &e), VS_OK);
    return e;
}

static int count_cb(const char *k, const char *v, void *ctx)
{
    (void)k;
    (void)v;
    ++*(int *)ctx;
    return 0;
}

static void keys_and_prefixes(void **state)
{
    (void)state;
    vs_etcd *e = open_etcd();
    char k[128], k2[128], *v = NULL;
    snprintf(k, sizeof k, "%skv/a", prefix);
    snprintf(k2, sizeof k2, "%skv/b", prefix);
    assert_int_equal(vs_etcd_put(e, k, "{\"x\":1} ünïcode", 0), VS_OK);
    assert_int_equal(vs_etcd_put(e, k2, "", 0), VS_OK);
    assert_int_equal(vs_etcd_get(e, k, &v), VS_OK);
    assert_string_equal(v, "{\"x\":1} ünïcode");
    free(v);
    int n = 0;
    char p[128];
    snprintf(p, sizeof p, "%skv/", prefix);
    assert_int_equal(vs_etcd_list(e, p, count_cb, &n), VS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(vs_etcd_delete(e, k), VS_OK);
    assert_int_equal(vs_etcd_get(e, k, &v), VS_ERR_NOT_FOUND);
    vs_etcd_free(e);
}

/* vs_etcd_cas: the router's id counter relies on a lost race not writing. */
static void compare_and_swap(void **state)
{
    (void)state;
    vs_etcd *e = open_etcd();
    char k[128], *v = NULL;
    int swapped = -1;
    snprintf(k, sizeof k, "%scas/n", prefix);
    assert_int_equal(vs_etcd_cas(e, k, NULL, "5", &swapped), VS_OK); /* absent: created */
    assert_int_equal(swapped, 1);
    assert_int_equal(vs_etcd_cas(e, k, NULL, "6", &swapped), VS_OK); /* no longer absent */
    assert_int_equal(swapped, 0);
    assert_int_equal(vs_etcd_cas(e, k, "4", "6", &swapped), VS_OK); /* stale expectation */
    assert_int_equal(swapped, 0);
    assert_int_equal(vs_etcd_get(e, k, &v), VS_OK);
    assert_string_equal(v, "5");
    free(v);
    assert_int_equal(vs_etcd_cas(e, k, "5", "9", &swapped), VS_OK);
    assert_int_equal(swapped, 1);
    assert_int_equal(vs_etcd_get(e, k, &v), VS_OK);
    assert_string_equal(v, "9");
    free(v);
    vs_etcd_free(e);
}

static void leases(void **state)
{
    (void)state;
    vs_etcd *e = open_etcd();
    int64_t lease = 0, lease2 = 0;
    char k[128], *v = NULL;
    snprintf(k, sizeof k, "%slease/node", prefix);
    /* 3 s, not 1: the grant, put, keepalive and get below must all come within the TTL, and a
     * stall of a second or two of this process or etcd on a loaded machine is no failure. */
    assert_int_equal(vs_etcd_lease_grant(e, 3, &lease), VS_OK);
    assert_int_equal(vs_etcd_put(e, k, "up", lease), VS_OK);
    assert_int_equal(vs_etcd_lease_keepalive(e, lease), VS_OK);
    assert_int_equal(vs_etcd_get(e, k, &v), VS_OK);
    free(v);
    /* not renewed: gone after the TTL (etcd revokes expired leases in its own time: waited
     * for up to 30 s, checked every 100 ms) */
    int gone = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (t = t0; !gone && t.tv_sec - t0.tv_sec < 30; clock_gettime(CLOCK_MONOTONIC, &t)) {
        usleep(100000);
        v = NULL;
        gone = vs_etcd_get(e, k, &v) == VS_ERR_NOT_FOUND;
        free(v);
    }
    printf("# a 3 s lease not renewed: its key %s after %.1f s\n", gone ? "gone" : "still there",
           (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9);
    assert_true(gone);
    assert_int_equal(vs_etcd_lease_keepalive(e, lease), VS_ERR_NOT_FOUND);
    /* revoked: gone at once */
    assert_int_equal(vs_etcd_lease_grant(e, 30, &lease2), VS_OK);
    assert_int_equal(vs_etcd_put(e, k, "again", lease2), VS_OK);
    assert_int_equal(vs_etcd_lease_revoke(e, lease2), VS_OK);
    assert_int_equal(vs_etcd_get(e, k, &v), VS_ERR_NOT_FOUND);
    vs_etcd_free(e);
}

static void shard_map_and_live_nodes(void **state)
{
    (void)state;
    vs_etcd *e = open_etcd();
    vs_cluster_map m = {.n_shards = 2, .metric = VS_METRIC_IP, .n_replicas = {2, 1}};
    strcpy(m.replicas[0][0].id, "a");
    strcpy(m.replicas[0][1].id, "b");
    strcpy(m.replicas[1][0].id, "c");
    vs_cluster_map back;
    assert_int_equal(vs_cluster_map_load(e, prefix, &back), VS_ERR_NOT_FOUND);
    assert_non_null(strstr(vs_last_error(), "cluster init"));
    assert_int_equal(vs_cluster_map_store(e, prefix, &m), VS_OK);
    char k[128];
    snprintf(k, sizeof k, "%snodes/b", prefix);
    int64_t lease;
    assert_int_equal(vs_etcd_lease_grant(e, 10, &lease), VS_OK);
    assert_int_equal(vs_etcd_put(e, k, "{\"url\":\"http://127.0.0.1:9\"}", lease), VS_OK);
    snprintf(k, sizeof k, "%snodes/stranger", prefix); /* not in the map: ignored */
    assert_int_equal(vs_etcd_put(e, k, "{\"url\":\"http://127.0.0.1:10\"}", lease), VS_OK);
    assert_int_equal(vs_cluster_map_load(e, prefix, &back), VS_OK);
    assert_int_equal(back.n_shards, 2);
    assert_int_equal(back.metric, VS_METRIC_IP);
    assert_string_equal(back.replicas[0][0].url, "");
    assert_string_equal(back.replicas[0][1].url, "http://127.0.0.1:9");
    assert_string_equal(back.replicas[1][0].id, "c");
    assert_int_equal(vs_etcd_lease_revoke(e, lease), VS_OK);
    assert_int_equal(vs_cluster_map_load(e, prefix, &back), VS_OK);
    assert_string_equal(back.replicas[0][1].url, "");
    vs_etcd_free(e);
}

static void no_etcd(void **state)
{
    (void)state;
    vs_etcd *e = NULL;
    assert_int_equal(vs_etcd_open("http://127.0.0.1:1,http://127.0.0.1:2", 500, &e), VS_OK);
    char *v;
    assert_int_equal(vs_etcd_get(e, "/x", &v), VS_ERR_NETWORK);
    assert_non_null(strstr(vs_last_error(), "no endpoint answered"));
    vs_etcd_free(e);
    assert_int_equal(vs_etcd_open("127.0.0.1:2379", 500, &e), VS_ERR_INVALID_ARG);
    /* a dead endpoint first, the live one second: served by the second */
    char both[600];
    snprintf(both, sizeof both, "http://127.0.0.1:1,%s", endpoint);
    assert_int_equal(vs_etcd_open(both, 1000, &e), VS_OK);
    assert_int_equal(vs_etcd_put(e, "/vstest-failover", "ok", 0), VS_OK);
    vs_etcd_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_and_prefixes),
        cmocka_unit_test(compare_and_swap),
        cmocka_unit_test(leases),
        cmocka_unit_test(shard_map_and_live_nodes),
        cmocka_unit_test(no_etcd),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
