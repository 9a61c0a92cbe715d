/* Router internals shared by router.c (HTTP side, cluster view) and router_fanout.c. */
#ifndef VS_CLUSTER_ROUTER_IMPL_H
#define VS_CLUSTER_ROUTER_IMPL_H

#include <pthread.h>
#include <stddef.h>

#include "cluster/cluster_map.h"
#include "cluster/router.h"
#include "cluster/s3_impl.h" /* s3_buf */

typedef struct {
    const vs_router_config *cfg;
    pthread_mutex_t lock;
    vs_cluster_map map; /* guarded by lock; copied per request */
    int have_map;
    /* recent failures per (shard, replica): a replica that just failed is tried last */
    double failed_at[VS_CLUSTER_MAX_SHARDS][VS_CLUSTER_MAX_REPLICAS];
    unsigned long rr; /* round-robin start, spreads load over replicas */
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

void router_note_failure(router *r, uint32_t shard, uint32_t replica);
double router_now(void);
/* Sets out to {"error":{"code":code,"message":...}} with the status. */
void router_error(router_reply *out, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
