/* `vecscale route`: an HTTP front for a sharded cluster. Searches fan out to one live replica
 * of every shard in parallel (libcurl multi), retry another replica on failure or timeout,
 * and merge the top-k; when a shard has no live replica the answer says "partial": true and
 * names the missing shards. Writes (collections, vectors, texts, deletes) are published to the
 * owning shards' streams on NATS JetStream, which the replicas apply (router_log_api.c,
 * router_log.c); GET /documents/{id} goes to one replica of its shard; /stats, /collections and
 * /save to every shard (router_read.c), so a client sees the single server's API (see README,
 * "Cluster").
 * Not part of the library API: the command line links it (it runs threads by design). */
#ifndef VS_CLUSTER_ROUTER_H
#define VS_CLUSTER_ROUTER_H

#include <signal.h>
#include <stdint.h>

typedef struct {
    const char *etcd;          /* endpoints */
    const char *prefix;        /* "/vecscale/" */
    const char *host;          /* "127.0.0.1" */
    uint16_t port;             /* 0 = any free port */
    const char *port_file;     /* receives the bound port */
    uint32_t attempt_timeout_ms; /* one try on one replica (0 = 1000) */
    uint32_t request_timeout_ms; /* everything for one request (0 = 3000) */
    uint32_t refresh_ms;       /* how often the shard map and live nodes are re-read (0 = 250) */
    const char *nats;          /* NATS urls of the write log (required) */
    uint32_t log_replicas;     /* copies of each stream the router creates (0 = 3) */
    uint32_t max_lag;          /* a replica further behind its streams is not searched (0 = 1000) */
    int quiet;
} vs_router_config;

/* Serves until *stop or SIGTERM/SIGINT; returns 0 after a clean stop. */
int vs_router_run(const vs_router_config *cfg);

#endif
