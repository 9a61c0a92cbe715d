/* The cluster as etcd holds it, under a key prefix (default "/vecscale/"):
 *   <prefix>cluster        {"shards":4,"metric":"l2","map":[["n0","n1"],["n2","n3"],...]}
 *                          the shard map: shard s is served by the nodes map[s] (replicas)
 *   <prefix>nodes/<id>     {"url":"http://127.0.0.1:8001"}, put under a lease the node keeps
 *                          alive: the key exists exactly while the node is up
 * Written by `vecscale cluster init` and by each node's registration; read by the router. */
#ifndef VS_CLUSTER_MAP_H
#define VS_CLUSTER_MAP_H

#include <stdint.h>

#include "cluster/etcd.h"
#include "vecscale.h"

#define VS_CLUSTER_MAX_SHARDS 256
#define VS_CLUSTER_MAX_REPLICAS 8

typedef struct {
    char id[64];
    char url[256]; /* "" when the node is not registered (down) */
} vs_replica;

typedef struct {
    uint32_t n_shards;
    vs_metric metric;
    uint32_t n_replicas[VS_CLUSTER_MAX_SHARDS];
    vs_replica replicas[VS_CLUSTER_MAX_SHARDS][VS_CLUSTER_MAX_REPLICAS];
} vs_cluster_map;

/* Parses the <prefix>cluster document (fuzzed: it comes from a shared store). */
int vs_cluster_map_parse(const char *json, vs_cluster_map *out);
/* Reads the map and fills in the URL of every live replica. */
int vs_cluster_map_load(vs_etcd *e, const char *prefix, vs_cluster_map *out);
/* Writes the map (n_shards, metric, replica ids) as <prefix>cluster. */
int vs_cluster_map_store(vs_etcd *e, const char *prefix, const vs_cluster_map *m);
/* Which shard a node serves (VS_ERR_NOT_FOUND if the map does not name it). */
int vs_cluster_map_shard_of_node(const vs_cluster_map *m, const char *node_id, uint32_t *shard);

#endif
