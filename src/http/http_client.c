/* vs_http_* (http_client.h). */
#include "http/http_client.h"

#include <pthread.h>

#include "core/error.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;
static void init_curl(void) { init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int vs_http_init(void)
{
    pthread_once(&once, init_curl);
    if (init_rc != CURLE_OK)
        return vs_fail(VS_ERR_NETWORK, "libcurl failed to initialise: %s", curl_easy_strerror(init_rc));
    return VS_OK;
}

int vs_http_easy(CURL **out)
{
    *out = NULL;
    int rc = vs_http_init();
    if (rc) return rc;
    if (!(*out = curl_easy_init())) return vs_fail(VS_ERR_NOMEM, "curl_easy_init failed");
    return VS_OK;
}

int vs_http_setup(CURL *c, const char *url, const vs_http_timeouts *t, char *errbuf)
{
    if (t->total_ms <= 0 && t->stall_s <= 0)
        return vs_fail(VS_ERR_INVALID_ARG, "http: %s: a transfer needs a total timeout or a stall limit", url);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t->connect_ms > 0 ? t->connect_ms : t->total_ms);
    if (t->total_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t->total_ms);
    if (t->stall_s > 0) {
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, t->stall_s);
    }
    if (errbuf) {
        errbuf[0] = '\0';
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    }
    return VS_OK;
}

static size_t to_buf(char *p, size_t size, size_t n, void *ud)
{
    return vs_buf_append(ud, p, size * n) ? 0 : size * n;
}

static size_t drop(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

void vs_http_collect(CURL *c, vs_buf *b)
{
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
}

void vs_http_discard(CURL *c) { curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop); }

long vs_http_status(CURL *c)
{
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

const char *vs_http_strerror(CURLcode cc, const char *errbuf)
{
    return errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc);
}
