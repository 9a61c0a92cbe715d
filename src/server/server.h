/* `vecscale serve`: the HTTP search service on libmicrohttpd (see ARCHITECTURE.md,
 * "Server"). Not part of the library API: the command line links it. */
#ifndef VS_SERVER_H
#define VS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct vs_server_handle vs_server_handle;

typedef struct {
    const char *data_dir;
    const char *host;        /* "127.0.0.1" */
    uint16_t port;           /* 0 = any free port (see port_file) */
    const char *port_file;   /* where the bound port is written once listening (NULL = none) */
    unsigned threads;        /* request threads (0 = number of CPUs) */
    const char *api_key;     /* NULL = no authentication */
    size_t max_body;         /* bytes (0 = 64 MiB) */
    unsigned max_k;          /* 0 = 1000 */
    unsigned max_batch;      /* documents, vectors or queries per request (0 = 10000) */
    unsigned timeout_s;      /* idle connection timeout (0 = 30) */
    /* The default collection, created on first start when absent. */
    const char *default_model; /* NULL = none (vectors only) */
    uint32_t default_dim;      /* needed without a model; 0 = do not create */
    const char *default_metric;
    const char *default_index;
    int quiet;
    /* Hooks for what runs beside the server (snapshot publishing, cluster membership: see
     * src/cli/serve_extras.c); each may be NULL. on_listening runs once the port is bound
     * (non-zero stops the server); on_stop runs first thing at shutdown, before requests in
     * flight finish. on_save runs after each successful POST /save on the request's thread
     * (calls may overlap) and returns 0 or non-zero; log_position is the write-log sequence
     * the collection had applied before the snapshot began (the snapshot holds at least that
     * much; 0 without a log); *json receives a JSON object describing what it did or why it
     * failed (malloc'd, freed by the server; may stay NULL). */
    int (*on_listening)(void *ctx, unsigned port, vs_server_handle *srv);
    void (*on_stop)(void *ctx);
    int (*on_save)(void *ctx, const char *collection, uint64_t log_position, char **json);
    /* With the cluster's write log: messages of the node's streams not yet applied (returns 0
     * while unknown); shown in GET /health ("log_lag") and /metrics. NULL = no log. */
    int (*log_lag)(void *ctx, uint64_t *lag);
    /* With the log: messages this node refused when applying them (GET /health
     * "log_refused", /metrics vecscale_log_refused_total). NULL = no log. */
    uint64_t (*log_refused)(void *ctx);
    void *hook_ctx;
    /* Each collection runs a maintenance thread (vs_collection_start_maintenance): training,
     * and a snapshot when its log passes snapshot_log_bytes or holds records this old. */
    unsigned snapshot_interval_s; /* 0 = 300 */
} vs_server_config;

/* Runs one request in-process as if it had come over HTTP (no API key asked): the cluster's
 * log applier (log_apply.c) applies each write of its shard's stream this way, so a write
 * means the same through the log as sent directly. Returns the HTTP status; *reply (may be
 * NULL) receives the JSON answer, malloc'd. */
int vs_server_apply(vs_server_handle *s, const char *method, const char *path, const char *body, size_t len,
                    char **reply);
/* The named collection's replicated-log position (vs_collection_log_position) and setting it;
 * VS_ERR_NOT_FOUND when the server has no such collection. */
int vs_server_log_position(vs_server_handle *s, const char *collection, uint64_t *pos);
int vs_server_set_log_position(vs_server_handle *s, const char *collection, uint64_t pos);

/* Runs until SIGTERM or SIGINT, then stops accepting, finishes in-flight requests, flushes
 * every log and returns 0 (non-zero if it could not start). Prints one line to stdout once
 * listening. */
int vs_server_run(const vs_server_config *cfg);

#endif
