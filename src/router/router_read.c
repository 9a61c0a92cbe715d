/* The cluster's reads and admin routes, with one server's reply shapes (routes_admin.c,
 * routes_write.c): GET /documents/{id} from the owning shard (next replica on failure),
 * /stats and the collection listing summed over every shard with one row per shard, and
 * POST /save on every node. Shards that did not answer are named as searches name them:
 * "partial", "missing_shards", "why". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "router/router_impl.h"

/* routes_admin.c's rule for an export name (the server's library, linked into the command). */
const char *export_name_problem(const char *name);

/* GET path from one live replica of every shard, in parallel, the next replica on failure;
 * shards with skip[s] set are not asked (their leg stays LEG_OK with no answer). */
static leg *ask_shards(router *r, const vs_cluster_map *m, const char *path, const char *method, const int *skip)
{
    leg *legs = calloc(m->n_shards ? m->n_shards : 1, sizeof *legs);
    if (!legs) return NULL;
    for (uint32_t s = 0; s < m->n_shards; s++) {
        legs[s].shard = s;
        legs[s].method = method;
        if (skip && skip[s]) legs[s].state = LEG_OK;
        else router_plan(r, m, &legs[s]);
    }
    router_run_legs(r, m, legs, m->n_shards, path, "", 0, 1);
    return legs;
}

static void note_missing(cJSON *missing, cJSON *why, uint32_t s, const char *reason)
{
    char sid[16];
    snprintf(sid, sizeof sid, "%u", s);
    cJSON_AddItemToArray(missing, cJSON_CreateNumber(s));
    cJSON_AddStringToObject(why, sid, reason);
}

/* Adds "partial", "missing_shards" and "why" (only when partial) to o; takes both. */
static void add_partial(cJSON *o, cJSON *missing, cJSON *why)
{
    int partial = cJSON_GetArraySize(missing) > 0;
    cJSON_AddBoolToObject(o, "partial", partial);
    cJSON_AddItemToObject(o, "missing_shards", missing);
    if (partial) cJSON_AddItemToObject(o, "why", why);
    else cJSON_Delete(why);
}

double router_cluster_total(router *r, const vs_cluster_map *m, const char *prefix, const double *known)
{
    int skip[VS_CLUSTER_MAX_SHARDS] = {0};
    double total = 0;
    for (uint32_t s = 0; s < m->n_shards; s++)
        if ((skip[s] = known[s] >= 0)) total += known[s];
    char path[512];
    snprintf(path, sizeof path, "%s/stats", prefix);
    leg *legs = ask_shards(r, m, path, "GET", skip);
    if (!legs) return -1;
    for (uint32_t s = 0; s < m->n_shards && total >= 0; s++) {
        if (skip[s]) continue;
        cJSON *a = legs[s].state == LEG_OK && legs[s].resp.data ? cJSON_Parse(legs[s].resp.data) : NULL;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "total_vectors");
        total = cJSON_IsNumber(t) ? total + t->valuedouble : -1;
        cJSON_Delete(a);
    }
    router_free_legs(legs, m->n_shards);
    return total;
}

int router_document_path(const char *prefix, const char *id, char *out, size_t cap)
{
    char *enc = curl_easy_escape(NULL, id, 0);
    int n = enc ? snprintf(out, cap, "%s/documents/%s", prefix, enc) : -1;
    curl_free(enc);
    return n > 0 && (size_t)n < cap;
}

void router_get_document(router *r, const char *prefix, const char *id, router_reply *out)
{
    char path[1400];
    if (vs_collection_key_check(id, NULL))
        return router_error(out, 400, "invalid_id", "document id in the path: %s", vs_last_error());
    if (!router_document_path(prefix, id, path, sizeof path)) return router_error(out, 400, "invalid_id", "id too long");
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    leg *l = calloc(1, sizeof *l);
    if (!l) {
        free(m);
        return router_error(out, 500, "internal", "out of memory");
    }
    l->shard = vs_shard_of_key(id, m->n_shards);
    l->method = "GET";
    router_plan(r, m, l);
    router_run_legs(r, m, l, 1, path, "", 0, 1);
    if (l->state == LEG_OK || l->state == LEG_CLIENT_ERROR) { /* the document, or 404: as the replica said */
        out->status = (int)l->status;
        out->body = l->resp.data ? strdup(l->resp.data) : NULL;
    } else {
        router_error(out, 503, "shard_unavailable", "shard %u, which holds document '%s', has no live replica that "
                     "answered (%s)", l->shard, id, l->why);
    }
    router_free_legs(l, 1);
    free(m);
}

/* Sums the counters of b into a (two shards' stats of one collection). */
static void add_counts(cJSON *a, const cJSON *b)
{
    static const char *const sums[] = {"total_vectors", "memory_mb", "log_bytes", "rss_mb"};
    for (size_t i = 0; i < sizeof sums / sizeof *sums; i++) {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(a, sums[i]);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, sums[i]);
        if (cJSON_IsNumber(x) && cJSON_IsNumber(y)) cJSON_SetNumberValue(x, x->valuedouble + y->valuedouble);
    }
    /* the oldest snapshot is what a restore of the whole collection can count on */
    cJSON *g = cJSON_GetObjectItemCaseSensitive(a, "snapshot_generation");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(b, "snapshot_generation");
    if (cJSON_IsNumber(g) && cJSON_IsNumber(h) && h->valuedouble < g->valuedouble) cJSON_SetNumberValue(g, h->valuedouble);
}

static cJSON *shard_row(const vs_cluster_map *m, const leg *l, const cJSON *a)
{
    static const char *const keep[] = {"total_vectors", "memory_mb", "snapshot_generation", "log_bytes", "rss_mb"};
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "shard", l->shard);
    cJSON_AddStringToObject(row, "node", m->replicas[l->shard][l->replica].id);
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, keep[i]);
        if (v) cJSON_AddItemToObject(row, keep[i], cJSON_Duplicate(v, 1));
    }
    return row;
}

void router_stats(router *r, const char *path, router_reply *out)
{
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    leg *legs = ask_shards(r, m, path, "GET", NULL);
    if (!legs) {
        free(m);
        return router_error(out, 500, "internal", "out of memory");
    }
    cJSON *o = NULL, *rows = cJSON_CreateArray(), *missing = cJSON_CreateArray(), *why = cJSON_CreateObject();
    for (uint32_t s = 0; s < m->n_shards; s++) {
        leg *l = &legs[s];
        if (l->state == LEG_CLIENT_ERROR && !o) { /* e.g. no such collection: the shard's answer */
            out->status = (int)l->status;
            out->body = l->resp.data ? strdup(l->resp.data) : NULL;
            break;
        }
        cJSON *a = l->state == LEG_OK && l->resp.data ? cJSON_Parse(l->resp.data) : NULL;
        if (!cJSON_IsObject(a)) {
            note_missing(missing, why, s, l->state == LEG_OK ? "unreadable answer" : l->why);
            cJSON_Delete(a);
            continue;
        }
        cJSON_AddItemToArray(rows, shard_row(m, l, a));
        if (!o) o = a; /* the first answer carries what every shard shares: name, dimension, model... */
        else {
            add_counts(o, a);
            cJSON_Delete(a);
        }
    }
    if (out->status) { /* passed on */
        cJSON_Delete(o), cJSON_Delete(rows), cJSON_Delete(missing), cJSON_Delete(why);
    } else if (!o) {
        cJSON_Delete(rows);
        cJSON *e = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(e, "error");
        cJSON_AddStringToObject(err, "code", "no_shard");
        cJSON_AddStringToObject(err, "message", "no shard answered");
        add_partial(e, missing, why);
        out->status = 503;
        out->body = cJSON_PrintUnformatted(e);
        cJSON_Delete(e);
    } else {
        cJSON_AddNumberToObject(o, "shards", m->n_shards);
        add_partial(o, missing, why);
        cJSON_AddItemToObject(o, "per_shard", rows);
        out->status = 200;
        out->body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    router_free_legs(legs, m->n_shards);
    free(m);
}

void router_collections(router *r, router_reply *out)
{
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    leg *legs = ask_shards(r, m, "/collections", "GET", NULL);
    if (!legs) {
        free(m);
        return router_error(out, 500, "internal", "out of memory");
    }
    cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "collections"), *missing = cJSON_CreateArray(),
          *why = cJSON_CreateObject();
    for (uint32_t s = 0; s < m->n_shards; s++) {
        cJSON *a = legs[s].state == LEG_OK && legs[s].resp.data ? cJSON_Parse(legs[s].resp.data) : NULL;
        const cJSON *cs = cJSON_GetObjectItemCaseSensitive(a, "collections"), *c;
        if (!cJSON_IsArray(cs)) {
            note_missing(missing, why, s, legs[s].state == LEG_OK ? "unreadable answer" : legs[s].why);
            cJSON_Delete(a);
            continue;
        }
        cJSON_ArrayForEach(c, cs)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
            cJSON *have = NULL, *it;
            cJSON_ArrayForEach(it, list)
                if (cJSON_IsString(name) && !strcmp(cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring,
                                                    name->valuestring)) have = it;
            if (!cJSON_IsString(name)) continue;
            if (have) add_counts(have, c);
            else cJSON_AddItemToArray(list, cJSON_Duplicate(c, 1));
        }
        cJSON_Delete(a);
    }
    int none = cJSON_GetArraySize(missing) == (int)m->n_shards;
    cJSON_AddNumberToObject(o, "shards", m->n_shards);
    add_partial(o, missing, why);
    out->status = none ? 503 : 200;
    out->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    router_free_legs(legs, m->n_shards);
    free(m);
}

void router_save(router *r, const char *path, const char *name, router_reply *out)
{
    const char *problem = name ? export_name_problem(name) : NULL;
    if (problem)
        return router_error(out, 400, "invalid_path",
                            "'path' \"%.200s\" %s: a save writes only inside each node's data directory, and 'path' "
                            "names an export there, DATA/exports/NAME (NAME: 1 to 64 characters from A-Z a-z 0-9 _ - ., "
                            "not starting with '.', no '..'); without 'path' the snapshot stays in the collection's "
                            "directory", name, problem);
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    leg *legs = calloc((size_t)m->n_shards * VS_CLUSTER_MAX_REPLICAS, sizeof *legs);
    if (!legs) {
        free(m);
        return router_error(out, 500, "internal", "out of memory");
    }
    size_t n = 0;
    for (uint32_t s = 0; s < m->n_shards; s++)
        for (uint32_t rep = 0; rep < m->n_replicas[s]; rep++)
            if (m->replicas[s][rep].url[0]) /* a save writes a snapshot, maybe exports and publishes it */
                legs[n++] = (leg){.shard = s, .order = {rep}, .n_order = 1, .timeout_ms = 300000};
    cJSON *b = cJSON_CreateObject();
    if (name) cJSON_AddStringToObject(b, "path", name);
    char *body = name ? cJSON_PrintUnformatted(b) : NULL;
    cJSON_Delete(b);
    router_run_legs(r, m, legs, n, path, body ? body : "", body ? strlen(body) : 0, 0);
    cJSON_free(body);

    cJSON *o = cJSON_CreateObject(), *nodes = cJSON_CreateArray(), *missing = cJSON_CreateArray(), *why = cJSON_CreateObject();
    double total = 0;
    int failed = 0, conflict = 0;
    for (uint32_t s = 0; s < m->n_shards; s++) {
        int saved = 0;
        for (uint32_t rep = 0; rep < m->n_replicas[s]; rep++) {
            leg *l = NULL;
            for (size_t j = 0; j < n; j++)
                if (legs[j].shard == s && legs[j].order[0] == rep) l = &legs[j];
            cJSON *row = cJSON_CreateObject(), *a = l && l->resp.data ? cJSON_Parse(l->resp.data) : NULL;
            cJSON_AddStringToObject(row, "node", m->replicas[s][rep].id);
            cJSON_AddNumberToObject(row, "shard", s);
            int ok = l && l->state == LEG_OK;
            cJSON_AddBoolToObject(row, "saved", ok);
            if (l && l->status) cJSON_AddNumberToObject(row, "status", (double)l->status);
            if (a) cJSON_AddItemToObject(row, "reply", a);
            else if (!ok) cJSON_AddStringToObject(row, "error", l ? l->why : "not live");
            if (ok && !saved++) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "total_vectors");
                if (cJSON_IsNumber(t)) total += t->valuedouble;
            }
            failed += l && !ok;
            conflict |= l && l->status == 409;
            cJSON_AddItemToArray(nodes, row);
        }
        if (!saved) note_missing(missing, why, s, "no replica saved");
    }
    int n_missing = cJSON_GetArraySize(missing);
    cJSON_AddBoolToObject(o, "saved", !n_missing && !failed);
    cJSON_AddNumberToObject(o, "total_vectors", total);
    add_partial(o, missing, why);
    cJSON_AddItemToObject(o, "nodes", nodes);
    /* A bad request (each node refuses it the same way) is answered as the node answered it. */
    for (size_t j = 0; j < n; j++)
        if (legs[j].state == LEG_CLIENT_ERROR && legs[j].status != 409 && n_missing == (int)m->n_shards) {
            out->status = (int)legs[j].status;
            out->body = legs[j].resp.data ? strdup(legs[j].resp.data) : NULL;
            break;
        }
    if (!out->status) {
        out->status = n_missing ? 503 : conflict ? 409 : failed ? 502 : 200;
        out->body = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(o);
    router_free_legs(legs, (size_t)m->n_shards * VS_CLUSTER_MAX_REPLICAS);
    free(m);
}

void router_from_any_node(router *r, const char *path, router_reply *out)
{
    vs_cluster_map *m = malloc(sizeof *m);
    if (!m) return router_error(out, 500, "internal", "out of memory");
    if (!router_snapshot_map(r, m, out)) return free(m);
    leg *l = calloc(1, sizeof *l);
    if (!l) {
        free(m);
        return router_error(out, 500, "internal", "out of memory");
    }
    /* the shards in turn: the first with a live replica that answers */
    for (uint32_t s = 0; s < m->n_shards && l->state != LEG_OK && l->state != LEG_CLIENT_ERROR; s++) {
        router_free_legs(l, 1);
        if (!(l = calloc(1, sizeof *l))) break;
        *l = (leg){.shard = s, .method = "GET"};
        router_plan(r, m, l);
        router_run_legs(r, m, l, 1, path, "", 0, 1);
    }
    if (l && (l->state == LEG_OK || l->state == LEG_CLIENT_ERROR)) {
        char *ct = NULL;
        curl_easy_getinfo(l->easy, CURLINFO_CONTENT_TYPE, &ct);
        if (ct) snprintf(out->content_type, sizeof out->content_type, "%s", ct);
        out->status = (int)l->status;
        out->body = l->resp.data ? strdup(l->resp.data) : strdup("");
    } else {
        router_error(out, 503, "no_node", "no node answered GET %s", path);
    }
    if (l) router_free_legs(l, 1);
    free(m);
}
