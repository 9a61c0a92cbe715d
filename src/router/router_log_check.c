/* What the router checks before it publishes a write (issue 16). Once the log stored a write
 * the client has its acknowledgement, and a replica that refuses it when applying can only
 * count and log it (log_apply.c): so what a replica would refuse is refused here, before
 * publishing. Texts are embedded by the replicas, so /index asks one live replica to do all
 * of it but the storing ({"dry_run": true}: the same parsing, model and embedding, hence the
 * same verdict and words); /vectors, the hot path, is checked here against the collection's
 * dimension, asked from a replica and cached for a few seconds. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "http/http_client.h"
#include "log/jetstream.h"
#include "router/router_impl.h"

#define ASK_TIMEOUT_MS 10000
/* A collection created through the log a moment ago may not be applied by any replica yet. */
#define CREATE_WAIT_S 5.0
#define DIM_TTL_S 5.0

typedef struct {
    long status; /* 0: no replica answered */
    vs_buf body;
    char who[80];
} answer;

/* One exchange with the first live replica that answers (any shard: they all hold every
 * collection with the same settings and model). A 404 for the collection while its stream
 * exists is a create not applied yet: asked again until CREATE_WAIT_S. */
static void ask_replica(router *r, const char *coll, const char *path, const char *body, answer *a)
{
    vs_cluster_map *m = malloc(sizeof *m);
    CURL *h = NULL;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    a->status = 0;
    if (!m || !hdrs || vs_http_easy(&h) != VS_OK) goto out;
    double deadline = router_now() + CREATE_WAIT_S;
    int stream_checked = 0;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        *m = r->map;
        unsigned long start = r->rr++;
        pthread_mutex_unlock(&r->lock);
        int saw_404 = 0;
        uint32_t total = 0;
        for (uint32_t s = 0; s < m->n_shards; s++) total += m->n_replicas[s];
        for (uint32_t k = 0; k < total; k++) {
            uint32_t idx = (uint32_t)((start + k) % total), s = 0;
            while (idx >= m->n_replicas[s]) idx -= m->n_replicas[s++];
            const char *url = m->replicas[s][idx].url;
            if (!url[0]) continue;
            char u[2048];
            snprintf(u, sizeof u, "%s%s", url, path);
            vs_http_timeouts to = {.connect_ms = 1000, .total_ms = ASK_TIMEOUT_MS};
            vs_http_setup(h, u, &to, NULL);
            if (body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
            }
            a->body.len = 0;
            vs_http_collect(h, &a->body);
            long st = curl_easy_perform(h) == CURLE_OK ? vs_http_status(h) : 0;
            if (st == 404) {
                saw_404 = 1;
                continue;
            }
            if (st == 0 || st >= 500) continue;
            a->status = st;
            snprintf(a->who, sizeof a->who, "%s", m->replicas[s][idx].id);
            goto out;
        }
        if (saw_404 && !stream_checked) {
            stream_checked = 1;
            uint64_t first, last;
            if (strcmp(coll, "default") && vs_js_stream_seqs(r->js, coll, 0, &first, &last) == VS_ERR_NOT_FOUND) {
                a->status = 404; /* no stream: the collection was never created */
                goto out;
            }
        }
        if (!saw_404 || router_now() > deadline) {
            if (saw_404) a->status = 404;
            goto out;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
out:
    if (h) curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    free(m);
}

/* A replica's refusal as the router's: same status and error code, its message with the
 * documents' positions as the client sent them. */
static int relay(const answer *a, const char *coll, router_reply *out)
{
    if (a->status == 404)
        return router_error(out, 404, "collection_not_found", "collection '%s' does not exist on any live replica", coll), 0;
    if (!a->status)
        return router_error(out, 503, "no_replica",
                            "no live replica could check the write, so it was not published (the log acknowledges only "
                            "what its replicas will apply)"), 0;
    cJSON *o = cJSON_ParseWithLength(a->body.data, a->body.len);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "error"), *msg = cJSON_GetObjectItemCaseSensitive(o, "message");
    if (cJSON_IsObject(code)) { /* {"error": {"code", "message"}} */
        msg = cJSON_GetObjectItemCaseSensitive(code, "message");
        code = cJSON_GetObjectItemCaseSensitive(code, "code");
    }
    router_error(out, (int)a->status, cJSON_IsString(code) ? code->valuestring : "bad_request",
                 "not published (checked on replica %s): %s", a->who,
                 cJSON_IsString(msg) ? msg->valuestring : "the replica refused the write");
    cJSON_Delete(o);
    return 0;
}

int router_log_check_index(router *r, const char *coll, const cJSON *docs, const cJSON *skip, router_reply *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(o, "documents", (cJSON *)docs);
    if (cJSON_IsBool(skip)) cJSON_AddBoolToObject(o, "skip_empty", cJSON_IsTrue(skip));
    cJSON_AddTrueToObject(o, "dry_run");
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body) return router_error(out, 500, "internal", "out of memory"), 0;
    char path[200];
    snprintf(path, sizeof path, "/collections/%s/index", coll);
    answer a = {0};
    ask_replica(r, coll, path, body, &a);
    cJSON_free(body);
    int ok = a.status == 200 || relay(&a, coll, out);
    vs_buf_free(&a.body);
    return ok;
}

/* The collection's dimension, cached per router and collection for DIM_TTL_S (a collection
 * dropped and made again with another dimension is refused wrongly for at most that long:
 * a refusal first asks again). */
static struct {
    const router *r;
    char coll[80];
    uint32_t dim;
    double at;
} dims[32];
static pthread_mutex_t dims_mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t dimension(router *r, const char *coll, int fresh, router_reply *out)
{
    double now = router_now();
    pthread_mutex_lock(&dims_mu);
    size_t slot = 0;
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        if (dims[i].r == r && !strcmp(dims[i].coll, coll)) {
            uint32_t d = dims[i].dim;
            int ok = d && now - dims[i].at < (fresh ? 0.2 : DIM_TTL_S);
            pthread_mutex_unlock(&dims_mu);
            if (ok) return d;
            goto ask;
        }
        if (dims[i].at < dims[slot].at) slot = i;
    }
    pthread_mutex_unlock(&dims_mu);
ask:;
    char path[200];
    snprintf(path, sizeof path, "/collections/%s", coll);
    answer a = {0};
    ask_replica(r, coll, path, NULL, &a);
    uint32_t d = 0;
    if (a.status == 200) {
        cJSON *o = cJSON_ParseWithLength(a.body.data, a.body.len);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "dimension");
        if (cJSON_IsNumber(v) && v->valuedouble >= 1) d = (uint32_t)v->valuedouble;
        cJSON_Delete(o);
        if (!d) a.status = 0;
    }
    if (!d) relay(&a, coll, out);
    vs_buf_free(&a.body);
    if (!d) return 0;
    pthread_mutex_lock(&dims_mu);
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].r == r && !strcmp(dims[i].coll, coll)) slot = i;
    dims[slot].r = r;
    snprintf(dims[slot].coll, sizeof dims[slot].coll, "%s", coll);
    dims[slot].dim = d;
    dims[slot].at = router_now();
    pthread_mutex_unlock(&dims_mu);
    return d;
}

/* The first vector a replica would refuse, as its message (or NULL). */
static int bad_vector(const cJSON *vecs, uint32_t dim, char *why, size_t cap)
{
    int i = 0;
    for (const cJSON *v = vecs->child; v; v = v->next, i++) {
        if (!cJSON_IsArray(v)) return snprintf(why, cap, "'vectors'[%d] must be an array of %u numbers", i, dim), 1;
        int n = cJSON_GetArraySize(v);
        if ((uint32_t)n != dim)
            return snprintf(why, cap, "'vectors'[%d] has %d components; the collection's dimension is %u", i, n, dim), 2;
        int j = 0;
        for (const cJSON *e = v->child; e; e = e->next, j++)
            if (!cJSON_IsNumber(e) || !isfinite((float)e->valuedouble))
                return snprintf(why, cap, "'vectors'[%d][%d] is not a finite float32 number", i, j), 1;
    }
    return 0;
}

/* A replica refuses more per request than its --max-batch (default 10000); a shard's part
 * can be the whole request. A replica started with a smaller one still refuses (counted). */
#define MAX_BATCH 10000

int router_log_check_vectors(router *r, const char *coll, const cJSON *req, router_reply *out)
{
    const cJSON *vecs = cJSON_GetObjectItemCaseSensitive(req, "vectors");
    if (cJSON_GetArraySize(vecs) > MAX_BATCH)
        return router_error(out, 400, "batch_too_large", "%d vectors; at most %d per request through the write log "
                            "(the replicas' default --max-batch)", cJSON_GetArraySize(vecs), MAX_BATCH), 0;
    static const char *const parallel[] = {"texts", "metadata"};
    for (int f = 0; f < 2; f++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, parallel[f]);
        if (!a) continue;
        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != cJSON_GetArraySize(vecs))
            return router_error(out, 400, "bad_request", "'%s' must be an array with one entry per vector (%d)", parallel[f],
                                cJSON_GetArraySize(vecs)), 0;
        int i = 0;
        for (const cJSON *e = a->child; e; e = e->next, i++)
            if (!cJSON_IsNull(e) && !(f ? cJSON_IsObject(e) : cJSON_IsString(e)))
                return router_error(out, 400, f ? "invalid_metadata" : "bad_request", "'%s'[%d] must be %s or null",
                                    parallel[f], i, f ? "a JSON object" : "a string"), 0;
    }
    uint32_t dim = dimension(r, coll, 0, out);
    if (!dim) return 0;
    char why[200];
    int bad = bad_vector(vecs, dim, why, sizeof why);
    if (bad == 2 && (dim = dimension(r, coll, 1, out)) != 0) bad = bad_vector(vecs, dim, why, sizeof why);
    if (!dim) return 0;
    if (bad) return router_error(out, 400, bad == 2 ? "dimension_mismatch" : "invalid_vector", "%s", why), 0;
    return 1;
}

typedef struct {
    char *key; /* the id as a replica keys it: an integer's digits, else "s:" + the string */
    int pos;
} id_key;

static int by_key(const void *a, const void *b) { return strcmp(((const id_key *)a)->key, ((const id_key *)b)->key); }

int router_log_check_unique(const cJSON *const *ids, int n, router_reply *out)
{
    id_key *k = calloc((size_t)n, sizeof *k);
    int ok = k != NULL, dup = -1;
    for (int i = 0; ok && i < n; i++) {
        char buf[300];
        int64_t v = -1;
        if (cJSON_IsNumber(ids[i])) snprintf(buf, sizeof buf, "%.0f", ids[i]->valuedouble);
        else if (cJSON_IsString(ids[i]) && vs_collection_key_check(ids[i]->valuestring, &v) == VS_OK && v >= 0)
            snprintf(buf, sizeof buf, "%lld", (long long)v); /* "7" is id 7, as on a replica */
        else snprintf(buf, sizeof buf, "s:%s", cJSON_IsString(ids[i]) ? ids[i]->valuestring : "");
        k[i].pos = i;
        ok = (k[i].key = strdup(buf)) != NULL;
    }
    if (ok) qsort(k, (size_t)n, sizeof *k, by_key);
    for (int i = 1; ok && i < n && dup < 0; i++)
        if (!strcmp(k[i - 1].key, k[i].key)) dup = i;
    /* A replica refuses the whole batch with 409, the answer it gives a write applied twice,
     * so the log would count it applied: one server answers 409, and so does the router. */
    if (dup >= 0) {
        int a = k[dup - 1].pos < k[dup].pos ? k[dup - 1].pos : k[dup].pos;
        int b = k[dup - 1].pos < k[dup].pos ? k[dup].pos : k[dup - 1].pos;
        router_error(out, 409, "duplicate_id", "id \"%s\" appears twice in the batch (positions %d and %d)",
                     k[dup].key + (strncmp(k[dup].key, "s:", 2) ? 0 : 2), a, b);
    } else if (!ok) {
        router_error(out, 500, "internal", "out of memory");
    }
    for (int i = 0; k && i < n; i++) free(k[i].key);
    free(k);
    return ok && dup < 0;
}
