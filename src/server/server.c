/* The HTTP layer: libmicrohttpd with a thread pool (one epoll loop per thread), request
 * bodies gathered per connection, routing, API keys, limits, metrics, and shutdown on
 * SIGTERM / SIGINT. Each request is answered on the pool thread that read it, except a
 * POST /save: its connection is suspended and the save runs on a deferred thread
 * (deferred.h), so the other connections of that poll loop are not kept waiting. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/server_impl.h"
#include "core/error.h"
#include "http/http_server.h"
#include "server/deferred.h"

#define DEFAULT_COLLECTION "default"

#define DEFERRED_THREADS 2 /* saves of two collections can overlap, as on two poll threads before */

/* A request answered on a deferred thread; its connection is suspended meanwhile. */
typedef struct {
    deferred_job base;
    request r;
    struct MHD_Connection *conn;
    atomic_int done;
} slow_request;

typedef struct {
    vs_http_upload up;
    double t0;
    slow_request *slow; /* set while a deferred thread answers, and until the reply is sent */
} conn_state;

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Constant-time comparison, so response timing does not reveal how much of a key matched. */
static int key_matches(const char *given, const char *want)
{
    if (!given) return 0;
    size_t a = strlen(given), b = strlen(want);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++) diff |= (unsigned char)(given[i < a ? i : 0] ^ want[i]);
    return diff == 0;
}

static int authorized(vs_server *s, struct MHD_Connection *conn)
{
    if (!s->cfg.api_key || !conn) return 1; /* no connection: vs_server_apply, in-process */
    const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-Key");
    if (k) return key_matches(k, s->cfg.api_key);
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && !strncmp(auth, "Bearer ", 7)) return key_matches(auth + 7, s->cfg.api_key);
    return 0;
}

/* The routing table. A path has one row per method it answers; the first row of a path names
 * the metrics route of a request with another method, and its rows' methods, in order, form
 * the Allow list of the 405. `prefix` rows match any path that starts with `path` and hand the
 * rest to the handler (a document id). Server rows run `fn`; collection rows run `cfn` with the
 * collection (borrowed; a handler that releases it sets it to NULL) and its name. */
typedef struct {
    vs_http_route at; /* path, prefix, method: the shared lookup (http/http_server.c) */
    int route;        /* R_* of metrics.h */
    int (*fn)(request *r);
    int (*cfn)(request *r, coll_ref **ref, const char *name, const char *rest);
} route_row;

static int do_search(request *r, coll_ref **ref, const char *name, const char *rest)
{
    (void)name, (void)rest;
    return route_search(r, *ref);
}
static int do_search_batch(request *r, coll_ref **ref, const char *name, const char *rest)
{
    (void)name, (void)rest;
    return route_search_batch(r, *ref);
}
static int do_index(request *r, coll_ref **ref, const char *name, const char *rest)
{
    (void)name, (void)rest;
    return route_index(r, *ref);
}
static int do_vectors(request *r, coll_ref **ref, const char *name, const char *rest)
{
    (void)name, (void)rest;
    return route_vectors(r, *ref);
}
static int do_document(request *r, coll_ref **ref, const char *name, const char *rest)
{
    (void)name;
    return route_document(r, *ref, rest);
}
static int do_stats(request *r, coll_ref **ref, const char *name, const char *rest)
{
    (void)name, (void)rest;
    return route_stats(r, *ref);
}
static int do_save(request *r, coll_ref **ref, const char *name, const char *rest)
{
    (void)name, (void)rest;
    return route_save(r, *ref);
}
/* The delete drops this request's reference first, so the collection can close. */
static int do_delete(request *r, coll_ref **ref, const char *name, const char *rest)
{
    (void)rest;
    registry_put(*ref);
    *ref = NULL;
    return route_collection_delete(r, name);
}

/* Behind the API key (except the first three). */
static const route_row SERVER_ROUTES[] = {
    {{"/", 0, "GET"}, R_PAGE, route_page, NULL},
    {{"/health", 0, "GET"}, R_HEALTH, route_health, NULL},
    {{"/openapi.json", 0, "GET"}, R_OPENAPI, route_openapi, NULL},
    {{"/metrics", 0, "GET"}, R_METRICS, route_metrics, NULL},
    {{"/collections", 0, "GET"}, R_COLLECTIONS_LIST, route_collections_list, NULL},
    {{"/collections", 0, "POST"}, R_COLLECTION_CREATE, route_collection_create, NULL},
    {{"/collections/", 0, "GET"}, R_COLLECTIONS_LIST, route_collections_list, NULL},
    {{"/collections/", 0, "POST"}, R_COLLECTION_CREATE, route_collection_create, NULL},
};
#define N_PUBLIC_ROUTES 3 /* the page, health and the OpenAPI document need no key */

/* Under /collections/{name}, or at the top for the default collection (the seed's routes). */
static const route_row COLLECTION_ROUTES[] = {
    {{"/search", 0, "POST"}, R_SEARCH, NULL, do_search},
    {{"/search/batch", 0, "POST"}, R_SEARCH_BATCH, NULL, do_search_batch},
    {{"/index", 0, "POST"}, R_INDEX, NULL, do_index},
    {{"/vectors", 0, "POST"}, R_VECTORS, NULL, do_vectors},
    {{"/documents/", 1, "GET"}, R_DOC_GET, NULL, do_document},
    {{"/documents/", 1, "DELETE"}, R_DOC_DELETE, NULL, do_document},
    {{"/stats", 0, "GET"}, R_STATS, NULL, do_stats},
    {{"", 0, "GET"}, R_COLLECTION_GET, NULL, do_stats},
    {{"", 0, "DELETE"}, R_COLLECTION_DELETE, NULL, do_delete},
    {{"/save", 0, "POST"}, R_SAVE, NULL, do_save},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int not_allowed(request *r, const char *allow)
{
    return reply_error(r, 405, "method_not_allowed", "%s %s is not supported; use %s", r->method, r->path, allow);
}

/* The row of table for path p and r's method, or NULL; *first is the path's first row (NULL:
 * no such path) and allow receives the methods its rows answer. */
static const route_row *lookup(const route_row *table, size_t n, const char *p, const request *r,
                               const route_row **first, char *allow, size_t cap)
{
    const void *head;
    const route_row *row = vs_http_route_find(table, n, sizeof *table, r->method, p, &head, allow, cap);
    *first = head;
    return row;
}

/* Routes that act on one collection: the seed routes on "default", or under
 * /collections/{name}. `rest` is the path after the collection prefix. */
static int collection_routes(request *r, const char *name, const char *rest)
{
    const route_row *first;
    char allow[64];
    const route_row *row = lookup(COLLECTION_ROUTES, N_OF(COLLECTION_ROUTES), rest, r, &first, allow, sizeof allow);
    if (!first) return reply_error(r, 404, "not_found", "no route %s %s", r->method, r->path);
    coll_ref *ref = registry_get(&r->srv->reg, name);
    int rc;
    if (!ref) {
        if (!strcmp(name, DEFAULT_COLLECTION))
            rc = reply_error(r, 404, "collection_not_found",
                             "there is no default collection: start the server with --model or --dim, or use "
                             "/collections/{name}");
        else
            rc = reply_error(r, 404, "collection_not_found", "collection '%s' does not exist", name);
    } else if (!row) {
        r->route = first->route;
        rc = not_allowed(r, allow);
    } else {
        r->route = row->route;
        rc = row->cfn(r, &ref, name, rest + (row->at.prefix ? strlen(row->at.path) : strlen(rest)));
    }
    registry_put(ref);
    return rc;
}

/* Whether the path is a collection's POST .../save, the one route that takes a query
 * parameter (path: route_save checks it). */
static int is_save_path(const char *p)
{
    if (!strcmp(p, "/save")) return 1;
    if (strncmp(p, "/collections/", 13)) return 0;
    const char *slash = strchr(p + 13, '/');
    return slash && slash > p + 13 && !strcmp(slash, "/save");
}

static int dispatch(request *r, struct MHD_Connection *conn)
{
    const char *p = r->path;
    static const char *const no_params[] = {NULL};
    if (r->n_query && !is_save_path(p) && !only_params(r, no_params)) return r->status;
    const route_row *first;
    char allow[64];
    const route_row *row = lookup(SERVER_ROUTES, N_OF(SERVER_ROUTES), p, r, &first, allow, sizeof allow);
    if (first && first - SERVER_ROUTES < N_PUBLIC_ROUTES) {
        r->route = row ? row->route : first->route;
        return row ? row->fn(r) : not_allowed(r, allow);
    }
    if (!authorized(r->srv, conn))
        return reply_error(r, 401, "unauthorized", "missing or wrong API key (send X-API-Key or Authorization: Bearer)");
    if (first) {
        r->route = row ? row->route : first->route;
        return row ? row->fn(r) : not_allowed(r, allow);
    }
    if (!strncmp(p, "/collections/", 13)) {
        const char *name = p + 13, *slash = strchr(name, '/');
        size_t n = slash ? (size_t)(slash - name) : strlen(name);
        char buf[80];
        if (n == 0 || n >= sizeof buf) return reply_error(r, 404, "collection_not_found", "bad collection name");
        memcpy(buf, name, n);
        buf[n] = 0;
        return collection_routes(r, buf, name + n);
    }
    return collection_routes(r, DEFAULT_COLLECTION, p);
}

/* Whether a request runs on a deferred thread: a save (file writes, fsyncs, maybe an S3
 * publish) can take seconds; everything else is answered in place. */
static int runs_deferred(const char *method, const char *path)
{
    return !strcmp(method, "POST") && is_save_path(path);
}

static void slow_run(deferred_job *job)
{
    slow_request *q = (slow_request *)job;
    dispatch(&q->r, NULL); /* authorized before it was queued */
    atomic_store(&q->done, 1);
    MHD_resume_connection(q->conn);
}

static void slow_cancel(deferred_job *job)
{
    slow_request *q = (slow_request *)job;
    reply_error(&q->r, 503, "stopping", "the server is stopping; the save did not start");
    atomic_store(&q->done, 1);
    MHD_resume_connection(q->conn);
}

/* Suspends the connection and queues r; the reply is sent when libmicrohttpd calls back after
 * the job resumed the connection (on_request). */
static void defer(vs_server *s, conn_state *st, struct MHD_Connection *conn, const request *r)
{
    slow_request *q = calloc(1, sizeof *q);
    if (!q) {
        request copy = *r;
        dispatch(&copy, conn);
        return;
    }
    q->base.run = slow_run;
    q->base.cancel = slow_cancel;
    q->r = *r;
    q->conn = conn;
    st->slow = q;
    MHD_suspend_connection(conn); /* before the job can resume it */
    if (deferred_submit(s->slow, &q->base)) slow_cancel(&q->base);
}

int vs_server_apply(vs_server *s, const char *method, const char *path, const char *body, size_t len, char **reply)
{
    if (reply) *reply = NULL;
    char *copy = malloc(len + 1); /* handlers expect a NUL-terminated body */
    if (!copy) return 500;
    if (len) memcpy(copy, body, len);
    copy[len] = 0;
    request r = {.srv = s, .method = method, .path = path, .body = copy, .body_len = len, .t0 = now_seconds(),
                 .route = R_OTHER, .status = 200};
    dispatch(&r, NULL);
    vs_http_metrics_record(s->metrics, r.route, r.status, now_seconds() - r.t0);
    free(copy);
    if (r.out.failed) r.status = 500;
    if (reply && !r.out.failed && r.out.s) {
        *reply = r.out.s;
        r.out.s = NULL;
    }
    free(r.out.s);
    return r.status;
}

int vs_server_log_position(vs_server *s, const char *collection, uint64_t *pos)
{
    coll_ref *ref = registry_get(&s->reg, collection);
    if (!ref) return vs_fail(VS_ERR_NOT_FOUND, "no collection '%s'", collection);
    *pos = vs_collection_log_position(ref->c);
    registry_put(ref);
    return VS_OK;
}

int vs_server_set_log_position(vs_server *s, const char *collection, uint64_t pos)
{
    coll_ref *ref = registry_get(&s->reg, collection);
    if (!ref) return vs_fail(VS_ERR_NOT_FOUND, "no collection '%s'", collection);
    int rc = vs_collection_set_log_position(ref->c, pos);
    registry_put(ref);
    return rc;
}

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    request *r = cls;
    if (r->n_query < MAX_QUERY_PARAMS) r->query[r->n_query] = (query_param){key ? key : "", value};
    r->n_query++;
    return MHD_YES;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, request *r)
{
    if (r->out.failed) {
        free(r->out.s);
        r->out = (sb){0};
        r->status = 500;
        sb_puts(&r->out, "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
        r->content_type = "application/json";
    }
    return vs_http_send(conn, (unsigned)r->status, r->content_type, r->out.s, r->out.len,
                        r->status == 401 ? "WWW-Authenticate" : NULL, "Bearer");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    vs_server *s = cls;
    conn_state *st = *con_cls;
    if (!st) {
        if (!(st = calloc(1, sizeof *st))) return MHD_NO;
        st->t0 = now_seconds();
        *con_cls = st;
        vs_http_metrics_enter(s->metrics);
        vs_http_upload_start(&st->up, conn, s->cfg.max_body);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return vs_http_upload_add(&st->up, upload_data, n, s->cfg.max_body) ? MHD_NO : MHD_YES;
    }
    if (st->slow) { /* called back after the deferred thread resumed the connection */
        slow_request *q = st->slow;
        if (!atomic_load(&q->done)) return MHD_YES;
        st->slow = NULL;
        vs_http_metrics_record(s->metrics, q->r.route, q->r.status, now_seconds() - st->t0);
        enum MHD_Result res = send_reply(conn, &q->r);
        free(q);
        return res;
    }
    const vs_buf *body = &st->up.body;
    request r = {.srv = s, .method = method, .path = url, .body = body->data ? body->data : "", .body_len = body->len,
                 .t0 = st->t0, .route = R_OTHER, .status = 200};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, &r);
    if (st->up.too_large) {
        reply_error(&r, 413, "payload_too_large", "request body exceeds the limit of %zu bytes (--max-body)", s->cfg.max_body);
    } else if (runs_deferred(method, url) && authorized(s, conn)) {
        defer(s, st, conn, &r);
        return MHD_YES;
    } else {
        dispatch(&r, conn);
    }
    vs_http_metrics_record(s->metrics, r.route, r.status, now_seconds() - st->t0);
    return send_reply(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    vs_server *s = cls;
    conn_state *st = *con_cls;
    if (!st) return;
    if (st->slow) { /* resumed, but the client left before the reply was sent */
        free(st->slow->r.out.s);
        free(st->slow);
    }
    vs_http_upload_free(&st->up);
    free(st);
    *con_cls = NULL;
    vs_http_metrics_leave(s->metrics);
}

static int create_default(vs_server *s)
{
    coll_ref *ref = registry_get(&s->reg, DEFAULT_COLLECTION);
    if (ref) {
        registry_put(ref);
        return 0;
    }
    const vs_server_config *c = &s->cfg;
    if (!c->default_model && !c->default_dim) return 0;
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = c->default_dim, .factory = c->default_index, .model = c->default_model,
                               .n_threads = c->threads};
    if (c->default_metric && vs_metric_parse(c->default_metric, &o.metric)) {
        fprintf(stderr, "vecscale serve: %s\n", vs_last_error());
        return -1;
    }
    if (c->default_model) {
        vs_model *m;
        if (models_open(c->default_model, &m)) {
            fprintf(stderr, "vecscale serve: model %s: %s\n", c->default_model, vs_last_error());
            return -1;
        }
        o.dim = (uint32_t)models_dim(m);
        if (!c->default_metric) o.metric = VS_METRIC_COSINE;
    }
    if (registry_create(&s->reg, DEFAULT_COLLECTION, &o, &ref)) {
        fprintf(stderr, "vecscale serve: creating the default collection: %s\n", vs_last_error());
        return -1;
    }
    registry_put(ref);
    return 0;
}

static void free_server(vs_server *s)
{
    vs_http_metrics_free(s->metrics);
    free(s);
}

int vs_server_run(const vs_server_config *cfg)
{
    vs_server *s = calloc(1, sizeof *s);
    if (!s || !(s->metrics = vs_http_metrics_create(server_route_names, R_COUNT))) {
        free(s);
        return 1;
    }
    s->cfg = *cfg;
    if (!s->cfg.host) s->cfg.host = "127.0.0.1";
    if (!s->cfg.max_body) s->cfg.max_body = 64u << 20;
    if (!s->cfg.max_k) s->cfg.max_k = 1000;
    if (!s->cfg.max_batch) s->cfg.max_batch = 10000;
    if (!s->cfg.timeout_s) s->cfg.timeout_s = 30;
    if (!s->cfg.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->cfg.threads = n > 0 ? (unsigned)n : 2;
    }
    s->started = now_seconds();

    /* Signals are taken by sigwait in this thread only; the pool threads inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    vs_maintenance_policy maint = {.struct_size = sizeof(vs_maintenance_policy), .snapshot_interval_s = cfg->snapshot_interval_s ? cfg->snapshot_interval_s : 300};
    if (registry_open(&s->reg, cfg->data_dir, &maint, err, sizeof err)) {
        fprintf(stderr, "vecscale serve: %s\n", err);
        free_server(s);
        return 1;
    }
    if (create_default(s)) {
        registry_close(&s->reg);
        free_server(s);
        return 1;
    }

    if (!(s->slow = deferred_start(DEFERRED_THREADS))) {
        fprintf(stderr, "vecscale serve: cannot start the save threads\n");
        registry_close(&s->reg);
        free_server(s);
        return 1;
    }

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (strchr(s->cfg.host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(s->cfg.port);
        if (inet_pton(AF_INET6, s->cfg.host, &a6->sin6_addr) != 1) goto bad_host;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(s->cfg.port);
        if (inet_pton(AF_INET, s->cfg.host, &a4->sin_addr) != 1) goto bad_host;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.threads, MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_UNESCAPE_CALLBACK, vs_http_unescape, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "vecscale serve: cannot listen on %s:%u: %s\n", s->cfg.host, s->cfg.port, strerror(errno));
        deferred_stop(s->slow);
        registry_close(&s->reg);
        free_server(s);
        return 1;
    }
    unsigned port = vs_http_bound_port(d, s->cfg.port);
    if (s->cfg.port_file && vs_http_write_port_file(s->cfg.port_file, port))
        fprintf(stderr, "vecscale serve: cannot write %s: %s\n", s->cfg.port_file, strerror(errno));
    char **names;
    size_t nn = registry_names(&s->reg, &names);
    printf("vecscale serve: listening on http://%s:%u (%u threads, %zu collection%s, data %s)\n", s->cfg.host, port,
           s->cfg.threads, nn, nn == 1 ? "" : "s", cfg->data_dir);
    for (size_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    fflush(stdout);

    int sig = 0;
    if (s->cfg.on_listening && s->cfg.on_listening(s->cfg.hook_ctx, port, s)) sig = SIGTERM;
    else sigwait(&sigs, &sig);
    if (s->cfg.on_stop) s->cfg.on_stop(s->cfg.hook_ctx);
    /* Stop accepting, let requests already read finish (bounded), then flush every log. */
    MHD_socket lfd = MHD_quiesce_daemon(d);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    double deadline = now_seconds() + s->cfg.timeout_s;
    while (vs_http_metrics_in_flight(s->metrics) > 0 && now_seconds() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* A save still running finishes (libmicrohttpd must not stop with a connection suspended);
     * one still queued is answered 503. */
    deferred_stop(s->slow);
    MHD_stop_daemon(d);
    registry_close(&s->reg);
    models_close_all();
    if (!s->cfg.quiet) printf("vecscale serve: %s received; logs flushed, stopped\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    free_server(s);
    return 0;

bad_host:
    fprintf(stderr, "vecscale serve: --host %s is not a numeric IPv4 or IPv6 address\n", s->cfg.host);
    deferred_stop(s->slow);
    registry_close(&s->reg);
    free_server(s);
    return 2;
}
