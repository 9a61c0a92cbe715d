/* The registration loop behind vs_member_run (member.h): check health, renew the lease,
 * register anew after an expiry, withdraw while unhealthy. */
#include "cluster/member.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster_map.h"
#include "cluster/etcd.h"
#include "core/error.h"
#include "http/http_client.h"

static int healthy(CURL *c, const char *url)
{
    char h[600];
    snprintf(h, sizeof h, "%s/health", url);
    vs_http_timeouts to = {.total_ms = 1000};
    vs_http_setup(c, h, &to, NULL);
    vs_http_discard(c);
    CURLcode cc = curl_easy_perform(c);
    return cc == CURLE_OK && vs_http_status(c) == 200;
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
    while (!*stop) {
        int up = healthy(c, cfg->url);
        if (up && !lease) {
            if (vs_etcd_lease_grant(e, (int)ttl, &lease) == VS_OK && vs_etcd_put(e, key, value, lease) == VS_OK) {
                if (!cfg->quiet) printf("registered %s at %s (lease %llx, ttl %u s)\n", cfg->node_id, cfg->url,
                                        (unsigned long long)lease, ttl);
                fflush(stdout);
            } else {
                lease = 0;
            }
        } else if (up) {
            if (vs_etcd_lease_keepalive(e, lease) == VS_ERR_NOT_FOUND) lease = 0; /* expired: register anew */
        } else if (lease) {
            vs_etcd_lease_revoke(e, lease); /* withdraw at once rather than wait out the TTL */
            if (!cfg->quiet) printf("%s does not answer: withdrawn\n", cfg->url);
            fflush(stdout);
            lease = 0;
        }
        sleep_ms(ttl * 1000 / 4 > 200 ? ttl * 1000 / 4 : 200, stop);
    }
    rc = VS_OK;
out:
    if (lease) vs_etcd_lease_revoke(e, lease);
    curl_easy_cleanup(c);
    vs_etcd_free(e);
    return rc;
}
