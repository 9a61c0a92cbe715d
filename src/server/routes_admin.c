/* Collections (list, create, drop), /stats, /save, /health, /metrics, /openapi.json, GET /. */
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
    vs_payload_index_info info[64];
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
    vs_collection_info in;
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
    render_payload_indexes(o, ref->c);
    sb_puts(o, "}");
}

int route_stats(request *r, coll_ref *ref)
{
    render_stats(&r->out, ref);
    r->status = 200;
    return 200;
}

int route_save(request *r, coll_ref *ref)
{
    if (r->body_len) {
        static const char *const none[] = {NULL};
        cJSON *o = parse_object(r);
        int ok = o && only_fields(r, o, none);
        cJSON_Delete(o);
        if (!ok) {
            if (r->status == 400 && strstr(r->out.s ? r->out.s : "", "'path'"))
                return reply_error(r, 400, "unknown_field",
                                   "/save takes no 'path': snapshots are written inside the server's data directory");
            return r->status;
        }
    }
    int rc = vs_collection_snapshot(ref->c);
    if (rc) return reply_vs_error(r, rc);
    vs_collection_info in;
    vs_collection_info_get(ref->c, &in);
    /* The local snapshot stands even when publishing it elsewhere fails: the reply says both. */
    char *published = NULL;
    int failed = r->srv->cfg.on_save && r->srv->cfg.on_save(r->srv->cfg.hook_ctx, ref->name, &published);
    sb_printf(&r->out, "{\"saved\":true,\"total_vectors\":%zu,\"snapshot_generation\":%llu", in.count,
              (unsigned long long)in.generation);
    if (published) sb_printf(&r->out, ",\"published\":%s", published);
    if (failed)
        sb_puts(&r->out, ",\"error\":{\"code\":\"publish_failed\",\"message\":\"saved locally, but publishing the "
                         "snapshot failed (see published.error); the next save publishes again\"}");
    sb_puts(&r->out, "}");
    free(published);
    r->status = failed ? 502 : 200;
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
    vs_collection_options opt = {.metric = VS_METRIC_L2};
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
    sb_printf(&r->out, "{\"status\":\"ok\",\"version\":\"%s\",\"collections\":%zu,\"uptime_s\":%.1f}", vs_version(), n,
              now_seconds() - r->srv->started);
    r->status = 200;
    return 200;
}

int route_metrics(request *r)
{
    sb *o = &r->out;
    metrics_render(o);
    char **names;
    size_t n = registry_names(&r->srv->reg, &names);
    static const char *const fam[][3] = {
        {"vecscale_collection_vectors", "gauge", "Vectors (documents) per collection."},
        {"vecscale_collection_memory_bytes", "gauge", "Heap bytes of index and documents."},
        {"vecscale_collection_log_bytes", "gauge", "Write-ahead log size since the last snapshot."},
        {"vecscale_collection_log_syncs_total", "counter", "fdatasync calls on the current log (group commit)."},
    };
    vs_collection_info *info = calloc(n + 1, sizeof *info);
    for (size_t i = 0; info && i < n; i++) {
        coll_ref *ref = registry_get(&r->srv->reg, names[i]);
        if (ref) {
            vs_collection_info_get(ref->c, &info[i]);
            registry_put(ref);
        }
    }
    for (size_t f = 0; info && f < sizeof fam / sizeof fam[0]; f++) {
        sb_printf(o, "# HELP %s %s\n# TYPE %s %s\n", fam[f][0], fam[f][2], fam[f][0], fam[f][1]);
        for (size_t i = 0; i < n; i++) {
            unsigned long long v = f == 0 ? info[i].count : f == 1 ? info[i].memory_bytes : f == 2 ? info[i].log_bytes
                                                                                                  : info[i].log_syncs;
            sb_printf(o, "%s{collection=\"%s\"} %llu\n", fam[f][0], names[i], v);
        }
    }
    free(info);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    sb_printf(o, "# HELP vecscale_http_in_flight Requests being handled.\n# TYPE vecscale_http_in_flight gauge\n"
                 "vecscale_http_in_flight %d\n", atomic_load(&r->srv->in_flight));
    sb_printf(o, "# HELP vecscale_process_resident_bytes Resident memory.\n# TYPE vecscale_process_resident_bytes gauge\n"
                 "vecscale_process_resident_bytes %.0f\n", rss_mb() * 1024 * 1024);
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
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
