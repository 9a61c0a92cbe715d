/* Internals shared by the S3 client's files (request engine, configuration, XML, multipart). */
#ifndef VS_STORAGE_S3_IMPL_H
#define VS_STORAGE_S3_IMPL_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "vecscale.h"


struct vs_s3 {
    CURL *curl;
    char *endpoint;  /* scheme://host[:port], no trailing '/' */
    char *region;
    char *access_key, *secret_key, *session_token;
    int path_style;  /* resolved: 1 path-style, 0 virtual-hosted */
    uint32_t timeout_ms, retries, list_page;
    uint64_t part_size;
    char sigv4[160]; /* "aws:amz:REGION:s3" */
};

/* Resolves options, environment and the shared AWS files into s3 (everything but curl). */
int vs_s3_config_resolve(const vs_s3_options *opts, vs_s3 *s3);

/* One request. Query is already canonical: sorted by name, RFC 3986-encoded, every name
 * followed by '=' (curl 7.88 signs the query exactly as written). */
typedef struct {
    const char *method; /* GET PUT HEAD DELETE POST */
    const char *bucket;
    const char *key;    /* NULL or "" for a bucket-level request */
    const char *query;  /* NULL = none */
    const char *headers[6]; /* extra headers "Name: value" (all are signed), NULL-terminated */
    /* request body: memory (body, body_len) or a file range (fd >= 0) */
    const void *body;
    size_t body_len;
    int fd;
    uint64_t fd_off, fd_len;
    /* response body: memory (resp), a file (out_fd >= 0), or discarded */
    vs_buf *resp;
    int out_fd;
    void (*on_data)(const void *piece, size_t len, void *ctx);
    void *on_data_ctx;
    /* results */
    long status;
    uint64_t content_length;
    char etag[128];
} vs_s3_request;

/* Initialises a request with no body and no sink. */
void vs_s3_request_init(vs_s3_request *r, const char *method, const char *bucket, const char *key);
/* Performs r with retries; 2xx gives VS_OK, anything else a vs_fail with the S3 error code
 * and message ("what" names the operation in the message). */
int vs_s3_perform(vs_s3 *s3, vs_s3_request *r, const char *what);

/* RFC 3986 percent-encoding of s into out; '/' kept when keep_slash. Returns 0, or -1 if out
 * is too small. */
int vs_s3_uri_encode(const char *s, int keep_slash, char *out, size_t cap);

/* XML answers (libxml2). Each returns VS_OK or VS_ERR_CORRUPT for a malformed document. */
int vs_s3_xml_error(const char *xml, size_t len, char *code, size_t code_cap, char *msg, size_t msg_cap);
int vs_s3_xml_text(const char *xml, size_t len, const char *element, char *out, size_t cap);
typedef int (*vs_s3_list_cb)(const vs_s3_object *obj, void *ctx);
/* Calls fn per <Contents>; fills *truncated and the continuation token. A non-zero return
 * of fn stops and is returned. */
int vs_s3_xml_list(const char *xml, size_t len, vs_s3_list_cb fn, void *ctx, int *truncated, char *token,
                size_t token_cap);

#endif
