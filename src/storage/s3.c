/* The public S3 calls: one request each, except put_file (s3_multipart.c) and list (which
 * follows the pagination). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/options.h"
#include "http/http_client.h"
#include "storage/s3_impl.h"

void vs_s3_options_init(vs_s3_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->timeout_ms = 30000;
    o->retries = 3;
    o->part_size = 64ull << 20;
    o->list_page = 1000;
}

int vs_s3_open(const vs_s3_options *caller_opts, vs_s3 **out)
{
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_open: out is NULL");
    *out = NULL;
    VS_READ_OPTIONS(vs_s3_options, given, caller_opts, VS_S3_OPTIONS_V1);
    const vs_s3_options *opts = &given;
    int rc = vs_http_init();
    if (rc) return rc;
    vs_s3 *s3 = calloc(1, sizeof *s3);
    if (!s3) return vs_fail(VS_ERR_NOMEM, "s3: out of memory");
    rc = vs_s3_config_resolve(opts, s3);
    if (rc == VS_OK) rc = vs_http_easy(&s3->curl);
    if (rc) {
        vs_s3_free(s3);
        return rc;
    }
    *out = s3;
    return VS_OK;
}

void vs_s3_free(vs_s3 *s3)
{
    if (!s3) return;
    if (s3->curl) curl_easy_cleanup(s3->curl);
    free(s3->endpoint);
    free(s3->region);
    free(s3->access_key);
    if (s3->secret_key) memset(s3->secret_key, 0, strlen(s3->secret_key));
    free(s3->secret_key);
    free(s3->session_token);
    free(s3);
}

int vs_s3_parse_uri(const char *uri, char *bucket, size_t bucket_cap, char *prefix, size_t prefix_cap)
{
    if (!uri || !bucket || !prefix || !bucket_cap || !prefix_cap)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_parse_uri: NULL argument");
    if (strncmp(uri, "s3://", 5))
        return vs_fail(VS_ERR_INVALID_ARG, "'%s' is not an s3://bucket/prefix URI", uri);
    const char *b = uri + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (blen == 0 || blen >= bucket_cap) return vs_fail(VS_ERR_INVALID_ARG, "'%s': bad bucket name", uri);
    memcpy(bucket, b, blen);
    bucket[blen] = '\0';
    const char *p = slash ? slash : b + blen;
    while (*p == '/') p++;
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/') plen--;
    if (plen >= prefix_cap) return vs_fail(VS_ERR_INVALID_ARG, "'%s': prefix too long", uri);
    memcpy(prefix, p, plen);
    prefix[plen] = '\0';
    return VS_OK;
}

int vs_s3_create_bucket(vs_s3 *s3, const char *bucket)
{
    if (!s3) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_create_bucket: NULL handle");
    vs_s3_request r;
    vs_s3_request_init(&r, "PUT", bucket, NULL);
    int rc = vs_s3_perform(s3, &r, "create bucket");
    /* radosgw and AWS us-east-1 answer 200 for a bucket one already owns; others 409. */
    if (rc == VS_ERR_INVALID_ARG && r.status == 409) {
        vs_clear_error();
        return VS_OK;
    }
    return rc;
}

int vs_s3_put(vs_s3 *s3, const char *bucket, const char *key, const void *data, size_t len, int if_none_match)
{
    if (!s3 || !key || !*key || (!data && len)) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_put: bad argument");
    vs_s3_request r;
    vs_s3_request_init(&r, "PUT", bucket, key);
    r.body = data ? data : "";
    r.body_len = len;
    if (if_none_match) r.headers[0] = "If-None-Match: *";
    return vs_s3_perform(s3, &r, "PUT");
}

int vs_s3_get(vs_s3 *s3, const char *bucket, const char *key, uint64_t offset, uint64_t length, void **data,
              size_t *len)
{
    if (!s3 || !key || !data || !len) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_get: bad argument");
    *data = NULL;
    *len = 0;
    vs_s3_request r;
    vs_s3_request_init(&r, "GET", bucket, key);
    char range[80];
    if (offset || length) {
        if (length) snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)offset,
                             (unsigned long long)(offset + length - 1));
        else snprintf(range, sizeof range, "Range: bytes=%llu-", (unsigned long long)offset);
        r.headers[0] = range;
    }
    vs_buf buf = {0};
    r.resp = &buf;
    int rc = vs_s3_perform(s3, &r, "GET");
    if (rc) {
        vs_buf_free(&buf);
        return rc;
    }
    if (!buf.data && !(buf.data = calloc(1, 1))) return vs_fail(VS_ERR_NOMEM, "s3: out of memory");
    *data = buf.data;
    *len = buf.len;
    return VS_OK;
}

int vs_s3_get_fd(vs_s3 *s3, const char *bucket, const char *key, int fd,
                 void (*on_data)(const void *piece, size_t len, void *ctx), void *ctx)
{
    if (!s3 || !key || fd < 0) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_get_fd: bad argument");
    vs_s3_request r;
    vs_s3_request_init(&r, "GET", bucket, key);
    r.out_fd = fd;
    r.on_data = on_data;
    r.on_data_ctx = ctx;
    return vs_s3_perform(s3, &r, "GET");
}

int vs_s3_head(vs_s3 *s3, const char *bucket, const char *key, uint64_t *size, char *etag, size_t etag_cap)
{
    if (!s3 || !key) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_head: bad argument");
    vs_s3_request r;
    vs_s3_request_init(&r, "HEAD", bucket, key);
    int rc = vs_s3_perform(s3, &r, "HEAD");
    if (rc) return rc;
    if (size) *size = r.content_length;
    if (etag && etag_cap) snprintf(etag, etag_cap, "%s", r.etag);
    return VS_OK;
}

int vs_s3_delete(vs_s3 *s3, const char *bucket, const char *key)
{
    if (!s3 || !key || !*key) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_delete: bad argument");
    vs_s3_request r;
    vs_s3_request_init(&r, "DELETE", bucket, key);
    int rc = vs_s3_perform(s3, &r, "DELETE");
    if (rc == VS_ERR_NOT_FOUND) { /* S3 itself answers 204; some stores 404 */
        vs_clear_error();
        return VS_OK;
    }
    return rc;
}

int vs_s3_list(vs_s3 *s3, const char *bucket, const char *prefix, int (*fn)(const vs_s3_object *, void *),
               void *ctx)
{
    if (!s3 || !fn) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_list: bad argument");
    char token[1024] = "", etoken[3 * 1024 + 1], eprefix[3 * 1024 + 1], query[8192];
    if (vs_s3_uri_encode(prefix ? prefix : "", 0, eprefix, sizeof eprefix))
        return vs_fail(VS_ERR_INVALID_ARG, "s3: prefix too long");
    int rc = VS_OK;
    for (;;) {
        if (vs_s3_uri_encode(token, 0, etoken, sizeof etoken))
            return vs_fail(VS_ERR_CORRUPT, "s3: continuation token too long");
        /* Sorted by name, as SigV4's canonical query (curl 7.88 does not sort it). */
        snprintf(query, sizeof query, "%s%s%slist-type=2&max-keys=%u&prefix=%s",
                 *token ? "continuation-token=" : "", etoken, *token ? "&" : "", s3->list_page, eprefix);
        vs_s3_request r;
        vs_s3_request_init(&r, "GET", bucket, NULL);
        r.query = query;
        vs_buf buf = {0};
        r.resp = &buf;
        rc = vs_s3_perform(s3, &r, "LIST");
        int truncated = 0;
        if (rc == VS_OK) rc = vs_s3_xml_list(buf.data ? buf.data : "", buf.len, fn, ctx, &truncated, token, sizeof token);
        vs_buf_free(&buf);
        if (rc || !truncated) break;
    }
    return rc;
}
