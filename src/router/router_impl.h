/* Router internals shared by router.c (HTTP side, cluster view) and router_fanout.c. */
#ifndef VS_CLUSTER_ROUTER_IMPL_H
#define VS_CLUSTER_ROUTER_IMPL_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

#include "cluster/cluster_map.h"
#include "cluster/etcd.h"
#include "router/router.h"
#include "core/buf.h"

typedef struct {
    const vs_router_config *cfg;
    pthread_mutex_t lock;
    vs_cluster_map map; /* guarded by lock; copied per request */
    int have_map;
    /* recent failures per (shard, replica): a replica that just failed is tried last */
    double failed_at[VS_CLUSTER_MAX_SHARDS][VS_CLUSTER_MAX_REPLICAS];
    unsigned long rr; /* round-robin start, spreads load over replicas */
    /* automatic document ids (router_ids.c): an etcd handle of their own, one request at a time */
    pthread_mutex_t ids_lock;
    vs_etcd *ids_etcd;
    struct router_ids *ids; /* per collection: what this router knows of its counter */
    size_t n_ids;
    double started;
    struct vs_js *js; /* the replicated write log (router_log.c) */
    int default_log_ready; /* the default collection's streams exist (router_log.c); under lock */
    /* each replica's lag behind its streams (GET /health "log_lag"), refreshed with
     * the map; -1 = unknown. Guarded by lock. */
    int64_t lag[VS_CLUSTER_MAX_SHARDS][VS_CLUSTER_MAX_REPLICAS];
    /* --nats: messages each replica refused when applying them (its /health "log_refused");
     * -1 = unknown. Guarded by lock. */
    int64_t log_refused[VS_CLUSTER_MAX_SHARDS][VS_CLUSTER_MAX_REPLICAS];
    struct vs_http_metrics *metrics; /* GET /metrics (http/http_metrics.h) */
} router;

/* An HTTP answer being built: status and JSON body (malloc'd). */
typedef struct {
    int status;
    char *body;
    char content_type[80]; /* "" = application/json */
} router_reply;

enum { LEG_RUNNING, LEG_OK, LEG_FAILED, LEG_CLIENT_ERROR };

/* One HTTP exchange with one shard, tried on its replicas in `order` (router_plan) until one
 * answers. */
typedef struct {
    uint32_t shard;
    uint32_t order[VS_CLUSTER_MAX_REPLICAS], n_order, next;
    uint32_t replica; /* being tried */
    const char *method; /* NULL = POST; "GET" sends no body */
    uint32_t timeout_ms; /* per try; 0 = the router's attempt timeout (searches, reads) */
    CURL *easy;
    vs_buf resp;
    int state;
    long status;
    char why[160]; /* last failure */
} leg;

/* Live replicas of l->shard in the order to try them: round-robin, recent failures last. */
void router_plan(router *r, const vs_cluster_map *m, leg *l);
/* Runs every leg to completion: success, a 4xx (no retry), or no replica left. retry == 0: a
 * failed leg is not moved to another replica. */
void router_run_legs(router *r, const vs_cluster_map *m, leg *legs, size_t n, const char *path, const char *body,
                     size_t len, int retry);
void router_free_legs(leg *legs, size_t n);
/* Copies the current shard map into m; 0 (and a 503 in out) if none was read yet. */
int router_snapshot_map(router *r, vs_cluster_map *m, router_reply *out);

/* Reserves n consecutive automatic document ids in collection `coll` ("" = default), unique
 * over the cluster and above every integer id a write through a router has used there
 * (router_ids.c). */
int router_ids_reserve(router *r, const char *coll, size_t n, int64_t *first);
/* The same for a request the client named (request_id): the first call records in etcd where
 * its n ids start (for at least `keep_s` seconds), and a retry, through this router or
 * another, gets the same ids. VS_ERR_CONFLICT if the request_id named a request of another
 * size. */
int router_ids_reserve_for(router *r, const char *coll, const char *request_id, size_t n, uint32_t keep_s,
                           int64_t *first);
/* Notes that integer ids up to max_id are in use, so automatic ids start after it. With etcd
 * away the write goes on: the floor is kept and raised before the next reservation. */
void router_ids_note(router *r, const char *coll, int64_t max_id);
/* A dropped collection's counter goes with it (a new one of that name starts at 0). */
void router_ids_drop(router *r, const char *coll);
void router_ids_free(router *r);

/* The merged top k of the shards' result arrays lists[0..n) ([{"id","score",...}], items
 * without a number score or an id skipped): best first by the metric's order, equal scores by
 * id (integers first, then string ids in byte order), so the result does not depend on which
 * shard answered first. A new array of references to the items: print it before the lists'
 * owners are deleted. */
cJSON *router_merge_hits(const cJSON *const *lists, size_t n_lists, long k, int metric);

/* POST <path> with a search body: fan out, retry, merge. */
void router_search(router *r, const char *path, const char *body, size_t len, router_reply *out);
/* POST <path> (.../search/batch): fan out, retry, merge each query's results (router_batch.c). */
void router_search_batch(router *r, const char *path, const char *body, size_t len, router_reply *out);
/* GET <prefix>/documents/{id} from one live replica of its shard, the next one on failure. */
void router_get_document(router *r, const char *prefix, const char *id, router_reply *out);
/* <prefix>/documents/<id percent-encoded> into out; 0 if it does not fit. */
int router_document_path(const char *prefix, const char *id, char *out, size_t cap);
/* GET <path> (.../stats or /collections/{name}): every shard's stats, summed, with one row per shard. */
void router_stats(router *r, const char *path, router_reply *out);
/* GET <path> answered by any live node as it is (the same on every node: GET /, the search
 * page, and /openapi.json), with its content type. */
void router_from_any_node(router *r, const char *path, router_reply *out);
/* GET /collections: the shards' listings merged by collection name. */
void router_collections(router *r, router_reply *out);
/* POST <path> (.../save) with the export name (or NULL) on every live node. */
void router_save(router *r, const char *path, const char *name, router_reply *out);
/* The cluster total of the collection whose routes start with coll_prefix ("" = default):
 * known[s] (when not negative) is taken as shard s's count without asking it. -1 if a shard
 * did not answer. */
double router_cluster_total(router *r, const vs_cluster_map *m, const char *coll_prefix, const double *known);

/* router_log.c: POST /collections, POST .../vectors, POST .../index and DELETE
 * .../documents/{id} published to the owning shards' streams, answered once stored. Returns 1
 * when (method, url) is one of those (and *out is the answer), 0 to let the caller route it. */
int router_log_route(router *r, const char *method, const char *url, const char *body, size_t len, router_reply *out);
/* POST /index's bodies (texts or documents, with or without ids) as {"documents": [{id, ...}]}
 * with ids from etcd where none were given; takes req; NULL after an error in out. */
cJSON *router_log_documents(router *r, const char *coll, cJSON *req, router_reply *out);
/* The server's checks of a write body (router_check.c): each sets the server's 400 in out
 * and returns 0 / NULL on a refusal. */
cJSON *router_parse(const char *body, size_t len, router_reply *out);
int router_only_fields(const cJSON *o, const char *const *allowed, router_reply *out);
/* One id as the server reads it: its owning shard and *int_id (the integer it names or -1). */
int router_read_id(const cJSON *v, const char *body, size_t len, const char *what, uint32_t n_shards, uint32_t *owner,
                   int64_t *int_id, router_reply *out);
/* POST /index's three shapes made {"documents": [{text, metadata}], "skip_empty"}; *given =
 * the documents' ids when they have them. */
cJSON *router_index_request(const char *body, size_t len, cJSON **given, router_reply *out);
/* An id as one server shows it back: integers (also "17") as numbers, others as strings. */
cJSON *router_shown_id(const cJSON *id);
/* Writes and collection admin through the log with one server's checks and replies
 * (router_log_api.c); 1 when (method, url) is a write (and *out its answer). */
int router_log_api(router *r, const char *method, const char *url, const char *body, size_t len, router_reply *out);

/* The stream's duplicate window: a retry within it is stored once. */
#define ROUTER_LOG_DUP_WINDOW_S 600
/* The body's "request_id" when it can name a request in message ids (1 to 64 bytes, no
 * white space), else NULL (router_log.c). */
const char *router_log_request_id(const cJSON *req);
/* What a replica would refuse is refused before publishing (router_log_check.c): 1 = go on,
 * 0 = *out holds the refusal. /index: docs (the documents as they will be published, ids or
 * not) are checked by one live replica without storing; /vectors: dimension and types. */
int router_log_check_index(router *r, const char *coll, const cJSON *docs, const cJSON *skip, router_reply *out);
int router_log_check_vectors(router *r, const char *coll, const cJSON *req, router_reply *out);
/* 409 duplicate_id (as one server) when an id appears twice among ids[0..n). */
int router_log_check_unique(const cJSON *const *ids, int n, router_reply *out);
/* Refreshes r->lag for m's live replicas (router_log.c). */
void router_log_poll_lag(router *r, const vs_cluster_map *m);
/* Whether replica i of shard s lags more than --max-lag (lock held). */
int router_lagging(const router *r, uint32_t s, uint32_t i);

void router_note_failure(router *r, uint32_t shard, uint32_t replica);

double router_now(void);
/* Sets out to {"error":{"code":code,"message":...}} with the status. */
void router_error(router_reply *out, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
