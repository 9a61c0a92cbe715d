/* JSON replies and strict request-field helpers shared by the route handlers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"
#include "http/http_server.h"

int reply_error(request *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(r->out.s);
    r->out = (sb){0};
    r->status = status;
    r->content_type = "application/json";
    char *body = vs_http_error_body(code, msg, NULL); /* the body the router's errors have too */
    if (body) sb_puts(&r->out, body);
    else r->out.failed = 1; /* send_reply answers 500 out of memory */
    free(body);
    return status;
}

int reply_vs_error(request *r, int rc)
{
    const char *m = vs_last_error();
    switch (rc) {
    case VS_ERR_INVALID_ARG: return reply_error(r, 400, "invalid_argument", "%s", m);
    case VS_ERR_DIMENSION: return reply_error(r, 400, "dimension_mismatch", "%s", m);
    case VS_ERR_NOT_FOUND: return reply_error(r, 404, "not_found", "%s", m);
    case VS_ERR_DUPLICATE_ID: return reply_error(r, 409, "duplicate_id", "%s", m);
    case VS_ERR_NOT_TRAINED: return reply_error(r, 409, "not_trained", "%s", m);
    case VS_ERR_UNSUPPORTED: return reply_error(r, 400, "unsupported", "%s", m);
    case VS_ERR_FACTORY: return reply_error(r, 400, "bad_index_spec", "%s", m);
    default: return reply_error(r, 500, "internal", "%s: %s", vs_strerror(rc), m);
    }
}

int reply_json(request *r, int status, cJSON *obj)
{
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!s) return reply_error(r, 500, "internal", "out of memory");
    free(r->out.s);
    r->out = (sb){0};
    sb_puts(&r->out, s);
    free(s);
    r->status = status;
    r->content_type = "application/json";
    return status;
}

cJSON *parse_json(request *r)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(r->body, r->body_len + 1, &end, 1);
    if (!o) {
        size_t at = end && end >= r->body ? (size_t)(end - r->body) : 0;
        reply_error(r, 400, "invalid_json", "the body is not valid JSON (error near byte %zu)", at);
    }
    return o;
}

cJSON *parse_object(request *r)
{
    cJSON *o = parse_json(r);
    if (!o) return NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        reply_error(r, 400, "invalid_json", "the body must be a JSON object");
        return NULL;
    }
    return o;
}

int only_fields(request *r, const cJSON *obj, const char *const *allowed)
{
    for (const cJSON *f = obj->child; f; f = f->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(f->string, *a);
        if (!ok) {
            char list[512] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 1);
                if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            reply_error(r, 400, "unknown_field", "unknown field '%s' (allowed: %s)", f->string, list);
            return 0;
        }
        /* Duplicate keys are ambiguous: refuse them rather than pick one. */
        for (const cJSON *g = f->next; g; g = g->next)
            if (!strcmp(f->string, g->string)) {
                reply_error(r, 400, "invalid_json", "field '%s' appears twice", f->string);
                return 0;
            }
    }
    return 1;
}

int only_params(request *r, const char *const *allowed)
{
    char unknown[512] = "", list[256] = "";
    size_t kept = r->n_query < MAX_QUERY_PARAMS ? r->n_query : MAX_QUERY_PARAMS, n_unknown = 0;
    if (r->n_query > MAX_QUERY_PARAMS)
        return reply_error(r, 400, "unknown_parameter", "%zu query parameters; this server reads at most %d", r->n_query,
                           MAX_QUERY_PARAMS), 0;
    for (size_t i = 0; i < kept; i++) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(r->query[i].key, *a);
        for (size_t j = 0; ok && j < i; j++)
            if (!strcmp(r->query[i].key, r->query[j].key))
                return reply_error(r, 400, "invalid_parameter", "query parameter '%s' is given twice", r->query[i].key), 0;
        if (ok) continue;
        size_t l = strlen(unknown);
        snprintf(unknown + l, sizeof unknown - l, "%s'%.64s'", n_unknown++ ? ", " : "", r->query[i].key);
    }
    if (!n_unknown) return 1;
    for (const char *const *a = allowed; *a; a++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", a == allowed ? "" : ", ", *a);
    }
    reply_error(r, 400, "unknown_parameter", "unknown query parameter%s %s: %s %s takes %s%s", n_unknown > 1 ? "s" : "",
                unknown, r->method, r->path, allowed[0] ? "only " : "no query parameters",
                allowed[0] ? list : " (options go in the JSON body)");
    return 0;
}

const char *query_value(const request *r, const char *key)
{
    for (size_t i = 0; i < r->n_query && i < MAX_QUERY_PARAMS; i++)
        if (!strcmp(r->query[i].key, key)) return r->query[i].value ? r->query[i].value : "";
    return NULL;
}

int get_int(request *r, const cJSON *obj, const char *key, long lo, long hi, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return 1;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi) {
        reply_error(r, 400, "invalid_argument", "'%s' must be an integer from %ld to %ld", key, lo, hi);
        return 0;
    }
    *out = (long)v->valuedouble;
    return 1;
}

int get_vector(request *r, const cJSON *arr, uint32_t dim, float *out, const char *what)
{
    if (!cJSON_IsArray(arr)) {
        reply_error(r, 400, "invalid_vector", "%s must be an array of %u numbers", what, dim);
        return 0;
    }
    int n = cJSON_GetArraySize(arr);
    if ((uint32_t)n != dim) {
        reply_error(r, 400, "dimension_mismatch", "%s has %d components; the collection's dimension is %u", what, n, dim);
        return 0;
    }
    uint32_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e)) {
            reply_error(r, 400, "invalid_vector", "%s[%u] is not a number", what, i);
            return 0;
        }
        float f = (float)e->valuedouble;
        if (!isfinite(f)) {
            reply_error(r, 400, "invalid_vector", "%s[%u] is not a finite float32 (NaN, infinity or out of range)", what, i);
            return 0;
        }
        out[i] = f;
    }
    return 1;
}
