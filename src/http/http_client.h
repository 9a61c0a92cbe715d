/* The one place vecscale sets up libcurl, for the S3 client, etcd, node membership, the model
 * hub, the router's fan-out and its reads of the replicas: process-wide initialisation
 * once (curl_global_init is not thread-safe), the options every transfer needs (URL, no
 * signals, and always a bound: a connect timeout plus a total timeout or a stall limit, so no
 * call blocks forever), response bodies into a vs_buf, and the text of a failed transfer. */
#ifndef VS_HTTP_CLIENT_H
#define VS_HTTP_CLIENT_H

#include <curl/curl.h>

#include "core/buf.h"

typedef struct {
    long connect_ms; /* connection set-up; 0 = total_ms */
    long total_ms;   /* the whole transfer; 0 = no total bound (stall_s must be set) */
    long stall_s;    /* fail when below 1 byte/s for this long; 0 = off */
} vs_http_timeouts;

/* curl_global_init, once per process. VS_OK, or VS_ERR_NETWORK with the error set. */
int vs_http_init(void);
/* A new easy handle in *out (initialising libcurl first); VS_OK, VS_ERR_NETWORK or VS_ERR_NOMEM. */
int vs_http_easy(CURL **out);
/* Resets c and sets the URL, NOSIGNAL and the timeouts (a vs_http_timeouts with neither a total
 * nor a stall bound is refused with VS_ERR_INVALID_ARG: no unbounded transfer). errbuf, if not
 * NULL, is CURL_ERROR_SIZE bytes that receive curl's detailed message. */
int vs_http_setup(CURL *c, const char *url, const vs_http_timeouts *t, char *errbuf);
/* The response body goes to b (appended), or is dropped. */
void vs_http_collect(CURL *c, vs_buf *b);
void vs_http_discard(CURL *c);
/* The HTTP status of the last transfer on c (0 if none arrived). */
long vs_http_status(CURL *c);
/* What went wrong: curl's detailed message when errbuf holds one, else its code's text. */
const char *vs_http_strerror(CURLcode cc, const char *errbuf);

#endif
