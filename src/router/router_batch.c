/* POST /search/batch through the router: the batch goes whole to one live replica of every
 * shard (next replica on failure), and each query's results are merged as one search's are
 * (router_merge_hits, router_fanout.c), giving one server's reply ({"results": [{"query", "results"[, "warning"]}]})
 * plus "partial", "missing_shards" and "why" where shards did not answer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_impl.h"

/* The merged top k of query q over the shards' answers (NULL: a shard that did not answer). */
static cJSON *merge_query(cJSON *const *answers, uint32_t n_shards, int q, long k, int metric)
{
    const cJSON *lists[VS_CLUSTER_MAX_SHARDS];
    size_t n = 0;
    for (uint32_t s = 0; s < n_shards; s++) {
        const cJSON *qa = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(answers[s], "results"), q);
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(qa, "results");
        if (cJSON_IsArray(res)) lists[n++] = res;
    }
    return router_merge_hits(lists, n, k, metric);
}

void router_search_batch(router *r, const char *path, const char *body, size_t len, router_reply *out)
{
    double t0 = router_now();
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    cJSON *req = cJSON_ParseWithLength(body, len);
    const cJSON *kj = cJSON_GetObjectItemCaseSensitive(req, "k");
    long k = cJSON_IsNumber(kj) && kj->valuedouble >= 1 ? (long)kj->valuedouble : 10;
    cJSON_Delete(req); /* the shards check the request; the first refusal is passed on */
    leg *legs = calloc(m->n_shards ? m->n_shards : 1, sizeof *legs);
    if (!legs) {
        free(m);
        return router_error(out, 500, "internal", "out of memory");
    }
    for (uint32_t s = 0; s < m->n_shards; s++) {
        legs[s].shard = s;
        router_plan(r, m, &legs[s]);
    }
    router_run_legs(r, m, legs, m->n_shards, path, body, len, 1);
    for (uint32_t s = 0; s < m->n_shards; s++)
        if (legs[s].state == LEG_CLIENT_ERROR) {
            out->status = (int)legs[s].status;
            out->body = legs[s].resp.data ? strdup(legs[s].resp.data) : NULL;
            router_free_legs(legs, m->n_shards);
            free(m);
            return;
        }
    cJSON *answers[VS_CLUSTER_MAX_SHARDS] = {0}, *missing = cJSON_CreateArray(), *why = cJSON_CreateObject();
    const cJSON *first = NULL; /* an answer that came: the queries as the shards echo them */
    for (uint32_t s = 0; s < m->n_shards; s++) {
        if (legs[s].state == LEG_OK && legs[s].resp.data)
            answers[s] = cJSON_ParseWithLength(legs[s].resp.data, legs[s].resp.len);
        if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(answers[s], "results"))) {
            char sid[16];
            snprintf(sid, sizeof sid, "%u", s);
            cJSON_AddItemToArray(missing, cJSON_CreateNumber(s));
            cJSON_AddStringToObject(why, sid, legs[s].state == LEG_OK ? "unreadable answer" : legs[s].why);
            cJSON_Delete(answers[s]);
            answers[s] = NULL;
        } else if (!first) {
            first = answers[s];
        }
    }
    cJSON *o = cJSON_CreateObject(), *results = cJSON_AddArrayToObject(o, "results");
    int nq = first ? cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(first, "results")) : 0;
    for (int q = 0; q < nq; q++) {
        const cJSON *fq = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(first, "results"), q);
        const cJSON *query = cJSON_GetObjectItemCaseSensitive(fq, "query"), *warning = cJSON_GetObjectItemCaseSensitive(fq, "warning");
        cJSON *one = cJSON_CreateObject();
        cJSON_AddItemToObject(one, "query", query ? cJSON_Duplicate(query, 1) : cJSON_CreateNull());
        cJSON_AddItemToObject(one, "results", merge_query(answers, m->n_shards, q, k, m->metric));
        /* every shard embeds with the same model: one shard's warning is the query's */
        if (warning) cJSON_AddItemToObject(one, "warning", cJSON_Duplicate(warning, 1));
        cJSON_AddItemToArray(results, one);
    }
    int n_missing = cJSON_GetArraySize(missing);
    cJSON_AddBoolToObject(o, "partial", n_missing > 0);
    cJSON_AddItemToObject(o, "missing_shards", missing);
    if (n_missing) cJSON_AddItemToObject(o, "why", why);
    else cJSON_Delete(why);
    cJSON_AddNumberToObject(o, "shards", m->n_shards);
    cJSON_AddNumberToObject(o, "latency_ms", round((router_now() - t0) * 1e6) / 1e3);
    out->status = n_missing == (int)m->n_shards ? 503 : 200;
    out->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o); /* before answers[]: the merged hits are references into them */
    for (uint32_t s = 0; s < m->n_shards; s++) cJSON_Delete(answers[s]);
    router_free_legs(legs, m->n_shards);
    free(m);
}
