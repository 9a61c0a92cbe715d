/* etcd v3 through its JSON gateway (see etcd.h). Keys and values travel base64-encoded;
 * 64-bit numbers (lease IDs, TTLs) arrive as JSON strings. */
#include "cluster/etcd.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "http/http_client.h"

#define MAX_ENDPOINTS 8

struct vs_etcd {
    CURL *curl;
    char *endpoints[MAX_ENDPOINTS];
    size_t n, current;
    uint32_t timeout_ms;
};

int vs_etcd_open(const char *endpoints, uint32_t timeout_ms, vs_etcd **out)
{
    if (!out || !endpoints || !*endpoints) return vs_fail(VS_ERR_INVALID_ARG, "etcd: no endpoint given");
    *out = NULL;
    vs_etcd *e = calloc(1, sizeof *e);
    if (!e) return vs_fail(VS_ERR_NOMEM, "etcd: out of memory");
    e->timeout_ms = timeout_ms ? timeout_ms : 2000;
    const char *p = endpoints;
    while (*p && e->n < MAX_ENDPOINTS) {
        size_t len = strcspn(p, ",");
        char *ep = strndup(p, len);
        if (!ep) break;
        while (len && ep[len - 1] == '/') ep[--len] = '\0';
        if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
            int rc = vs_fail(VS_ERR_INVALID_ARG, "etcd: endpoint '%s' must start with http:// or https://", ep);
            free(ep);
            vs_etcd_free(e);
            return rc;
        }
        e->endpoints[e->n++] = ep;
        p += strcspn(p, ",");
        if (*p == ',') p++;
    }
    int rc = e->n ? vs_http_easy(&e->curl) : vs_fail(VS_ERR_NOMEM, "etcd: out of memory");
    if (rc) {
        vs_etcd_free(e);
        return rc;
    }
    *out = e;
    return VS_OK;
}

void vs_etcd_free(vs_etcd *e)
{
    if (!e) return;
    if (e->curl) curl_easy_cleanup(e->curl);
    for (size_t i = 0; i < e->n; i++) free(e->endpoints[i]);
    free(e);
}

/* POSTs body to path; on success *answer is the parsed reply (caller deletes). */
static int call(vs_etcd *e, const char *path, cJSON *body, cJSON **answer)
{
    *answer = NULL;
    char *json = cJSON_PrintUnformatted(body);
    if (!json) return vs_fail(VS_ERR_NOMEM, "etcd: out of memory");
    int rc = VS_ERR_NETWORK;
    char url[1024], errmsg[1400] = "";
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    for (size_t attempt = 0; attempt < e->n; attempt++) {
        const char *ep = e->endpoints[(e->current + attempt) % e->n];
        snprintf(url, sizeof url, "%s%s", ep, path);
        vs_buf buf = {0};
        vs_http_timeouts to = {.connect_ms = (long)e->timeout_ms, .total_ms = (long)e->timeout_ms};
        vs_http_setup(e->curl, url, &to, NULL);
        curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, h);
        vs_http_collect(e->curl, &buf);
        CURLcode cc = curl_easy_perform(e->curl);
        long status = vs_http_status(e->curl);
        if (cc != CURLE_OK) {
            snprintf(errmsg, sizeof errmsg, "%s: %s", url, vs_http_strerror(cc, NULL));
            vs_buf_free(&buf);
            continue; /* next endpoint */
        }
        e->current = (e->current + attempt) % e->n;
        cJSON *a = buf.data ? cJSON_ParseWithLength(buf.data, buf.len) : NULL;
        if (status != 200) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(a, "message");
            if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(a, "error");
            rc = vs_fail(status >= 500 ? VS_ERR_NETWORK : VS_ERR_INVALID_ARG, "etcd: %s: HTTP %ld %s", url, status,
                         cJSON_IsString(m) ? m->valuestring : "");
            cJSON_Delete(a);
        } else if (!a) {
            rc = vs_fail(VS_ERR_CORRUPT, "etcd: %s: the answer is not JSON", url);
        } else {
            *answer = a;
            rc = VS_OK;
        }
        vs_buf_free(&buf);
        break;
    }
    curl_slist_free_all(h);
    cJSON_free(json);
    if (rc == VS_ERR_NETWORK && !*errmsg) return rc;
    if (rc == VS_ERR_NETWORK && !*answer && *errmsg) return vs_fail(rc, "etcd: no endpoint answered (%s)", errmsg);
    return rc;
}

static cJSON *b64_item(const char *s, size_t n)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    char *b = malloc(cap);
    if (!b) return NULL;
    vs_base64_encode(s, n, b, cap);
    cJSON *item = cJSON_CreateString(b);
    free(b);
    return item;
}

static char *b64_decode_str(const char *b)
{
    size_t n = strlen(b);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    long len = vs_base64_decode(b, n, (uint8_t *)out, n);
    if (len < 0) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

static int64_t json_i64(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsString(v)) return strtoll(v->valuestring, NULL, 10);
    if (cJSON_IsNumber(v)) return (int64_t)v->valuedouble;
    return 0;
}

static cJSON *i64_item(int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    return cJSON_CreateString(s);
}

int vs_etcd_lease_grant(vs_etcd *e, int ttl_s, int64_t *lease)
{
    cJSON *b = cJSON_CreateObject(), *a = NULL;
    cJSON_AddItemToObject(b, "TTL", i64_item(ttl_s));
    int rc = call(e, "/v3/lease/grant", b, &a);
    cJSON_Delete(b);
    if (rc) return rc;
    *lease = json_i64(a, "ID");
    cJSON_Delete(a);
    if (!*lease) return vs_fail(VS_ERR_CORRUPT, "etcd: lease grant answered without an ID");
    return VS_OK;
}

int vs_etcd_lease_keepalive(vs_etcd *e, int64_t lease)
{
    cJSON *b = cJSON_CreateObject(), *a = NULL;
    cJSON_AddItemToObject(b, "ID", i64_item(lease));
    int rc = call(e, "/v3/lease/keepalive", b, &a);
    cJSON_Delete(b);
    if (rc) return rc;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, "result");
    int64_t ttl = json_i64(r, "TTL");
    cJSON_Delete(a);
    if (ttl <= 0) return vs_fail(VS_ERR_NOT_FOUND, "etcd: lease %llx expired", (unsigned long long)lease);
    return VS_OK;
}

int vs_etcd_lease_revoke(vs_etcd *e, int64_t lease)
{
    cJSON *b = cJSON_CreateObject(), *a = NULL;
    cJSON_AddItemToObject(b, "ID", i64_item(lease));
    int rc = call(e, "/v3/lease/revoke", b, &a);
    cJSON_Delete(b);
    cJSON_Delete(a);
    return rc;
}

int vs_etcd_put(vs_etcd *e, const char *key, const char *value, int64_t lease)
{
    cJSON *b = cJSON_CreateObject(), *a = NULL;
    cJSON_AddItemToObject(b, "key", b64_item(key, strlen(key)));
    cJSON_AddItemToObject(b, "value", b64_item(value, strlen(value)));
    if (lease) cJSON_AddItemToObject(b, "lease", i64_item(lease));
    int rc = call(e, "/v3/kv/put", b, &a);
    cJSON_Delete(b);
    cJSON_Delete(a);
    return rc;
}

/* The key just after every key starting with prefix (etcd's range_end for a prefix). */
static size_t prefix_end(const char *prefix, char *out, size_t cap)
{
    size_t n = strlen(prefix);
    if (n >= cap) return 0;
    memcpy(out, prefix, n);
    while (n && (unsigned char)out[n - 1] == 0xff) n--;
    if (!n) { /* every key */
        out[0] = '\0';
        return 1;
    }
    out[n - 1]++;
    return n;
}

static int range(vs_etcd *e, const char *key, int is_prefix, int (*fn)(const char *, const char *, void *), void *ctx)
{
    cJSON *b = cJSON_CreateObject(), *a = NULL;
    cJSON_AddItemToObject(b, "key", b64_item(key, strlen(key)));
    if (is_prefix) {
        char end[1024];
        size_t n = prefix_end(key, end, sizeof end);
        cJSON_AddItemToObject(b, "range_end", b64_item(end, n));
    }
    int rc = call(e, "/v3/kv/range", b, &a);
    cJSON_Delete(b);
    if (rc) return rc;
    const cJSON *kvs = cJSON_GetObjectItemCaseSensitive(a, "kvs"), *kv;
    int found = 0;
    cJSON_ArrayForEach(kv, kvs)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(kv, "key");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(kv, "value");
        char *ks = cJSON_IsString(k) ? b64_decode_str(k->valuestring) : NULL;
        char *vs = cJSON_IsString(v) ? b64_decode_str(v->valuestring) : strdup("");
        if (ks && vs) {
            found = 1;
            rc = fn(ks, vs, ctx);
        } else {
            rc = vs_fail(VS_ERR_CORRUPT, "etcd: a key or value is not base64");
        }
        free(ks);
        free(vs);
        if (rc) break;
    }
    cJSON_Delete(a);
    if (rc == VS_OK && !found && !is_prefix) return vs_fail(VS_ERR_NOT_FOUND, "etcd: no key %s", key);
    return rc;
}

static int take_value(const char *key, const char *value, void *ctx)
{
    (void)key;
    char **out = ctx;
    *out = strdup(value);
    return *out ? VS_OK : vs_fail(VS_ERR_NOMEM, "etcd: out of memory");
}

int vs_etcd_get(vs_etcd *e, const char *key, char **value)
{
    *value = NULL;
    return range(e, key, 0, take_value, value);
}

int vs_etcd_list(vs_etcd *e, const char *prefix, int (*fn)(const char *, const char *, void *), void *ctx)
{
    return range(e, prefix, 1, fn, ctx);
}

int vs_etcd_delete(vs_etcd *e, const char *key)
{
    cJSON *b = cJSON_CreateObject(), *a = NULL;
    cJSON_AddItemToObject(b, "key", b64_item(key, strlen(key)));
    int rc = call(e, "/v3/kv/deleterange", b, &a);
    cJSON_Delete(b);
    cJSON_Delete(a);
    return rc;
}

int vs_etcd_cas(vs_etcd *e, const char *key, const char *expect, const char *value, int *swapped)
{
    return vs_etcd_cas_lease(e, key, expect, value, 0, swapped);
}

int vs_etcd_cas_lease(vs_etcd *e, const char *key, const char *expect, const char *value, int64_t lease, int *swapped)
{
    *swapped = 0;
    cJSON *b = cJSON_CreateObject(), *a = NULL, *cmp = cJSON_CreateObject(), *put = cJSON_CreateObject(),
          *op = cJSON_CreateObject();
    cJSON_AddItemToObject(cmp, "key", b64_item(key, strlen(key)));
    if (expect) {
        cJSON_AddStringToObject(cmp, "target", "VALUE");
        cJSON_AddStringToObject(cmp, "result", "EQUAL");
        cJSON_AddItemToObject(cmp, "value", b64_item(expect, strlen(expect)));
    } else { /* absent: never created (create_revision 0) */
        cJSON_AddStringToObject(cmp, "target", "CREATE");
        cJSON_AddStringToObject(cmp, "result", "EQUAL");
        cJSON_AddItemToObject(cmp, "create_revision", i64_item(0));
    }
    cJSON_AddItemToObject(put, "key", b64_item(key, strlen(key)));
    cJSON_AddItemToObject(put, "value", b64_item(value, strlen(value)));
    if (lease) cJSON_AddItemToObject(put, "lease", i64_item(lease));
    cJSON_AddItemToObject(op, "request_put", put);
    cJSON *cmps = cJSON_AddArrayToObject(b, "compare"), *ops = cJSON_AddArrayToObject(b, "success");
    cJSON_AddItemToArray(cmps, cmp);
    cJSON_AddItemToArray(ops, op);
    int rc = call(e, "/v3/kv/txn", b, &a);
    cJSON_Delete(b);
    /* the gateway leaves out false booleans: no "succeeded" means it did not swap */
    if (rc == VS_OK) *swapped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "succeeded"));
    cJSON_Delete(a);
    return rc;
}
