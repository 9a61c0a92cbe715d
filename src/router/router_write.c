/* The cluster's write routes: POST /vectors, POST /index and DELETE /documents/{id} (also under
 * /collections/{name}/), POST /collections and DELETE /collections/{name}, with the request
 * shapes and replies of one server (routes_write.c, routes_admin.c).
 * A write is checked here first, so that a bad request is refused before any shard stored a
 * part of it, then split by the shard owning each document id (vs_shard_of / vs_shard_of_key)
 * and handed, one shard at a time, to router_deliver (router_deliver.c): the only function
 * that moves a write to a shard. Texts are embedded by the shard (the router holds no model); documents without ids
 * get cluster-unique ids first (router_ids.c). */
#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "router/router_impl.h"


/* The routes of the collection a path belongs to: "/collections/x/index" -> "/collections/x",
 * "/index" -> "" (the default collection). */
static void coll_prefix(const char *path, char *out, size_t cap)
{
    size_t n = 0;
    if (!strncmp(path, "/collections/", 13)) {
        const char *slash = strchr(path + 13, '/');
        n = slash ? (size_t)(slash - path) : strlen(path);
    }
    snprintf(out, cap, "%.*s", (int)n, path);
}

int router_document_path(const char *prefix, const char *id, char *out, size_t cap)
{
    char *enc = curl_easy_escape(NULL, id, 0);
    int n = enc ? snprintf(out, cap, "%s/documents/%s", prefix, enc) : -1;
    curl_free(enc);
    return n > 0 && (size_t)n < cap;
}

/* The rows of a batch, with the shard and the id (cJSON, as the shard is sent it) of each. */
typedef struct {
    int n;
    cJSON *ids;  /* array of n: given, or reserved here */
    uint32_t *owner;
    int64_t max_int; /* largest integer id given, -1 if none */
} rows;

/* Checks the ids (or reserves n automatic ones) and finds their shards. */
static int route_rows(router *r, const vs_cluster_map *m, const char *path, const cJSON *given, int n, const char *field,
                      const char *tail, const char *body, size_t len, rows *w, router_reply *out)
{
    char prefix[400];
    coll_prefix(path, prefix, sizeof prefix);
    const char *coll = *prefix ? prefix + 13 : ""; /* after "/collections/" */
    w->n = n;
    w->max_int = -1;
    if (!(w->owner = malloc((size_t)n * sizeof *w->owner)))
        return router_error(out, 500, "internal", "out of memory"), 0;
    if (given) {
        int i = 0;
        const cJSON *id;
        cJSON_ArrayForEach(id, given)
        {
            char what[64];
            int64_t as_int = -1;
            snprintf(what, sizeof what, "'%s'[%d]%s", field, i, tail);
            if (!router_read_id(id, body, len, what, m->n_shards, &w->owner[i], &as_int, out)) return 0;
            if (as_int > w->max_int) w->max_int = as_int;
            i++;
        }
        if (!(w->ids = cJSON_Duplicate(given, 1))) return router_error(out, 500, "internal", "out of memory"), 0;
        /* automatic ids of later writes start after the largest integer given, as on one server */
        if (w->max_int >= 0) router_ids_note(r, coll, w->max_int);
        return 1;
    }
    int64_t first;
    if (router_ids_reserve(r, coll, (size_t)n, &first))
        return router_error(out, 503, "ids_unavailable", "reserving %d automatic ids in etcd: %s", n, vs_last_error()), 0;
    w->ids = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON_AddItemToArray(w->ids, cJSON_CreateNumber((double)(first + i)));
        w->owner[i] = vs_shard_of(first + i, m->n_shards);
    }
    return 1;
}

/* Builds the part of the request for the rows rows[0..c) of one shard. */
typedef char *(*sub_body_fn)(const cJSON *req, const rows *w, const size_t *rows, size_t c);

static cJSON *pick(const cJSON *a, const size_t *rows, size_t c)
{
    cJSON *sub = cJSON_CreateArray();
    for (size_t i = 0; i < c; i++) cJSON_AddItemToArray(sub, cJSON_Duplicate(cJSON_GetArrayItem(a, (int)rows[i]), 1));
    return sub;
}

static char *vectors_body(const cJSON *req, const rows *w, const size_t *rows, size_t c)
{
    static const char *const parallel[] = {"vectors", "texts", "metadata"};
    cJSON *o = cJSON_CreateObject();
    for (size_t f = 0; f < 3; f++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, parallel[f]);
        if (cJSON_IsArray(a)) cJSON_AddItemToObject(o, parallel[f], pick(a, rows, c));
    }
    cJSON_AddItemToObject(o, "ids", pick(w->ids, rows, c));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* req here is {"documents": [{text, metadata}...], "skip_empty"} (the three shapes made one). */
static char *index_body(const cJSON *req, const rows *w, const size_t *rows, size_t c)
{
    cJSON *o = cJSON_CreateObject(), *docs = cJSON_AddArrayToObject(o, "documents");
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(req, "documents");
    for (size_t i = 0; i < c; i++) {
        cJSON *d = cJSON_Duplicate(cJSON_GetArrayItem(all, (int)rows[i]), 1);
        cJSON_DeleteItemFromObjectCaseSensitive(d, "id");
        cJSON_AddItemToObject(d, "id", cJSON_Duplicate(cJSON_GetArrayItem(w->ids, (int)rows[i]), 1));
        cJSON_AddItemToArray(docs, d);
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "skip_empty"))) cJSON_AddTrueToObject(o, "skip_empty");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Takes back rows[0..c) from shard s, which stored them before another shard refused the
 * request: one server stores all of a batch or nothing. */
static void undo(router *r, const vs_cluster_map *m, uint32_t s, const char *path, const rows *w, const size_t *rows,
                 size_t c)
{
    char prefix[400], doc[1400], key[32];
    coll_prefix(path, prefix, sizeof prefix);
    for (size_t i = 0; i < c; i++) {
        const cJSON *id = cJSON_GetArrayItem(w->ids, (int)rows[i]);
        if (cJSON_IsNumber(id)) snprintf(key, sizeof key, "%.0f", id->valuedouble);
        if (!router_document_path(prefix, cJSON_IsString(id) ? id->valuestring : key, doc, sizeof doc)) continue;
        router_delivery d;
        router_deliver(r, m, s, "DELETE", doc, "", 0, &d);
        router_delivery_free(&d);
    }
}

/* Splits the rows by shard, delivers each shard's part, and answers as one server would
 * ({"added","total","ids"[,"skipped"]}) plus where the write did not reach: "partial",
 * "missing_shards" and "why" as searches name them, "failed_replicas" and "queued_for". */
static void write_batch(router *r, const vs_cluster_map *m, const char *path, const cJSON *req, const rows *w,
                        sub_body_fn sub, int skip_empty, router_reply *out)
{
    size_t n = (size_t)w->n, *order = malloc(n * sizeof *order), *start = calloc(m->n_shards + 1, sizeof *start);
    char *skipped = calloc(n ? n : 1, 1);
    double *known = malloc(m->n_shards * sizeof *known);
    if (!order || !start || !skipped || !known) {
        free(order), free(start), free(skipped), free(known);
        return router_error(out, 500, "internal", "out of memory");
    }
    for (size_t i = 0; i < n; i++) start[w->owner[i] + 1]++;
    for (uint32_t s = 0; s < m->n_shards; s++) start[s + 1] += start[s], known[s] = -1;
    size_t *fill = calloc(m->n_shards, sizeof *fill);
    for (size_t i = 0; fill && i < n; i++) order[start[w->owner[i]] + fill[w->owner[i]]++] = i;
    free(fill);
    cJSON *failed = cJSON_CreateArray(), *queued = cJSON_CreateArray(), *missing = cJSON_CreateArray(),
          *why = cJSON_CreateObject();
    size_t added = 0;
    int refused = 0;
    for (uint32_t s = 0; s < m->n_shards && !refused; s++) {
        size_t c = start[s + 1] - start[s];
        if (!c) continue;
        char *body = sub(req, w, order + start[s], c);
        router_delivery d;
        router_deliver(r, m, s, "POST", path, body ? body : "{}", body ? strlen(body) : 2, &d);
        cJSON_free(body);
        if (!d.n_ok && d.client_status) {
            /* The request is bad (the first shard that reads it says so for all, as a search):
             * passed on as is, the shards after it are not asked and the ones before give back
             * what they stored (a text no word of which the model knows is found by its shard). */
            out->status = d.client_status;
            out->body = d.answer;
            d.answer = NULL;
            refused = 1;
            for (uint32_t t = 0; t < s; t++)
                if (start[t + 1] > start[t] && known[t] >= 0) undo(r, m, t, path, w, order + start[t], start[t + 1] - start[t]);
        } else if (!d.n_ok) {
            char sid[16];
            snprintf(sid, sizeof sid, "%u", s);
            cJSON_AddItemToArray(missing, cJSON_CreateNumber(s));
            const cJSON *f0 = cJSON_GetArrayItem(d.failed, 0), *e = cJSON_GetObjectItemCaseSensitive(f0, "error");
            cJSON_AddStringToObject(why, sid, cJSON_IsString(e) ? e->valuestring : "no live replica");
            for (size_t i = 0; i < c; i++) skipped[order[start[s] + i]] = 2; /* not stored */
        } else {
            cJSON *a = d.answer ? cJSON_Parse(d.answer) : NULL;
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "total"), *sk = cJSON_GetObjectItemCaseSensitive(a, "skipped"), *p;
            if (cJSON_IsNumber(t)) known[s] = t->valuedouble;
            cJSON_ArrayForEach(p, sk) /* positions in this shard's part */
                if (cJSON_IsNumber(p) && p->valuedouble >= 0 && (size_t)p->valuedouble < c)
                    skipped[order[start[s] + (size_t)p->valuedouble]] = 1;
            cJSON_Delete(a);
        }
        cJSON *it;
        while ((it = cJSON_DetachItemFromArray(d.failed, 0))) cJSON_AddItemToArray(failed, it);
        while ((it = cJSON_DetachItemFromArray(d.queued, 0))) cJSON_AddItemToArray(queued, it);
        router_delivery_free(&d);
    }
    if (!refused) {
        cJSON *o = cJSON_CreateObject(), *ids = cJSON_CreateArray(), *sk = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
            if (skipped[i] == 1) cJSON_AddItemToArray(sk, cJSON_CreateNumber((double)i));
            if (skipped[i]) continue;
            added++;
            cJSON_AddItemToArray(ids, router_shown_id(cJSON_GetArrayItem(w->ids, (int)i)));
        }
        char prefix[400];
        coll_prefix(path, prefix, sizeof prefix);
        double total = router_cluster_total(r, m, prefix, known);
        int n_missing = cJSON_GetArraySize(missing);
        cJSON_AddNumberToObject(o, "added", (double)added);
        if (total >= 0) cJSON_AddNumberToObject(o, "total", total);
        else cJSON_AddNullToObject(o, "total");
        cJSON_AddItemToObject(o, "ids", ids);
        if (skip_empty) cJSON_AddItemToObject(o, "skipped", sk);
        else cJSON_Delete(sk);
        cJSON_AddBoolToObject(o, "partial", n_missing > 0);
        cJSON_AddItemToObject(o, "missing_shards", missing);
        if (n_missing) cJSON_AddItemToObject(o, "why", why);
        else cJSON_Delete(why);
        cJSON_AddItemToObject(o, "failed_replicas", failed);
        cJSON_AddItemToObject(o, "queued_for", queued);
        out->status = n_missing ? 503 : cJSON_GetArraySize(failed) ? 502 : 200;
        out->body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    } else {
        cJSON_Delete(failed), cJSON_Delete(queued), cJSON_Delete(missing), cJSON_Delete(why);
    }
    free(order), free(start), free(skipped), free(known);
}

static void rows_free(rows *w)
{
    cJSON_Delete(w->ids);
    free(w->owner);
}

void router_add(router *r, const char *path, const char *body, size_t len, router_reply *out)
{
    static const char *const allowed[] = {"vectors", "ids", "texts", "metadata", NULL};
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    rows w = {0};
    cJSON *req = router_parse(body, len, out);
    if (!req) goto done;
    if (!cJSON_IsObject(req)) {
        router_error(out, 400, "invalid_json", "the body must be a JSON object");
        goto done;
    }
    if (!router_only_fields(req, allowed, out)) goto done;
    const cJSON *vecs = cJSON_GetObjectItemCaseSensitive(req, "vectors"), *ids = cJSON_GetObjectItemCaseSensitive(req, "ids");
    if (!vecs) {
        router_error(out, 400, "bad_request", "'vectors' is required");
        goto done;
    }
    if (!cJSON_IsArray(vecs) || !cJSON_GetArraySize(vecs)) {
        router_error(out, 400, "bad_request", "'vectors' must be a non-empty array");
        goto done;
    }
    int n = cJSON_GetArraySize(vecs);
    static const char *const parallel[] = {"ids", "texts", "metadata"};
    for (int j = 0; j < 3; j++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, parallel[j]);
        if (a && (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)) {
            router_error(out, 400, "bad_request", "'%s' must be an array with one entry per vector (%d)", parallel[j], n);
            goto done;
        }
    }
    if (route_rows(r, m, path, ids, n, "ids", "", body, len, &w, out)) write_batch(r, m, path, req, &w, vectors_body, 0, out);
done:
    rows_free(&w);
    cJSON_Delete(req);
    free(m);
}

void router_index(router *r, const char *path, const char *body, size_t len, router_reply *out)
{
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    rows w = {0};
    cJSON *ids = NULL, *req = router_index_request(body, len, &ids, out);
    if (req && route_rows(r, m, path, ids, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(req, "documents")),
                          "documents", ".id", body, len, &w, out))
        write_batch(r, m, path, req, &w, index_body, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "skip_empty")), out);
    rows_free(&w);
    cJSON_Delete(ids);
    cJSON_Delete(req);
    free(m);
}

void router_delete(router *r, const char *prefix, const char *id, router_reply *out)
{
    char path[1400];
    if (vs_collection_key_check(id, NULL))
        return router_error(out, 400, "invalid_id", "document id in the path: %s", vs_last_error());
    if (!router_document_path(prefix, id, path, sizeof path)) return router_error(out, 400, "invalid_id", "id too long");
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    uint32_t s = vs_shard_of_key(id, m->n_shards);
    router_delivery d;
    router_deliver(r, m, s, "DELETE", path, "", 0, &d);
    cJSON *a = d.n_ok && d.answer ? cJSON_Parse(d.answer) : NULL;
    if (!d.n_ok && d.client_status) { /* 404 everywhere, or a refusal: the shard's answer */
        out->status = d.client_status;
        out->body = d.answer;
        d.answer = NULL;
    } else if (!d.n_ok) {
        const cJSON *f0 = cJSON_GetArrayItem(d.failed, 0), *e = cJSON_GetObjectItemCaseSensitive(f0, "error");
        router_error(out, 503, "shard_unavailable", "shard %u, which holds document '%s', has no replica that took the "
                     "delete (%s)", s, id, cJSON_IsString(e) ? e->valuestring : "no live replica");
    } else {
        double *known = malloc(m->n_shards * sizeof *known);
        for (uint32_t i = 0; known && i < m->n_shards; i++) known[i] = -1;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "total"), *del = cJSON_GetObjectItemCaseSensitive(a, "deleted");
        if (known && cJSON_IsNumber(t)) known[s] = t->valuedouble;
        double total = known ? router_cluster_total(r, m, prefix, known) : -1;
        free(known);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "deleted", del ? cJSON_Duplicate(del, 1) : cJSON_CreateString(id));
        if (total >= 0) cJSON_AddNumberToObject(o, "total", total);
        else cJSON_AddNullToObject(o, "total");
        cJSON_AddItemToObject(o, "failed_replicas", d.failed);
        cJSON_AddItemToObject(o, "queued_for", d.queued);
        d.failed = d.queued = NULL;
        out->status = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "failed_replicas")) ? 502 : 200;
        out->body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    cJSON_Delete(a);
    router_delivery_free(&d);
    free(m);
}

/* POST /collections and DELETE /collections/{name}: on every shard, delivered like any write
 * (a replica that is down gets it from the hint queue). The first shard checks the request for
 * all: its refusal is passed on and no other shard is asked. */
static void every_shard(router *r, const char *method, const char *path, const char *body, size_t len, router_reply *out)
{
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    cJSON *answer = NULL, *failed = cJSON_CreateArray(), *queued = cJSON_CreateArray(), *missing = cJSON_CreateArray(),
          *why = cJSON_CreateObject(), *it;
    int ok_status = 0;
    for (uint32_t s = 0; s < m->n_shards && !out->status; s++) {
        router_delivery d;
        router_deliver(r, m, s, method, path, body, len, &d);
        if (!d.n_ok && d.client_status && !answer) { /* refused by the first shard that read it */
            out->status = d.client_status;
            out->body = d.answer;
            d.answer = NULL;
        } else if (!d.n_ok) {
            char sid[16];
            snprintf(sid, sizeof sid, "%u", s);
            const cJSON *f0 = cJSON_GetArrayItem(d.failed, 0), *e = cJSON_GetObjectItemCaseSensitive(f0, "error");
            cJSON_AddItemToArray(missing, cJSON_CreateNumber(s));
            cJSON_AddStringToObject(why, sid, d.client_status ? "refused what other shards applied"
                                              : cJSON_IsString(e) ? e->valuestring : "no live replica");
        } else if (!answer) {
            answer = d.answer ? cJSON_Parse(d.answer) : NULL;
            ok_status = !strcmp(method, "POST") ? 201 : 200;
        }
        while ((it = cJSON_DetachItemFromArray(d.failed, 0))) cJSON_AddItemToArray(failed, it);
        while ((it = cJSON_DetachItemFromArray(d.queued, 0))) cJSON_AddItemToArray(queued, it);
        router_delivery_free(&d);
    }
    if (!out->status) {
        cJSON *o = cJSON_IsObject(answer) ? answer : cJSON_CreateObject();
        if (o != answer) cJSON_Delete(answer);
        int n_missing = cJSON_GetArraySize(missing);
        cJSON_AddBoolToObject(o, "partial", n_missing > 0);
        cJSON_AddItemToObject(o, "missing_shards", missing);
        if (n_missing) cJSON_AddItemToObject(o, "why", why);
        else cJSON_Delete(why);
        cJSON_AddItemToObject(o, "failed_replicas", failed);
        cJSON_AddItemToObject(o, "queued_for", queued);
        out->status = n_missing ? 503 : cJSON_GetArraySize(failed) ? 502 : ok_status;
        out->body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    } else {
        cJSON_Delete(answer), cJSON_Delete(failed), cJSON_Delete(queued), cJSON_Delete(missing), cJSON_Delete(why);
    }
    free(m);
}

void router_collection_create(router *r, const char *body, size_t len, router_reply *out)
{
    every_shard(r, "POST", "/collections", body, len, out);
}

void router_collection_delete(router *r, const char *prefix, router_reply *out)
{
    every_shard(r, "DELETE", prefix, "", 0, out);
    if (out->status == 200) router_ids_drop(r, prefix + 13); /* after "/collections/" */
}
