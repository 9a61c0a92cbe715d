/* A node's membership loop (cluster/member.h) against the etcd fixture and a stand-in node
 * whose /health can be made slow or failing. A node busy with a long request must stay in the
 * cluster (withdrawing one after a /save left a shard without replicas): the check must not
 * wait behind the request on a kept-alive connection, and a spell in which no check answers,
 * shorter than the grace period, must not withdraw it. A failure outlasting the grace period
 * must, and the node must come back when it answers again. */
#include <microhttpd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
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
#include "cluster/member.h"
#include "vecscale.h"

/* HEALTH_BUSY_THREAD: what libmicrohttpd's thread pool does while one poll thread runs a
 * long request: connections on that thread wait, new connections are answered by another. */
enum { HEALTH_OK, HEALTH_SLOW, HEALTH_FAILING, HEALTH_BUSY_THREAD };
static atomic_int health_mode;
static atomic_int waited_behind_busy; /* checks that came on a kept-alive connection while busy */
static char endpoint[400];
static char prefix[64];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static enum MHD_Result on_health(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size;
    /* Answer on the second call, as the server does: a response queued with the headers makes
     * libmicrohttpd close the connection, and this test needs kept-alive ones. */
    static int headers_seen;
    if (!*con_cls) {
        *con_cls = &headers_seen;
        return MHD_YES;
    }
    int mode = atomic_load(&health_mode);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    unsigned *served = ci ? ci->socket_context : NULL;
    int reused = served && (*served)++ > 0;
    if (mode == HEALTH_BUSY_THREAD && reused) atomic_fetch_add(&waited_behind_busy, 1);
    if (mode == HEALTH_SLOW || (mode == HEALTH_BUSY_THREAD && reused)) sleep_s(2.0); /* past the check's timeout */
    static const char body[] = "{\"status\":\"ok\"}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok = MHD_queue_response(c, mode == HEALTH_FAILING ? 503 : 200, r);
    MHD_destroy_response(r);
    return ok;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls, (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) *socket_context = calloc(1, sizeof(unsigned));
    else free(*socket_context);
}

typedef struct {
    vs_member_config cfg;
    volatile sig_atomic_t stop;
    int rc;
} member_thread;

static void *run_member(void *p)
{
    member_thread *m = p;
    m->rc = vs_member_run(&m->cfg, &m->stop);
    return NULL;
}

/* 1 when n0's key is there, 0 when etcd says it is not. A read etcd did not answer in time
 * (a loaded machine) says neither: asked again, for at most 30 s. */
static int registered(vs_etcd *e)
{
    char key[200], *v = NULL;
    snprintf(key, sizeof key, "%snodes/n0", prefix);
    double t0 = now_s();
    for (;;) {
        int rc = vs_etcd_get(e, key, &v);
        free(v);
        v = NULL;
        if (rc == VS_OK || rc == VS_ERR_NOT_FOUND) return rc == VS_OK;
        if (now_s() - t0 > 30) fail_msg("etcd does not answer: %s", vs_last_error());
        sleep_s(0.1);
    }
}

/* Seconds until registered(e) == want, or -1 after limit_s. */
static double wait_for(vs_etcd *e, int want, double limit_s)
{
    double t0 = now_s();
    while (now_s() - t0 < limit_s) {
        if (registered(e) == want) return now_s() - t0;
        sleep_s(0.05);
    }
    return -1;
}

/* Stays registered for the whole of [now, now + s): 0, or the time it was first found missing. */
static double missing_during(vs_etcd *e, double s)
{
    double t0 = now_s();
    while (now_s() - t0 < s) {
        if (!registered(e)) return now_s() - t0 + 1e-9;
        sleep_s(0.05);
    }
    return 0;
}

static void busy_spells_do_not_withdraw_a_node(void **state)
{
    (void)state;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                                            NULL, on_health, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                                            MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)info->port);

    vs_etcd *e = NULL;
    assert_int_equal(vs_etcd_open(endpoint, 2000, &e), VS_OK);
    vs_cluster_map map = {.n_shards = 1, .metric = VS_METRIC_L2};
    map.n_replicas[0] = 1;
    snprintf(map.replicas[0][0].id, sizeof map.replicas[0][0].id, "n0");
    assert_int_equal(vs_cluster_map_store(e, prefix, &map), VS_OK);

    /* The lease is renewed every check (its timeout, ttl / 4) and pause (ttl / 4): with a 2 s
     * TTL a stall of 1 s of this process or etcd under load let it lapse, which the spells
     * below take for a withdrawal; 4 s leaves 2 s. */
    const uint32_t ttl = 4;
    const double grace = vs_member_grace_s(ttl);
    member_thread m = {.cfg = {.etcd = endpoint, .prefix = prefix, .node_id = "n0", .url = url, .ttl_s = ttl, .quiet = 1}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_member, &m), 0);

    double t = wait_for(e, 1, 30);
    printf("# registered after %.2f s\n", t);
    assert_true(t >= 0);

    /* Busy with a long request for longer than the grace period: a new connection answers. */
    atomic_store(&health_mode, HEALTH_BUSY_THREAD);
    double gone = missing_during(e, grace + 2);
    atomic_store(&health_mode, HEALTH_OK);
    printf("# a poll thread busy for %.1f s (grace %.1f s): %s; %d checks waited behind it\n", grace + 2, grace,
           gone ? "withdrawn" : "stayed registered", atomic_load(&waited_behind_busy));
    assert_true(gone == 0);
    assert_int_equal(atomic_load(&waited_behind_busy), 0);

    /* Busy: every check times out, for a spell shorter than the grace period. */
    atomic_store(&health_mode, HEALTH_SLOW);
    gone = missing_during(e, grace - 1.5);
    atomic_store(&health_mode, HEALTH_OK);
    printf("# busy for %.1f s (grace %.1f s): %s\n", grace - 1.5, grace,
           gone ? "withdrawn" : "stayed registered");
    assert_true(gone == 0);
    assert_true(missing_during(e, 2.5) == 0); /* and after it, the lease still renewed */

    /* Failing for longer than the grace period: withdrawn, not before the grace period. */
    double t0 = now_s();
    atomic_store(&health_mode, HEALTH_FAILING);
    t = wait_for(e, 0, grace + 20);
    double after = t < 0 ? -1 : now_s() - t0;
    printf("# failing: withdrawn after %.2f s (grace %.1f s)\n", after, grace);
    assert_true(after >= grace - 0.5);

    /* Answering again: back in the cluster. */
    atomic_store(&health_mode, HEALTH_OK);
    t = wait_for(e, 1, 30);
    printf("# answering again: registered after %.2f s\n", t);
    assert_true(t >= 0);

    m.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(m.rc, 0);
    assert_int_equal(wait_for(e, 0, 3) >= 0, 1); /* stopping revokes the lease (before its TTL) */
    vs_etcd_free(e);
    MHD_stop_daemon(d);
}

int main(void)
{
    const char *path = getenv("VS_ETCD_ENV_FILE");
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[300];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "ETCD_ENDPOINT=", 14)) snprintf(endpoint, sizeof endpoint, "%s", line + 14);
    if (f) fclose(f);
    endpoint[strcspn(endpoint, "\r\n")] = 0;
    if (!endpoint[0]) {
        fprintf(stderr, "test_member: no etcd endpoint in VS_ETCD_ENV_FILE (the etcd fixture)\n");
        return 1;
    }
    snprintf(prefix, sizeof prefix, "/vstest-member-%ld-%d/", (long)time(NULL), (int)getpid());
    const struct CMUnitTest tests[] = {cmocka_unit_test(busy_spells_do_not_withdraw_a_node)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
