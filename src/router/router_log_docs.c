/* POST /index through the log in every shape a single server takes (a bare list of texts,
 * {"texts": [...]}, documents with or without ids), so that a client cannot tell the cluster
 * from one server. The log needs an id on every document (it decides the shard, and a replica
 * that applies a message twice recognises it by its ids), so documents without one get ids
 * from the collection's counter in etcd (router_ids.c); with a
 * "request_id" a retry gets the ids of the first attempt, hence the same message ids, and
 * the stream stores it once (without one, each attempt is a new request: a retry may store
 * the documents twice). Ids given by the client push that counter past them. Before any id is
 * taken, one replica checks the documents (router_log_check.c): what it would refuse is
 * refused here, not acknowledged. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "router/router_impl.h"

/* The fields of an object body the log path reads besides the texts or documents. */
static const char *const kept[] = {"skip_empty", "wait", "wait_timeout_ms", "request_id", NULL};

static int is_array_of(const cJSON *a, cJSON_bool (*is)(const cJSON *))
{
    if (!cJSON_IsArray(a) || !a->child) return 0;
    for (const cJSON *e = a->child; e; e = e->next)
        if (!is(e)) return 0;
    return 1;
}

cJSON *router_log_documents(router *r, const char *coll, cJSON *req, router_reply *out)
{
    const cJSON *texts = NULL, *docs = NULL;
    if (is_array_of(req, cJSON_IsString)) texts = req;
    else if (is_array_of(req, cJSON_IsObject)) docs = req;
    else if (cJSON_IsObject(req) && is_array_of(cJSON_GetObjectItemCaseSensitive(req, "texts"), cJSON_IsString))
        texts = cJSON_GetObjectItemCaseSensitive(req, "texts");
    else if (cJSON_IsObject(req) && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(req, "documents")))
        docs = cJSON_GetObjectItemCaseSensitive(req, "documents");
    else return req; /* the caller refuses it with the shapes it takes */

    cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "documents");
    for (size_t k = 0; cJSON_IsObject(req) && kept[k]; k++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, kept[k]);
        if (f) cJSON_AddItemToObject(o, kept[k], cJSON_Duplicate(f, 1));
    }
    int n = 0, without = 0;
    double max_id = -1;
    for (const cJSON *e = texts ? texts->child : docs->child; e; e = e->next, n++) {
        cJSON *d = texts ? cJSON_CreateObject() : cJSON_Duplicate(e, 1);
        if (texts) cJSON_AddStringToObject(d, "text", e->valuestring);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        if (!id) without++;
        else if (cJSON_IsNumber(id) && id->valuedouble > max_id) max_id = id->valuedouble;
        cJSON_AddItemToArray(list, d);
    }
    if (without && without != n) {
        cJSON_Delete(o), cJSON_Delete(req);
        router_error(out, 400, "bad_request", "either every document has an 'id' or none does (%d of %d have one)", n - without, n);
        return NULL;
    }
    if (!without) { /* ids given: each once, as a replica takes them */
        const cJSON **ids = malloc((size_t)n * sizeof *ids);
        int k = 0;
        for (const cJSON *d = list->child; ids && d; d = d->next) ids[k++] = cJSON_GetObjectItemCaseSensitive(d, "id");
        int unique = ids && router_log_check_unique(ids, n, out);
        if (!ids) router_error(out, 500, "internal", "out of memory");
        free(ids);
        if (!unique) {
            cJSON_Delete(o), cJSON_Delete(req);
            return NULL;
        }
    }
    if (!router_log_check_index(r, coll, list, cJSON_GetObjectItemCaseSensitive(o, "skip_empty"), out)) {
        cJSON_Delete(o), cJSON_Delete(req);
        return NULL;
    }
    if (without) {
        int64_t first = 0;
        const char *rid = router_log_request_id(req);
        int rc = rid ? router_ids_reserve_for(r, coll, rid, (size_t)n, ROUTER_LOG_DUP_WINDOW_S, &first)
                     : router_ids_reserve(r, coll, (size_t)n, &first);
        if (rc != VS_OK) {
            cJSON_Delete(o), cJSON_Delete(req);
            if (rc == VS_ERR_CONFLICT && rid) router_error(out, 409, "request_id_reused", "%s", vs_last_error());
            else router_error(out, 503, "ids_unavailable", "no ids for the documents: %s", vs_last_error());
            return NULL;
        }
        int64_t i = first;
        for (cJSON *d = list->child; d; d = d->next) cJSON_AddNumberToObject(d, "id", (double)i++);
    } else if (max_id >= 0 && max_id == floor(max_id)) {
        router_ids_note(r, coll, (int64_t)max_id);
    }
    cJSON_Delete(req);
    return o;
}
