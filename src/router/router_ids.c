/* Automatic document ids for the cluster (router_impl.h). One server gives a document without
 * an id the integer after the largest it has seen; a cluster has several shards (and may have
 * several routers), so the counter lives in etcd, <prefix>next_id, advanced by compare-and-swap:
 * a request reserves its n ids in one transaction, so two routers never hand out the same id.
 * Integer ids that clients give through a router push the counter past them, as on one server.
 * The ids are then routed like any other (vs_shard_of), so GET /documents/{id} finds them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "router/router_impl.h"

/* Moves the counter to at least `floor` + n and returns in *first where the n ids start. */
static int advance(router *r, int64_t floor, size_t n, int64_t *first)
{
    char key[600], want[32];
    snprintf(key, sizeof key, "%snext_id", r->cfg->prefix);
    for (int attempt = 0; attempt < 100; attempt++) {
        char *cur = NULL;
        int rc = vs_etcd_get(r->ids_etcd, key, &cur);
        if (rc && rc != VS_ERR_NOT_FOUND) return rc;
        int64_t at = cur ? strtoll(cur, NULL, 10) : 0;
        int64_t start = at > floor ? at : floor;
        if (n == 0 && start == at && cur) { /* already past it: nothing to write */
            free(cur);
            r->ids_floor = at;
            *first = start;
            return VS_OK;
        }
        snprintf(want, sizeof want, "%" PRId64, start + (int64_t)n);
        int swapped = 0;
        rc = vs_etcd_cas(r->ids_etcd, key, cur, want, &swapped);
        free(cur);
        if (rc) return rc;
        if (swapped) {
            r->ids_floor = start + (int64_t)n;
            *first = start;
            return VS_OK;
        }
        /* another router moved it meanwhile: read it again */
    }
    return vs_fail(VS_ERR_CONFLICT, "automatic ids: etcd key %s kept changing under 100 attempts", key);
}

int router_ids_reserve(router *r, size_t n, int64_t *first)
{
    pthread_mutex_lock(&r->ids_lock);
    int rc = advance(r, r->ids_owed, n, first);
    if (rc == VS_OK) r->ids_owed = 0;
    pthread_mutex_unlock(&r->ids_lock);
    return rc;
}

void router_ids_note(router *r, int64_t max_id)
{
    int64_t first;
    pthread_mutex_lock(&r->ids_lock);
    /* the counter only grows: below what we saw, nothing to do */
    if (max_id >= r->ids_floor && max_id >= r->ids_owed && advance(r, max_id + 1, 0, &first) != VS_OK)
        r->ids_owed = max_id + 1; /* writes with their own ids do not need etcd: owe it */
    pthread_mutex_unlock(&r->ids_lock);
}
