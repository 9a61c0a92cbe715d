/* `vecscale serve`: the HTTP search service on libmicrohttpd (see ARCHITECTURE.md,
 * "Server"). Not part of the library API: the command line links it. */
#ifndef VS_SERVER_H
#define VS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

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
} vs_server_config;

/* Runs until SIGTERM or SIGINT, then stops accepting, finishes in-flight requests, flushes
 * every log and returns 0 (non-zero if it could not start). Prints one line to stdout once
 * listening. */
int vs_server_run(const vs_server_config *cfg);

#endif
