/* POST /index (texts or documents, embedded with the collection's model), POST /vectors
 * (raw vectors), GET and DELETE /documents/{id}. Every accepted write is in the log and
 * fsync'd before the reply (vs_collection_add / remove). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

typedef struct {
    size_t n;
    char **ids;    /* NULL = automatic; else ids as text (doc_ids.c), one rule for numbers and strings */
    const char **texts;
    char **metadata; /* printed JSON or NULL */
    float *x;
} batch;

static void batch_free(batch *b)
{
    for (size_t i = 0; b->metadata && i < b->n; i++) free(b->metadata[i]);
    for (size_t i = 0; b->ids && i < b->n; i++) free(b->ids[i]);
    free(b->metadata);
    free(b->ids);
    free(b->texts);
    free(b->x);
}

static int batch_alloc(request *r, batch *b, size_t n, uint32_t dim)
{
    b->n = n;
    b->x = malloc(n * dim * sizeof *b->x);
    b->texts = calloc(n, sizeof *b->texts);
    b->metadata = calloc(n, sizeof *b->metadata);
    if (b->x && b->texts && b->metadata) return 1;
    reply_error(r, 500, "internal", "out of memory");
    return 0;
}

static int read_metadata(request *r, const cJSON *v, const char *what, char **out)
{
    if (!v || cJSON_IsNull(v)) return 1;
    if (!cJSON_IsObject(v)) {
        reply_error(r, 400, "invalid_metadata", "%s must be a JSON object or null", what);
        return 0;
    }
    if (!(*out = cJSON_PrintUnformatted(v))) {
        reply_error(r, 500, "internal", "out of memory");
        return 0;
    }
    return 1;
}

static int check_count(request *r, const cJSON *arr, const char *what, size_t *n)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        reply_error(r, 400, "bad_request", "'%s' must be a non-empty array", what);
        return 0;
    }
    *n = (size_t)cJSON_GetArraySize(arr);
    if (*n > r->srv->cfg.max_batch) {
        reply_error(r, 400, "batch_too_large", "%zu items; at most %u per request (--max-batch)", *n, r->srv->cfg.max_batch);
        return 0;
    }
    return 1;
}

/* skipped: JSON array text of documents left out (NULL = none). */
static int commit(request *r, coll_ref *ref, batch *b, const char *skipped)
{
    if (b->n == 0) {
        sb_printf(&r->out, "{\"added\":0,\"total\":%zu,\"ids\":[],\"skipped\":%s}", vs_collection_size(ref->c),
                  skipped ? skipped : "[]");
        r->status = 200;
        return 200;
    }
    int64_t *assigned = malloc(b->n * sizeof *assigned);
    if (!assigned) return reply_error(r, 500, "internal", "out of memory");
    int rc = vs_collection_add_keyed(ref->c, b->n, b->x, (const char *const *)b->ids, b->texts,
                                     (const char *const *)b->metadata, assigned);
    if (rc) {
        free(assigned);
        return reply_vs_error(r, rc);
    }
    sb *o = &r->out;
    sb_printf(o, "{\"added\":%zu,\"total\":%zu,\"ids\":[", b->n, vs_collection_size(ref->c));
    for (size_t i = 0; i < b->n; i++) { /* as the client gave them */
        if (i) sb_puts(o, ",");
        if (b->ids && b->ids[i]) render_key(o, b->ids[i]);
        else sb_printf(o, "%lld", (long long)assigned[i]);
    }
    sb_puts(o, "]");
    if (skipped) sb_printf(o, ",\"skipped\":%s", skipped);
    sb_puts(o, "}");
    free(assigned);
    r->status = 200;
    return 200;
}

int route_vectors(request *r, coll_ref *ref)
{
    static const char *const allowed[] = {"vectors", "ids", "texts", "metadata", NULL};
    cJSON *o = parse_object(r);
    if (!o || !only_fields(r, o, allowed)) {
        cJSON_Delete(o);
        return r->status;
    }
    batch b = {0};
    uint32_t dim = vs_collection_dim(ref->c);
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(o, "vectors"), *ids = cJSON_GetObjectItemCaseSensitive(o, "ids"),
                *texts = cJSON_GetObjectItemCaseSensitive(o, "texts"), *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    size_t n;
    if (!vs) {
        reply_error(r, 400, "bad_request", "'vectors' is required");
        goto done;
    }
    if (!check_count(r, vs, "vectors", &n) || !batch_alloc(r, &b, n, dim)) goto done;
    const struct {
        const cJSON *a;
        const char *name;
    } parallel[] = {{ids, "ids"}, {texts, "texts"}, {meta, "metadata"}};
    for (int j = 0; j < 3; j++)
        if (parallel[j].a && (!cJSON_IsArray(parallel[j].a) || (size_t)cJSON_GetArraySize(parallel[j].a) != n)) {
            reply_error(r, 400, "bad_request", "'%s' must be an array with one entry per vector (%zu)", parallel[j].name, n);
            goto done;
        }
    if (ids && !(b.ids = calloc(n, sizeof *b.ids))) {
        reply_error(r, 500, "internal", "out of memory");
        goto done;
    }
    size_t i = 0;
    const cJSON *ie = ids ? ids->child : NULL, *te = texts ? texts->child : NULL, *me = meta ? meta->child : NULL;
    for (const cJSON *e = vs->child; e; e = e->next, i++) {
        char what[48];
        snprintf(what, sizeof what, "'vectors'[%zu]", i);
        if (!get_vector(r, e, dim, b.x + i * dim, what)) goto done;
        snprintf(what, sizeof what, "'ids'[%zu]", i);
        if (ie && !read_doc_id(r, ie, what, &b.ids[i])) goto done;
        if (te && !cJSON_IsNull(te)) {
            if (!cJSON_IsString(te)) {
                reply_error(r, 400, "bad_request", "'texts'[%zu] must be a string or null", i);
                goto done;
            }
            b.texts[i] = te->valuestring;
        }
        snprintf(what, sizeof what, "'metadata'[%zu]", i);
        if (me && !read_metadata(r, me, what, &b.metadata[i])) goto done;
        ie = ie ? ie->next : NULL;
        te = te ? te->next : NULL;
        me = me ? me->next : NULL;
    }
    commit(r, ref, &b, NULL);
done:
    batch_free(&b);
    cJSON_Delete(o);
    return r->status;
}

/* A text with no word the model knows (known[i] == 0) embeds to the model's fallback vector
 * (or zeros), the same for every such text: it has no direction to search by. Without
 * skip_empty that is a 400 naming it; with it such texts are left out and listed (as their
 * positions in the request) in the reply's "skipped". Returns 0 if replied. */
static int drop_empty(request *r, batch *b, uint32_t dim, const uint32_t *known, int skip, sb *skipped)
{
    size_t keep = 0, n_empty = 0;
    sb_puts(skipped, "[");
    for (size_t i = 0; i < b->n; i++) {
        if (known[i]) {
            if (keep != i) {
                memmove(b->x + keep * dim, b->x + i * dim, dim * sizeof *b->x);
                b->texts[keep] = b->texts[i];
                free(b->metadata[keep]);
                b->metadata[keep] = b->metadata[i];
                b->metadata[i] = NULL;
                if (b->ids) {
                    free(b->ids[keep]);
                    b->ids[keep] = b->ids[i];
                    b->ids[i] = NULL;
                }
            }
            keep++;
            continue;
        }
        if (!skip)
            return reply_error(r, 400, "empty_embedding",
                               "text %zu (\"%.80s\") has no word the model knows, so it has no vector; "
                               "send {\"texts\": [...], \"skip_empty\": true} to leave such texts out", i, b->texts[i]), 0;
        sb_printf(skipped, "%s%zu", n_empty++ ? "," : "", i);
    }
    sb_puts(skipped, "]");
    for (size_t i = keep; i < b->n; i++) {
        free(b->metadata[i]);
        b->metadata[i] = NULL;
        if (b->ids) {
            free(b->ids[i]);
            b->ids[i] = NULL;
        }
    }
    b->n = keep;
    return 1;
}

static const char *json_kind(const cJSON *v)
{
    return cJSON_IsString(v) ? "a string" : cJSON_IsObject(v) ? "an object" : cJSON_IsArray(v) ? "an array"
         : cJSON_IsNumber(v) ? "a number" : cJSON_IsBool(v) ? "a boolean" : "null";
}

/* The body of POST /index in its three shapes: {"texts" or "documents", "skip_empty"}, the
 * seed's bare array of strings, or a bare array of document objects. Returns 0 if replied. */
static int index_body(request *r, cJSON **root, const cJSON **texts, const cJSON **docs, const cJSON **skip,
                      const cJSON **dry)
{
    static const char *const allowed[] = {"texts", "documents", "skip_empty", "dry_run", NULL};
    *texts = *docs = *skip = *dry = NULL;
    if (!(*root = parse_json(r))) return 0;
    if (cJSON_IsArray(*root)) {
        const cJSON *first = (*root)->child;
        if (!first)
            return reply_error(r, 400, "bad_request", "the body is an empty array: send at least one text or document"), 0;
        if (!cJSON_IsString(first) && !cJSON_IsObject(first))
            return reply_error(r, 400, "bad_request", "a bare array body holds texts (strings) or documents (objects "
                                                      "{id, text, metadata}); element 0 is %s", json_kind(first)), 0;
        size_t i = 0;
        for (const cJSON *e = first; e; e = e->next, i++)
            if (cJSON_IsString(e) != cJSON_IsString(first) || cJSON_IsObject(e) != cJSON_IsObject(first))
                return reply_error(r, 400, "bad_request", "element %zu of the body is %s, element 0 %s: a bare array "
                                   "holds only texts (strings) or only documents (objects)", i, json_kind(e),
                                   json_kind(first)), 0;
        *(cJSON_IsString(first) ? texts : docs) = *root;
        return 1;
    }
    if (!cJSON_IsObject(*root))
        return reply_error(r, 400, "invalid_json", "the body must be an object {\"texts\" or \"documents\", "
                                                   "\"skip_empty\"}, an array of texts or an array of documents"), 0;
    if (!only_fields(r, *root, allowed)) return 0;
    *texts = cJSON_GetObjectItemCaseSensitive(*root, "texts");
    *docs = cJSON_GetObjectItemCaseSensitive(*root, "documents");
    *skip = cJSON_GetObjectItemCaseSensitive(*root, "skip_empty");
    if ((*texts != NULL) == (*docs != NULL))
        return reply_error(r, 400, "bad_request", "give exactly one of 'texts' and 'documents'"), 0;
    if (*skip && !cJSON_IsBool(*skip)) return reply_error(r, 400, "bad_request", "'skip_empty' must be true or false"), 0;
    *dry = cJSON_GetObjectItemCaseSensitive(*root, "dry_run");
    if (*dry && !cJSON_IsBool(*dry)) return reply_error(r, 400, "bad_request", "'dry_run' must be true or false"), 0;
    return 1;
}

int route_index(request *r, coll_ref *ref)
{
    static const char *const doc_fields[] = {"id", "text", "metadata", NULL};
    cJSON *o = NULL;
    const cJSON *texts, *docs, *skip, *dry;
    batch b = {0};
    uint32_t *known = NULL;
    uint32_t dim = vs_collection_dim(ref->c);
    size_t n;
    if (!index_body(r, &o, &texts, &docs, &skip, &dry)) goto done;
    if (!ref->model) {
        reply_error(r, 400, "no_model", "collection '%s' has no text model: add vectors with POST /vectors", ref->name);
        goto done;
    }
    if (!check_count(r, texts ? texts : docs, texts ? "texts" : "documents", &n) || !batch_alloc(r, &b, n, dim)) goto done;
    size_t i = 0, with_id = 0;
    for (const cJSON *e = (texts ? texts : docs)->child; e; e = e->next, i++) {
        char what[48];
        if (texts) {
            if (!cJSON_IsString(e)) {
                reply_error(r, 400, "bad_request", "'texts'[%zu] must be a string", i);
                goto done;
            }
            b.texts[i] = e->valuestring;
            continue;
        }
        if (!cJSON_IsObject(e)) {
            reply_error(r, 400, "bad_request", "'documents'[%zu] must be an object {id, text, metadata}", i);
            goto done;
        }
        if (!only_fields(r, e, doc_fields)) goto done;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "text"), *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (!cJSON_IsString(t)) {
            reply_error(r, 400, "bad_request", "'documents'[%zu].text must be a string", i);
            goto done;
        }
        b.texts[i] = t->valuestring;
        if (id) {
            if (!b.ids && !(b.ids = calloc(n, sizeof *b.ids))) {
                reply_error(r, 500, "internal", "out of memory");
                goto done;
            }
            snprintf(what, sizeof what, "'documents'[%zu].id", i);
            if (!read_doc_id(r, id, what, &b.ids[i])) goto done;
            with_id++;
        }
        snprintf(what, sizeof what, "'documents'[%zu].metadata", i);
        if (!read_metadata(r, cJSON_GetObjectItemCaseSensitive(e, "metadata"), what, &b.metadata[i])) goto done;
    }
    if (with_id && with_id != n) {
        reply_error(r, 400, "bad_request", "either every document has an 'id' or none does (%zu of %zu have one)", with_id, n);
        goto done;
    }
    if (!(known = malloc(n * sizeof *known))) {
        reply_error(r, 500, "internal", "out of memory");
        goto done;
    }
    int rc = models_embed(ref->model, b.texts, n, b.x, known);
    if (rc) {
        reply_vs_error(r, rc);
        goto done;
    }
    sb skipped = {0};
    if (!drop_empty(r, &b, dim, known, cJSON_IsTrue(skip), &skipped)) {
        /* replied */
    } else if (cJSON_IsTrue(dry)) {
        /* Everything but storing: a cluster router asks a replica so before it publishes to
         * the log (whose replicas could no longer refuse the client). Ids the collection
         * holds are not checked: a retried request is stored once by the log's dedup. */
        sb_printf(&r->out, "{\"valid\":true,\"added\":0,\"would_add\":%zu,\"skipped\":%s}", b.n,
                  cJSON_IsTrue(skip) ? skipped.s : "[]");
        r->status = 200;
    } else {
        commit(r, ref, &b, cJSON_IsTrue(skip) ? skipped.s : NULL);
    }
    free(skipped.s);
done:
    free(known);
    batch_free(&b);
    cJSON_Delete(o);
    return r->status;
}

static void render_document(int64_t id, const char *text, const char *metadata, void *p)
{
    (void)id;
    sb *o = p;
    sb_puts(o, ",\"text\":");
    if (text) sb_json_string(o, text);
    else sb_puts(o, "null");
    sb_puts(o, ",\"metadata\":");
    sb_puts(o, metadata ? metadata : "null");
}

/* id_text is the path segment, already percent-decoded by the HTTP library: /documents/17,
 * /documents/doc-17, /documents/a%2Fb (the id "a/b"). */
int route_document(request *r, coll_ref *ref, const char *id_text)
{
    int64_t id;
    int rc = vs_collection_key_check(id_text, NULL);
    if (rc) return reply_error(r, 400, "invalid_id", "document id in the path: %s", vs_last_error());
    rc = vs_collection_lookup_key(ref->c, id_text, &id);
    if (rc == VS_ERR_NOT_FOUND) {
        return reply_error(r, 404, "document_not_found", "no document with id '%s'", id_text);
    }
    if (rc) return reply_vs_error(r, rc);
    sb shown = {0};
    if (render_doc_id(&shown, ref->c, id)) {
        free(shown.s);
        return reply_error(r, 404, "document_not_found", "document %s was removed meanwhile", id_text);
    }
    if (!strcmp(r->method, "DELETE")) {
        size_t removed = 0;
        rc = vs_collection_remove(ref->c, 1, &id, &removed);
        if (rc) {
            free(shown.s);
            return reply_vs_error(r, rc);
        }
        if (!removed) {
            free(shown.s);
            return reply_error(r, 404, "document_not_found", "no document with id %s", id_text);
        }
        sb_printf(&r->out, "{\"deleted\":%s,\"total\":%zu}", shown.s, vs_collection_size(ref->c));
        free(shown.s);
        r->status = 200;
        return 200;
    }
    uint32_t dim = vs_collection_dim(ref->c);
    float *v = malloc(dim * sizeof *v);
    if (!v) {
        free(shown.s);
        return reply_error(r, 500, "internal", "out of memory");
    }
    sb_printf(&r->out, "{\"id\":%s", shown.s);
    free(shown.s);
    if (vs_collection_with_doc(ref->c, id, render_document, &r->out) != VS_OK) {
        free(v);
        return reply_error(r, 404, "document_not_found", "no document with id %s", id_text);
    }
    sb_puts(&r->out, ",\"vector\":");
    if (vs_collection_get_vector(ref->c, id, v) == VS_OK) {
        sb_puts(&r->out, "[");
        for (uint32_t i = 0; i < dim; i++) {
            if (i) sb_puts(&r->out, ",");
            sb_json_float(&r->out, v[i]);
        }
        sb_puts(&r->out, "]}");
    } else {
        sb_puts(&r->out, "null}");
    }
    free(v);
    r->status = 200;
    return 200;
}
