/* Collections (list, create, drop), /stats, /save, /health, /metrics, /openapi.json, GET /. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * 4096.0 / (1024.0 * 1024.0);
}

/* Payload indexes of the collection (declared or automatic; ready or being built). */
static void render_payload_indexes(sb *o, vs_collection *c)
{
    vs_payload_index_info info[64] = {{.struct_size = sizeof info[0]}};
    size_t n = 0;
    sb_puts(o, ",\"payload_indexes\":[");
    if (vs_collection_payload_indexes(c, info, 64, &n) == VS_OK)
        for (size_t i = 0; i < n && i < 64; i++) {
            sb_printf(o, "%s{\"field\":", i ? "," : "");
            sb_json_string(o, info[i].field);
            sb_printf(o, ",\"type\":\"%s\",\"ready\":%s,\"automatic\":%s,\"documents\":%llu,\"values\":%llu,\"memory_mb\":%.3f}",
                      vs_payload_type_name(info[i].type), info[i].ready ? "true" : "false",
                      info[i].automatic ? "true" : "false", (unsigned long long)info[i].documents,
                      (unsigned long long)info[i].values, info[i].memory_bytes / (1024.0 * 1024.0));
        }
    sb_puts(o, "]");
}

static void render_stats(sb *o, coll_ref *ref)
{
    vs_collection_info in = {.struct_size = sizeof in};
    vs_collection_info_get(ref->c, &in);
    sb_puts(o, "{\"name\":");
    sb_json_string(o, ref->name);
    sb_printf(o, ",\"total_vectors\":%zu,\"dimension\":%u,\"index_type\":", in.count, in.dim);
    sb_json_string(o, in.factory);
    sb_printf(o, ",\"memory_mb\":%.3f,\"metric\":\"%s\",\"model\":", in.memory_bytes / (1024.0 * 1024.0),
              vs_metric_name(in.metric));
    if (in.model[0]) sb_json_string(o, in.model);
    else sb_puts(o, "null");
    sb_printf(o, ",\"model_loaded\":%s,\"trained\":%s,\"snapshot_generation\":%llu,\"log_bytes\":%llu,\"rss_mb\":%.1f",
              ref->model ? "true" : "false", in.trained ? "true" : "false", (unsigned long long)in.generation,
              (unsigned long long)in.log_bytes, rss_mb());
    /* A cluster replica fed by the write log: the stream sequence applied so far. */
    uint64_t lpos = vs_collection_log_position(ref->c);
    if (lpos) sb_printf(o, ",\"log_position\":%llu", (unsigned long long)lpos);
    render_payload_indexes(o, ref->c);
    sb_puts(o, "}");
}

int route_stats(request *r, coll_ref *ref)
{
    render_stats(&r->out, ref);
    r->status = 200;
    return 200;
}

/* The export name of a save: ?path=NAME or {"path": NAME}, one of them; NULL = a plain save.
 * Returns 0 when it replied 400. *body_obj keeps the parsed body alive for the name. */
static int save_name(request *r, cJSON **body_obj, const char **name)
{
    static const char *const params[] = {"path", NULL};
    static const char *const fields[] = {"path", NULL};
    *name = NULL;
    if (!only_params(r, params)) return 0;
    const char *q = query_value(r, "path");
    const cJSON *b = NULL;
    if (r->body_len) {
        if (!(*body_obj = parse_object(r)) || !only_fields(r, *body_obj, fields)) return 0;
        b = cJSON_GetObjectItemCaseSensitive(*body_obj, "path");
        if (b && !cJSON_IsString(b))
            return reply_error(r, 400, "invalid_path", "'path' must be a string: the name of an export inside the "
                                                       "server's data directory"), 0;
    }
    if (q && b)
        return reply_error(r, 400, "invalid_path", "'path' is given both in the query string and in the body: give it "
                                                   "once"), 0;
    *name = q ? q : b ? b->valuestring : NULL;
    const char *why = *name ? export_name_problem(*name) : NULL;
    if (why)
        return reply_error(r, 400, "invalid_path",
                           "'path' \"%.200s\" %s: a save writes only inside the server's data directory, and 'path' names "
                           "an export there, DATA/exports/NAME (NAME: 1 to %d characters from A-Z a-z 0-9 _ - ., not "
                           "starting with '.', no '..'); without 'path' the snapshot stays in the collection's directory",
                           *name, why, EXPORT_NAME_MAX), 0;
    return 1;
}

/* Where a named save put its export, and the commands that open it. */
static void render_export(sb *o, const char *name, const char *root, const char *collection, int replaced)
{
    char cmd[4400];
    sb_puts(o, ",\"export\":{\"name\":");
    sb_json_string(o, name);
    sb_puts(o, ",\"path\":");
    sb_json_string(o, root);
    sb_puts(o, ",\"collection\":");
    sb_json_string(o, collection);
    sb_printf(o, ",\"replaced\":%s,\"serve\":", replaced ? "true" : "false");
    snprintf(cmd, sizeof cmd, "vecscale serve --data %s", root);
    sb_json_string(o, cmd);
    snprintf(cmd, sizeof cmd, "vecscale search --index %s/collections/%s", root, collection);
    sb_puts(o, ",\"search\":");
    sb_json_string(o, cmd);
    sb_puts(o, "}");
}

int route_save(request *r, coll_ref *ref)
{
    cJSON *body = NULL;
    const char *name = NULL;
    if (!save_name(r, &body, &name)) {
        cJSON_Delete(body);
        return r->status;
    }
    uint64_t log_position = vs_collection_log_position(ref->c); /* before: the snapshot holds at least this */
    int rc = vs_collection_snapshot(ref->c);
    if (rc) {
        cJSON_Delete(body);
        return reply_vs_error(r, rc);
    }
    vs_collection_info in = {.struct_size = sizeof in};
    vs_collection_info_get(ref->c, &in);
    /* The local snapshot stands even when exporting or publishing it fails: the reply says so. */
    char root[4096] = "", export_error[1100] = "";
    int replaced = 0, export_rc = name ? export_collection(r->srv->cfg.data_dir, ref, name, &replaced, root, sizeof root) : 0;
    if (export_rc) snprintf(export_error, sizeof export_error, "%s", vs_last_error());
    char *published = NULL;
    int failed = r->srv->cfg.on_save && r->srv->cfg.on_save(r->srv->cfg.hook_ctx, ref->name, log_position, &published);
    sb *o = &r->out;
    sb_printf(o, "{\"saved\":true,\"total_vectors\":%zu,\"snapshot_generation\":%llu", in.count,
              (unsigned long long)in.generation);
    if (name && !export_rc) render_export(o, name, root, ref->name, replaced);
    if (published) sb_printf(o, ",\"published\":%s", published);
    if (export_rc) {
        sb_puts(o, ",\"error\":{\"code\":\"export_failed\",\"message\":");
        char msg[1300];
        snprintf(msg, sizeof msg, "saved in the collection's directory, but the export to DATA/exports/%s failed: %s",
                 name, export_error);
        sb_json_string(o, msg);
        sb_puts(o, "}");
    } else if (failed) {
        sb_puts(o, ",\"error\":{\"code\":\"publish_failed\",\"message\":\"saved locally, but publishing the "
                   "snapshot failed (see published.error); the next save publishes again\"}");
    }
    sb_puts(o, "}");
    free(published);
    cJSON_Delete(body);
    r->status = export_rc == VS_ERR_CONFLICT ? 409 : export_rc ? 500 : failed ? 502 : 200;
    return r->status;
}

int route_collections_list(request *r)
{
    char **names;
    size_t n = registry_names(&r->srv->reg, &names);
    sb_puts(&r->out, "{\"collections\":[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        coll_ref *ref = registry_get(&r->srv->reg, names[i]);
        if (ref) {
            if (!first) sb_puts(&r->out, ",");
            render_stats(&r->out, ref);
            first = 0;
            registry_put(ref);
        }
        free(names[i]);
    }
    free(names);
    sb_puts(&r->out, "]}");
    r->status = 200;
    return 200;
}

int route_collection_create(request *r)
{
    static const char *const allowed[] = {"name", "dimension", "metric", "model", "index", "train_min", NULL};
    cJSON *o = parse_object(r);
    if (!o || !only_fields(r, o, allowed)) {
        cJSON_Delete(o);
        return r->status;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name"), *metric = cJSON_GetObjectItemCaseSensitive(o, "metric"),
                *model = cJSON_GetObjectItemCaseSensitive(o, "model"), *index = cJSON_GetObjectItemCaseSensitive(o, "index");
    long dim = 0, train_min = 0;
    vs_collection_options opt = {.struct_size = sizeof(vs_collection_options), .metric = VS_METRIC_L2};
    vs_model *m = NULL;
    coll_ref *ref = NULL;
    if (!cJSON_IsString(name) || !registry_valid_name(name->valuestring)) {
        reply_error(r, 400, "invalid_name", "'name' must be 1 to 64 characters from A-Z a-z 0-9 _ -");
        goto done;
    }
    if (!get_int(r, o, "dimension", 1, 65536, &dim) || !get_int(r, o, "train_min", 0, 1L << 30, &train_min)) goto done;
    if ((metric && !cJSON_IsString(metric)) || (model && !cJSON_IsString(model)) || (index && !cJSON_IsString(index))) {
        reply_error(r, 400, "bad_request", "'metric', 'model' and 'index' must be strings");
        goto done;
    }
    if (model) {
        if (models_open(model->valuestring, &m)) {
            reply_error(r, 400, "unknown_model", "model '%s': %s", model->valuestring, vs_last_error());
            goto done;
        }
        if (dim && (size_t)dim != models_dim(m)) {
            reply_error(r, 400, "dimension_mismatch", "model '%s' makes %zu-dimensional vectors, not %ld", model->valuestring,
                        models_dim(m), dim);
            goto done;
        }
        dim = (long)models_dim(m);
        opt.metric = VS_METRIC_COSINE;
        opt.model = model->valuestring;
    }
    if (!dim) {
        reply_error(r, 400, "bad_request", "'dimension' is required when no 'model' is given");
        goto done;
    }
    if (metric && vs_metric_parse(metric->valuestring, &opt.metric)) {
        reply_error(r, 400, "invalid_metric", "%s", vs_last_error());
        goto done;
    }
    opt.dim = (uint32_t)dim;
    opt.train_min = (uint32_t)train_min;
    opt.n_threads = r->srv->cfg.threads; /* a large add or a training uses the pool's width */
    opt.factory = index ? index->valuestring : "Flat";
    int rc = registry_create(&r->srv->reg, name->valuestring, &opt, &ref);
    if (rc == VS_ERR_DUPLICATE_ID) {
        reply_error(r, 409, "collection_exists", "collection '%s' already exists", name->valuestring);
        goto done;
    }
    if (rc) {
        reply_vs_error(r, rc);
        goto done;
    }
    render_stats(&r->out, ref);
    r->status = 201;
    registry_put(ref);
done:
    cJSON_Delete(o);
    return r->status;
}

int route_collection_delete(request *r, const char *name)
{
    if (registry_drop(&r->srv->reg, name))
        return reply_error(r, 404, "collection_not_found", "collection '%s' does not exist", name);
    sb_puts(&r->out, "{\"deleted\":");
    sb_json_string(&r->out, name);
    sb_puts(&r->out, "}");
    r->status = 200;
    return 200;
}

int route_health(request *r)
{
    char **names;
    size_t n = registry_names(&r->srv->reg, &names);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    sb_printf(&r->out, "{\"status\":\"ok\",\"version\":\"%s\",\"collections\":%zu,\"uptime_s\":%.1f", vs_version_string(), n,
              now_seconds() - r->srv->started);
    /* A replica fed by the write log: how far behind its streams it is (the router stops
     * searching it beyond its --max-lag). */
    uint64_t lag = 0;
    if (r->srv->cfg.log_lag && r->srv->cfg.log_lag(r->srv->cfg.hook_ctx, &lag))
        sb_printf(&r->out, ",\"log_lag\":%llu", (unsigned long long)lag);
    else if (r->srv->cfg.log_lag)
        sb_puts(&r->out, ",\"log_lag\":null");
    if (r->srv->cfg.log_refused)
        sb_printf(&r->out, ",\"log_refused\":%llu", (unsigned long long)r->srv->cfg.log_refused(r->srv->cfg.hook_ctx));
    sb_puts(&r->out, "}");
    r->status = 200;
    return 200;
}

int route_metrics(request *r)
{
    /* The HTTP families from the shared registry, then what only the server knows. */
    vs_buf o = {0};
    int bad = vs_http_metrics_render(r->srv->metrics, &o);
    char **names;
    size_t n = registry_names(&r->srv->reg, &names);
    static const char *const fam[][3] = {
        {"vecscale_collection_vectors", "gauge", "Vectors (documents) per collection."},
        {"vecscale_collection_memory_bytes", "gauge", "Heap bytes of index and documents."},
        {"vecscale_collection_log_bytes", "gauge", "Write-ahead log size since the last snapshot."},
        {"vecscale_collection_log_syncs_total", "counter", "fdatasync calls on the current log (group commit)."},
    };
    vs_collection_info *info = calloc(n + 1, sizeof *info);
    bad |= !info;
    for (size_t i = 0; info && i < n; i++) {
        coll_ref *ref = registry_get(&r->srv->reg, names[i]);
        info[i].struct_size = sizeof *info;
        if (ref) {
            vs_collection_info_get(ref->c, &info[i]);
            registry_put(ref);
        }
    }
    for (size_t f = 0; info && f < sizeof fam / sizeof fam[0]; f++) {
        bad |= vs_http_metrics_family(&o, fam[f][0], fam[f][1], fam[f][2]);
        for (size_t i = 0; i < n; i++) {
            unsigned long long v = f == 0 ? info[i].count : f == 1 ? info[i].memory_bytes : f == 2 ? info[i].log_bytes
                                                                                                  : info[i].log_syncs;
            bad |= vs_http_metrics_sample(&o, fam[f][0], "collection", names[i], (double)v);
        }
    }
    free(info);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    uint64_t lag = 0;
    if (r->srv->cfg.log_lag && r->srv->cfg.log_lag(r->srv->cfg.hook_ctx, &lag)) {
        bad |= vs_http_metrics_family(&o, "vecscale_log_lag", "gauge", "Messages of this node's write-log streams not yet applied.");
        bad |= vs_http_metrics_sample(&o, "vecscale_log_lag", NULL, NULL, (double)lag);
    }
    if (r->srv->cfg.log_refused) {
        bad |= vs_http_metrics_family(&o, "vecscale_log_refused_total", "counter",
                                      "Write-log messages this node refused when applying them.");
        bad |= vs_http_metrics_sample(&o, "vecscale_log_refused_total", NULL, NULL,
                                      (double)r->srv->cfg.log_refused(r->srv->cfg.hook_ctx));
    }
    bad |= vs_http_metrics_family(&o, "vecscale_process_resident_bytes", "gauge", "Resident memory.");
    bad |= vs_http_metrics_sample(&o, "vecscale_process_resident_bytes", NULL, NULL, round(rss_mb() * 1024 * 1024));
    if (bad) {
        vs_buf_free(&o);
        return reply_error(r, 500, "internal", "out of memory rendering the metrics");
    }
    sb_add(&r->out, o.data, o.len);
    vs_buf_free(&o);
    r->content_type = VS_HTTP_METRICS_CONTENT_TYPE;
    r->status = 200;
    return 200;
}

int route_openapi(request *r)
{
    sb_puts(&r->out, vs_openapi_json);
    r->status = 200;
    return 200;
}

int route_page(request *r)
{
    sb_puts(&r->out, vs_page_html);
    r->content_type = "text/html; charset=utf-8";
    r->status = 200;
    return 200;
}
