/* The router's HTTP side on libmicrohttpd and its view of the cluster, re-read from etcd
 * every refresh_ms by one thread (see router.h). */
#include "router/router.h"

#include <arpa/inet.h>
#include <math.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "http/http_client.h"
#include "http/http_metrics.h"
#include "http/http_server.h"
#include "log/jetstream.h"
#include "router/router_impl.h"

#define MAX_BODY (64u << 20)

static volatile sig_atomic_t stopping;
static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, router_reply *rep)
{
    char *b = rep->body ? rep->body : strdup("{}"); /* bodies are malloc'd (cJSON's default hooks) */
    return vs_http_send(c, (unsigned)rep->status, rep->content_type[0] ? rep->content_type : NULL, b, b ? strlen(b) : 0,
                        NULL, NULL);
}

static void cluster_status(router *r, router_reply *out)
{
    pthread_mutex_lock(&r->lock);
    vs_cluster_map m = r->map;
    int have = r->have_map;
    pthread_mutex_unlock(&r->lock);
    if (!have) return router_error(out, 503, "no_cluster", "the shard map has not been read from etcd yet");
    cJSON *o = cJSON_CreateObject(), *shards = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "metric", vs_metric_name(m.metric));
    for (uint32_t s = 0; s < m.n_shards; s++) {
        cJSON *reps = cJSON_CreateArray();
        for (uint32_t i = 0; i < m.n_replicas[s]; i++) {
            cJSON *rep = cJSON_CreateObject();
            cJSON_AddStringToObject(rep, "node", m.replicas[s][i].id);
            cJSON_AddBoolToObject(rep, "live", m.replicas[s][i].url[0] != 0);
            if (m.replicas[s][i].url[0]) cJSON_AddStringToObject(rep, "url", m.replicas[s][i].url);
            pthread_mutex_lock(&r->lock);
            int64_t lag = r->lag[s][i], refused = r->log_refused[s][i];
            int lagging = router_lagging(r, s, i);
            pthread_mutex_unlock(&r->lock);
            if (lag >= 0) cJSON_AddNumberToObject(rep, "log_lag", (double)lag);
            else cJSON_AddNullToObject(rep, "log_lag");
            if (refused >= 0) cJSON_AddNumberToObject(rep, "log_refused", (double)refused);
            else cJSON_AddNullToObject(rep, "log_refused");
            cJSON_AddBoolToObject(rep, "searched", m.replicas[s][i].url[0] && !lagging);
            cJSON_AddItemToArray(reps, rep);
        }
        cJSON_AddItemToArray(shards, reps);
    }
    cJSON_AddItemToObject(o, "shards", shards);
    out->status = 200;
    out->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
}

/* Query-string parameters: the router takes none but a save's `path`, and names the others
 * rather than ignore them (the same rule as vecscale serve). */
typedef struct {
    char names[256];
    const char *path; /* ?path= */
    int n_path;
} params;

static enum MHD_Result take_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    params *p = cls;
    if (key && !strcmp(key, "path")) {
        p->path = value ? value : "";
        p->n_path++;
        return MHD_YES;
    }
    size_t l = strlen(p->names);
    if (l < 200) snprintf(p->names + l, sizeof p->names - l, "%s'%.64s'", l ? ", " : "", key ? key : "");
    return MHD_YES;
}

static void not_allowed(router_reply *rep, const char *method, const char *url, const char *allow)
{
    router_error(rep, 405, "method_not_allowed", "%s %s is not supported; use %s", method, url, allow);
}

/* The routes as GET /metrics labels them; names shared with the server's where the route is
 * the same. */
enum {
    RR_PAGE, RR_HEALTH, RR_METRICS, RR_OPENAPI, RR_CLUSTER, RR_SEARCH, RR_SEARCH_BATCH, RR_INDEX, RR_VECTORS,
    RR_DOC_GET, RR_DOC_DELETE, RR_STATS, RR_SAVE, RR_COLLECTIONS_LIST, RR_COLLECTION_CREATE, RR_COLLECTION_GET,
    RR_COLLECTION_DELETE, RR_OTHER, RR_COUNT
};
static const char *const ROUTE_NAMES[RR_COUNT] = {
    "page", "health", "metrics", "openapi", "cluster", "search", "search_batch", "index", "vectors", "document_get",
    "document_delete", "stats", "save", "collections_list", "collection_create", "collection_get",
    "collection_delete", "other"};

/* A call of one collection's route: prefix "" (the default collection, the seed's routes) or
 * "/collections/{name}"; arg is what follows a prefix row's path (a document id). */
typedef struct {
    router *r;
    const char *method, *url, *prefix, *arg;
    const params *q;
    const char *body;
    size_t len;
} coll_call;

static void do_search(const coll_call *c, router_reply *rep) { router_search(c->r, c->url, c->body, c->len, rep); }
static void do_search_batch(const coll_call *c, router_reply *rep)
{
    router_search_batch(c->r, c->url, c->body, c->len, rep);
}
/* Writes: checked, then published to the owning shards' streams (router_log_api.c). */
static void do_write(const coll_call *c, router_reply *rep)
{
    router_log_api(c->r, c->method, c->url, c->body, c->len, rep);
}
static void do_doc_get(const coll_call *c, router_reply *rep) { router_get_document(c->r, c->prefix, c->arg, rep); }
static void do_stats(const coll_call *c, router_reply *rep) { router_stats(c->r, c->url, rep); }

/* POST .../save: the export's name in ?path= or in the body's "path", once. */
static void do_save(const coll_call *c, router_reply *rep)
{
    if (c->q->n_path > 1) return router_error(rep, 400, "invalid_parameter", "query parameter 'path' is given twice");
    const char *name = c->q->path;
    cJSON *b = c->len ? cJSON_ParseWithLength(c->body, c->len) : NULL;
    const cJSON *bp = cJSON_GetObjectItemCaseSensitive(b, "path");
    if (c->len && !cJSON_IsObject(b)) router_error(rep, 400, "invalid_json", "the body must be a JSON object");
    else if (b && (cJSON_GetArraySize(b) != (bp ? 1 : 0)))
        router_error(rep, 400, "unknown_field", "unknown field in the body of a save (allowed: path)");
    else if (bp && !cJSON_IsString(bp))
        router_error(rep, 400, "invalid_path", "'path' must be a string: the name of an export inside each node's "
                                               "data directory");
    else if (bp && name)
        router_error(rep, 400, "invalid_path", "'path' is given both in the query string and in the body: give it once");
    else router_save(c->r, c->url, bp ? bp->valuestring : name, rep);
    cJSON_Delete(b);
}

/* The routes of one collection, looked up as the server looks up its own (the same table
 * layout, http/http_server.c): a path has one row per method, in the order of the 405's Allow
 * list; the first row of a path labels a request with another method in the metrics. The
 * empty path is the collection itself (/collections/{name}; the default's rest, a whole URL,
 * is never empty). */
typedef struct {
    vs_http_route at;
    int route; /* RR_* */
    void (*fn)(const coll_call *c, router_reply *rep);
} coll_row;

static const coll_row COLLECTION_ROUTES[] = {
    {{"/search", 0, "POST"}, RR_SEARCH, do_search},
    {{"/search/batch", 0, "POST"}, RR_SEARCH_BATCH, do_search_batch},
    {{"/vectors", 0, "POST"}, RR_VECTORS, do_write},
    {{"/index", 0, "POST"}, RR_INDEX, do_write},
    {{"/documents/", 1, "GET"}, RR_DOC_GET, do_doc_get},
    {{"/documents/", 1, "DELETE"}, RR_DOC_DELETE, do_write},
    {{"/stats", 0, "GET"}, RR_STATS, do_stats},
    {{"", 0, "GET"}, RR_COLLECTION_GET, do_stats},
    {{"", 0, "DELETE"}, RR_COLLECTION_DELETE, do_write},
    {{"/save", 0, "POST"}, RR_SAVE, do_save},
};

/* Answers a collection route (rest: the path after the prefix); returns its RR_* label. */
static int collection_routes(coll_call *c, const char *rest, router_reply *rep)
{
    const void *head;
    char allow[64];
    const coll_row *row = vs_http_route_find(COLLECTION_ROUTES, sizeof COLLECTION_ROUTES / sizeof COLLECTION_ROUTES[0],
                                             sizeof COLLECTION_ROUTES[0], c->method, rest, &head, allow, sizeof allow);
    const coll_row *first = head;
    int route = first ? first->route : RR_OTHER;
    if (c->q->n_path && (!first || first->fn != do_save))
        router_error(rep, 400, "unknown_parameter", "unknown query parameter 'path': %s %s takes no query parameters "
                     "(options go in the JSON body)", c->method, c->url);
    else if (row) {
        c->arg = rest + (row->at.prefix ? strlen(row->at.path) : strlen(rest));
        row->fn(c, rep);
    } else if (first)
        not_allowed(rep, c->method, c->url, allow);
    else
        router_error(rep, 404, "not_found", "no route %s %s", c->method, c->url);
    return route;
}

static void health(router *r, router_reply *rep)
{
    pthread_mutex_lock(&r->lock);
    uint32_t n = r->have_map ? r->map.n_shards : 0, live = 0;
    for (uint32_t s = 0; s < n; s++) {
        int any = 0;
        for (uint32_t i = 0; i < r->map.n_replicas[s]; i++) any |= r->map.replicas[s][i].url[0] != 0;
        live += (uint32_t)any;
    }
    pthread_mutex_unlock(&r->lock);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "role", "router");
    cJSON_AddStringToObject(o, "version", vs_version_string());
    cJSON_AddNumberToObject(o, "uptime_s", round((router_now() - r->started) * 10) / 10);
    cJSON_AddNumberToObject(o, "shards", n);
    cJSON_AddNumberToObject(o, "shards_live", live); /* shards with a replica to answer */
    rep->status = 200;
    rep->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
}

/* The router's own routes (the rest belong to collections: collection_routes), looked up as
 * the server looks up its own (http/http_server.c): rows of one path in Allow order. */
typedef struct {
    vs_http_route at;
    int route; /* RR_* */
    void (*fn)(router *r, const char *url, const char *body, size_t len, router_reply *rep);
} router_row;

static void do_metrics(router *r, const char *url, const char *body, size_t len, router_reply *rep)
{
    (void)url, (void)body, (void)len;
    vs_buf o = {0};
    if (vs_http_metrics_render(r->metrics, &o) || vs_buf_append(&o, "", 1)) {
        vs_buf_free(&o);
        return router_error(rep, 500, "internal", "out of memory rendering the metrics");
    }
    rep->status = 200;
    rep->body = o.data; /* malloc'd, NUL-terminated */
    snprintf(rep->content_type, sizeof rep->content_type, "%s", VS_HTTP_METRICS_CONTENT_TYPE);
}

static void do_health(router *r, const char *url, const char *body, size_t len, router_reply *rep)
{
    (void)url, (void)body, (void)len;
    health(r, rep);
}
static void do_from_any_node(router *r, const char *url, const char *body, size_t len, router_reply *rep)
{
    (void)body, (void)len;
    router_from_any_node(r, url, rep);
}
static void do_cluster(router *r, const char *url, const char *body, size_t len, router_reply *rep)
{
    (void)url, (void)body, (void)len;
    cluster_status(r, rep);
}
static void do_collections(router *r, const char *url, const char *body, size_t len, router_reply *rep)
{
    (void)url, (void)body, (void)len;
    router_collections(r, rep);
}
static void do_create(router *r, const char *url, const char *body, size_t len, router_reply *rep)
{
    router_log_api(r, "POST", url, body, len, rep);
}

static const router_row ROUTER_ROUTES[] = {
    {{"/health", 0, "GET"}, RR_HEALTH, do_health},
    {{"/metrics", 0, "GET"}, RR_METRICS, do_metrics},
    {{"/", 0, "GET"}, RR_PAGE, do_from_any_node},
    {{"/openapi.json", 0, "GET"}, RR_OPENAPI, do_from_any_node},
    {{"/cluster", 0, "GET"}, RR_CLUSTER, do_cluster},
    {{"/collections", 0, "GET"}, RR_COLLECTIONS_LIST, do_collections},
    {{"/collections", 0, "POST"}, RR_COLLECTION_CREATE, do_create},
    {{"/collections/", 0, "GET"}, RR_COLLECTIONS_LIST, do_collections},
    {{"/collections/", 0, "POST"}, RR_COLLECTION_CREATE, do_create},
};

/* What a connection carries between libmicrohttpd's calls. */
typedef struct {
    vs_http_upload up;
    double t0; /* when the request arrived (the latency histogram) */
} conn_state;

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)version;
    router *r = cls;
    if (!*con_cls) { /* first call: headers only */
        conn_state *st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->t0 = router_now();
        vs_http_upload_start(&st->up, c, MAX_BODY);
        vs_http_metrics_enter(r->metrics);
        *con_cls = st;
        return MHD_YES;
    }
    conn_state *st = *con_cls;
    vs_http_upload *u = &st->up;
    if (*data_size) {
        if (vs_http_upload_add(u, data, *data_size, MAX_BODY)) u->too_large = 1; /* out of memory: 413 too */
        *data_size = 0;
        return MHD_YES;
    }
    router_reply rep = {0};
    int route = RR_OTHER;
    params q = {0};
    const void *first;
    char allow[64];
    const router_row *row = vs_http_route_find(ROUTER_ROUTES, sizeof ROUTER_ROUTES / sizeof ROUTER_ROUTES[0],
                                               sizeof ROUTER_ROUTES[0], method, url, &first, allow, sizeof allow);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, take_param, &q);
    const char *body = u->body.data ? u->body.data : "";
    size_t len = u->body.len;
    if (u->too_large) router_error(&rep, 413, "too_large", "the body exceeds %u bytes", MAX_BODY);
    else if (q.names[0])
        router_error(&rep, 400, "unknown_parameter", "unknown query parameter(s) %s: %s %s takes none (options go in "
                     "the JSON body)", q.names, method, url);
    else if (strlen(url) > 1200) router_error(&rep, 414, "uri_too_long", "the path is longer than 1200 bytes");
    else if (row) {
        route = row->route;
        row->fn(r, url, body, len, &rep);
    } else if (first) {
        not_allowed(&rep, method, url, allow);
    } else if (!strncmp(url, "/collections/", 13)) {
        const char *name = url + 13, *slash = strchr(name, '/');
        size_t n = slash ? (size_t)(slash - name) : strlen(name);
        char prefix[128];
        if (n == 0 || n >= 80) router_error(&rep, 404, "collection_not_found", "bad collection name");
        else {
            snprintf(prefix, sizeof prefix, "/collections/%.*s", (int)n, name);
            coll_call cc = {r, method, url, prefix, NULL, &q, body, len};
            route = collection_routes(&cc, name + n, &rep);
        }
    } else {
        coll_call cc = {r, method, url, "", NULL, &q, body, len};
        route = collection_routes(&cc, url, &rep);
    }
    if (!rep.status) router_error(&rep, 500, "internal", "no answer");
    vs_http_metrics_record(r->metrics, (size_t)route, rep.status, router_now() - st->t0);
    return send_reply(c, &rep);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c, (void)toe;
    router *r = cls;
    conn_state *st = *con_cls;
    if (st) {
        vs_http_upload_free(&st->up);
        free(st);
        vs_http_metrics_leave(r->metrics);
    }
    *con_cls = NULL;
}

typedef struct {
    router *r;
    vs_etcd *e;
} refresher;

static void *refresh_loop(void *p)
{
    refresher *f = p;
    router *r = f->r;
    int warned = 0;
    vs_cluster_map *m = malloc(sizeof *m);
    while (m && !stopping) {
        int rc = vs_cluster_map_load(f->e, r->cfg->prefix, m);
        if (rc == VS_OK) {
            pthread_mutex_lock(&r->lock);
            r->map = *m;
            r->have_map = 1;
            pthread_mutex_unlock(&r->lock);
            warned = 0;
            router_log_poll_lag(r, m);
        } else if (!warned++) {
            /* keep serving with the last view; etcd being away does not stop searches */
            fprintf(stderr, "vecscale route: reading the cluster from etcd: %s\n", vs_last_error());
        }
        for (uint32_t t = 0; t < r->cfg->refresh_ms && !stopping; t += 10) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    free(m);
    return NULL;
}

int vs_router_run(const vs_router_config *in)
{
    vs_router_config cfg = *in;
    if (!cfg.attempt_timeout_ms) cfg.attempt_timeout_ms = 1000;
    if (!cfg.request_timeout_ms) cfg.request_timeout_ms = 3000;
    if (!cfg.refresh_ms) cfg.refresh_ms = 250;
    if (!cfg.prefix) cfg.prefix = "/vecscale/";
    if (!cfg.host) cfg.host = "127.0.0.1";
    if (!cfg.max_lag) cfg.max_lag = 1000;
    if (!cfg.nats || !*cfg.nats)
        return vs_fail(VS_ERR_INVALID_ARG, "route: a router needs the cluster's write log: give --nats nats://HOST:4222");
    router *r = calloc(1, sizeof *r);
    if (!r || !(r->metrics = vs_http_metrics_create(ROUTE_NAMES, RR_COUNT))) {
        free(r);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    r->cfg = &cfg;
    pthread_mutex_init(&r->lock, NULL);
    for (uint32_t s = 0; s < VS_CLUSTER_MAX_SHARDS; s++)
        for (uint32_t i = 0; i < VS_CLUSTER_MAX_REPLICAS; i++) r->lag[s][i] = r->log_refused[s][i] = -1;
    pthread_mutex_init(&r->ids_lock, NULL);
    r->started = router_now();
    refresher f = {r, NULL};
    int rc = vs_etcd_open(cfg.etcd, 1000, &f.e);
    if (!rc && (rc = vs_etcd_open(cfg.etcd, 1000, &r->ids_etcd))) vs_etcd_free(f.e);
    if (rc) {
        vs_http_metrics_free(r->metrics);
        free(r);
        return rc;
    }
    vs_http_init(); /* done by vs_etcd_open already; the fan-out's handles rely on it */
    if ((rc = vs_js_open(cfg.nats, 3000, &r->js)) != VS_OK) {
        vs_etcd_free(f.e);
        vs_http_metrics_free(r->metrics);
        vs_etcd_free(r->ids_etcd);
        free(r);
        vs_js_shutdown();
        return rc;
    }
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(cfg.port);
    if (inet_pton(AF_INET, cfg.host, &addr.sin_addr) != 1) {
        vs_etcd_free(f.e);
        vs_etcd_free(r->ids_etcd);
        vs_http_metrics_free(r->metrics);
        free(r);
        return vs_fail(VS_ERR_INVALID_ARG, "route: --host must be an IPv4 address, not '%s'", cfg.host);
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, handle, r,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, completed, r,
        MHD_OPTION_UNESCAPE_CALLBACK, vs_http_unescape, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_END);
    if (!d) {
        vs_etcd_free(f.e);
        vs_etcd_free(r->ids_etcd);
        vs_http_metrics_free(r->metrics);
        free(r);
        return vs_fail(VS_ERR_IO, "route: cannot listen on %s:%u", cfg.host, cfg.port);
    }
    unsigned port = vs_http_bound_port(d, cfg.port);
    if (cfg.port_file) vs_http_write_port_file(cfg.port_file, port); /* as before: a failure is not reported */
    pthread_t th;
    int have_thread = pthread_create(&th, NULL, refresh_loop, &f) == 0;
    if (!cfg.quiet) printf("vecscale route: listening on http://%s:%u (etcd %s)\n", cfg.host, port, cfg.etcd);
    fflush(stdout);
    while (!stopping) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d);
    stopping = 1;
    if (have_thread) pthread_join(th, NULL);
    vs_etcd_free(f.e);
    vs_etcd_free(r->ids_etcd);
    router_ids_free(r);
    pthread_mutex_destroy(&r->ids_lock);
    if (r->js) {
        vs_js_close(r->js);
        vs_js_shutdown();
    }
    pthread_mutex_destroy(&r->lock);
    vs_http_metrics_free(r->metrics);
    free(r);
    return VS_OK;
}
