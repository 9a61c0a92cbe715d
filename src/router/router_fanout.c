/* The router's fan-out (router.h): one libcurl multi handle per request, one leg per shard
 * (searches, reads, saves), retries on the next replica within the request's time budget, and
 * the top-k merge of search answers (router_merge_hits, for one search and for each query of a
 * batch). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "router/router_impl.h"

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
    out->status = status;
    out->body = vs_http_error_body(code, msg, NULL); /* the body the server's errors have too */
}

void router_note_failure(router *r, uint32_t shard, uint32_t replica)
{
    pthread_mutex_lock(&r->lock);
    r->failed_at[shard][replica] = router_now();
    pthread_mutex_unlock(&r->lock);
}

/* Live replicas of a shard in the order to try them: round-robin, recent failures last. */
void router_plan(router *r, const vs_cluster_map *m, leg *l)
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
    char url[2048];
    snprintf(url, sizeof url, "%s%s", m->replicas[l->shard][l->replica].url, path);
    l->resp.len = 0;
    if (!l->easy && vs_http_easy(&l->easy)) return -1;
    vs_http_timeouts to = {.connect_ms = timeout_ms, .total_ms = timeout_ms};
    vs_http_setup(l->easy, url, &to, NULL);
    if (l->method && !strcmp(l->method, "GET")) {
        curl_easy_setopt(l->easy, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (l->method && strcmp(l->method, "POST")) curl_easy_setopt(l->easy, CURLOPT_CUSTOMREQUEST, l->method);
    }
    curl_easy_setopt(l->easy, CURLOPT_HTTPHEADER, hdrs);
    vs_http_collect(l->easy, &l->resp);
    curl_easy_setopt(l->easy, CURLOPT_PRIVATE, l);
    if (curl_multi_add_handle(multi, l->easy) != CURLM_OK) return -1;
    l->state = LEG_RUNNING;
    return 0;
}

/* Runs every leg to completion: success, a 4xx (the request itself is bad: no retry), or no
 * replica left. With retry == 0 a failed leg is not moved to another replica (a save goes to
 * every node itself). */
void router_run_legs(router *r, const vs_cluster_map *m, leg *legs, size_t n, const char *path, const char *body,
                     size_t len, int retry)
{
    const vs_router_config *cfg = r->cfg;
    uint32_t budget = cfg->request_timeout_ms; /* slow operations (writes, saves) set their own */
    for (size_t i = 0; i < n; i++)
        if (legs[i].timeout_ms > budget) budget = legs[i].timeout_ms;
    double deadline = router_now() + budget / 1e3;
    CURLM *multi = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    size_t running = 0;
    for (size_t i = 0; i < n; i++) {
        if (legs[i].state != LEG_RUNNING) continue;
        long t = legs[i].timeout_ms ? (long)legs[i].timeout_ms : (long)cfg->attempt_timeout_ms;
        if (multi && start_try(multi, m, &legs[i], path, body, len, hdrs, t) == 0) running++;
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
            long per = l->timeout_ms ? (long)l->timeout_ms : (long)cfg->attempt_timeout_ms;
            long t = left_ms < per ? left_ms : per;
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

void router_free_legs(leg *legs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (legs[i].easy) curl_easy_cleanup(legs[i].easy);
        vs_buf_free(&legs[i].resp);
    }
    free(legs);
}

int router_snapshot_map(router *r, vs_cluster_map *m, router_reply *out)
{
    pthread_mutex_lock(&r->lock);
    int have = r->have_map;
    if (have) *m = r->map;
    pthread_mutex_unlock(&r->lock);
    if (!have) router_error(out, 503, "no_cluster", "the router has not read the shard map from etcd yet");
    return have;
}

/* One search result of a shard, for the merge. */
typedef struct {
    const cJSON *item;
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

cJSON *router_merge_hits(const cJSON *const *lists, size_t n_lists, long k, int metric)
{
    size_t n = 0, cap = 0;
    hit *hits = NULL;
    for (size_t s = 0; s < n_lists; s++) {
        const cJSON *it;
        cJSON_ArrayForEach(it, lists[s])
        {
            const cJSON *sc = cJSON_GetObjectItemCaseSensitive(it, "score");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            if (!cJSON_IsNumber(sc) || !(cJSON_IsNumber(id) || cJSON_IsString(id))) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                hit *h = realloc(hits, cap * sizeof *h);
                if (!h) break;
                hits = h;
            }
            hits[n++] = (hit){it, sc->valuedouble, cJSON_IsNumber(id) ? (int64_t)id->valuedouble : -1,
                              cJSON_IsString(id) ? id->valuestring : NULL};
        }
    }
    if (n) /* no hits: hits is NULL, which qsort must not get */
        qsort(hits, n, sizeof *hits, metric == VS_METRIC_L2 ? cmp_distance : cmp_similarity);
    cJSON *out = cJSON_CreateArray();
    for (size_t i = 0; out && i < n && (long)i < k; i++)
        cJSON_AddItemReferenceToArray(out, (cJSON *)hits[i].item);
    free(hits);
    return out;
}

void router_search(router *r, const char *path, const char *body, size_t len, router_reply *out)
{
    double t0 = router_now();
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
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
        router_plan(r, m, &legs[s]);
    }
    router_run_legs(r, m, legs, m->n_shards, path, body, len, 1);

    /* A shard that calls the request bad speaks for all of them. */
    for (uint32_t s = 0; s < m->n_shards; s++)
        if (legs[s].state == LEG_CLIENT_ERROR) {
            out->status = (int)legs[s].status;
            out->body = legs[s].resp.data ? strdup(legs[s].resp.data) : NULL;
            router_free_legs(legs, m->n_shards);
            free(m);
            return;
        }
    cJSON *answers[VS_CLUSTER_MAX_SHARDS] = {0};
    const cJSON *lists[VS_CLUSTER_MAX_SHARDS];
    size_t n_lists = 0;
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
        lists[n_lists++] = res;
    }
    cJSON *o = cJSON_CreateObject(), *results = router_merge_hits(lists, n_lists, k, m->metric);
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
    cJSON_Delete(o); /* the hits are references: their items belong to answers[] */
    for (uint32_t s = 0; s < m->n_shards; s++) cJSON_Delete(answers[s]);
    router_free_legs(legs, m->n_shards);
    free(m);
}
