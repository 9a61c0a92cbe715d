/* The S3 request engine: URL building, SigV4 through libcurl, bodies from memory or a file
 * range, responses to memory or a file, retries, and S3 error documents turned into
 * vs_fail messages.
 *
 * libcurl 7.88's SigV4 has pitfalls this file works around: it signs every custom header, so
 * header-removal entries ("Expect:") would be signed but not sent (we never add any); it does
 * not hash a streamed body, so x-amz-content-sha256 is always supplied here (UNSIGNED-PAYLOAD:
 * integrity is end to end through the snapshot checksums); and it signs the query exactly as
 * written, so callers pass it sorted and encoded with every name followed by '='. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "http/http_client.h"
#include "storage/s3_impl.h"

int vs_s3_uri_encode(const char *s, int keep_slash, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
        if (o + (plain ? 1 : 3) >= cap) return -1;
        if (plain) out[o++] = (char)*p;
        else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= cap) return -1;
    out[o] = '\0';
    return 0;
}

void vs_s3_request_init(vs_s3_request *r, const char *method, const char *bucket, const char *key)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->bucket = bucket;
    r->key = key;
    r->fd = -1;
    r->out_fd = -1;
}

typedef struct {
    vs_s3_request *r;
    vs_s3 *s3;
    uint64_t sent;   /* bytes of the request body sent */
    vs_buf err;      /* body of a non-2xx answer */
    int write_errno; /* a failed write to out_fd */
} transfer;

static size_t read_body(char *buf, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    vs_s3_request *r = t->r;
    size_t want = size * nmemb;
    uint64_t total = r->fd >= 0 ? r->fd_len : r->body_len;
    if (t->sent >= total) return 0;
    if (want > total - t->sent) want = (size_t)(total - t->sent);
    if (r->fd >= 0) {
        ssize_t got = pread(r->fd, buf, want, (off_t)(r->fd_off + t->sent));
        if (got <= 0) return CURL_READFUNC_ABORT; /* the file shrank or failed under us */
        want = (size_t)got;
    } else {
        memcpy(buf, (const char *)r->body + t->sent, want);
    }
    t->sent += want;
    return want;
}

static size_t write_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    vs_s3_request *r = t->r;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(t->s3->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) { /* keep an error document, not the sink */
        if (t->err.len < 65536) vs_buf_append(&t->err, ptr, n);
        return n;
    }
    if (r->out_fd >= 0) {
        size_t done = 0;
        while (done < n) {
            ssize_t w = write(r->out_fd, ptr + done, n - done);
            if (w < 0) {
                if (errno == EINTR) continue;
                t->write_errno = errno;
                return 0;
            }
            done += (size_t)w;
        }
    } else if (r->resp) {
        if (vs_buf_append(r->resp, ptr, n)) return 0;
    }
    if (r->on_data) r->on_data(ptr, n, r->on_data_ctx);
    return n;
}

static size_t header_line(char *line, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    if (n > 5 && !strncasecmp(line, "ETag:", 5)) {
        const char *v = line + 5;
        while (*v == ' ') v++;
        size_t len = n - (size_t)(v - line);
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ')) len--;
        if (len < sizeof t->r->etag) {
            memcpy(t->r->etag, v, len);
            t->r->etag[len] = '\0';
        }
    }
    return n;
}

static int build_url(vs_s3 *s3, const vs_s3_request *r, char *url, size_t cap)
{
    char key[3 * 1024 + 1] = "";
    if (r->key && *r->key && vs_s3_uri_encode(r->key, 1, key, sizeof key))
        return vs_fail(VS_ERR_INVALID_ARG, "s3: key too long: %.80s...", r->key);
    const char *q = r->query && *r->query ? r->query : NULL;
    int n;
    if (s3->path_style) {
        n = snprintf(url, cap, "%s/%s%s%s%s%s", s3->endpoint, r->bucket, *key ? "/" : "", key, q ? "?" : "",
                     q ? q : "");
    } else {
        const char *host = strstr(s3->endpoint, "://") + 3;
        n = snprintf(url, cap, "%.*s%s.%s/%s%s%s", (int)(host - s3->endpoint), s3->endpoint, r->bucket, host,
                     key, q ? "?" : "", q ? q : "");
    }
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "s3: URL too long");
    return VS_OK;
}

static int valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' || b[i] == '.' ||
              b[i] == '_'))
            return 0;
    return 1;
}

/* Turns a failed answer into an error code and message. */
static int fail_status(vs_s3 *s3, const vs_s3_request *r, const char *what, long status, const vs_buf *err)
{
    char code[128] = "", msg[256] = "";
    if (err->len) vs_s3_xml_error(err->data, err->len, code, sizeof code, msg, sizeof msg);
    const char *sep = *msg ? ": " : "";
    const char *obj = r->key && *r->key ? r->key : "";
    if (status == 403 || status == 401) {
        const char *hint = !strcmp(code, "InvalidAccessKeyId")  ? " (the access key is unknown to the store)"
                           : !strcmp(code, "SignatureDoesNotMatch") ? " (wrong secret key, or a clock skew)"
                           : !strcmp(code, "RequestTimeTooSkewed") ? " (the clock is off)"
                                                                     : "";
        return vs_fail(VS_ERR_AUTH, "s3: %s s3://%s/%s: access denied, HTTP %ld %s%s%s%s; check the credentials "
                       "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, key %.8s...) and endpoint %s",
                       what, r->bucket, obj, status, *code ? code : "Forbidden", hint, sep, msg, s3->access_key,
                       s3->endpoint);
    }
    if (status == 404)
        return vs_fail(VS_ERR_NOT_FOUND, "s3: %s s3://%s/%s: %s", what, r->bucket, obj,
                       *code ? code : "not found");
    if (status == 412 || (status == 409 && !strcmp(code, "ConditionalRequestConflict")))
        return vs_fail(VS_ERR_CONFLICT, "s3: %s s3://%s/%s: already exists (conditional write lost)", what,
                       r->bucket, obj);
    if (status >= 500)
        return vs_fail(VS_ERR_NETWORK, "s3: %s s3://%s/%s: server error HTTP %ld %s%s%s", what, r->bucket, obj,
                       status, code, sep, msg);
    return vs_fail(VS_ERR_INVALID_ARG, "s3: %s s3://%s/%s: HTTP %ld %s%s%s", what, r->bucket, obj, status, code,
                   sep, msg);
}

static void backoff(unsigned attempt)
{
    /* 100 ms, 200 ms, 400 ms ... capped at 3.2 s: enough for a restarting gateway. */
    unsigned ms = 100u << (attempt < 5 ? attempt : 5);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int vs_s3_perform(vs_s3 *s3, vs_s3_request *r, const char *what)
{
    if (!r->bucket || !valid_bucket(r->bucket))
        return vs_fail(VS_ERR_INVALID_ARG, "s3: bad bucket name '%s'", r->bucket ? r->bucket : "(null)");
    char url[4096];
    int rc = build_url(s3, r, url, sizeof url);
    if (rc) return rc;

    struct curl_slist *hdrs = NULL, *h;
    int oom = 0;
#define ADD(s)                                                                                                 \
    do {                                                                                                       \
        h = curl_slist_append(hdrs, s);                                                                        \
        if (!h) oom = 1;                                                                                       \
        else hdrs = h;                                                                                         \
    } while (0)
    ADD("x-amz-content-sha256: UNSIGNED-PAYLOAD");
    char tok[4200];
    if (s3->session_token) {
        snprintf(tok, sizeof tok, "x-amz-security-token: %s", s3->session_token);
        ADD(tok);
    }
    for (int i = 0; i < 6 && r->headers[i]; i++) ADD(r->headers[i]);
    if (!strcmp(r->method, "POST")) ADD("Content-Type: application/xml");
#undef ADD
    if (oom) {
        curl_slist_free_all(hdrs);
        return vs_fail(VS_ERR_NOMEM, "s3: out of memory");
    }

    uint64_t body_total = r->fd >= 0 ? r->fd_len : r->body_len;
    off_t out_start = r->out_fd >= 0 ? lseek(r->out_fd, 0, SEEK_CUR) : 0;
    rc = VS_OK;
    for (unsigned attempt = 0;; attempt++) {
        CURL *c = s3->curl;
        transfer t = {.r = r, .s3 = s3};
        /* A transfer may take long (a 64 MiB part on a slow link) but must not stall; a small
         * one in memory also has a total bound. */
        vs_http_timeouts to = {.connect_ms = (long)s3->timeout_ms,
                               .total_ms = body_total < (1u << 20) && r->out_fd < 0 ? (long)s3->timeout_ms * 2 : 0,
                               .stall_s = (long)((s3->timeout_ms + 999) / 1000)};
        if ((rc = vs_http_setup(c, url, &to, NULL))) break;
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s3->sigv4);
        curl_easy_setopt(c, CURLOPT_USERNAME, s3->access_key);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s3->secret_key);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_line);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 200L);
        if (!strcmp(r->method, "HEAD")) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (!strcmp(r->method, "PUT")) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_total);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
            curl_easy_setopt(c, CURLOPT_READDATA, &t);
        } else if (!strcmp(r->method, "POST")) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_total);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
            curl_easy_setopt(c, CURLOPT_READDATA, &t);
        } else if (strcmp(r->method, "GET")) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        }
        if (r->out_fd >= 0) { /* a retry starts the file over */
            if (lseek(r->out_fd, out_start, SEEK_SET) < 0 || ftruncate(r->out_fd, out_start) < 0) {
                rc = vs_fail(VS_ERR_IO, "s3: %s: rewinding the output file: %s", what, strerror(errno));
                break;
            }
        }
        if (r->resp) r->resp->len = 0;
        r->etag[0] = '\0';

        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        r->status = status;
        if (t.write_errno) {
            rc = vs_fail(VS_ERR_IO, "s3: %s s3://%s/%s: writing the download: %s", what, r->bucket,
                         r->key ? r->key : "", strerror(t.write_errno));
            vs_buf_free(&t.err);
            break;
        }
        int transient;
        if (cc != CURLE_OK) {
            transient = cc != CURLE_ABORTED_BY_CALLBACK && cc != CURLE_READ_ERROR;
            rc = cc == CURLE_READ_ERROR || cc == CURLE_ABORTED_BY_CALLBACK
                     ? vs_fail(VS_ERR_IO, "s3: %s s3://%s/%s: reading the local file failed", what, r->bucket,
                               r->key ? r->key : "")
                     : vs_fail(VS_ERR_NETWORK, "s3: %s %s: %s (after %u attempts)", what, url,
                               curl_easy_strerror(cc), attempt + 1);
        } else if (status >= 200 && status <= 299) {
            curl_off_t cl = -1;
            curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
            r->content_length = cl > 0 ? (uint64_t)cl : 0;
            rc = VS_OK;
            transient = 0;
        } else {
            transient = status >= 500 || status == 429;
            rc = fail_status(s3, r, what, status, &t.err);
        }
        vs_buf_free(&t.err);
        if (rc == VS_OK || !transient || attempt >= s3->retries) break;
        backoff(attempt);
    }
    curl_slist_free_all(hdrs);
    return rc;
}
