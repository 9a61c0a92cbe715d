/* Internals shared by the server's source files: the request being answered and helpers
 * that produce JSON replies. */
#ifndef VS_SERVER_IMPL_H
#define VS_SERVER_IMPL_H

#include <cjson/cJSON.h>
#include <stdatomic.h>

#include "http/http_metrics.h"
#include "server/metrics.h"
#include "server/open_collections.h"
#include "server/strbuf.h"
#include "server/server.h"

typedef struct vs_server_handle {
    vs_server_config cfg;
    registry reg;
    vs_http_metrics *metrics; /* requests, latencies, in flight (http/http_metrics.h) */
    struct deferred *slow; /* POST /save runs there, off the poll threads (deferred.h) */
    double started;
} vs_server;

/* Query-string parameters of a request (decoded by libmicrohttpd; value NULL for "?key"). */
#define MAX_QUERY_PARAMS 16
typedef struct {
    const char *key, *value;
} query_param;

typedef struct {
    vs_server *srv;
    const char *method;
    const char *path;       /* URL path without the query string */
    const char *body;       /* NUL-terminated */
    size_t body_len;
    double t0;              /* when the request arrived (seconds, monotonic) */
    route_id route;
    query_param query[MAX_QUERY_PARAMS];
    size_t n_query;         /* how many the URL had (may exceed MAX_QUERY_PARAMS: only that many kept) */
    /* the reply */
    int status;
    sb out;
    const char *content_type;
} request;

double now_seconds(void);

/* Sets a JSON error reply {"error": {"code", "message"}} and returns status. */
int reply_error(request *r, int status, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Maps a failed vs_* call to a reply (400 / 404 / 409 / 500) using vs_last_error(). */
int reply_vs_error(request *r, int rc);
/* Sets a reply from a cJSON object (printed, then freed). */
int reply_json(request *r, int status, cJSON *obj);

/* Parses the body as any JSON value; on failure replies 400 and returns NULL. */
cJSON *parse_json(request *r);
/* Parses the body as a JSON object; on failure replies 400 and returns NULL. */
cJSON *parse_object(request *r);
/* Replies 400 for the first key of obj not in `allowed` (NULL-terminated) and returns 0. */
int only_fields(request *r, const cJSON *obj, const char *const *allowed);
/* Replies 400 unknown_parameter naming every query-string parameter not in `allowed`
 * (NULL-terminated), and for one given twice; returns 0 then. A parameter is never ignored. */
int only_params(request *r, const char *const *allowed);
/* The value of query parameter key ("" for "?key"), or NULL when absent. */
const char *query_value(const request *r, const char *key);
/* Reads an optional integer field in [lo, hi]; absent leaves *out unchanged. 0 = replied 400. */
int get_int(request *r, const cJSON *obj, const char *key, long lo, long hi, long *out);
/* Converts a JSON array of numbers of length dim into out; 0 = replied 400. */
int get_vector(request *r, const cJSON *arr, uint32_t dim, float *out, const char *what);

/* Named saves (export.c): NAME's rule is 1 to 64 characters from A-Z a-z 0-9 _ - ., not
 * starting with '.', no "..", so it stays one directory inside DATA/exports. */
#define EXPORT_NAME_MAX 64
/* NULL when name is a valid export name, else what is wrong with it ("is an absolute path"). */
const char *export_name_problem(const char *name);
/* Hard-links ref's last committed snapshot into DATA/exports/NAME/collections/<collection>/
 * (replacing an earlier export of that collection under NAME: *replaced = 1); root_out gets
 * the absolute path of DATA/exports/NAME. */
int export_collection(const char *data_dir, const coll_ref *ref, const char *name, int *replaced, char *root_out,
                      size_t root_cap);
/* doc_ids.c: document ids (vecscale.h, "Document ids"). read_doc_id reads a JSON number or
 * string id into *out (malloc'd text under the library's rule: numbers in decimal); 0 = replied
 * 400 invalid_id. render_key writes an id given as text as the client means it (a canonical
 * integer as a number, else a string). render_doc_id writes document id's id as the client
 * gave it; VS_ERR_NOT_FOUND when the document is gone. */
int read_doc_id(request *r, const cJSON *v, const char *what, char **out);
void render_key(sb *o, const char *key);
int render_doc_id(sb *o, vs_collection *c, int64_t id);

/* Route handlers. `ref` is the target collection (NULL for routes without one). */
int route_search(request *r, coll_ref *ref);
int route_search_batch(request *r, coll_ref *ref);
int route_index(request *r, coll_ref *ref);
int route_vectors(request *r, coll_ref *ref);
int route_document(request *r, coll_ref *ref, const char *id_text);
int route_stats(request *r, coll_ref *ref);
int route_save(request *r, coll_ref *ref);
int route_collections_list(request *r);
int route_collection_create(request *r);
int route_collection_delete(request *r, const char *name);
int route_health(request *r);
int route_metrics(request *r);
int route_openapi(request *r);
int route_page(request *r);

/* The strict fast parser for the hot path ({"vector": [...], "k": n, "nprobe": n, "ef": n}
 * in any order, nothing else). Returns 1 when it parsed the body, 0 when the caller must use
 * cJSON instead (anything else, including every malformed body). vec has room for cap floats. */
typedef struct {
    float *vec;
    size_t n;
    long k, nprobe, ef;
    int has_vector, has_k, has_nprobe, has_ef;
} fast_search;
int fast_parse_search(const char *body, size_t len, fast_search *out, size_t cap);

extern const char vs_page_html[];
extern const char vs_openapi_json[];

#endif
