/* The checks one server makes of a write's body, made by the router before a write goes
 * to the log (router_log_api.c), so that a bad request is refused with the server's status and
 * error code before any shard's stream stored a part of it. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "router/router_impl.h"

#define MAX_JSON_ID 9007199254740991.0 /* 2^53 - 1, as the server */

/* One id as the server reads it (doc_ids.c read_doc_id): its owning shard, and *int_id the
 * integer it names or -1. Returns 0 after setting a 400 in out. */
int router_read_id(const cJSON *v, const char *body, size_t len, const char *what, uint32_t n_shards, uint32_t *owner,
                   int64_t *int_id, router_reply *out)
{
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > MAX_JSON_ID)
            return router_error(out, 400, "invalid_id",
                                "%s: a number id must be an integer from 0 to 2^53-1 (send larger ones as strings)", what), 0;
        *int_id = (int64_t)v->valuedouble;
        *owner = vs_shard_of(*int_id, n_shards);
        return 1;
    }
    if (!cJSON_IsString(v))
        return router_error(out, 400, "invalid_id", "%s must be an integer from 0 to 2^53-1 or a string of 1 to %d bytes "
                            "of UTF-8", what, VS_KEY_MAX_BYTES), 0;
    if (memmem(body, len, "\\u0000", 6))
        return router_error(out, 400, "invalid_id", "%s: string ids must not contain NUL, and this body holds \\u0000",
                            what), 0;
    if (vs_collection_key_check(v->valuestring, int_id))
        return router_error(out, 400, "invalid_id", "%s: %s", what, vs_last_error()), 0;
    *owner = vs_shard_of_key(v->valuestring, n_shards);
    return 1;
}

int router_only_fields(const cJSON *o, const char *const *allowed, router_reply *out)
{
    for (const cJSON *f = o->child; f; f = f->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(f->string, *a);
        if (!ok) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", *a, a[1] ? ", " : "");
            return router_error(out, 400, "unknown_field", "unknown field '%s' (allowed: %s)", f->string, list), 0;
        }
        for (const cJSON *g = f->next; g; g = g->next)
            if (!strcmp(f->string, g->string))
                return router_error(out, 400, "invalid_json", "field '%s' appears twice", f->string), 0;
    }
    return 1;
}

cJSON *router_parse(const char *body, size_t len, router_reply *out)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!o) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        router_error(out, 400, "invalid_json", "the body is not valid JSON (error near byte %zu)", at);
    }
    return o;
}

/* An id as one server shows it back: integers (also "17") as numbers, others as strings. */
cJSON *router_shown_id(const cJSON *id)
{
    int64_t as_int = -1;
    if (cJSON_IsString(id) && vs_collection_key_check(id->valuestring, &as_int) == VS_OK && as_int >= 0)
        return cJSON_CreateNumber((double)as_int);
    return cJSON_Duplicate(id, 1);
}

static const char *json_kind(const cJSON *v)
{
    return cJSON_IsString(v) ? "a string" : cJSON_IsObject(v) ? "an object" : cJSON_IsArray(v) ? "an array"
         : cJSON_IsNumber(v) ? "a number" : cJSON_IsBool(v) ? "a boolean" : "null";
}

/* The three shapes of POST /index, checked as the server checks them (routes_write.c
 * index_body, route_index), made one: {"documents": [{text, metadata}], "skip_empty"}; *given
 * the ids if the documents have them. NULL after a 400 in out. */
cJSON *router_index_request(const char *body, size_t len, cJSON **given, router_reply *out)
{
    static const char *const allowed[] = {"texts", "documents", "skip_empty", "wait", "wait_timeout_ms", "request_id",
                                          NULL};
    static const char *const doc_fields[] = {"id", "text", "metadata", NULL};
    *given = NULL;
    cJSON *root = router_parse(body, len, out), *norm = NULL;
    const cJSON *texts = NULL, *docs = NULL, *skip = NULL;
    if (!root) return NULL;
    if (cJSON_IsArray(root)) {
        const cJSON *first = root->child;
        if (!first) {
            router_error(out, 400, "bad_request", "the body is an empty array: send at least one text or document");
            goto bad;
        }
        if (!cJSON_IsString(first) && !cJSON_IsObject(first)) {
            router_error(out, 400, "bad_request", "a bare array body holds texts (strings) or documents (objects "
                                                  "{id, text, metadata}); element 0 is %s", json_kind(first));
            goto bad;
        }
        size_t i = 0;
        for (const cJSON *e = first; e; e = e->next, i++)
            if (cJSON_IsString(e) != cJSON_IsString(first) || cJSON_IsObject(e) != cJSON_IsObject(first)) {
                router_error(out, 400, "bad_request", "element %zu of the body is %s, element 0 %s: a bare array "
                             "holds only texts (strings) or only documents (objects)", i, json_kind(e), json_kind(first));
                goto bad;
            }
        *(cJSON_IsString(first) ? &texts : &docs) = root;
    } else if (!cJSON_IsObject(root)) {
        router_error(out, 400, "invalid_json", "the body must be an object {\"texts\" or \"documents\", \"skip_empty\"}, "
                                               "an array of texts or an array of documents");
        goto bad;
    } else {
        if (!router_only_fields(root, allowed, out)) goto bad;
        texts = cJSON_GetObjectItemCaseSensitive(root, "texts");
        docs = cJSON_GetObjectItemCaseSensitive(root, "documents");
        skip = cJSON_GetObjectItemCaseSensitive(root, "skip_empty");
        if ((texts != NULL) == (docs != NULL)) {
            router_error(out, 400, "bad_request", "give exactly one of 'texts' and 'documents'");
            goto bad;
        }
        if (skip && !cJSON_IsBool(skip)) {
            router_error(out, 400, "bad_request", "'skip_empty' must be true or false");
            goto bad;
        }
    }
    const cJSON *list = texts ? texts : docs;
    if (!cJSON_IsArray(list) || !cJSON_GetArraySize(list)) {
        router_error(out, 400, "bad_request", "'%s' must be a non-empty array", texts ? "texts" : "documents");
        goto bad;
    }
    norm = cJSON_CreateObject();
    cJSON *out_docs = cJSON_AddArrayToObject(norm, "documents"), *ids = cJSON_CreateArray();
    if (cJSON_IsTrue(skip)) cJSON_AddTrueToObject(norm, "skip_empty");
    size_t i = 0, n = (size_t)cJSON_GetArraySize(list), with_id = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddItemToArray(out_docs, d);
        if (texts) {
            if (!cJSON_IsString(e)) {
                router_error(out, 400, "bad_request", "'texts'[%zu] must be a string", i);
                goto bad_ids;
            }
            cJSON_AddStringToObject(d, "text", e->valuestring);
            continue;
        }
        if (!cJSON_IsObject(e)) {
            router_error(out, 400, "bad_request", "'documents'[%zu] must be an object {id, text, metadata}", i);
            goto bad_ids;
        }
        if (!router_only_fields(e, doc_fields, out)) goto bad_ids;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "text"), *id = cJSON_GetObjectItemCaseSensitive(e, "id"),
                    *md = cJSON_GetObjectItemCaseSensitive(e, "metadata");
        if (!cJSON_IsString(t)) {
            router_error(out, 400, "bad_request", "'documents'[%zu].text must be a string", i);
            goto bad_ids;
        }
        cJSON_AddStringToObject(d, "text", t->valuestring);
        if (id) {
            cJSON_AddItemToArray(ids, cJSON_Duplicate(id, 1));
            with_id++;
        }
        if (md && !cJSON_IsNull(md) && !cJSON_IsObject(md)) {
            router_error(out, 400, "invalid_metadata", "'documents'[%zu].metadata must be a JSON object or null", i);
            goto bad_ids;
        }
        if (md) cJSON_AddItemToObject(d, "metadata", cJSON_Duplicate(md, 1));
    }
    if (with_id && with_id != n) {
        router_error(out, 400, "bad_request", "either every document has an 'id' or none does (%zu of %zu have one)",
                     with_id, n);
        goto bad_ids;
    }
    if (with_id) *given = ids;
    else cJSON_Delete(ids);
    cJSON_Delete(root);
    return norm;
bad_ids:
    cJSON_Delete(ids);
bad:
    cJSON_Delete(norm);
    cJSON_Delete(root);
    return NULL;
}
