/* The server side of the HTTP layer: what `vecscale serve` (src/server) and `vecscale route`
 * (src/router) both need from libmicrohttpd, in one copy: percent-decoding of the URL, request
 * bodies gathered under a size limit, the JSON error body, sending a reply, and telling a
 * test which port was bound. Routing and the replies' contents stay with each program. Linked
 * into the command (vecscale_http_server), not the library. */
#ifndef VS_HTTP_SERVER_H
#define VS_HTTP_SERVER_H

#include <microhttpd.h>
#include <stddef.h>

#include "core/buf.h"

/* MHD_OPTION_UNESCAPE_CALLBACK: percent-decodes the path and the query in place; "%00"
 * becomes byte 0xFF, so an id cannot be cut short by a NUL (it is then refused as invalid
 * UTF-8 where ids are checked). Returns the new length. */
size_t vs_http_unescape(void *cls, struct MHD_Connection *conn, char *s);

/* A request body gathered across libmicrohttpd's calls, always NUL-terminated (body.data may
 * be NULL while nothing arrived). too_large: the body passed the limit; the rest is read and
 * dropped, so the reply (413) comes after the whole request. */
typedef struct {
    vs_buf body;
    int too_large;
} vs_http_upload;

/* At the request's first call: marks too_large at once when Content-Length says so. */
void vs_http_upload_start(vs_http_upload *u, struct MHD_Connection *conn, size_t max);
/* Appends a piece of the body, or drops it once the total passes max. 0, or -1 when out of
 * memory (the body is left as it was; the caller decides what that means). */
int vs_http_upload_add(vs_http_upload *u, const char *data, size_t n, size_t max);
void vs_http_upload_free(vs_http_upload *u);

/* {"error":{"code":CODE,"message":MESSAGE}}: the error body of both servers. malloc'd and
 * NUL-terminated (*len, may be NULL, its length); NULL when out of memory. */
char *vs_http_error_body(const char *code, const char *message, size_t *len);

/* Queues the reply: body (len bytes, malloc'd, may be NULL for an empty one) is handed over
 * and freed in every case; content_type NULL = application/json; header/value one extra
 * header (header NULL = none). MHD_NO when libmicrohttpd refused it. */
enum MHD_Result vs_http_send(struct MHD_Connection *conn, unsigned status, const char *content_type, char *body,
                             size_t len, const char *header, const char *value);

/* One row of a routing table: a path (exact, or with prefix != 0 every path starting with it)
 * and a method. A program's row type starts with this struct and adds its handler; a path has
 * one row per method it answers, and the order of its rows is the order of the 405's Allow
 * list. */
typedef struct {
    const char *path;
    int prefix;
    const char *method;
} vs_http_route;

/* The row of table (n rows, `stride` bytes apart) for method and path, or NULL; *first gets the
 * path's first row (NULL: no row has this path: a 404) and allow the methods of its rows,
 * ", "-separated (for the 405 when the method has no row). */
const void *vs_http_route_find(const void *table, size_t n, size_t stride, const char *method, const char *path,
                               const void **first, char *allow, size_t cap);

/* The port daemon d listens on (`asked` when libmicrohttpd cannot say): port 0 asks the
 * kernel for a free one. */
unsigned vs_http_bound_port(struct MHD_Daemon *d, unsigned asked);
/* Writes "PORT\n" to path atomically (path.tmp, then rename): how tests and scripts learn a
 * port the kernel chose. 0, or -1 with errno set. */
int vs_http_write_port_file(const char *path, unsigned port);

#endif
