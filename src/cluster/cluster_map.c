/* Reading and writing the shard map and the live-node registrations (cluster_map.h). */
#include "cluster/cluster_map.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int vs_cluster_map_parse(const char *json, vs_cluster_map *m)
{
    memset(m, 0, sizeof *m);
    cJSON *root = cJSON_Parse(json);
    if (!root) return vs_fail(VS_ERR_CORRUPT, "cluster map: not JSON");
    int rc = VS_OK;
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(root, "shards");
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(root, "metric");
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "map");
    if (!cJSON_IsNumber(shards) || shards->valuedouble < 1 || shards->valuedouble > VS_CLUSTER_MAX_SHARDS ||
        shards->valuedouble != (double)(int)shards->valuedouble)
        rc = vs_fail(VS_ERR_CORRUPT, "cluster map: 'shards' must be 1..%d", VS_CLUSTER_MAX_SHARDS);
    else if (!cJSON_IsString(metric) || vs_metric_parse(metric->valuestring, &m->metric))
        rc = vs_fail(VS_ERR_CORRUPT, "cluster map: 'metric' missing or unknown");
    else if (!cJSON_IsArray(map) || cJSON_GetArraySize(map) != (int)shards->valuedouble)
        rc = vs_fail(VS_ERR_CORRUPT, "cluster map: 'map' must list the replicas of each of the %d shards",
                     (int)shards->valuedouble);
    if (rc == VS_OK) {
        m->n_shards = (uint32_t)shards->valuedouble;
        uint32_t s = 0;
        const cJSON *reps;
        cJSON_ArrayForEach(reps, map)
        {
            const cJSON *r;
            if (!cJSON_IsArray(reps) || cJSON_GetArraySize(reps) < 1 ||
                cJSON_GetArraySize(reps) > VS_CLUSTER_MAX_REPLICAS) {
                rc = vs_fail(VS_ERR_CORRUPT, "cluster map: shard %u needs 1..%d replicas", s, VS_CLUSTER_MAX_REPLICAS);
                break;
            }
            cJSON_ArrayForEach(r, reps)
            {
                if (!cJSON_IsString(r) || !*r->valuestring || strlen(r->valuestring) >= sizeof m->replicas[0][0].id ||
                    strchr(r->valuestring, '/')) {
                    rc = vs_fail(VS_ERR_CORRUPT, "cluster map: shard %u has a bad node id", s);
                    break;
                }
                snprintf(m->replicas[s][m->n_replicas[s]++].id, sizeof m->replicas[0][0].id, "%s", r->valuestring);
            }
            if (rc) break;
            s++;
        }
    }
    cJSON_Delete(root);
    if (rc) memset(m, 0, sizeof *m);
    return rc;
}

int vs_cluster_map_store(vs_etcd *e, const char *prefix, const vs_cluster_map *m)
{
    cJSON *root = cJSON_CreateObject(), *map = cJSON_CreateArray();
    cJSON_AddNumberToObject(root, "shards", m->n_shards);
    cJSON_AddStringToObject(root, "metric", vs_metric_name(m->metric));
    for (uint32_t s = 0; s < m->n_shards; s++) {
        cJSON *reps = cJSON_CreateArray();
        for (uint32_t r = 0; r < m->n_replicas[s]; r++) cJSON_AddItemToArray(reps, cJSON_CreateString(m->replicas[s][r].id));
        cJSON_AddItemToArray(map, reps);
    }
    cJSON_AddItemToObject(root, "map", map);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return vs_fail(VS_ERR_NOMEM, "cluster map: out of memory");
    char key[512];
    snprintf(key, sizeof key, "%scluster", prefix);
    int rc = vs_etcd_put(e, key, json, 0);
    cJSON_free(json);
    return rc;
}

typedef struct {
    vs_cluster_map *m;
    size_t skip;
} live_ctx;

static int note_live(const char *key, const char *value, void *p)
{
    live_ctx *c = p;
    const char *id = key + c->skip;
    cJSON *v = cJSON_Parse(value);
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(v, "url");
    if (cJSON_IsString(url) && strlen(url->valuestring) < sizeof c->m->replicas[0][0].url)
        for (uint32_t s = 0; s < c->m->n_shards; s++)
            for (uint32_t r = 0; r < c->m->n_replicas[s]; r++)
                if (!strcmp(c->m->replicas[s][r].id, id))
                    snprintf(c->m->replicas[s][r].url, sizeof c->m->replicas[s][r].url, "%s", url->valuestring);
    cJSON_Delete(v);
    return 0;
}

int vs_cluster_map_load(vs_etcd *e, const char *prefix, vs_cluster_map *m)
{
    char key[512], *json = NULL;
    snprintf(key, sizeof key, "%scluster", prefix);
    int rc = vs_etcd_get(e, key, &json);
    if (rc == VS_ERR_NOT_FOUND)
        return vs_fail(rc, "cluster: no shard map at %s: run 'vecscale cluster init' first", key);
    if (rc) return rc;
    rc = vs_cluster_map_parse(json, m);
    free(json);
    if (rc) return rc;
    snprintf(key, sizeof key, "%snodes/", prefix);
    live_ctx c = {m, strlen(key)};
    return vs_etcd_list(e, key, note_live, &c);
}

int vs_cluster_map_shard_of_node(const vs_cluster_map *m, const char *node_id, uint32_t *shard)
{
    for (uint32_t s = 0; s < m->n_shards; s++)
        for (uint32_t r = 0; r < m->n_replicas[s]; r++)
            if (!strcmp(m->replicas[s][r].id, node_id)) {
                *shard = s;
                return VS_OK;
            }
    return vs_fail(VS_ERR_NOT_FOUND, "cluster: the shard map does not name node '%s'", node_id);
}
