/* router_deliver (router_impl.h): how a write reaches one shard today. Every live replica
 * of the shard is sent the operation at once; where some applied it, the replicas that did
 * not (down, or their try failed) are given it later by the hint queue (router_hints.c). This
 * file is the transport's one seam: a replicated log (issue 16) replaces it, and the write
 * routes (router_write.c) do not change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_impl.h"

/* a write may embed thousands of texts: a replica is not given up after a search's timeout */
#define WRITE_TIMEOUT_MS 30000

void router_delivery_free(router_delivery *d)
{
    free(d->answer);
    cJSON_Delete(d->failed);
    cJSON_Delete(d->queued);
    *d = (router_delivery){0};
}

void router_deliver(router *r, const vs_cluster_map *m, uint32_t shard, const char *method, const char *path,
                    const char *body, size_t len, router_delivery *out)
{
    *out = (router_delivery){0};
    out->failed = cJSON_CreateArray();
    out->queued = cJSON_CreateArray();
    leg *legs = calloc(VS_CLUSTER_MAX_REPLICAS, sizeof *legs);
    if (!legs) return;
    size_t n = 0;
    for (uint32_t rep = 0; rep < m->n_replicas[shard]; rep++) {
        if (!m->replicas[shard][rep].url[0]) continue;
        legs[n] = (leg){.shard = shard, .order = {rep}, .n_order = 1, .method = method, .timeout_ms = WRITE_TIMEOUT_MS};
        n++;
    }
    router_run_legs(r, m, legs, n, path, body, len, 0); /* every replica itself: no retry elsewhere */
    for (size_t j = 0; j < n; j++)
        if (legs[j].state == LEG_OK && !out->n_ok++ && legs[j].resp.data) out->answer = strdup(legs[j].resp.data);
    for (size_t j = 0; j < n; j++) {
        leg *l = &legs[j];
        if (l->state == LEG_OK) continue;
        /* a delete of what a replica does not hold leaves it as wanted */
        int absent = l->state == LEG_CLIENT_ERROR && l->status == 404 && !strcmp(method, "DELETE");
        if (l->state == LEG_CLIENT_ERROR && !out->client_status) {
            out->client_status = (int)l->status;
            if (!out->n_ok && l->resp.data) out->answer = strdup(l->resp.data);
        }
        if (absent || (l->state == LEG_CLIENT_ERROR && !out->n_ok)) continue;
        char why[200];
        if (l->state == LEG_CLIENT_ERROR) snprintf(why, sizeof why, "refused (HTTP %ld) what its peer applied", l->status);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "shard", shard);
        cJSON_AddStringToObject(f, "node", m->replicas[shard][l->order[0]].id);
        cJSON_AddStringToObject(f, "error", l->state == LEG_CLIENT_ERROR ? why : l->why);
        cJSON_AddItemToArray(out->failed, f);
    }
    /* Where some replica applied it, the others (down, or failed) get it later from the hint
     * queue; applied nowhere, the caller reports the shard missing instead. */
    for (uint32_t rep = 0; out->n_ok && rep < m->n_replicas[shard]; rep++) {
        int done = 0;
        for (size_t j = 0; j < n; j++)
            done |= legs[j].order[0] == rep && (legs[j].state == LEG_OK || legs[j].state == LEG_CLIENT_ERROR);
        if (done) continue;
        router_hint_add(r, shard, rep, method, path, body, len);
        cJSON_AddItemToArray(out->queued, cJSON_CreateString(m->replicas[shard][rep].id));
    }
    router_free_legs(legs, VS_CLUSTER_MAX_REPLICAS);
}
