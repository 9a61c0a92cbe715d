/* The registration loop behind vs_member_run (member.h): check health, renew the lease,
 * register anew after an expiry, withdraw once unhealthy for the grace period. */
#include "cluster/member.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster_map.h"
#include "cluster/etcd.h"
#include "core/error.h"
#include "http/http_client.h"

/* 1 when the node's /health answers 200 within timeout_ms; otherwise 0 with the reason in why. */
static int healthy(CURL *c, const char *url, long timeout_ms, char *why, size_t cap)
{
    char h[600], errbuf[CURL_ERROR_SIZE];
    snprintf(h, sizeof h, "%s/health", url);
    vs_http_timeouts to = {.total_ms = timeout_ms};
    vs_http_setup(c, h, &to, errbuf);
    /* A kept-alive connection stays with one of the server's poll threads, which a long
     * request (a /save) can hold for seconds while the others answer: a new connection asks
     * whether the server can take a request now. */
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    vs_http_discard(c);
    CURLcode cc = curl_easy_perform(c);
    long status = vs_http_status(c);
    if (cc == CURLE_OK && status == 200) return 1;
    if (cc != CURLE_OK) snprintf(why, cap, "%s", vs_http_strerror(cc, errbuf));
    else snprintf(why, cap, "HTTP %ld", status);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(unsigned ms, volatile sig_atomic_t *stop)
{
    for (unsigned t = 0; t < ms && !*stop; t += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int vs_member_run(const vs_member_config *cfg, volatile sig_atomic_t *stop)
{
    uint32_t ttl = cfg->ttl_s ? cfg->ttl_s : 3;
    vs_etcd *e = NULL;
    int rc = vs_etcd_open(cfg->etcd, 1000, &e);
    if (rc) return rc;
    CURL *c = NULL;
    if ((rc = vs_http_easy(&c))) {
        vs_etcd_free(e);
        return rc;
    }
    char key[512], value[700];
    snprintf(key, sizeof key, "%snodes/%s", cfg->prefix, cfg->node_id);
    snprintf(value, sizeof value, "{\"url\":\"%s\"}", cfg->url);
    int64_t lease = 0;
    int warned = 0;
    /* Check the map names us (retrying while etcd is unreachable), so a typo fails fast. */
    while (!*stop) {
        vs_cluster_map m;
        rc = vs_cluster_map_load(e, cfg->prefix, &m);
        uint32_t shard = 0;
        if (rc == VS_OK) rc = vs_cluster_map_shard_of_node(&m, cfg->node_id, &shard);
        if (rc == VS_OK) {
            if (!cfg->quiet) printf("node %s serves shard %u of %u\n", cfg->node_id, shard, m.n_shards);
            fflush(stdout);
            break;
        }
        if (rc != VS_ERR_NETWORK) goto out;
        if (!warned++) fprintf(stderr, "vecscale: waiting for etcd: %s\n", vs_last_error());
        sleep_ms(500, stop);
    }
    /* A busy node is not a dead one: a long /save can hold the server's threads past the
     * health check's timeout, and withdrawing then left a shard without replicas while every
     * node of it was fine. So the node withdraws only after its /health has failed for the
     * whole grace period (a dead process loses its lease within one TTL anyway). */
    double grace = vs_member_grace_s(ttl), failing_since = 0;
    /* A check that times out plus the pause after it stay within half the TTL, so the lease
     * is renewed in time while the node rides out a busy spell. */
    unsigned pause_ms = ttl * 1000 / 4 > 200 ? ttl * 1000 / 4 : 200;
    long check_ms = ttl * 1000 / 4 < 1000 ? (long)ttl * 1000 / 4 : 1000;
    int reg_failed = 0;
    while (!*stop) {
        char why[CURL_ERROR_SIZE + 32] = "";
        int up = healthy(c, cfg->url, check_ms, why, sizeof why);
        if (up) failing_since = 0;
        else if (!failing_since) failing_since = now_s();
        if (up && !lease) {
            if (vs_etcd_lease_grant(e, (int)ttl, &lease) == VS_OK && vs_etcd_put(e, key, value, lease) == VS_OK) {
                if (!cfg->quiet) printf("registered %s at %s (lease %llx, ttl %u s)\n", cfg->node_id, cfg->url,
                                        (unsigned long long)lease, ttl);
                fflush(stdout);
                reg_failed = 0;
            } else {
                if (!reg_failed++) fprintf(stderr, "vecscale: registering %s failed (retrying): %s\n", cfg->node_id,
                                           vs_last_error());
                lease = 0;
            }
        } else if (lease && (up || now_s() - failing_since < grace)) {
            if (vs_etcd_lease_keepalive(e, lease) == VS_ERR_NOT_FOUND) lease = 0; /* expired: register anew */
        } else if (lease) {
            vs_etcd_lease_revoke(e, lease); /* withdraw at once rather than wait out the TTL */
            if (!cfg->quiet) printf("%s has not answered for %.1f s (%s): withdrawn\n", cfg->url,
                                    now_s() - failing_since, why);
            fflush(stdout);
            lease = 0;
        }
        sleep_ms(pause_ms, stop);
    }
    rc = VS_OK;
out:
    if (lease) vs_etcd_lease_revoke(e, lease);
    curl_easy_cleanup(c);
    vs_etcd_free(e);
    return rc;
}
