/* The router's fan-out (router.h): one libcurl multi handle per request, one leg per shard
 * (search) or per live replica (add), retries on the next replica within the request's time
 * budget, and the top-k merge of the answers. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "http/http_client.h"
#include "router/router_impl.h"

enum { LEG_RUNNING, LEG_OK, LEG_FAILED, LEG_CLIENT_ERROR };

typedef struct {
    uint32_t shard;
    uint32_t order[VS_CLUSTER_MAX_REPLICAS], n_order, next;
    uint32_t replica; /* being tried */
    CURL *easy;
    vs_buf resp;
    int state;
    long status;
    char why[160]; /* last failure */
} leg;

double router_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void router_error(router_reply *out, int status, const char *code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddItemToObject(o, "error", e);
    out->status = status;
    out->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
}

void router_note_failure(router *r, uint32_t shard, uint32_t replica)
{
    pthread_mutex_lock(&r->lock);
    r->failed_at[shard][replica] = router_now();
    pthread_mutex_unlock(&r->lock);
}

/* Live replicas of a shard in the order to try them: round-robin, recent failures last. */
static void plan(router *r, const vs_cluster_map *m, leg *l)
{
    uint32_t live[VS_CLUSTER_MAX_REPLICAS], n = 0;
    for (uint32_t i = 0; i < m->n_replicas[l->shard]; i++)
        if (m->replicas[l->shard][i].url[0]) live[n++] = i;
    pthread_mutex_lock(&r->lock);
    unsigned long start = r->rr++;
    double now = router_now();
    uint32_t k = 0;
    /* A replica lagging its write log by more than --max-lag comes after all others: it is
     * only searched when no replica of the shard is current (rather than a missing shard). */
    for (int pass = 0; pass < 4; pass++)
        for (uint32_t j = 0; j < n; j++) {
            uint32_t i = live[(start + j) % n];
            int recent = now - r->failed_at[l->shard][i] < 2.0;
            if (recent + 2 * router_lagging(r, l->shard, i) == pass) l->order[k++] = i;
        }
    pthread_mutex_unlock(&r->lock);
    l->n_order = k;
}

static int start_try(CURLM *multi, const vs_cluster_map *m, leg *l, const char *path, const char *body, size_t len,
                     struct curl_slist *hdrs, long timeout_ms)
{
    if (l->next >= l->n_order || timeout_ms <= 0) return -1;
    l->replica = l->order[l->next++];
    char url[1024];
    snprintf(url, sizeof url, "%s%s", m->replicas[l->shard][l->replica].url, path);
    l->resp.len = 0;
    if (!l->easy && vs_http_easy(&l->easy)) return -1;
    vs_http_timeouts to = {.connect_ms = timeout_ms, .total_ms = timeout_ms};
    vs_http_setup(l->easy, url, &to, NULL);
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(l->easy, CURLOPT_HTTPHEADER, hdrs);
    vs_http_collect(l->easy, &l->resp);
    curl_easy_setopt(l->easy, CURLOPT_PRIVATE, l);
    if (curl_multi_add_handle(multi, l->easy) != CURLM_OK) return -1;
    l->state = LEG_RUNNING;
    return 0;
}

/* Runs every leg to completion: success, a 4xx (the request itself is bad: no retry), or no
 * replica left. With retry == 0 a failed leg is not moved to another replica (adds go to
 * every replica themselves). */
static void run_legs(router *r, const vs_cluster_map *m, leg *legs, size_t n, const char *path, const char *body,
                     size_t len, int retry)
{
    const vs_router_config *cfg = r->cfg;
    double deadline = router_now() + cfg->request_timeout_ms / 1e3;
    CURLM *multi = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    size_t running = 0;
    for (size_t i = 0; i < n; i++) {
        if (legs[i].state != LEG_RUNNING) continue;
        if (multi && start_try(multi, m, &legs[i], path, body, len, hdrs, (long)cfg->attempt_timeout_ms) == 0) running++;
        else {
            legs[i].state = LEG_FAILED;
            snprintf(legs[i].why, sizeof legs[i].why, "no live replica");
        }
    }
    while (running) {
        int still = 0;
        curl_multi_perform(multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            leg *l = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&l);
            CURLcode cc = msg->data.result;
            l->status = vs_http_status(l->easy);
            curl_multi_remove_handle(multi, l->easy);
            running--;
            if (cc == CURLE_OK && l->status >= 200 && l->status < 300) {
                l->state = LEG_OK;
                continue;
            }
            if (cc == CURLE_OK && l->status >= 400 && l->status < 500 && l->status != 408 && l->status != 429) {
                l->state = LEG_CLIENT_ERROR;
                continue;
            }
            snprintf(l->why, sizeof l->why, "%s: %s", m->replicas[l->shard][l->replica].id,
                     cc != CURLE_OK ? vs_http_strerror(cc, NULL) : "server error");
            router_note_failure(r, l->shard, l->replica);
            long left_ms = (long)((deadline - router_now()) * 1e3);
            long t = left_ms < (long)cfg->attempt_timeout_ms ? left_ms : (long)cfg->attempt_timeout_ms;
            if (retry && start_try(multi, m, l, path, body, len, hdrs, t) == 0) running++;
            else l->state = LEG_FAILED;
        }
        if (!running) break;
        if (router_now() > deadline) break; /* the per-try timeouts end the rest */
        curl_multi_poll(multi, NULL, 0, 20, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (legs[i].state == LEG_RUNNING) {
            curl_multi_remove_handle(multi, legs[i].easy);
            legs[i].state = LEG_FAILED;
            snprintf(legs[i].why, sizeof legs[i].why, "timed out");
        }
    }
    curl_slist_free_all(hdrs);
    if (multi) curl_multi_cleanup(multi);
}

static void free_legs(leg *legs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (legs[i].easy) curl_easy_cleanup(legs[i].easy);
        vs_buf_free(&legs[i].resp);
    }
    free(legs);
}

static int snapshot_map(router *r, vs_cluster_map *m, router_reply *out)
{
    pthread_mutex_lock(&r->lock);
    int have = r->have_map;
    if (have) *m = r->map;
    pthread_mutex_unlock(&r->lock);
    if (!have) router_error(out, 503, "no_cluster", "the router has not read the shard map from etcd yet");
    return have;
}

typedef struct {
    cJSON *item;
    double score;
    int64_t id;      /* integer ids */
    const char *key; /* string ids (vecscale.h, "Document ids"), else NULL */
} hit;

/* Equal scores by id (integers first, then string ids in byte order), so the merge does not
 * depend on arrival order. */
static int cmp_id(const hit *x, const hit *y)
{
    if (!x->key != !y->key) return x->key ? 1 : -1;
    if (x->key) return strcmp(x->key, y->key);
    return (x->id > y->id) - (x->id < y->id);
}

/* Best first. */
static int cmp_distance(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return cmp_id(x, y);
}

static int cmp_similarity(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return cmp_id(x, y);
}

void router_search(router *r, const char *path, const char *body, size_t len, router_reply *out)
{
    double t0 = router_now();
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!snapshot_map(r, m, out)) return free(m);
    cJSON *req = cJSON_ParseWithLength(body, len);
    const cJSON *kj = cJSON_GetObjectItemCaseSensitive(req, "k");
    if (!cJSON_IsObject(req)) {
        cJSON_Delete(req);
        free(m);
        return router_error(out, 400, "bad_request", "the body must be a JSON object");
    }
    long k = cJSON_IsNumber(kj) && kj->valuedouble >= 1 ? (long)kj->valuedouble : 10;
    cJSON_Delete(req);
    leg *legs = calloc(m->n_shards, sizeof *legs);
    if (!legs) {
        free(m);
        return router_error(out, 500, "internal", "out of memory");
    }
    for (uint32_t s = 0; s < m->n_shards; s++) {
        legs[s].shard = s;
        plan(r, m, &legs[s]);
    }
    run_legs(r, m, legs, m->n_shards, path, body, len, 1);

    /* A shard that calls the request bad speaks for all of them. */
    for (uint32_t s = 0; s < m->n_shards; s++)
        if (legs[s].state == LEG_CLIENT_ERROR) {
            out->status = (int)legs[s].status;
            out->body = legs[s].resp.data ? strdup(legs[s].resp.data) : NULL;
            free_legs(legs, m->n_shards);
            free(m);
            return;
        }
    cJSON *answers[VS_CLUSTER_MAX_SHARDS] = {0};
    size_t n_hits = 0, cap = 0;
    hit *hits = NULL;
    cJSON *missing = cJSON_CreateArray(), *why = cJSON_CreateObject();
    for (uint32_t s = 0; s < m->n_shards; s++) {
        const cJSON *res = NULL;
        if (legs[s].state == LEG_OK && legs[s].resp.data &&
            (answers[s] = cJSON_ParseWithLength(legs[s].resp.data, legs[s].resp.len)))
            res = cJSON_GetObjectItemCaseSensitive(answers[s], "results");
        if (!cJSON_IsArray(res)) {
            char sid[16];
            snprintf(sid, sizeof sid, "%u", s);
            cJSON_AddItemToArray(missing, cJSON_CreateNumber(s));
            cJSON_AddStringToObject(why, sid, legs[s].state == LEG_OK ? "unreadable answer" : legs[s].why);
            continue;
        }
        cJSON *it;
        cJSON_ArrayForEach(it, res)
        {
            const cJSON *sc = cJSON_GetObjectItemCaseSensitive(it, "score");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            if (!cJSON_IsNumber(sc) || !(cJSON_IsNumber(id) || cJSON_IsString(id))) continue;
            if (n_hits == cap) {
                cap = cap ? 2 * cap : 64;
                hit *h = realloc(hits, cap * sizeof *h);
                if (!h) break;
                hits = h;
            }
            hits[n_hits++] = (hit){it, sc->valuedouble, cJSON_IsNumber(id) ? (int64_t)id->valuedouble : -1,
                                   cJSON_IsString(id) ? id->valuestring : NULL};
        }
    }
    qsort(hits, n_hits, sizeof *hits, m->metric == VS_METRIC_L2 ? cmp_distance : cmp_similarity);
    cJSON *o = cJSON_CreateObject(), *results = cJSON_CreateArray();
    for (size_t i = 0; i < n_hits && (long)i < k; i++) cJSON_AddItemReferenceToArray(results, hits[i].item);
    cJSON_AddItemToObject(o, "results", results);
    int partial = cJSON_GetArraySize(missing) > 0;
    cJSON_AddBoolToObject(o, "partial", partial);
    cJSON_AddItemToObject(o, "missing_shards", missing);
    if (partial) cJSON_AddItemToObject(o, "why", why);
    else cJSON_Delete(why);
    cJSON_AddNumberToObject(o, "shards", m->n_shards);
    /* Every shard embeds a text query with the same model: a shard's warning (no word of the
     * query known) is the query's, and is passed on rather than dropped. */
    for (uint32_t s = 0; s < m->n_shards; s++) {
        cJSON *w = answers[s] ? cJSON_GetObjectItemCaseSensitive(answers[s], "warning") : NULL;
        if (w) {
            cJSON_AddItemReferenceToObject(o, "warning", w);
            break;
        }
    }
    cJSON_AddNumberToObject(o, "latency_ms", round((router_now() - t0) * 1e6) / 1e3);
    out->body = cJSON_PrintUnformatted(o);
    /* Every shard down is not a search result at all. */
    out->status = cJSON_GetArraySize(missing) == (int)m->n_shards ? 503 : 200;
    cJSON_Delete(o); /* references only: the items belong to answers[] */
    for (uint32_t s = 0; s < m->n_shards; s++) cJSON_Delete(answers[s]);
    free(hits);
    free_legs(legs, m->n_shards);
    free(m);
}

/* The sub-request for one shard: the same fields, keeping only the rows it owns. */
static char *sub_body(const cJSON *req, const size_t *rows, size_t n)
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

void router_add(router *r, const char *path, const char *body, size_t len, router_reply *out)
{
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!snapshot_map(r, m, out)) return free(m);
    cJSON *req = cJSON_ParseWithLength(body, len);
    const cJSON *vecs = cJSON_GetObjectItemCaseSensitive(req, "vectors"), *ids = cJSON_GetObjectItemCaseSensitive(req, "ids");
    int n = cJSON_IsArray(vecs) ? cJSON_GetArraySize(vecs) : -1;
    if (n < 1 || !cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != n) {
        cJSON_Delete(req);
        free(m);
        return router_error(out, 400, "bad_request",
                            "through the router, 'vectors' and 'ids' (one per vector) are required: the ID decides the shard");
    }
    size_t *rows = malloc((size_t)n * sizeof *rows), *count = calloc(m->n_shards + 1, sizeof *count);
    uint32_t *owner = malloc((size_t)n * sizeof *owner);
    int bad = !rows || !count || !owner;
    const cJSON *id;
    int i = 0;
    cJSON_ArrayForEach(id, ids)
    {
        if (bad) break;
        if (cJSON_IsString(id) && vs_collection_key_check(id->valuestring, NULL) == VS_OK)
            owner[i] = vs_shard_of_key(id->valuestring, m->n_shards);
        else if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble != floor(id->valuedouble)) bad = 2;
        else owner[i] = vs_shard_of((int64_t)id->valuedouble, m->n_shards);
        i++;
    }
    if (bad) {
        cJSON_Delete(req);
        free(rows), free(count), free(owner), free(m);
        return bad == 2 ? router_error(out, 400, "invalid_id",
                                                 "'ids' must be non-negative integers or string ids (1 to 256 bytes of UTF-8)")
                        : router_error(out, 500, "internal", "out of memory");
    }
    /* rows grouped by shard */
    for (int j = 0; j < n; j++) count[owner[j] + 1]++;
    for (uint32_t s = 0; s < m->n_shards; s++) count[s + 1] += count[s];
    size_t *fill = calloc(m->n_shards, sizeof *fill);
    for (int j = 0; j < n && fill; j++) rows[count[owner[j]] + fill[owner[j]]++] = (size_t)j;
    char **bodies = calloc(m->n_shards, sizeof *bodies);
    leg *legs = calloc((size_t)m->n_shards * VS_CLUSTER_MAX_REPLICAS, sizeof *legs);
    size_t n_legs = 0;
    cJSON *missing = cJSON_CreateArray();
    for (uint32_t s = 0; fill && bodies && legs && s < m->n_shards; s++) {
        size_t c = count[s + 1] - count[s];
        if (!c) continue;
        bodies[s] = sub_body(req, rows + count[s], c);
        int live = 0;
        for (uint32_t rep = 0; rep < m->n_replicas[s]; rep++) {
            if (!m->replicas[s][rep].url[0]) continue;
            leg *l = &legs[n_legs++];
            l->shard = s;
            l->order[0] = rep;
            l->n_order = 1;
            live++;
        }
        if (!live) cJSON_AddItemToArray(missing, cJSON_CreateNumber(s));
    }
    /* Each shard's legs post its own body: run them shard by shard, all replicas at once. */
    for (size_t a = 0; a < n_legs;) {
        size_t b = a;
        while (b < n_legs && legs[b].shard == legs[a].shard) b++;
        run_legs(r, m, legs + a, b - a, path, bodies[legs[a].shard], strlen(bodies[legs[a].shard]), 0);
        a = b;
    }
    cJSON *o = cJSON_CreateObject(), *failed = cJSON_CreateArray(), *queued = cJSON_CreateArray();
    int client_error = 0;
    for (size_t j = 0; j < n_legs; j++)
        if (legs[j].state == LEG_CLIENT_ERROR && !client_error) {
            client_error = (int)legs[j].status;
            out->body = legs[j].resp.data ? strdup(legs[j].resp.data) : NULL;
        }
    /* Where a shard stored the add on some replica, the others (down, or failed) get it later
     * from the hint queue; a shard that stored it nowhere reports it missing instead. */
    for (uint32_t s = 0; !client_error && bodies && s < m->n_shards; s++) {
        if (!bodies[s]) continue;
        int stored = 0;
        for (size_t j = 0; j < n_legs; j++) stored |= legs[j].shard == s && legs[j].state == LEG_OK;
        if (!stored) continue;
        for (uint32_t rep = 0; rep < m->n_replicas[s]; rep++) {
            int ok = 0;
            for (size_t j = 0; j < n_legs; j++) ok |= legs[j].shard == s && legs[j].order[0] == rep && legs[j].state == LEG_OK;
            if (ok) continue;
            router_hint_add(r, s, rep, path, bodies[s], strlen(bodies[s]));
            cJSON_AddItemToArray(queued, cJSON_CreateString(m->replicas[s][rep].id));
        }
    }
    for (size_t j = 0; j < n_legs; j++) {
        if (legs[j].state == LEG_OK) continue;
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "shard", legs[j].shard);
        cJSON_AddStringToObject(f, "node", m->replicas[legs[j].shard][legs[j].order[0]].id);
        cJSON_AddStringToObject(f, "error", legs[j].state == LEG_CLIENT_ERROR ? "rejected" : legs[j].why);
        cJSON_AddItemToArray(failed, f);
    }
    if (client_error) {
        out->status = client_error;
        cJSON_Delete(o);
        cJSON_Delete(failed);
        cJSON_Delete(queued);
    } else {
        int ok = !cJSON_GetArraySize(failed) && !cJSON_GetArraySize(missing);
        cJSON_AddNumberToObject(o, "added", ok ? n : 0);
        cJSON_AddItemToObject(o, "missing_shards", cJSON_Duplicate(missing, 1));
        cJSON_AddItemToObject(o, "failed_replicas", failed);
        cJSON_AddItemToObject(o, "queued_for", queued);
        out->status = ok ? 200 : cJSON_GetArraySize(missing) ? 503 : 502;
        out->body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    cJSON_Delete(missing);
    for (uint32_t s = 0; bodies && s < m->n_shards; s++) cJSON_free(bodies[s]);
    free(bodies);
    if (legs) free_legs(legs, (size_t)m->n_shards * VS_CLUSTER_MAX_REPLICAS);
    free(fill), free(rows), free(count), free(owner), free(m);
    cJSON_Delete(req);
}
