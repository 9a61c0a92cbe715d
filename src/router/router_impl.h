/* Router internals shared by router.c (HTTP side, cluster view) and router_fanout.c. */
#ifndef VS_CLUSTER_ROUTER_IMPL_H
#define VS_CLUSTER_ROUTER_IMPL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stddef.h>

#include "cluster/cluster_map.h"
#include "router/router.h"
#include "core/buf.h"

/* Adds queued for one replica that missed them (router_hints.c). */
struct router_hint;
typedef struct {
    struct router_hint *head, *tail;
    size_t count, bytes;
    uint64_t replayed, dropped;
    int overflowed; /* more than hint_cap_bytes were missed: resync it from a snapshot */
} router_hints;

typedef struct {
    const vs_router_config *cfg;
    pthread_mutex_t lock;
    vs_cluster_map map; /* guarded by lock; copied per request */
    int have_map;
    /* recent failures per (shard, replica): a replica that just failed is tried last */
    double failed_at[VS_CLUSTER_MAX_SHARDS][VS_CLUSTER_MAX_REPLICAS];
    unsigned long rr; /* round-robin start, spreads load over replicas */
    pthread_mutex_t hint_lock;
    size_t hint_cap_bytes;
    router_hints hints[VS_CLUSTER_MAX_SHARDS][VS_CLUSTER_MAX_REPLICAS];
    struct vs_js *js; /* --nats: writes go through the replicated log (router_log.c) */
    /* --nats: each replica's lag behind its streams (GET /health "log_lag"), refreshed with
     * the map; -1 = unknown. Guarded by lock. */
    int64_t lag[VS_CLUSTER_MAX_SHARDS][VS_CLUSTER_MAX_REPLICAS];
} router;

/* An HTTP answer being built: status and JSON body (malloc'd). */
typedef struct {
    int status;
    char *body;
} router_reply;

/* POST <path> with a search body: fan out, retry, merge. */
void router_search(router *r, const char *path, const char *body, size_t len, router_reply *out);
/* POST <path> with an add body ({"vectors":[...],"ids":[...],...}): split by owner shard. */
void router_add(router *r, const char *path, const char *body, size_t len, router_reply *out);

/* --nats (router_log.c): POST /collections, POST .../vectors, POST .../index and DELETE
 * .../documents/{id} published to the owning shards' streams, answered once stored. Returns 1
 * when (method, url) is one of those (and *out is the answer), 0 to let the caller route it. */
int router_log_route(router *r, const char *method, const char *url, const char *body, size_t len, router_reply *out);
/* Refreshes r->lag for m's live replicas (router_log.c). */
void router_log_poll_lag(router *r, const vs_cluster_map *m);
/* Whether replica i of shard s lags more than --max-lag (lock held). */
int router_lagging(const router *r, uint32_t s, uint32_t i);

void router_note_failure(router *r, uint32_t shard, uint32_t replica);

/* Queues an add (path + body, copied) for a replica that missed it. */
void router_hint_add(router *r, uint32_t shard, uint32_t replica, const char *path, const char *body, size_t len);
/* Replays queued adds, in order, to the replicas m shows live (a bounded batch per call). */
void router_hints_replay(router *r, const vs_cluster_map *m);
/* A copy of one replica's counters (head and tail cleared). */
void router_hints_stats(router *r, uint32_t shard, uint32_t replica, router_hints *out);
void router_hints_free(router *r);
double router_now(void);
/* Sets out to {"error":{"code":code,"message":...}} with the status. */
void router_error(router_reply *out, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
