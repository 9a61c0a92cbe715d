/* The single server's write API through the replicated log: what router_log.c publishes,
 * checked first as one server checks it (router_check.c: the same status and error code, and
 * nothing published for a refused request) and answered in one server's shape, so a client
 * cannot tell the cluster from one `vecscale serve`:
 *   POST .../vectors   ids optional (automatic ids from etcd, router_ids.c); answer "added",
 *                      "total", "ids" as one server, plus the log's "stored" (and "applied")
 *   POST .../index     the server's three body shapes and field rules; "total" added
 *   DELETE .../documents/{id}   answer {"deleted": id, "total"} plus the stored sequence; 404
 *                      document_not_found when a replica that applied its whole stream lacks it
 *   POST /collections  409 collection_exists when the cluster has it; answered with the new
 *                      collection's stats (201) once its replicas created it
 *   DELETE /collections/{name}  published to every shard's stream as a "drop" (the replicas
 *                      drop it in log order, src/server/log_apply.c); 404 when absent
 * "total" is what the replicas have applied when the answer is sent: after "wait":
 * "applied" it includes this write (read-your-writes), otherwise it may not yet.
 * What only a replica finds out when it applies a write (an id the collection already holds,
 * a text none of whose words the model knows, a model a replica cannot open) is not known
 * when the log acknowledges it: the replicas refuse it alike and it is not stored. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/error.h"
#include "http/http_client.h"
#include "log/jetstream.h"
#include "router/router_impl.h"

#define LOG_FIELDS "wait", "wait_timeout_ms", "request_id"

/* "" for the default collection's routes, else "/collections/NAME" (0 if malformed). */
static int coll_prefix(const char *url, char *out, size_t cap)
{
    if (strncmp(url, "/collections/", 13)) {
        out[0] = 0;
        return 1;
    }
    const char *slash = strchr(url + 13, '/');
    size_t n = slash ? (size_t)(slash - url) : strlen(url);
    if (n == 13 || n >= cap) return 0;
    snprintf(out, cap, "%.*s", (int)n, url);
    return 1;
}

/* Adds "total" (the shards' counts now, null if a shard did not answer) and "ids" (ids, else
 * the reply's own) as one server shows them to a 200 reply. */
static void add_total(router *r, const char *prefix, router_reply *out, const cJSON *ids)
{
    if (out->status != 200 || !out->body) return;
    cJSON *o = cJSON_Parse(out->body);
    vs_cluster_map *m = malloc(sizeof *m);
    double *known = m ? malloc(VS_CLUSTER_MAX_SHARDS * sizeof *known) : NULL;
    router_reply no_map = {0};
    if (cJSON_IsObject(o) && known && router_snapshot_map(r, m, &no_map)) {
        for (uint32_t s = 0; s < VS_CLUSTER_MAX_SHARDS; s++) known[s] = -1;
        double total = router_cluster_total(r, m, prefix, known);
        cJSON_DeleteItemFromObjectCaseSensitive(o, "total");
        if (total >= 0) cJSON_AddNumberToObject(o, "total", total);
        else cJSON_AddNullToObject(o, "total");
        /* the ids as one server shows them ("17" as 17), the request's or the log's answer's */
        cJSON *had = cJSON_DetachItemFromObjectCaseSensitive(o, "ids");
        const cJSON *id, *from = ids ? ids : had;
        cJSON *shown = from ? cJSON_AddArrayToObject(o, "ids") : NULL;
        cJSON_ArrayForEach(id, from) cJSON_AddItemToArray(shown, router_shown_id(id));
        cJSON_Delete(had);
        char *b = cJSON_PrintUnformatted(o);
        if (b) {
            free(out->body);
            out->body = b;
        }
    }
    free(no_map.body);
    cJSON_Delete(o);
    free(known);
    free(m);
}

/* Each id of arr checked as one server reads it (router_read_id); what: "'ids'[%d]" names it. */
static void check_ids(const cJSON *arr, const char *what_fmt, const char *body, size_t len, uint32_t n_shards,
                      router_reply *out)
{
    int i = 0;
    const cJSON *id;
    cJSON_ArrayForEach(id, arr)
    {
        if (out->status) break;
        char what[64];
        uint32_t owner;
        int64_t as_int;
        snprintf(what, sizeof what, what_fmt, i++);
        router_read_id(id, body, len, what, n_shards, &owner, &as_int, out);
    }
}

/* POST .../vectors: the server's checks, automatic ids where none are given. */
static void api_vectors(router *r, const char *url, const char *prefix, const char *body, size_t len, router_reply *out)
{
    static const char *const allowed[] = {"vectors", "ids", "texts", "metadata", LOG_FIELDS, NULL};
    static const char *const parallel[] = {"ids", "texts", "metadata"};
    cJSON *req = router_parse(body, len, out);
    if (!req) return;
    vs_cluster_map *m = malloc(sizeof *m);
    const cJSON *vecs = cJSON_GetObjectItemCaseSensitive(req, "vectors");
    cJSON *ids = cJSON_GetObjectItemCaseSensitive(req, "ids");
    int n = cJSON_GetArraySize(vecs);
    if (!m) {
        router_error(out, 500, "internal", "out of memory");
    } else if (!router_snapshot_map(r, m, out)) {
    } else if (!cJSON_IsObject(req)) {
        router_error(out, 400, "invalid_json", "the body must be a JSON object");
    } else if (!router_only_fields(req, allowed, out)) {
    } else if (!vecs) {
        router_error(out, 400, "bad_request", "'vectors' is required");
    } else if (!cJSON_IsArray(vecs) || !n) {
        router_error(out, 400, "bad_request", "'vectors' must be a non-empty array");
    } else {
        for (int j = 0; j < 3 && !out->status; j++) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, parallel[j]);
            if (a && (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n))
                router_error(out, 400, "bad_request", "'%s' must be an array with one entry per vector (%d)", parallel[j], n);
        }
        if (!out->status) check_ids(ids, "'ids'[%d]", body, len, m->n_shards, out);
        int64_t first = 0;
        if (!out->status && !ids) {
            if (router_ids_reserve(r, *prefix ? prefix + 13 : "", (size_t)n, &first))
                router_error(out, 503, "ids_unavailable", "reserving %d automatic ids in etcd: %s", n, vs_last_error());
            else {
                ids = cJSON_AddArrayToObject(req, "ids");
                for (int k = 0; k < n; k++) cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)(first + k)));
            }
        }
        char *sent = out->status ? NULL : cJSON_PrintUnformatted(req);
        if (sent) {
            router_log_route(r, "POST", url, sent, strlen(sent), out);
            add_total(r, prefix, out, ids);
        } else if (!out->status) {
            router_error(out, 500, "internal", "out of memory");
        }
        cJSON_free(sent);
    }
    free(m);
    cJSON_Delete(req);
}

/* POST .../index: the server's shapes and rules checked here; router_log_docs.c gives ids. */
static void api_index(router *r, const char *url, const char *prefix, const char *body, size_t len, router_reply *out)
{
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    cJSON *given = NULL, *norm = router_snapshot_map(r, m, out) ? router_index_request(body, len, &given, out) : NULL;
    if (!out->status) check_ids(given, "'documents'[%d].id", body, len, m->n_shards, out);
    if (norm && !out->status) {
        router_log_route(r, "POST", url, body, len, out);
        add_total(r, prefix, out, NULL);
    }
    cJSON_Delete(norm);
    cJSON_Delete(given);
    free(m);
}

/* One server answers 404 for a document it does not hold. The router says the same when a live
 * replica of the owning shard has applied the shard's stream up to its last sequence and does
 * not hold the document: no write stored before this delete can still add it. 1 and the
 * replica's 404 in out; 0 (the delete is published) when that cannot be told. */
static int absent_now(router *r, const char *prefix, const char *key, router_reply *out)
{
    const char *coll = *prefix ? prefix + 13 : "default";
    vs_cluster_map *m = malloc(sizeof *m);
    CURL *h = NULL;
    int found = 0;
    router_reply no_map = {0};
    if (m && router_snapshot_map(r, m, &no_map) && vs_http_easy(&h) == VS_OK) {
        uint32_t s = vs_shard_of_key(key, m->n_shards);
        uint64_t first = 0, last = 0;
        char url[1600], doc[1400];
        for (uint32_t i = 0; i < m->n_replicas[s] && !found; i++) {
            if (!m->replicas[s][i].url[0]) continue;
            if (vs_js_stream_seqs(r->js, coll, s, &first, &last) != VS_OK) break;
            snprintf(url, sizeof url, "%s/collections/%s", m->replicas[s][i].url, coll);
            vs_buf b = {0};
            vs_http_timeouts to = {.total_ms = 1000};
            vs_http_setup(h, url, &to, NULL);
            vs_http_collect(h, &b);
            cJSON *st = curl_easy_perform(h) == CURLE_OK && vs_http_status(h) == 200 ? cJSON_ParseWithLength(b.data, b.len) : NULL;
            const cJSON *pos = cJSON_GetObjectItemCaseSensitive(st, "log_position");
            int current = cJSON_IsNumber(pos) && pos->valuedouble >= (double)last;
            cJSON_Delete(st);
            vs_buf_free(&b);
            if (!current || !router_document_path(prefix, key, doc, sizeof doc)) continue;
            snprintf(url, sizeof url, "%s%s", m->replicas[s][i].url, doc);
            b = (vs_buf){0};
            vs_http_setup(h, url, &to, NULL);
            vs_http_collect(h, &b);
            if (curl_easy_perform(h) == CURLE_OK && vs_http_status(h) == 404 && b.data &&
                strstr(b.data, "\"document_not_found\"")) {
                out->status = 404;
                out->body = strndup(b.data, b.len);
                found = out->body != NULL;
            }
            vs_buf_free(&b);
            break; /* one current replica's word is the shard's */
        }
    }
    if (h) curl_easy_cleanup(h);
    free(no_map.body);
    free(m);
    return found;
}

/* DELETE .../documents/{id}: answered {"deleted": id, "total"} as one server, 404 when absent. */
static void api_delete(router *r, const char *url, const char *prefix, router_reply *out)
{
    const char *key = url + strlen(prefix) + 11; /* after <prefix>/documents/ */
    if (vs_collection_key_check(key, NULL))
        return router_error(out, 400, "invalid_id", "document id in the path: %s", vs_last_error());
    if (absent_now(r, prefix, key, out)) return;
    router_log_route(r, "DELETE", url, "", 0, out);
    if (out->status != 200) return;
    cJSON *o = cJSON_Parse(out->body), *k = cJSON_CreateString(key), *shown = router_shown_id(k);
    cJSON_Delete(k);
    if (cJSON_IsObject(o)) {
        cJSON_ReplaceItemInObjectCaseSensitive(o, "deleted", shown);
        shown = NULL;
        char *b = cJSON_PrintUnformatted(o);
        if (b) free(out->body), out->body = b;
    }
    cJSON_Delete(shown);
    cJSON_Delete(o);
    add_total(r, prefix, out, NULL);
}

/* The HTTP status of GET url (0: no answer within timeout_ms). */
static long get_status(CURL *h, const char *url, long timeout_ms)
{
    vs_buf b = {0};
    vs_http_timeouts to = {.total_ms = timeout_ms};
    vs_http_setup(h, url, &to, NULL);
    vs_http_collect(h, &b);
    long st = curl_easy_perform(h) == CURLE_OK ? vs_http_status(h) : 0;
    vs_buf_free(&b);
    return st;
}

/* Polls GET <replica>/collections/NAME on every live replica until each answers want (200: the
 * collection exists there, 404: it does not), for at most timeout_ms (0: one look). Returns 1
 * when all did; *any_200 (if given) says whether some replica has the collection. */
static int replicas_say(router *r, const char *prefix, long want, long timeout_ms, int *any_200)
{
    vs_cluster_map *m = malloc(sizeof *m);
    CURL *h = NULL;
    vs_http_easy(&h);
    double deadline = router_now() + timeout_ms / 1000.0;
    int all = 0;
    while (m && h) {
        pthread_mutex_lock(&r->lock);
        *m = r->map;
        pthread_mutex_unlock(&r->lock);
        all = 1;
        if (any_200) *any_200 = 0;
        for (uint32_t s = 0; s < m->n_shards; s++)
            for (uint32_t i = 0; i < m->n_replicas[s]; i++) {
                if (!m->replicas[s][i].url[0]) continue; /* down: it applies the stream when back */
                char url[700];
                snprintf(url, sizeof url, "%s%s", m->replicas[s][i].url, prefix);
                long st = get_status(h, url, 1000);
                if (any_200 && st == 200) *any_200 = 1;
                all &= st == want;
            }
        if (all || router_now() >= deadline) break;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (h) curl_easy_cleanup(h);
    free(m);
    return all;
}

static long wait_timeout(const cJSON *req)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "wait_timeout_ms");
    return cJSON_IsNumber(t) && t->valuedouble >= 1 && t->valuedouble <= 600000 ? (long)t->valuedouble : 5000;
}

/* POST /collections: 409 if the cluster has it; after the log stored the create, the new
 * collection's stats (201) once every shard's replica has it. */
static void api_create(router *r, const char *body, size_t len, router_reply *out)
{
    static const char *const allowed[] = {"name", "dimension", "metric", "model", "index", "train_min", LOG_FIELDS, NULL};
    cJSON *req = router_parse(body, len, out);
    if (!req) return;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
    char prefix[200] = "";
    if (!cJSON_IsObject(req)) {
        router_error(out, 400, "invalid_json", "the body must be a JSON object");
    } else if (router_only_fields(req, allowed, out)) {
        int named = cJSON_IsString(name) && strlen(name->valuestring) <= 64 && !strchr(name->valuestring, '/');
        if (named) snprintf(prefix, sizeof prefix, "/collections/%s", name->valuestring);
        int exists = 0;
        if (named) replicas_say(r, prefix, 404, 0, &exists);
        if (exists) {
            router_error(out, 409, "collection_exists", "collection '%s' already exists", name->valuestring);
        } else {
            router_log_route(r, "POST", "/collections", body, len, out);
            router_reply st = {0};
            /* answered with the collection's stats once every live replica created it; else
             * (a replica refused it, e.g. a model it cannot open, or the deadline passed) the
             * log's answer with "applied": false */
            int made = out->status == 201 && replicas_say(r, prefix, 200, wait_timeout(req), NULL);
            if (made) router_stats(r, prefix, &st);
            cJSON *o = out->status == 201 && st.status != 200 ? cJSON_Parse(out->body) : NULL;
            if (st.status == 200) {
                free(out->body);
                out->body = st.body;
                st.body = NULL;
            } else if (cJSON_IsObject(o)) {
                cJSON_AddBoolToObject(o, "applied", 0);
                char *b = cJSON_PrintUnformatted(o);
                if (b) free(out->body), out->body = b;
            }
            cJSON_Delete(o);
            free(st.body);
        }
    }
    cJSON_Delete(req);
}

/* DELETE /collections/{name}: a "drop" on every shard's stream, answered once the replicas
 * dropped it (or at the deadline, with "applied": false). */
static void api_drop(router *r, const char *prefix, router_reply *out)
{
    const char *name = prefix + 13;
    int exists = 0;
    replicas_say(r, prefix, 404, 0, &exists);
    if (!exists) return router_error(out, 404, "collection_not_found", "collection '%s' does not exist", name);
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    uint64_t v[2] = {0, 0};
    if (getrandom(v, sizeof v, 0) != (ssize_t)sizeof v) v[0] = (uint64_t)(router_now() * 1e9);
    for (uint32_t s = 0; s < m->n_shards; s++) {
        char msg_id[400];
        snprintf(msg_id, sizeof msg_id, "drop:%s:%u:r-%016llx%016llx", name, s, (unsigned long long)v[0],
                 (unsigned long long)v[1]);
        uint64_t seq = 0;
        int dup = 0;
        if (vs_js_publish(r->js, name, s, "drop", "", 0, msg_id, 15000, &seq, &dup) != VS_OK) {
            router_error(out, 503, "log_unavailable", "shard %u: the drop was not stored: %s", s, vs_last_error());
            return free(m);
        }
    }
    free(m);
    router_ids_drop(r, name);
    int applied = replicas_say(r, prefix, 404, 5000, NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "deleted", name);
    cJSON_AddBoolToObject(o, "applied", applied);
    out->status = 200;
    out->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
}

int router_log_api(router *r, const char *method, const char *url, const char *body, size_t len, router_reply *out)
{
    int post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
    char prefix[200];
    if (post && (!strcmp(url, "/collections") || !strcmp(url, "/collections/"))) api_create(r, body, len, out);
    else if (!coll_prefix(url, prefix, sizeof prefix)) return 0;
    else if (del && *prefix && !url[strlen(prefix)]) api_drop(r, prefix, out);
    else if (post && !strcmp(url + strlen(prefix), "/vectors")) api_vectors(r, url, prefix, body, len, out);
    else if (post && !strcmp(url + strlen(prefix), "/index")) api_index(r, url, prefix, body, len, out);
    else if (del && !strncmp(url + strlen(prefix), "/documents/", 11)) api_delete(r, url, prefix, out);
    else return 0;
    if (!out->status) router_error(out, 500, "internal", "no answer");
    return 1;
}
