/* What `vecscale serve` runs beside the HTTP server: --snapshot-uri (restore the data
 * directory from object storage on start, publish it after every save) and --cluster
 * (register under an etcd lease for as long as the server answers; with --snapshot-uri, the
 * node's data comes from <uri>/shard-<K> for the shard K the shard map assigns it). */
#ifndef VS_CLI_SERVE_EXTRAS_H
#define VS_CLI_SERVE_EXTRAS_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "server/server.h"
#include "vecscale.h"

typedef struct {
    /* set by the caller */
    const char *data_dir;
    const char *snapshot_uri; /* s3://bucket/prefix or NULL */
    vs_s3_options s3;
    const char *etcd;         /* --cluster endpoints or NULL */
    const char *prefix;       /* etcd key prefix ("/vecscale/") */
    const char *node_id;
    const char *advertise;    /* URL the router calls; NULL = http://HOST:PORT */
    const char *host;
    uint32_t ttl_s;
    uint32_t etcd_wait_s;     /* how long to wait for etcd at start (0 = 30) */
    const char *nats;         /* --nats: follow the shard's JetStream streams (log_apply.h) */
    uint32_t keep;            /* after each publish, gc down to this many generations (0 = all) */
    uint64_t log_keep;        /* with nats: messages kept below what retention may drop (retention.h) */
    int quiet;
    /* state */
    char uri[1200];           /* effective snapshot URI */
    char url[300];
    uint32_t shard, n_shards;
    vs_s3 *s3_handle;
    pthread_mutex_t mu;       /* one publish at a time (the handle is single-threaded) */
    pthread_t member;
    int member_started;
    volatile sig_atomic_t stop;
    struct log_applier *applier;
    struct vs_js *retain_js;  /* the publisher's connection for trimming streams (under mu) */
} serve_extras;

/* Finds this node's shard (waiting for etcd), then restores the data directory. Prints what it
 * did; returns 0, or an exit status after printing the error. */
int serve_extras_prepare(serve_extras *x);
/* Installs the hooks into the server configuration. */
void serve_extras_attach(serve_extras *x, vs_server_config *cfg);
void serve_extras_free(serve_extras *x);
/* Prints "vecscale: WHAT: <last error> (<code>)" as the command's errors read; returns 1. */
int node_fail(const char *what, int rc);

#endif
