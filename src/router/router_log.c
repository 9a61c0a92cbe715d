/* Writes through the replicated log (`route --nats`, issue 16): the router splits a write by
 * owner shard and publishes each part to that shard's JetStream stream; the client's answer
 * comes once JetStream stored every part on a quorum of its NATS nodes. The router keeps no
 * state: the replicas apply the streams (src/server/log_apply.c), any number of routers may
 * publish, and a router that dies loses nothing it acknowledged.
 *
 * Message ids (Nats-Msg-Id, deduplicated by the stream within its window) are
 * "<op>:<collection>:<shard>:<document id(s)>:<nonce>", the nonce being the client's
 * "request_id" when it sent one (so a client that retries a request whose answer it lost,
 * through this router or another, stores it once) and a random one otherwise (the router's
 * own retries inside vs_js_publish reuse it).
 *
 * "wait": "applied" in a write's body makes the answer wait (at most "wait_timeout_ms",
 * default 5000) until every live replica of the shards written has applied the part's stream
 * sequence (GET /collections/{name} on the replica: log_position), i.e. read-your-writes. */
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

#define DUP_WINDOW_S ROUTER_LOG_DUP_WINDOW_S
#define PUBLISH_BUDGET_MS 15000

/* The collection a write path names: /collections/NAME/... or the default collection. */
static int path_collection(const char *path, char *out, size_t cap)
{
    if (strncmp(path, "/collections/", 13)) {
        snprintf(out, cap, "default");
        return 1;
    }
    const char *name = path + 13, *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : strlen(name);
    if (n == 0 || n >= cap) return 0;
    memcpy(out, name, n);
    out[n] = 0;
    return 1;
}

const char *router_log_request_id(const cJSON *req)
{
    const cJSON *rid = cJSON_IsObject(req) ? cJSON_GetObjectItemCaseSensitive(req, "request_id") : NULL;
    if (cJSON_IsString(rid) && rid->valuestring[0] && strlen(rid->valuestring) <= 64 &&
        !strpbrk(rid->valuestring, " \t\r\n"))
        return rid->valuestring;
    return NULL;
}

static void new_nonce(const cJSON *req, char *out, size_t cap)
{
    const char *rid = router_log_request_id(req);
    if (rid) {
        snprintf(out, cap, "c-%s", rid);
        return;
    }
    uint64_t v[2] = {0, 0};
    if (getrandom(v, sizeof v, 0) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)out;
    }
    snprintf(out, cap, "r-%016llx%016llx", (unsigned long long)v[0], (unsigned long long)v[1]);
}

/* FNV-1a: a short, stable stand-in for long document ids inside a message id. */
static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The sub-request for one shard: the same parallel fields, keeping only the rows it owns. */
static char *router_sub_body(const cJSON *req, const size_t *rows, size_t n)
{
    static const char *const parallel[] = {"vectors", "ids", "texts", "metadata"};
    cJSON *o = cJSON_CreateObject();
    for (size_t f = 0; f < 4; f++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, parallel[f]);
        if (!cJSON_IsArray(a)) continue;
        cJSON *sub = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(sub, cJSON_Duplicate(cJSON_GetArrayItem(a, (int)rows[i]), 1));
        cJSON_AddItemToObject(o, parallel[f], sub);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

typedef struct {
    long timeout_ms;
    int wait_applied;
} wait_opts;

/* 0 = replied 400. */
static int read_wait(const cJSON *req, wait_opts *w, router_reply *out)
{
    w->wait_applied = 0;
    w->timeout_ms = 5000;
    const cJSON *wait = cJSON_GetObjectItemCaseSensitive(req, "wait"), *t = cJSON_GetObjectItemCaseSensitive(req, "wait_timeout_ms");
    if (wait && !(cJSON_IsString(wait) && (!strcmp(wait->valuestring, "applied") || !strcmp(wait->valuestring, "stored"))))
        return router_error(out, 400, "bad_request", "'wait' is \"stored\" (the default: JetStream holds the write) or "
                                                     "\"applied\" (every live replica applied it)"), 0;
    if (t && (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > 600000))
        return router_error(out, 400, "bad_request", "'wait_timeout_ms' must be 1 to 600000"), 0;
    w->wait_applied = wait && !strcmp(wait->valuestring, "applied");
    if (t) w->timeout_ms = (long)t->valuedouble;
    return 1;
}

/* Number fields of a replica's JSON answer to GET url within timeout_ms: bit k of the result
 * says out[k] was found (0: unreachable, not 200, not JSON, no such numbers). */
static int replica_numbers(CURL *h, const char *url, long timeout_ms, const char *const *fields, int n, double *out)
{
    vs_buf b = {0};
    vs_http_timeouts to = {.total_ms = timeout_ms};
    vs_http_setup(h, url, &to, NULL);
    vs_http_collect(h, &b);
    int found = 0;
    if (curl_easy_perform(h) == CURLE_OK && vs_http_status(h) == 200 && b.data) {
        cJSON *o = cJSON_ParseWithLength(b.data, b.len);
        for (int k = 0; k < n; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, fields[k]);
            if (cJSON_IsNumber(v)) {
                out[k] = v->valuedouble;
                found |= 1 << k;
            }
        }
        cJSON_Delete(o);
    }
    vs_buf_free(&b);
    return found;
}

static int replica_number(CURL *h, const char *url, long timeout_ms, const char *field, double *out)
{
    return replica_numbers(h, url, timeout_ms, &field, 1, out);
}

/* The replica's applied position of collection coll (0 when unknown or unreachable). */
static uint64_t replica_position(CURL *h, const char *url, const char *coll)
{
    char u[700];
    snprintf(u, sizeof u, "%s/collections/%s", url, coll);
    double pos = 0;
    return replica_number(h, u, 500, "log_position", &pos) ? (uint64_t)pos : 0;
}

/* Waits until every live replica of each shard s with seqs[s] > 0 applied seqs[s]; adds
 * "applied": true/false and, when false, the replicas still behind. */
static void wait_applied(router *r, const char *coll, const uint64_t *seqs, const wait_opts *w, cJSON *o)
{
    vs_cluster_map *m = malloc(sizeof *m);
    CURL *h = NULL;
    vs_http_easy(&h);
    cJSON *behind = cJSON_CreateArray();
    double deadline = router_now() + w->timeout_ms / 1000.0;
    int done = 0;
    while (m && h && !done) {
        pthread_mutex_lock(&r->lock);
        *m = r->map;
        pthread_mutex_unlock(&r->lock);
        cJSON_Delete(behind);
        behind = cJSON_CreateArray();
        done = 1;
        for (uint32_t s = 0; s < m->n_shards; s++) {
            if (!seqs[s]) continue;
            for (uint32_t i = 0; i < m->n_replicas[s]; i++) {
                if (!m->replicas[s][i].url[0]) continue; /* down: it catches up when back */
                if (replica_position(h, m->replicas[s][i].url, coll) >= seqs[s]) continue;
                done = 0;
                cJSON_AddItemToArray(behind, cJSON_CreateString(m->replicas[s][i].id));
            }
        }
        if (done || router_now() > deadline) break;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    cJSON_AddBoolToObject(o, "applied", done);
    if (!done) cJSON_AddItemToObject(o, "not_applied_by", behind);
    else cJSON_Delete(behind);
    if (h) curl_easy_cleanup(h);
    free(m);
}

int router_lagging(const router *r, uint32_t s, uint32_t i)
{
    return r->js && r->lag[s][i] > (int64_t)r->cfg->max_lag;
}

void router_log_poll_lag(router *r, const vs_cluster_map *m)
{
    CURL *h = NULL;
    vs_http_easy(&h);
    for (uint32_t s = 0; h && s < m->n_shards; s++)
        for (uint32_t i = 0; i < m->n_replicas[s]; i++) {
            int64_t lag = -1, refused = -1;
            if (m->replicas[s][i].url[0]) {
                char u[700];
                snprintf(u, sizeof u, "%s/health", m->replicas[s][i].url);
                static const char *const fields[] = {"log_lag", "log_refused"};
                double v[2] = {0, 0};
                int got = replica_numbers(h, u, 300, fields, 2, v);
                if (got & 1) lag = (int64_t)v[0];
                if (got & 2) refused = (int64_t)v[1];
            }
            pthread_mutex_lock(&r->lock);
            r->lag[s][i] = lag;
            r->log_refused[s][i] = refused;
            pthread_mutex_unlock(&r->lock);
        }
    if (h) curl_easy_cleanup(h);
}

static int js_ready(router *r, router_reply *out)
{
    if (r->js) return 1;
    router_error(out, 503, "no_log", "the router is not connected to NATS");
    return 0;
}

/* Every server has the default collection from its start (serve --model), and one server
 * takes its writes without a POST /collections: so the router makes its streams, once per
 * router (creating an existing stream is a no-op). 0 after a 503 in out. */
static int default_streams(router *r, router_reply *out)
{
    pthread_mutex_lock(&r->lock);
    int ready = r->default_log_ready;
    uint32_t shards = r->map.n_shards;
    pthread_mutex_unlock(&r->lock);
    for (uint32_t s = 0; !ready && s < shards; s++)
        if (vs_js_ensure_stream(r->js, "default", s, r->cfg->log_replicas ? (int)r->cfg->log_replicas : 3, DUP_WINDOW_S) != VS_OK)
            return router_error(out, 503, "log_unavailable", "shard %u: no stream for the default collection: %s", s,
                                vs_last_error()), 0;
    pthread_mutex_lock(&r->lock);
    r->default_log_ready = 1;
    pthread_mutex_unlock(&r->lock);
    return 1;
}

/* Publishes one part; on failure sets a 503 naming the shard and returns 0. */
static int publish(router *r, const char *coll, uint32_t shard, const char *op, const char *body, const char *msg_id,
                   uint64_t *seq, router_reply *out)
{
    int dup = 0;
    if (!strcmp(coll, "default") && !default_streams(r, out)) return 0;
    int rc = vs_js_publish(r->js, coll, shard, op, body, strlen(body), msg_id, PUBLISH_BUDGET_MS, seq, &dup);
    if (rc == VS_OK) return 1;
    if (rc == VS_ERR_NOT_FOUND)
        router_error(out, 404, "collection_not_found",
                     "collection '%s' has no write log for shard %u: create it through a router (POST /collections)",
                     coll, shard);
    else
        router_error(out, 503, "log_unavailable", "shard %u: the write was not stored: %s", shard, vs_last_error());
    return 0;
}

/* One shard's part of a multi-document write, published on a thread of its own. Its message id
 * names the op, the shard, the part's first id and size and the request's nonce (so a retry
 * is stored once). */
typedef struct {
    router *r;
    const char *coll, *op;
    uint32_t shard;
    char *body; /* cJSON_free'd after publishing; NULL = out of memory */
    char msg_id[300];
    uint64_t seq;
    int ok, threaded;
    router_reply err;
    pthread_t th;
} part_job;

static void part_init(part_job *j, router *r, const char *coll, uint32_t s, const char *op, char *body, const cJSON *first,
                      size_t count, const char *nonce)
{
    memset(j, 0, sizeof *j);
    j->r = r, j->coll = coll, j->op = op, j->shard = s, j->body = body;
    if (cJSON_IsString(first))
        snprintf(j->msg_id, sizeof j->msg_id, "%s:%s:%u:k%016llx+%zu:%s", op, coll, s,
                 (unsigned long long)fnv(first->valuestring), count, nonce);
    else
        snprintf(j->msg_id, sizeof j->msg_id, "%s:%s:%u:%.0f+%zu:%s", op, coll, s, first->valuedouble, count, nonce);
}

static void *part_run(void *p)
{
    part_job *j = p;
    if (!j->body) router_error(&j->err, 500, "internal", "out of memory");
    j->ok = j->body && publish(j->r, j->coll, j->shard, j->op, j->body, j->msg_id, &j->seq, &j->err);
    cJSON_free(j->body);
    j->body = NULL;
    return NULL;
}

/* Publishes the parts at once, each waiting for its own JetStream ack on its thread, while
 * `meanwhile(ctx)` (if any) runs on the caller's: a request costs the slowest part, not the
 * sum (bench/RESULTS_log.md). Then seqs[shard] and `stored` in shard order; on a failure 0
 * and the first failed shard's error in out (parts stored before it stay stored: a retry with
 * the same request_id stores only the rest). */
static int publish_parts(part_job *jobs, size_t n, void (*meanwhile)(void *), void *ctx, uint64_t *seqs, cJSON *stored,
                         router_reply *out)
{
    for (size_t i = 0; i < n; i++)
        if ((n > 1 || meanwhile) && i + 1 < n + (meanwhile != NULL))
            jobs[i].threaded = pthread_create(&jobs[i].th, NULL, part_run, &jobs[i]) == 0;
    if (meanwhile) meanwhile(ctx);
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].threaded) pthread_join(jobs[i].th, NULL);
        else part_run(&jobs[i]);
    }
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i].ok) {
            if (ok) *out = jobs[i].err;
            else free(jobs[i].err.body);
            ok = 0;
            continue;
        }
        seqs[jobs[i].shard] = jobs[i].seq;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "shard", jobs[i].shard);
        cJSON_AddNumberToObject(e, "sequence", (double)jobs[i].seq);
        cJSON_AddItemToArray(stored, e);
    }
    return ok;
}

typedef struct {
    router *r;
    const char *coll;
    double max_id;
} note_ctx;

/* Automatic ids (router_log_docs.c) must not reuse a client's: a replica would refuse them. */
static void note_ids(void *p)
{
    note_ctx *x = p;
    if (x->max_id >= 0) router_ids_note(x->r, x->coll, (int64_t)x->max_id);
}

static void router_log_add(router *r, const char *path, const char *body, size_t len, router_reply *out)
{
    if (!js_ready(r, out)) return;
    char coll[80];
    if (!path_collection(path, coll, sizeof coll)) return router_error(out, 404, "not_found", "bad collection name");
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    pthread_mutex_lock(&r->lock);
    int have = r->have_map;
    if (have) *m = r->map;
    pthread_mutex_unlock(&r->lock);
    if (!have) {
        free(m);
        return router_error(out, 503, "no_cluster", "the router has not read the shard map from etcd yet");
    }
    cJSON *req = cJSON_ParseWithLength(body, len);
    const cJSON *vecs = cJSON_GetObjectItemCaseSensitive(req, "vectors"), *ids = cJSON_GetObjectItemCaseSensitive(req, "ids");
    int n = cJSON_IsArray(vecs) ? cJSON_GetArraySize(vecs) : -1;
    wait_opts w;
    if (n < 1 || !cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != n) {
        router_error(out, 400, "bad_request",
                     "through the router, 'vectors' and 'ids' (one per vector) are required: the ID decides the shard, "
                     "and replicas that apply a write twice recognise it by its ids");
    } else if (read_wait(req, &w, out)) {
        size_t *rows = malloc((size_t)n * sizeof *rows), *count = calloc(m->n_shards + 1, sizeof *count);
        uint32_t *owner = malloc((size_t)n * sizeof *owner);
        uint64_t *seqs = calloc(m->n_shards, sizeof *seqs);
        int bad = !rows || !count || !owner || !seqs, i = 0;
        double max_id = -1;
        const cJSON *id;
        cJSON_ArrayForEach(id, ids)
        {
            if (bad) break;
            if (cJSON_IsString(id) && vs_collection_key_check(id->valuestring, NULL) == VS_OK)
                owner[i] = vs_shard_of_key(id->valuestring, m->n_shards);
            else if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble != floor(id->valuedouble)) bad = 2;
            else owner[i] = vs_shard_of((int64_t)id->valuedouble, m->n_shards);
            if (cJSON_IsNumber(id) && id->valuedouble > max_id) max_id = id->valuedouble;
            i++;
        }
        if (bad == 2) router_error(out, 400, "invalid_id", "'ids' must be non-negative integers or string ids (1 to 256 bytes of UTF-8)");
        else if (bad) router_error(out, 500, "internal", "out of memory");
        /* what a replica would refuse must not be acknowledged */
        else if (!router_log_check_vectors(r, coll, req, out)) bad = 3;
        if (!bad) {
            const cJSON **list = malloc((size_t)n * sizeof *list);
            int k = 0;
            for (const cJSON *e = ids->child; list && e; e = e->next) list[k++] = e;
            if (!list) router_error(out, 500, "internal", "out of memory"), bad = 1;
            else if (!router_log_check_unique(list, n, out)) bad = 3;
            free(list);
        }
        if (!bad) {
            for (int j = 0; j < n; j++) count[owner[j] + 1]++;
            for (uint32_t s = 0; s < m->n_shards; s++) count[s + 1] += count[s];
            size_t *fill = calloc(m->n_shards, sizeof *fill);
            for (int j = 0; j < n && fill; j++) rows[count[owner[j]] + fill[owner[j]]++] = (size_t)j;
            free(fill);
            char nonce[80];
            new_nonce(req, nonce, sizeof nonce);
            cJSON *o = cJSON_CreateObject(), *stored = cJSON_CreateArray();
            part_job *jobs = calloc(m->n_shards, sizeof *jobs);
            size_t n_jobs = 0;
            for (uint32_t s = 0; jobs && s < m->n_shards; s++) {
                size_t c = count[s + 1] - count[s];
                if (c)
                    part_init(&jobs[n_jobs++], r, coll, s, "vectors", router_sub_body(req, rows + count[s], c),
                              cJSON_GetArrayItem(ids, (int)rows[count[s]]), c, nonce);
            }
            /* the ids' note (an etcd write when they pass the counter) overlaps the publishing */
            note_ctx nc = {r, coll, max_id};
            int ok = jobs && publish_parts(jobs, n_jobs, note_ids, &nc, seqs, stored, out);
            if (!jobs) router_error(out, 500, "internal", "out of memory");
            free(jobs);
            if (ok) {
                cJSON_AddNumberToObject(o, "added", n);
                cJSON_AddItemToObject(o, "stored", stored);
                if (w.wait_applied) wait_applied(r, coll, seqs, &w, o);
                out->status = 200;
                out->body = cJSON_PrintUnformatted(o);
            } else {
                /* Parts stored before the failure stay stored: a retry with the same
                 * request_id stores only the rest. */
                cJSON_Delete(stored);
            }
            cJSON_Delete(o);
        }
        free(rows), free(count), free(owner), free(seqs);
    }
    cJSON_Delete(req);
    free(m);
}

/* POST .../index (any shape, made {"documents": [{"id", "text", "metadata"}...], "skip_empty"}
 * with ids by router_log_documents): split by the documents' ids; each replica embeds its part with the collection's model (models are
 * deterministic, so the replicas store the same vectors). */
static void router_log_index(router *r, const char *path, const char *body, size_t len, router_reply *out)
{
    if (!js_ready(r, out)) return;
    char coll[80];
    if (!path_collection(path, coll, sizeof coll)) return router_error(out, 404, "not_found", "bad collection name");
    pthread_mutex_lock(&r->lock);
    int have = r->have_map;
    uint32_t shards = r->map.n_shards;
    pthread_mutex_unlock(&r->lock);
    if (!have) return router_error(out, 503, "no_cluster", "the router has not read the shard map from etcd yet");
    cJSON *req = router_log_documents(r, coll, cJSON_ParseWithLength(body, len), out);
    if (!req) return;
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(req, "documents"), *skip = cJSON_GetObjectItemCaseSensitive(req, "skip_empty");
    int n = cJSON_IsArray(docs) ? cJSON_GetArraySize(docs) : -1;
    wait_opts w;
    cJSON **parts = calloc(shards, sizeof *parts);
    uint64_t *seqs = calloc(shards, sizeof *seqs);
    int ok = parts && seqs;
    if (!ok) {
        router_error(out, 500, "internal", "out of memory");
    } else if (n < 1) {
        router_error(out, 400, "bad_request", "/index takes a non-empty list of texts or of documents {id, text, metadata}, "
                                              "bare or as {\"texts\"} or {\"documents\"}");
        ok = 0;
    } else if (!read_wait(req, &w, out)) {
        ok = 0;
    }
    const cJSON *d;
    int i = 0;
    for (d = ok ? docs->child : NULL; d; d = d->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        uint32_t s;
        if (cJSON_IsString(id) && vs_collection_key_check(id->valuestring, NULL) == VS_OK) {
            s = vs_shard_of_key(id->valuestring, shards);
        } else if (cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble == floor(id->valuedouble)) {
            s = vs_shard_of((int64_t)id->valuedouble, shards);
        } else {
            router_error(out, 400, "invalid_id", "'documents'[%d].id is required: a non-negative integer or a string id", i);
            ok = 0;
            break;
        }
        if (!parts[s]) {
            parts[s] = cJSON_CreateObject();
            cJSON_AddItemToObject(parts[s], "documents", cJSON_CreateArray());
            if (cJSON_IsBool(skip)) cJSON_AddBoolToObject(parts[s], "skip_empty", cJSON_IsTrue(skip));
        }
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(parts[s], "documents"), cJSON_Duplicate(d, 1));
        i++;
    }
    if (ok) {
        char nonce[80];
        new_nonce(req, nonce, sizeof nonce);
        cJSON *o = cJSON_CreateObject(), *stored = cJSON_CreateArray();
        part_job *jobs = calloc(shards, sizeof *jobs);
        size_t n_jobs = 0;
        for (uint32_t s = 0; jobs && s < shards; s++) {
            if (!parts[s]) continue;
            const cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(parts[s], "documents"), 0);
            const cJSON *fid = cJSON_GetObjectItemCaseSensitive(f, "id");
            int cnt = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(parts[s], "documents"));
            part_init(&jobs[n_jobs++], r, coll, s, "index", cJSON_PrintUnformatted(parts[s]), fid, (size_t)cnt, nonce);
        }
        ok = jobs && publish_parts(jobs, n_jobs, NULL, NULL, seqs, stored, out);
        if (!jobs) router_error(out, 500, "internal", "out of memory");
        free(jobs);
        if (ok) {
            /* as one server answers (added, ids), with what the log adds */
            cJSON *ids = cJSON_AddArrayToObject(o, "ids");
            for (d = docs->child; d; d = d->next)
                cJSON_AddItemToArray(ids, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(d, "id"), 1));
            cJSON_AddNumberToObject(o, "added", n);
            cJSON_AddNumberToObject(o, "documents", n);
            cJSON_AddItemToObject(o, "stored", stored);
            if (w.wait_applied) wait_applied(r, coll, seqs, &w, o);
            out->status = 200;
            out->body = cJSON_PrintUnformatted(o);
        } else {
            cJSON_Delete(stored);
        }
        cJSON_Delete(o);
    }
    for (uint32_t s = 0; parts && s < shards; s++) cJSON_Delete(parts[s]);
    free(parts), free(seqs);
    cJSON_Delete(req);
}

static void router_log_delete(router *r, const char *path, router_reply *out)
{
    if (!js_ready(r, out)) return;
    char coll[80];
    const char *doc = strstr(path, "/documents/");
    if (!path_collection(path, coll, sizeof coll) || !doc || !doc[11] || strlen(doc + 11) > 256)
        return router_error(out, 404, "not_found", "DELETE takes /documents/{id} or /collections/{name}/documents/{id}");
    const char *key = doc + 11;
    int64_t id = -1;
    if (vs_collection_key_check(key, &id) != VS_OK)
        return router_error(out, 400, "invalid_id", "'%s' is not a document id", key);
    pthread_mutex_lock(&r->lock);
    int have = r->have_map;
    uint32_t shards = r->map.n_shards;
    pthread_mutex_unlock(&r->lock);
    if (!have) return router_error(out, 503, "no_cluster", "the router has not read the shard map from etcd yet");
    uint32_t s = id >= 0 ? vs_shard_of(id, shards) : vs_shard_of_key(key, shards);
    char nonce[80], msg_id[400];
    new_nonce(NULL, nonce, sizeof nonce);
    if (strlen(key) <= 64) snprintf(msg_id, sizeof msg_id, "delete:%s:%u:%s:%s", coll, s, key, nonce);
    else snprintf(msg_id, sizeof msg_id, "delete:%s:%u:k%016llx:%s", coll, s, (unsigned long long)fnv(key), nonce);
    uint64_t seq = 0;
    if (!publish(r, coll, s, "delete", key, msg_id, &seq, out)) return;
    char buf[200];
    snprintf(buf, sizeof buf, "{\"deleted\":\"stored\",\"shard\":%u,\"sequence\":%llu}", s, (unsigned long long)seq);
    out->status = 200;
    out->body = strdup(buf);
}

static void router_log_create(router *r, const char *body, size_t len, router_reply *out)
{
    if (!js_ready(r, out)) return;
    cJSON *req = cJSON_ParseWithLength(body, len);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name"), *dim = cJSON_GetObjectItemCaseSensitive(req, "dimension"),
                *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    char sname[128];
    /* What replicas would refuse alike is refused here, where the client hears it. */
    if (!cJSON_IsString(name) || vs_js_stream_name(name->valuestring, 0, sname, sizeof sname) != VS_OK) {
        router_error(out, 400, "invalid_name", "'name' must be 1 to 64 characters from A-Z a-z 0-9 _ -");
    } else if (!model && (!cJSON_IsNumber(dim) || dim->valuedouble < 1 || dim->valuedouble > 65536)) {
        router_error(out, 400, "bad_request", "'dimension' (1 to 65536) is required without a 'model'");
    } else {
        pthread_mutex_lock(&r->lock);
        int have = r->have_map;
        uint32_t shards = r->map.n_shards;
        pthread_mutex_unlock(&r->lock);
        if (!have) {
            router_error(out, 503, "no_cluster", "the router has not read the shard map from etcd yet");
        } else {
            char nonce[80], msg_id[200];
            new_nonce(req, nonce, sizeof nonce);
            /* The replicas take the collection's own fields only. */
            cJSON_DeleteItemFromObjectCaseSensitive(req, "request_id");
            char *create_body = cJSON_PrintUnformatted(req);
            int ok = create_body != NULL;
            if (!ok) router_error(out, 500, "internal", "out of memory");
            for (uint32_t s = 0; ok && s < shards; s++) {
                int rc = vs_js_ensure_stream(r->js, name->valuestring, s, r->cfg->log_replicas ? (int)r->cfg->log_replicas : 3,
                                             DUP_WINDOW_S);
                if (rc != VS_OK) {
                    router_error(out, 503, "log_unavailable", "shard %u: %s", s, vs_last_error());
                    ok = 0;
                    break;
                }
                uint64_t seq = 0;
                snprintf(msg_id, sizeof msg_id, "create:%s:%u:%s", name->valuestring, s, nonce);
                ok = publish(r, name->valuestring, s, "create", create_body, msg_id, &seq, out);
            }
            cJSON_free(create_body);
            if (ok) {
                char buf[200];
                snprintf(buf, sizeof buf, "{\"created\":\"%s\",\"shards\":%u}", name->valuestring, shards);
                out->status = 201;
                out->body = strdup(buf);
            }
        }
    }
    cJSON_Delete(req);
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

int router_log_route(router *r, const char *method, const char *url, const char *body, size_t len, router_reply *out)
{
    if (!strcmp(method, "POST") && (!strcmp(url, "/collections") || !strcmp(url, "/collections/")))
        router_log_create(r, body, len, out);
    else if (!strcmp(method, "POST") && ends_with(url, "/vectors") && strlen(url) < 300)
        router_log_add(r, url, body, len, out);
    else if (!strcmp(method, "POST") && ends_with(url, "/index") && strlen(url) < 300)
        router_log_index(r, url, body, len, out);
    else if (!strcmp(method, "DELETE") && strstr(url, "/documents/") && strlen(url) < 600)
        router_log_delete(r, url, out);
    else
        return 0;
    return 1;
}
