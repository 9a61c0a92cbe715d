/* POST /search and /search/batch: a vector or a text query (embedded with the collection's
 * model), k, nprobe, ef and a metadata filter (vs_collection_search_where: payload indexes, or
 * per document); results carry text and metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

/* Reads the shared search options; 0 = replied 400. *filter receives the filter as JSON text
 * (caller frees) for vs_collection_search_where, which parses and checks it. */
static int read_options(request *r, const cJSON *o, long *k, vs_search_params *p, char **filter)
{
    long nprobe = 0, ef = 0;
    if (!get_int(r, o, "k", 1, (long)r->srv->cfg.max_k, k)) return 0;
    if (!get_int(r, o, "nprobe", 0, 1 << 20, &nprobe)) return 0;
    if (!get_int(r, o, "ef", 0, 1 << 20, &ef)) return 0;
    p->nprobe = (uint32_t)nprobe;
    p->ef_search = (uint32_t)ef;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "filter");
    if (f && !cJSON_IsNull(f)) {
        if (!cJSON_IsObject(f)) {
            reply_error(r, 400, "invalid_filter", "'filter' must be an object (see the Filter schema in /openapi.json)");
            return 0;
        }
        if (f->child && !(*filter = cJSON_PrintUnformatted(f))) {
            reply_error(r, 500, "internal", "out of memory");
            return 0;
        }
    }
    return 1;
}

typedef struct {
    sb *out;
    int first;
} hit_ctx;

static void render_doc(int64_t id, const char *text, const char *metadata, void *p)
{
    (void)id;
    sb *o = p;
    sb_puts(o, ",\"text\":");
    if (text) sb_json_string(o, text);
    else sb_puts(o, "null");
    sb_puts(o, ",\"metadata\":");
    sb_puts(o, metadata ? metadata : "null");
}

/* One query's results as a JSON array. Hits whose document was removed meanwhile are left out. */
static void render_results(sb *o, coll_ref *ref, const float *scores, const int64_t *ids, long k)
{
    sb_puts(o, "[");
    int first = 1;
    for (long i = 0; i < k; i++) {
        if (ids[i] < 0) break;
        size_t mark = o->len;
        sb_puts(o, first ? "{\"id\":" : ",{\"id\":");
        int gone = render_doc_id(o, ref->c, ids[i]) != VS_OK; /* the id as the client gave it */
        sb_puts(o, ",\"score\":");
        sb_json_float(o, scores[i]);
        if (gone || vs_collection_with_doc(ref->c, ids[i], render_doc, o) != VS_OK) {
            o->len = mark; /* removed between search and rendering */
            if (o->s) o->s[mark] = 0;
            continue;
        }
        sb_puts(o, "}");
        first = 0;
    }
    sb_puts(o, "]");
}

static int embed_texts(request *r, coll_ref *ref, const char *const *texts, size_t n, float *out, uint32_t *known)
{
    if (!ref->model) {
        reply_error(r, 400, "no_model", "collection '%s' has no text model: search with 'vector' instead", ref->name);
        return 0;
    }
    int rc = models_embed(ref->model, texts, n, out, known);
    if (rc) {
        reply_vs_error(r, rc);
        return 0;
    }
    return 1;
}

/* A filtered search's failure: the library names the field and the problem. */
static int reply_search_error(request *r, int rc, const char *filter)
{
    if (filter && rc == VS_ERR_INVALID_ARG && !strncmp(vs_last_error(), "filter", 6))
        return reply_error(r, 400, "invalid_filter", "%s", vs_last_error());
    return reply_vs_error(r, rc);
}

/* Which path a filter took: from payload indexes, or document by document (slower). */
static void render_filter_report(sb *o, const char *filter, const vs_filter_report *rep)
{
    if (!filter) return;
    sb_printf(o, ",\"filter\":{\"indexed\":%s", rep->indexed ? "true" : "false");
    if (rep->indexed) {
        sb_printf(o, ",\"allowed\":%llu,\"exact\":%s}", (unsigned long long)rep->allowed, rep->exact ? "true" : "false");
        return;
    }
    sb_puts(o, ",\"unindexed\":");
    sb_json_string(o, rep->unindexed);
    sb_puts(o, ",\"note\":\"evaluated document by document (slower); a payload index is being built for "
               "fields whose values all have one type\"}");
}

/* A text query none of whose words the model knows embeds to the model's fallback vector,
 * whose neighbours (at a high score) mean nothing: such a query gets no results and says why. */
static void render_no_known_word(sb *o, coll_ref *ref)
{
    sb_puts(o, "[],\"warning\":{\"code\":\"no_known_word\",\"message\":");
    char msg[512];
    snprintf(msg, sizeof msg, "the model %s knows none of the query's words, so the query has no meaning to search "
                              "by: no results (rephrase it, or search with a 'vector')", models_name(ref->model));
    sb_json_string(o, msg);
    sb_puts(o, "}");
}

static int finish_search(request *r, coll_ref *ref, const char *query, const float *vec, long k,
                         vs_search_params *p, const char *filter)
{
    float *scores = malloc((size_t)k * sizeof *scores);
    int64_t *ids = malloc((size_t)k * sizeof *ids);
    if (!scores || !ids) {
        free(scores);
        free(ids);
        return reply_error(r, 500, "internal", "out of memory");
    }
    vs_filter_report rep = {.struct_size = sizeof rep};
    int rc = vs_collection_search_where(ref->c, 1, vec, (uint32_t)k, p, filter, scores, ids, &rep);
    if (rc) {
        free(scores);
        free(ids);
        return reply_search_error(r, rc, filter);
    }
    sb *o = &r->out;
    sb_puts(o, "{\"query\":");
    if (query) sb_json_string(o, query);
    else sb_puts(o, "null");
    sb_puts(o, ",\"results\":");
    render_results(o, ref, scores, ids, k);
    render_filter_report(o, filter, &rep);
    sb_printf(o, ",\"latency_ms\":%.3f}", (now_seconds() - r->t0) * 1e3);
    free(scores);
    free(ids);
    r->status = 200;
    return 200;
}

int route_search(request *r, coll_ref *ref)
{
    uint32_t dim = vs_collection_dim(ref->c);
    float *vec = malloc((size_t)dim * sizeof *vec);
    if (!vec) return reply_error(r, 500, "internal", "out of memory");
    vs_search_params p = {.struct_size = sizeof(vs_search_params)};
    long k = 10;
    int status;
    fast_search fs = {.vec = vec};
    if (fast_parse_search(r->body, r->body_len, &fs, dim) && fs.has_vector && fs.n == dim &&
        (!fs.has_k || (fs.k >= 1 && fs.k <= (long)r->srv->cfg.max_k)) && (!fs.has_nprobe || fs.nprobe <= 1L << 20) &&
        (!fs.has_ef || fs.ef <= 1L << 20)) {
        /* The hot path: a well-formed vector query, no cJSON tree. */
        if (fs.has_k) k = fs.k;
        p.nprobe = fs.has_nprobe ? (uint32_t)fs.nprobe : 0;
        p.ef_search = fs.has_ef ? (uint32_t)fs.ef : 0;
        status = finish_search(r, ref, NULL, vec, k, &p, NULL);
        free(vec);
        return status;
    }
    static const char *const allowed[] = {"query", "vector", "k", "nprobe", "ef", "filter", NULL};
    cJSON *o = parse_object(r);
    if (!o || !only_fields(r, o, allowed)) {
        cJSON_Delete(o);
        free(vec);
        return r->status;
    }
    char *filter = NULL;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "query"), *v = cJSON_GetObjectItemCaseSensitive(o, "vector");
    if (!read_options(r, o, &k, &p, &filter)) goto done;
    if ((q != NULL) == (v != NULL)) {
        reply_error(r, 400, "bad_request", "give exactly one of 'query' (text) and 'vector'");
        goto done;
    }
    if (q && (!cJSON_IsString(q) || !q->valuestring[0])) {
        reply_error(r, 400, "bad_request", "'query' must be a non-empty string");
        goto done;
    }
    if (v && !get_vector(r, v, dim, vec, "'vector'")) goto done;
    uint32_t known = 1;
    if (q && !embed_texts(r, ref, (const char *const *)&q->valuestring, 1, vec, &known)) goto done;
    if (!known) {
        sb_puts(&r->out, "{\"query\":");
        sb_json_string(&r->out, q->valuestring);
        sb_puts(&r->out, ",\"results\":");
        render_no_known_word(&r->out, ref);
        sb_printf(&r->out, ",\"latency_ms\":%.3f}", (now_seconds() - r->t0) * 1e3);
        r->status = 200;
        goto done;
    }
    finish_search(r, ref, q ? q->valuestring : NULL, vec, k, &p, filter);
done:
    status = r->status;
    free(filter);
    cJSON_Delete(o);
    free(vec);
    return status;
}

int route_search_batch(request *r, coll_ref *ref)
{
    static const char *const allowed[] = {"queries", "vectors", "k", "nprobe", "ef", "filter", NULL};
    cJSON *o = parse_object(r);
    if (!o || !only_fields(r, o, allowed)) {
        cJSON_Delete(o);
        return r->status;
    }
    uint32_t dim = vs_collection_dim(ref->c);
    long k = 10;
    vs_search_params p = {.struct_size = sizeof(vs_search_params)};
    char *filter = NULL;
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(o, "queries"), *vs = cJSON_GetObjectItemCaseSensitive(o, "vectors");
    float *x = NULL, *scores = NULL;
    int64_t *ids = NULL;
    const char **texts = NULL;
    uint32_t *known = NULL; /* text queries: words the model knows per query */
    if (!read_options(r, o, &k, &p, &filter)) goto done;
    if ((qs != NULL) == (vs != NULL)) {
        reply_error(r, 400, "bad_request", "give exactly one of 'queries' (texts) and 'vectors'");
        goto done;
    }
    const cJSON *arr = qs ? qs : vs;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        reply_error(r, 400, "bad_request", "'%s' must be a non-empty array", qs ? "queries" : "vectors");
        goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n > r->srv->cfg.max_batch) {
        reply_error(r, 400, "batch_too_large", "%zu queries; at most %u per request (--max-batch)", n, r->srv->cfg.max_batch);
        goto done;
    }
    x = malloc(n * dim * sizeof *x);
    scores = malloc(n * (size_t)k * sizeof *scores);
    ids = malloc(n * (size_t)k * sizeof *ids);
    texts = calloc(n, sizeof *texts);
    if (!x || !scores || !ids || !texts) {
        reply_error(r, 500, "internal", "out of memory");
        goto done;
    }
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char what[48];
        snprintf(what, sizeof what, "'%s'[%zu]", qs ? "queries" : "vectors", i);
        if (vs && !get_vector(r, e, dim, x + i * dim, what)) goto done;
        if (qs && (!cJSON_IsString(e) || !e->valuestring[0])) {
            reply_error(r, 400, "bad_request", "%s must be a non-empty string", what);
            goto done;
        }
        if (qs) texts[i] = e->valuestring;
    }
    if (qs && !(known = malloc(n * sizeof *known))) {
        reply_error(r, 500, "internal", "out of memory");
        goto done;
    }
    if (qs && !embed_texts(r, ref, texts, n, x, known)) goto done;
    vs_filter_report rep = {.struct_size = sizeof rep};
    int rc = vs_collection_search_where(ref->c, n, x, (uint32_t)k, &p, filter, scores, ids, &rep);
    if (rc) {
        reply_search_error(r, rc, filter);
        goto done;
    }
    sb *out = &r->out;
    sb_puts(out, "{\"results\":[");
    for (i = 0; i < n; i++) {
        if (i) sb_puts(out, ",");
        sb_puts(out, "{\"query\":");
        if (qs) sb_json_string(out, texts[i]);
        else sb_puts(out, "null");
        sb_puts(out, ",\"results\":");
        if (known && !known[i]) render_no_known_word(out, ref);
        else render_results(out, ref, scores + i * (size_t)k, ids + i * (size_t)k, k);
        sb_puts(out, "}");
    }
    sb_puts(out, "]");
    render_filter_report(out, filter, &rep);
    sb_printf(out, ",\"latency_ms\":%.3f}", (now_seconds() - r->t0) * 1e3);
    r->status = 200;
done:
    free(x);
    free(scores);
    free(ids);
    free(texts);
    free(filter);
    free(known);
    cJSON_Delete(o);
    return r->status;
}
