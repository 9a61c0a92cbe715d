/* The collection's payload indexes: updates from adds and removes, declarations, the
 * automatic-build thread, loading at open. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/collection_impl.h"
#include "core/error.h"
#include "core/options.h"
#include "core/log.h"

#define BUILD_CHUNK 4096

static cJSON *parse_md(const vs_doc *d)
{
    return d && d->metadata ? cJSON_Parse(d->metadata) : NULL;
}

/* Parsing happens before payload_rw is taken, so filter compilation waits only for the
 * bitmap updates. */
int vs_collection_payload_add(vs_collection *c, size_t n, const int64_t *ids)
{
    cJSON **md = calloc(n ? n : 1, sizeof *md);
    if (!md) return vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) md[i] = parse_md(vs_docstore_get(&c->docs, ids[i]));
    int rc = VS_OK;
    size_t done = 0;
    pthread_rwlock_wrlock(&c->payload_rw);
    for (; done < n && !rc; done++) rc = vs_payload_add_parsed(&c->payload, ids[done], md[done]);
    if (rc) /* undo, so index and payload agree on what the failed add did not add */
        for (size_t i = 0; i < done; i++) vs_payload_remove_parsed(&c->payload, ids[i], md[i]);
    pthread_rwlock_unlock(&c->payload_rw);
    for (size_t i = 0; i < n; i++) cJSON_Delete(md[i]);
    free(md);
    return rc;
}

void vs_collection_payload_remove(vs_collection *c, size_t n, const int64_t *ids)
{
    cJSON **md = calloc(n ? n : 1, sizeof *md);
    int *present = calloc(n ? n : 1, sizeof *present);
    for (size_t i = 0; md && present && i < n; i++) {
        const vs_doc *d = vs_docstore_get(&c->docs, ids[i]);
        present[i] = d != NULL;
        md[i] = parse_md(d);
    }
    pthread_rwlock_wrlock(&c->payload_rw);
    for (size_t i = 0; i < n; i++)
        if (!md || !present || present[i]) vs_payload_remove_parsed(&c->payload, ids[i], md ? md[i] : NULL);
    pthread_rwlock_unlock(&c->payload_rw);
    for (size_t i = 0; md && i < n; i++) cJSON_Delete(md[i]);
    free(md);
    free(present);
}

/* One chunk of a BUILDING index, from the end of the document array down: a removal moves
 * the last document into the hole, so going down never skips a document (one moved into the
 * unread part is read twice, which adding is idempotent for), and documents added meanwhile
 * are fed by the writers. Returns 1 when the index became ready. Needs write_mu (documents
 * stable). */
static int build_chunk(vs_collection *c, vs_pindex *x)
{
    size_t hi = x->build_pos < c->docs.count ? x->build_pos : c->docs.count;
    size_t lo = hi > BUILD_CHUNK ? hi - BUILD_CHUNK : 0;
    cJSON **md = calloc(hi - lo + 1, sizeof *md);
    if (!md) return vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t i = lo; i < hi; i++) md[i - lo] = parse_md(&c->docs.docs[i]);
    int rc = VS_OK;
    pthread_rwlock_wrlock(&c->payload_rw);
    for (size_t i = lo; i < hi && !rc; i++) {
        uint32_t key;
        if (vs_payload_key(c->docs.docs[i].id, &key)) rc = vs_pindex_add_parsed(x, key, md[i - lo]);
    }
    if (!rc) {
        x->build_pos = lo;
        if (lo == 0) {
            x->state = VS_PIX_READY;
            c->payload.version++;
        }
    }
    pthread_rwlock_unlock(&c->payload_rw);
    for (size_t i = lo; i < hi; i++) cJSON_Delete(md[i - lo]);
    free(md);
    return rc ? rc : lo == 0;
}

static vs_pindex *next_building(vs_collection *c)
{
    vs_pindex *x = NULL;
    pthread_rwlock_rdlock(&c->payload_rw);
    for (size_t i = 0; i < c->payload.n_ix && !x; i++)
        if (c->payload.ix[i]->state == VS_PIX_BUILDING) x = c->payload.ix[i];
    pthread_rwlock_unlock(&c->payload_rw);
    return x;
}

int vs_collection_payload_build_all(vs_collection *c)
{
    vs_pindex *x;
    while ((x = next_building(c))) {
        int rc;
        while ((rc = build_chunk(c, x)) == 0) {}
        if (rc < 0) return rc;
    }
    return VS_OK;
}

int vs_collection_payload_declare(vs_collection *c, const char *field, vs_payload_type type, int automatic)
{
    vs_pindex *x = NULL;
    pthread_rwlock_wrlock(&c->payload_rw);
    int rc = vs_payload_declare(&c->payload, field, type, automatic, &x);
    pthread_rwlock_unlock(&c->payload_rw);
    return rc ? rc : vs_collection_payload_build_all(c);
}

/* --- the automatic-build thread --------------------------------------------------------- */

static void *builder_main(void *arg)
{
    vs_collection *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->builder_mu);
        int stop = c->builder_stop;
        vs_pindex *x = stop ? NULL : next_building(c);
        if (!x) {
            /* Decided under builder_mu: a search that declares after this starts a new thread. */
            c->builder_running = 0;
            pthread_mutex_unlock(&c->builder_mu);
            return NULL;
        }
        pthread_mutex_unlock(&c->builder_mu);
        pthread_mutex_lock(&c->write_mu);
        int rc = x->state == VS_PIX_BUILDING ? build_chunk(c, x) : 0;
        pthread_mutex_unlock(&c->write_mu);
        if (rc == 1)
            vs_log(VS_LOG_INFO, "%s: payload index on '%s' (%s) is ready", c->dir, x->field, vs_payload_type_name(x->type));
        if (rc < 0) {
            vs_log(VS_LOG_WARNING, "%s: building the payload index on '%s' failed: %s", c->dir, x->field, vs_last_error());
            pthread_mutex_lock(&c->builder_mu);
            c->builder_running = 0;
            pthread_mutex_unlock(&c->builder_mu);
            return NULL;
        }
    }
}

/* Declares automatic indexes for fields (names separated by ',') and makes sure the builder
 * runs. Never waits for a writer. */
void vs_collection_request_builds(vs_collection *c, const char *const *fields, const vs_payload_type *types, size_t n)
{
    int declared = 0;
    pthread_rwlock_wrlock(&c->payload_rw);
    for (size_t i = 0; i < n; i++) {
        vs_pindex *x = NULL;
        if (!vs_payload_index(&c->payload, fields[i]) && !vs_payload_declare(&c->payload, fields[i], types[i], 1, &x))
            declared++;
    }
    pthread_rwlock_unlock(&c->payload_rw);
    if (!declared) return;
    pthread_mutex_lock(&c->builder_mu);
    if (!c->builder_running && !c->builder_stop) {
        if (c->builder_started) pthread_join(c->builder, NULL); /* the previous one has exited */
        c->builder_started = 0;
        if (pthread_create(&c->builder, NULL, builder_main, c) == 0) {
            c->builder_started = 1;
            c->builder_running = 1;
        } else {
            vs_log(VS_LOG_WARNING, "%s: cannot start the payload index builder; filters stay per document", c->dir);
        }
    }
    pthread_mutex_unlock(&c->builder_mu);
}

void vs_collection_builder_stop(vs_collection *c)
{
    pthread_mutex_lock(&c->builder_mu);
    c->builder_stop = 1;
    int started = c->builder_started;
    c->builder_started = 0;
    pthread_mutex_unlock(&c->builder_mu);
    if (started) pthread_join(c->builder, NULL);
}

/* --- open, replay, public declaration ----------------------------------------------------- */

int vs_collection_payload_load(vs_collection *c)
{
    char path[4200];
    vs_collection_path(c, path, sizeof path, "payload", c->generation);
    int rc = vs_payload_read(&c->payload, path);
    if (rc != VS_ERR_NOT_FOUND) return rc;
    /* A snapshot from before payload indexes: the catalog comes from the documents. */
    for (size_t i = 0; i < c->docs.count; i++) {
        rc = vs_payload_add_doc(&c->payload, c->docs.docs[i].id, c->docs.docs[i].metadata);
        if (rc) return rc;
    }
    return VS_OK;
}

int vs_collection_payload_replay(vs_collection *c, const uint8_t *p, uint64_t len)
{
    uint32_t type;
    if (len < 5 || len - 4 >= VS_PAYLOAD_FIELD_MAX) return vs_fail(VS_ERR_CORRUPT, "%s: bad payload index record", c->dir);
    memcpy(&type, p, 4);
    char field[VS_PAYLOAD_FIELD_MAX];
    memcpy(field, p + 4, len - 4);
    field[len - 4] = 0;
    int rc = vs_collection_payload_declare(c, field, (vs_payload_type)type, 0);
    return rc == VS_ERR_INVALID_ARG ? vs_fail(VS_ERR_CORRUPT, "%s: payload index record: %s", c->dir, vs_last_error()) : rc;
}

int vs_collection_create_payload_index(vs_collection *c, const char *field, vs_payload_type type)
{
    if (!c || !field) return vs_fail(VS_ERR_INVALID_ARG, "collection and field must not be NULL");
    size_t fl = strlen(field);
    if (!fl || fl >= VS_PAYLOAD_FIELD_MAX || type < VS_PAYLOAD_KEYWORD || type > VS_PAYLOAD_BOOL)
        return vs_fail(VS_ERR_INVALID_ARG, "a payload index needs a field name of 1 to %d bytes and a type (keyword, integer, float, bool)",
                       VS_PAYLOAD_FIELD_MAX - 1);
    uint8_t rec[4 + VS_PAYLOAD_FIELD_MAX];
    uint32_t t = (uint32_t)type;
    memcpy(rec, &t, 4);
    memcpy(rec + 4, field, fl);
    /* Logged, synced, then applied, as every write (collection_write.c): a declaration whose
     * sync fails is never applied. */
    pthread_mutex_lock(&c->write_mu);
    vs_wal *wal = c->wal;
    uint64_t seq = 0;
    pthread_rwlock_rdlock(&c->payload_rw);
    const vs_pindex *x = vs_payload_index(&c->payload, field);
    int same = x && x->type == type && !x->automatic, other = x && x->type != type;
    vs_payload_type had = x ? x->type : type;
    pthread_rwlock_unlock(&c->payload_rw);
    int rc = c->log_failed ? vs_fail(VS_ERR_IO, "%s: an earlier log write failed; the collection refuses writes until it is reopened", c->dir)
             : other ? vs_fail(VS_ERR_INVALID_ARG, "field '%s' already has a %s index", field, vs_payload_type_name(had))
                     : VS_OK;
    if (!rc && !same) rc = vs_wal_append(wal, VS_WAL_PAYLOAD_INDEX, rec, 4 + fl, &seq);
    pthread_mutex_unlock(&c->write_mu);
    if (rc || same) return rc;

    int synced = vs_wal_sync(wal, seq, 30000);
    pthread_mutex_lock(&c->write_mu);
    if (synced) {
        c->log_failed = 1;
        rc = synced;
    } else {
        /* Only a search's automatic index of another type, declared since the check, can
         * refuse it now; the log holds the declaration, so the next open applies it. */
        rc = vs_collection_payload_declare(c, field, type, 0);
        if (rc) {
            char why[300];
            snprintf(why, sizeof why, "%s", vs_last_error());
            rc = vs_fail(rc, "%s: the index on '%s' is in the log but could not be applied now (%s); it appears when the "
                         "collection is reopened", c->dir, field, why);
        }
    }
    vs_collection_refresh_info(c);
    pthread_mutex_unlock(&c->write_mu);
    return rc;
}

int vs_collection_set_auto_index(vs_collection *c, int enabled)
{
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    atomic_store(&c->auto_index, enabled != 0);
    return VS_OK;
}

int vs_collection_payload_indexes(const vs_collection *cc, vs_payload_index_info *out, size_t cap, size_t *n)
{
    /* const: nothing the caller can observe changes; the locks taken are not state. */
    vs_collection *c = (vs_collection *)cc;
    if (!c || !n || (cap && !out)) return vs_fail(VS_ERR_INVALID_ARG, "collection, out and n must not be NULL");
    /* The elements are out[0].struct_size bytes apart, maybe fewer than ours (vecscale.h,
     * "Options and result structs"). */
    size_t stride = 0;
    if (cap) {
        int rc = vs_result_size(out, sizeof *out, VS_PAYLOAD_INDEX_INFO_V1, "vs_payload_index_info", &stride);
        if (rc) return rc;
    }
    pthread_rwlock_rdlock(&c->payload_rw);
    *n = c->payload.n_ix;
    for (size_t i = 0; i < c->payload.n_ix && i < cap; i++) {
        const vs_pindex *x = c->payload.ix[i];
        vs_payload_index_info o = {.struct_size = stride};
        snprintf(o.field, sizeof o.field, "%s", x->field);
        o.type = x->type;
        o.ready = x->state == VS_PIX_READY;
        o.automatic = x->automatic;
        o.documents = roaring_bitmap_get_cardinality(x->present);
        o.values = vs_pindex_values(x);
        o.memory_bytes = vs_pindex_memory(x);
        void *dst = (char *)out + i * stride;
        memcpy(dst, &o.struct_size, sizeof o.struct_size);
        vs_result_write(dst, &o, stride);
    }
    pthread_rwlock_unlock(&c->payload_rw);
    return VS_OK;
}
