/* `vecscale serve --snapshot-uri / --cluster`: see serve_extras.h. */
#include "server/node_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster_map.h"
#include "cluster/member.h"
#include "log/retention.h"
#include "server/log_apply.h"
#include "server/server_impl.h" /* now_seconds */
#include "storage/snapshot_data.h"

int node_fail(const char *what, int rc)
{
    fprintf(stderr, "vecscale: %s: %s (%s)\n", what, vs_last_error(), vs_strerror(rc));
    return 1;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The shard map names this node: which shard it serves decides what it restores. */
static int find_shard(serve_extras *x)
{
    vs_etcd *e = NULL;
    int rc = vs_etcd_open(x->etcd, 2000, &e);
    if (rc) return node_fail("serve --cluster", rc);
    double deadline = now_seconds() + (x->etcd_wait_s ? x->etcd_wait_s : 30);
    int warned = 0;
    for (;;) {
        vs_cluster_map m;
        rc = vs_cluster_map_load(e, x->prefix, &m);
        if (rc == VS_OK) rc = vs_cluster_map_shard_of_node(&m, x->node_id, &x->shard);
        if (rc == VS_OK) {
            x->n_shards = m.n_shards;
            break;
        }
        if (rc != VS_ERR_NETWORK || now_seconds() > deadline) break;
        if (!warned++) fprintf(stderr, "vecscale serve: waiting for etcd: %s\n", vs_last_error());
        sleep_ms(500);
    }
    vs_etcd_free(e);
    return rc ? node_fail("serve --cluster", rc) : 0;
}

int serve_extras_prepare(serve_extras *x)
{
    pthread_mutex_init(&x->mu, NULL);
    if (!x->prefix) x->prefix = "/vecscale/";
    if (x->etcd && find_shard(x)) return 1;
    if (!x->snapshot_uri) return 0;
    /* Each shard's data lives under its own prefix, which every replica of it shares. */
    if (x->etcd)
        snprintf(x->uri, sizeof x->uri, "%s%sshard-%u", x->snapshot_uri,
                 x->snapshot_uri[strlen(x->snapshot_uri) - 1] == '/' ? "" : "/", x->shard);
    else
        snprintf(x->uri, sizeof x->uri, "%s", x->snapshot_uri);
    char bucket[64], prefix[1024];
    int rc = vs_s3_parse_uri(x->uri, bucket, sizeof bucket, prefix, sizeof prefix);
    if (rc) {
        fprintf(stderr, "vecscale serve: --snapshot-uri: %s\nTry 'vecscale serve --help'.\n", vs_last_error());
        return 2;
    }
    if ((rc = vs_s3_open(&x->s3, &x->s3_handle))) return node_fail("serve --snapshot-uri", rc);
    vs_snapshot_stats st = {.struct_size = sizeof st};
    int restored = 0;
    double t0 = now_seconds();
    rc = vs_data_restore(x->s3_handle, x->data_dir, x->uri, 0, &st, &restored);
    if (rc) {
        /* Starting empty would publish an empty generation on the next save: refuse. */
        fprintf(stderr, "vecscale serve: restoring %s into %s: %s (nothing was changed; fix the store or start "
                        "without --snapshot-uri)\n", x->uri, x->data_dir, vs_last_error());
        return 1;
    }
    if (restored > 0)
        printf("vecscale serve: restored %s generation %llu into %s: %llu files, %.1f MiB, checksums verified, in "
               "%.2f s\n", x->uri, (unsigned long long)st.generation, x->data_dir, (unsigned long long)st.files,
               (double)st.bytes / 1048576.0, now_seconds() - t0);
    else if (restored == 0)
        printf("vecscale serve: %s already holds collections: serving them, not restoring %s\n", x->data_dir, x->uri);
    else
        printf("vecscale serve: nothing published at %s yet: starting from %s as it is\n", x->uri, x->data_dir);
    fflush(stdout);
    return 0;
}

/* With the write log: the saved collection's stream drops what this snapshot and every
 * replica's consumer cover (retention.h); reported under "log" in the publish's answer. */
static void retain_log(serve_extras *x, const char *collection, uint64_t covered, cJSON *o)
{
    if (!x->retain_js && vs_js_open(x->nats, 3000, &x->retain_js) != VS_OK) {
        cJSON_AddStringToObject(o, "log_error", vs_last_error());
        return;
    }
    vs_js_retention r;
    if (vs_js_retain(x->retain_js, collection, x->shard, covered, x->log_keep, &r) != VS_OK) {
        cJSON_AddStringToObject(o, "log_error", vs_last_error()); /* nothing dropped; the next save tries again */
        return;
    }
    cJSON *l = cJSON_AddObjectToObject(o, "log");
    cJSON_AddNumberToObject(l, "covered", (double)covered);
    cJSON_AddNumberToObject(l, "acked_floor", (double)r.acked_floor);
    cJSON_AddNumberToObject(l, "consumers", r.consumers);
    if (r.held_by[0]) cJSON_AddStringToObject(l, "held_by", r.held_by);
    cJSON_AddNumberToObject(l, "first_before", (double)r.first_before);
    cJSON_AddNumberToObject(l, "kept_from", (double)r.kept_from);
}

static int on_save(void *ctx, const char *collection, uint64_t log_position, char **json)
{
    /* The whole data directory is one generation: every collection is in it; the log of the
     * one just saved is trimmed. */
    serve_extras *x = ctx;
    vs_snapshot_stats st = {.struct_size = sizeof st};
    pthread_mutex_lock(&x->mu);
    double t0 = now_seconds();
    int rc = vs_data_publish(x->s3_handle, x->data_dir, x->uri, &st);
    double secs = now_seconds() - t0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "uri", x->uri);
    if (rc == VS_OK) {
        cJSON_AddNumberToObject(o, "generation", (double)st.generation);
        cJSON_AddNumberToObject(o, "files", (double)st.files);
        cJSON_AddNumberToObject(o, "bytes", (double)st.bytes);
        cJSON_AddNumberToObject(o, "uploaded_bytes", (double)st.bytes_transferred);
        char t[32];
        snprintf(t, sizeof t, "%.3f", secs);
        cJSON_AddRawToObject(o, "seconds", t);
        /* Old generations go once a new one stands; a failure here loses nothing and is only
         * reported: the next publish collects again. */
        vs_snapshot_gc_stats g = {.struct_size = sizeof g};
        if (x->keep && vs_snapshot_gc(x->s3_handle, x->uri, x->keep, 3600, 0, &g) == VS_OK) {
            cJSON *c = cJSON_AddObjectToObject(o, "collected");
            cJSON_AddNumberToObject(c, "generations_kept", (double)g.generations_kept);
            cJSON_AddNumberToObject(c, "manifests_deleted", (double)g.manifests_deleted);
            cJSON_AddNumberToObject(c, "segments_deleted", (double)g.segments_deleted);
        } else if (x->keep) {
            cJSON_AddStringToObject(o, "gc_error", vs_last_error());
        }
        if (x->nats && log_position) retain_log(x, collection, log_position, o);
    } else {
        cJSON_AddStringToObject(o, "error", vs_last_error());
        fprintf(stderr, "vecscale serve: publishing %s to %s failed: %s\n", x->data_dir, x->uri, vs_last_error());
    }
    pthread_mutex_unlock(&x->mu);
    *json = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return rc != VS_OK;
}

static void *member_main(void *arg)
{
    serve_extras *x = arg;
    vs_member_config mc = {.etcd = x->etcd, .prefix = x->prefix, .node_id = x->node_id, .url = x->url,
                           .ttl_s = x->ttl_s, .quiet = x->quiet};
    if (vs_member_run(&mc, &x->stop))
        fprintf(stderr, "vecscale serve: cluster membership stopped: %s\n", vs_last_error());
    return NULL;
}

static int on_listening(void *ctx, unsigned port, vs_server_handle *srv)
{
    serve_extras *x = ctx;
    if (x->nats && log_applier_start(x->nats, x->shard, x->node_id, srv, &x->applier)) {
        fprintf(stderr, "vecscale serve: cannot follow the write log: %s\n", vs_last_error());
        return 1;
    }
    if (x->advertise)
        snprintf(x->url, sizeof x->url, "%s", x->advertise);
    else
        snprintf(x->url, sizeof x->url, strchr(x->host, ':') ? "http://[%s]:%u" : "http://%s:%u", x->host, port);
    if (pthread_create(&x->member, NULL, member_main, x)) {
        fprintf(stderr, "vecscale serve: cannot start the cluster membership thread\n");
        return 1;
    }
    x->member_started = 1;
    return 0;
}

/* Withdraw from the cluster before requests drain, so the router stops choosing this node. */
static void on_stop(void *ctx)
{
    serve_extras *x = ctx;
    x->stop = 1;
    /* The applier writes through the server's collections: it stops before they close. */
    log_applier_stop(x->applier);
    x->applier = NULL;
    if (x->member_started) pthread_join(x->member, NULL);
    x->member_started = 0;
}

static int log_lag(void *ctx, uint64_t *lag)
{
    serve_extras *x = ctx;
    int known = 0;
    *lag = x->applier ? log_applier_lag(x->applier, &known) : 0;
    return known;
}

static uint64_t log_refused(void *ctx)
{
    serve_extras *x = ctx;
    return log_applier_refused(x->applier);
}

void serve_extras_attach(serve_extras *x, vs_server_config *cfg)
{
    if (x->nats) cfg->log_lag = log_lag;
    if (x->nats) cfg->log_refused = log_refused;
    cfg->hook_ctx = x;
    if (x->s3_handle) cfg->on_save = on_save;
    if (x->etcd) {
        cfg->on_listening = on_listening;
        cfg->on_stop = on_stop;
    }
}

void serve_extras_free(serve_extras *x)
{
    on_stop(x);
    vs_s3_free(x->s3_handle);
    x->s3_handle = NULL;
    vs_js_close(x->retain_js);
    x->retain_js = NULL;
    pthread_mutex_destroy(&x->mu);
}
