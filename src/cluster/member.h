/* A node's membership: its key <prefix>nodes/<id> exists under an etcd lease while the node
 * answers GET <url>/health, so a crashed or killed node drops out of the cluster within one
 * lease TTL, one whose /health has failed for the whole grace period (vs_member_grace_s)
 * withdraws, and either comes back when it answers again. */
#ifndef VS_CLUSTER_MEMBER_H
#define VS_CLUSTER_MEMBER_H

#include <signal.h>
#include <stdint.h>

typedef struct {
    const char *etcd;     /* endpoints */
    const char *prefix;   /* "/vecscale/" */
    const char *node_id;
    const char *url;      /* what the router calls, e.g. http://127.0.0.1:8001 */
    uint32_t ttl_s;       /* lease TTL (0 = 3) */
    int quiet;
} vs_member_config;

/* How long a node's /health may fail before it withdraws: twice the TTL, at least 3 s. */
static inline double vs_member_grace_s(uint32_t ttl_s) { return ttl_s * 2.0 > 3.0 ? ttl_s * 2.0 : 3.0; }

/* Runs until *stop becomes non-zero, then revokes the lease. Returns 0, or non-zero when the
 * configuration is unusable (bad endpoint, node not in the shard map). */
int vs_member_run(const vs_member_config *cfg, volatile sig_atomic_t *stop);

#endif
