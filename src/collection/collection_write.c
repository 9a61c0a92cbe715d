/* Collection writes: validate and log under the writer mutex, wait for the log to reach disk
 * (group commit, no lock held), then apply: a search sees a write only once it is durable, and
 * a write whose log sync fails is never applied. Training and snapshots are not here: they run
 * in maintenance.c, never inside a write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collection/collection_impl.h"
#include "core/error.h"
#include "core/log.h"

#define ABSENT UINT32_MAX
#define SYNC_TIMEOUT_MS 30000

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ADD payload: u32 n | u32 dim | i64 ids[n] | u32 text_len[n] | u32 meta_len[n] |
 * f32 vectors[n*dim] | text and metadata bytes, document by document. Length ABSENT = NULL. */
int vs_collection_encode_add(uint32_t dim, size_t n, const float *vectors, const int64_t *ids,
                             const char *const *texts, const char *const *metadata, uint8_t **out, size_t *len)
{
    size_t strings = 0;
    for (size_t i = 0; i < n; i++) {
        if (texts && texts[i]) strings += strlen(texts[i]);
        if (metadata && metadata[i]) strings += strlen(metadata[i]);
    }
    size_t fixed = 8 + n * 16 + n * (size_t)dim * 4;
    if (fixed + strings > VS_WAL_MAX_PAYLOAD)
        return vs_fail(VS_ERR_INVALID_ARG, "a batch of %zu documents is too large for one log record (1 GiB)", n);
    uint8_t *p = malloc(fixed + strings);
    if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory");
    put32(p, (uint32_t)n);
    put32(p + 4, dim);
    memcpy(p + 8, ids, n * 8);
    uint8_t *tl = p + 8 + n * 8, *ml = tl + n * 4, *s = p + fixed;
    memcpy(ml + n * 4, vectors, n * (size_t)dim * 4);
    for (size_t i = 0; i < n; i++) {
        const char *t = texts ? texts[i] : NULL, *m = metadata ? metadata[i] : NULL;
        uint32_t a = t ? (uint32_t)strlen(t) : ABSENT, b = m ? (uint32_t)strlen(m) : ABSENT;
        put32(tl + i * 4, a);
        put32(ml + i * 4, b);
        if (t) { memcpy(s, t, a); s += a; }
        if (m) { memcpy(s, m, b); s += b; }
    }
    *out = p;
    *len = fixed + strings;
    return VS_OK;
}

static char *dup_len(const char *s, uint32_t len)
{
    if (!s || len == ABSENT) return NULL;
    char *d = malloc((size_t)len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

/* Adds to the index: HNSW in one call beside the readers, other types in short exclusive
 * chunks so a search waits at most one chunk. */
static int index_add(vs_collection *c, size_t n, const float *vectors, const int64_t *ids)
{
    if (c->hnsw && !c->exclusive_write) return vs_index_add(c->index, n, vectors, ids);
    size_t chunk = c->exclusive_write ? n : VS_COLLECTION_CHUNK;
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        pthread_rwlock_wrlock(&c->index_rw);
        int rc = vs_index_add(c->index, m, vectors + i * c->dim, ids + i);
        c->exclusive_write = 0;
        pthread_rwlock_unlock(&c->index_rw);
        if (rc) {
            /* Keep index and documents equal: take back the chunks already added. */
            if (i) {
                pthread_rwlock_wrlock(&c->index_rw);
                vs_index_remove(c->index, i, ids, NULL);
                pthread_rwlock_unlock(&c->index_rw);
            }
            return rc;
        }
    }
    return VS_OK;
}

int vs_collection_apply_add(vs_collection *c, size_t n, const float *vectors, const int64_t *ids,
                            const uint32_t *text_len, const char *const *texts, const uint32_t *meta_len,
                            const char *const *metadata)
{
    /* Documents first: a search that finds a new ID also finds its text. */
    char **t = calloc(n ? n : 1, sizeof *t), **m = calloc(n ? n : 1, sizeof *m);
    int rc = t && m ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        uint32_t tl = texts && texts[i] ? (text_len ? text_len[i] : (uint32_t)strlen(texts[i])) : ABSENT;
        uint32_t ml = metadata && metadata[i] ? (meta_len ? meta_len[i] : (uint32_t)strlen(metadata[i])) : ABSENT;
        t[i] = dup_len(texts ? texts[i] : NULL, tl);
        m[i] = dup_len(metadata ? metadata[i] : NULL, ml);
        if ((tl != ABSENT && !t[i]) || (ml != ABSENT && !m[i])) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    if (!rc) {
        pthread_rwlock_wrlock(&c->docs_rw);
        rc = vs_docstore_reserve(&c->docs, n);
        if (!rc)
            for (size_t i = 0; i < n; i++) vs_docstore_put(&c->docs, ids[i], t[i], m[i]);
        pthread_rwlock_unlock(&c->docs_rw);
    }
    if (rc) {
        for (size_t i = 0; t && m && i < n; i++) {
            free(t[i]);
            free(m[i]);
        }
        free(t);
        free(m);
        return rc;
    }
    free(t);
    free(m);
    /* Payload before the index: a filter that admits a new ID can also find it. */
    rc = vs_collection_payload_add(c, n, ids);
    if (!rc) {
        rc = index_add(c, n, vectors, ids);
        if (rc) vs_collection_payload_remove(c, n, ids);
    }
    if (!rc) {
        /* A filter compiled meanwhile may have cached vectors without these: retire it. */
        pthread_rwlock_wrlock(&c->payload_rw);
        c->payload.version++;
        pthread_rwlock_unlock(&c->payload_rw);
    }
    if (rc) {
        pthread_rwlock_wrlock(&c->docs_rw);
        for (size_t i = 0; i < n; i++) vs_docstore_remove(&c->docs, ids[i]);
        pthread_rwlock_unlock(&c->docs_rw);
        return rc;
    }
    atomic_fetch_add(&c->count, n);
    for (size_t i = 0; i < n; i++) /* internal ids of string ids do not move automatic ids */
        if (ids[i] >= c->next_id && ids[i] < VS_KEYED_ID_MIN) c->next_id = ids[i] + 1;
    return VS_OK;
}

int vs_collection_apply_remove(vs_collection *c, size_t n, const int64_t *ids, size_t *n_removed)
{
    size_t removed = 0;
    int rc;
    /* Index first: a search never returns an ID whose document is already gone for good. */
    if (c->hnsw && !c->exclusive_write) {
        rc = vs_index_remove(c->index, n, ids, NULL);
    } else {
        pthread_rwlock_wrlock(&c->index_rw);
        rc = vs_index_remove(c->index, n, ids, NULL);
        c->exclusive_write = 0;
        pthread_rwlock_unlock(&c->index_rw);
    }
    if (rc) return rc;
    vs_collection_payload_remove(c, n, ids);
    pthread_rwlock_wrlock(&c->docs_rw);
    for (size_t i = 0; i < n; i++) {
        removed += (size_t)vs_docstore_remove(&c->docs, ids[i]);
        vs_keymap_remove_id(&c->keys, ids[i]);
    }
    pthread_rwlock_unlock(&c->docs_rw);
    atomic_fetch_sub(&c->count, removed);
    if (n_removed) *n_removed = removed;
    return VS_OK;
}

static int refuse_writes(vs_collection *c)
{
    return vs_fail(VS_ERR_IO, "%s: an earlier log write failed; the collection refuses writes until it is reopened", c->dir);
}

/* Everything that can make an add fail is checked before it is logged. */
static int validate_add(vs_collection *c, size_t n, const float *vectors, const int64_t *ids)
{
    for (size_t i = 0; i < n; i++) {
        const float *v = vectors + i * c->dim;
        double norm = 0;
        for (uint32_t j = 0; j < c->dim; j++) {
            if (!isfinite(v[j]))
                return vs_fail(VS_ERR_INVALID_ARG, "vector %zu: component %u is not a finite number", i, j);
            norm += (double)v[j] * v[j];
        }
        if (c->metric == VS_METRIC_COSINE && norm == 0)
            return vs_fail(VS_ERR_INVALID_ARG, "vector %zu is all zeros and has no cosine direction", i);
        if (ids[i] < 0) return vs_fail(VS_ERR_INVALID_ARG, "id %lld is negative", (long long)ids[i]);
        uint64_t pos;
        if (vs_docstore_get(&c->docs, ids[i]) || vs_idmap_get(&c->pending, ids[i], &pos))
            return vs_fail(VS_ERR_DUPLICATE_ID, "id %lld already exists", (long long)ids[i]);
    }
    /* Duplicates inside the batch. */
    vs_idmap seen;
    if (vs_idmap_init(&seen, n)) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = VS_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t v;
        if (vs_idmap_get(&seen, ids[i], &v))
            rc = vs_fail(VS_ERR_DUPLICATE_ID, "id %lld appears twice in the batch", (long long)ids[i]);
        else
            vs_idmap_put(&seen, ids[i], i);
    }
    vs_idmap_destroy(&seen);
    return rc;
}

int vs_collection_add(vs_collection *c, size_t n, const float *vectors, const int64_t *ids_in,
                      const char *const *texts, const char *const *metadata, int64_t *assigned_ids)
{
    for (size_t i = 0; ids_in && i < n; i++)
        if (ids_in[i] >= VS_KEYED_ID_MIN)
            return vs_fail(VS_ERR_INVALID_ARG, "id %lld: integer ids must be below 2^62 (internal ids of string ids)",
                           (long long)ids_in[i]);
    return vs_collection_add_ex(c, n, vectors, ids_in, NULL, texts, metadata, assigned_ids);
}

int vs_collection_add_ex(vs_collection *c, size_t n, const float *vectors, const int64_t *ids_in,
                         const char *const *keys, const char *const *texts, const char *const *metadata,
                         int64_t *assigned_ids)
{
    if (!c || (!vectors && n)) return vs_fail(VS_ERR_INVALID_ARG, "collection and vectors must not be NULL");
    if (n == 0) return VS_OK;
    int64_t *ids = malloc(n * sizeof *ids);
    if (!ids) return vs_fail(VS_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&c->write_mu);
    vs_key_batch kb = {0};
    int rc = c->log_failed ? refuse_writes(c) : VS_OK;
    if (!rc && keys) rc = vs_keys_resolve(c, n, keys, ids, &kb);
    else if (!rc)
        for (size_t i = 0; i < n; i++) ids[i] = ids_in ? ids_in[i] : c->next_id + (int64_t)i;
    uint8_t *payload = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    vs_wal *wal = c->wal;
    if (!rc) rc = validate_add(c, n, vectors, ids);
    if (!rc) rc = vs_collection_encode_add(c->dim, n, vectors, ids, texts, metadata, &payload, &len);
    if (!rc && kb.m) {
        /* One record, so a torn tail can never keep a document and lose its string id. */
        uint8_t *both = malloc(kb.block_len + len);
        if (both) {
            memcpy(both, kb.block, kb.block_len);
            memcpy(both + kb.block_len, payload, len);
        }
        free(payload);
        payload = both;
        len += kb.block_len;
        if (!both) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    if (!rc) rc = vs_idmap_reserve(&c->pending, n);
    /* String ids go into the key map now, so no other writer can take them; they name no
     * document (lookups say "not found") until the add is applied. */
    if (!rc && kb.m) rc = vs_keys_apply(c, &kb);
    if (!rc) {
        rc = vs_wal_append(wal, kb.m ? VS_WAL_ADD_KEYED : VS_WAL_ADD, payload, len, &seq);
        if (rc && kb.m) vs_keys_unapply(c, &kb);
    }
    free(payload);
    if (!rc) {
        /* Reserved until applied or failed: a second add of these ids is a duplicate. */
        for (size_t i = 0; i < n; i++) vs_idmap_put(&c->pending, ids[i], 1);
        for (size_t i = 0; i < n; i++) /* automatic ids are taken at logging, not at applying */
            if (ids[i] >= c->next_id && ids[i] < VS_KEYED_ID_MIN) c->next_id = ids[i] + 1;
    }
    pthread_mutex_unlock(&c->write_mu);

    int synced = rc ? rc : vs_wal_sync(wal, seq, SYNC_TIMEOUT_MS);

    pthread_mutex_lock(&c->write_mu);
    if (!rc) {
        if (synced) {
            /* Not durable: never applied, and its ids and keys are free again. */
            c->log_failed = 1;
            if (kb.m) vs_keys_unapply(c, &kb);
            rc = synced;
        } else {
            rc = vs_collection_apply_add(c, n, vectors, ids, NULL, texts, NULL, metadata);
            if (rc) {
                /* Durable but not applied (out of memory): the next open applies it. */
                char why[300];
                snprintf(why, sizeof why, "%s", vs_last_error());
                if (kb.m) vs_keys_unapply(c, &kb);
                rc = vs_fail(rc, "%s: the add is in the log but could not be applied now (%s); it appears when the "
                             "collection is reopened", c->dir, why);
                vs_log(VS_LOG_WARNING, "%s", vs_last_error());
            } else {
                vs_maint_note_add(c, n, ids, vectors);
            }
        }
        for (size_t i = 0; i < n; i++) vs_idmap_erase(&c->pending, ids[i]);
    }
    vs_key_batch_free(&kb);
    vs_collection_refresh_info(c);
    pthread_mutex_unlock(&c->write_mu);
    if (!rc && assigned_ids) memcpy(assigned_ids, ids, n * sizeof *ids);
    free(ids);
    return rc;
}

int vs_collection_remove(vs_collection *c, size_t n, const int64_t *ids, size_t *n_removed)
{
    if (n_removed) *n_removed = 0;
    if (!c || (!ids && n)) return vs_fail(VS_ERR_INVALID_ARG, "collection and ids must not be NULL");
    if (n == 0) return VS_OK;
    int64_t *present = malloc(n * sizeof *present);
    if (!present) return vs_fail(VS_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&c->write_mu);
    size_t m = 0;
    int rc = c->log_failed ? refuse_writes(c) : VS_OK;
    for (size_t i = 0; !rc && i < n; i++)
        if (vs_docstore_get(&c->docs, ids[i])) present[m++] = ids[i];
    uint64_t seq = 0;
    vs_wal *wal = c->wal;
    if (!rc && m) {
        uint8_t *p = malloc(4 + m * 8);
        rc = p ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
        if (!rc) {
            put32(p, (uint32_t)m);
            memcpy(p + 4, present, m * 8);
            rc = vs_wal_append(wal, VS_WAL_DELETE, p, 4 + m * 8, &seq);
        }
        free(p);
    }
    pthread_mutex_unlock(&c->write_mu);
    if (!rc && m) {
        /* Applied only once durable; another remove of the same ids meanwhile is harmless
         * (removing an absent id does nothing, also in replay). */
        int synced = vs_wal_sync(wal, seq, SYNC_TIMEOUT_MS);
        pthread_mutex_lock(&c->write_mu);
        if (synced) {
            c->log_failed = 1;
            rc = synced;
        } else {
            rc = vs_collection_apply_remove(c, m, present, n_removed);
            if (!rc) vs_maint_note_remove(c, m, present);
        }
        vs_collection_refresh_info(c);
        pthread_mutex_unlock(&c->write_mu);
    }
    free(present);
    return rc;
}

int vs_collection_set_log_position(vs_collection *c, uint64_t position)
{
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    pthread_mutex_lock(&c->write_mu);
    int rc = c->log_failed ? refuse_writes(c) : VS_OK;
    if (!rc && position < c->log_pos)
        rc = vs_fail(VS_ERR_INVALID_ARG, "%s: log position %llu is below the applied %llu", c->dir,
                     (unsigned long long)position, (unsigned long long)c->log_pos);
    int same = !rc && position == c->log_pos;
    uint64_t seq = 0;
    vs_wal *wal = c->wal;
    uint8_t rec[8];
    put64(rec, position);
    if (!rc && !same) rc = vs_wal_append(wal, VS_WAL_LOG_POS, rec, sizeof rec, &seq);
    pthread_mutex_unlock(&c->write_mu);
    if (rc || same) return rc;
    int synced = vs_wal_sync(wal, seq, SYNC_TIMEOUT_MS);
    pthread_mutex_lock(&c->write_mu);
    if (synced) {
        c->log_failed = 1;
        rc = synced;
    } else if (position > c->log_pos) {
        c->log_pos = position;
    }
    pthread_mutex_unlock(&c->write_mu);
    return rc;
}

uint64_t vs_collection_log_position(vs_collection *c)
{
    if (!c) return 0;
    pthread_mutex_lock(&c->write_mu);
    uint64_t p = c->log_pos;
    pthread_mutex_unlock(&c->write_mu);
    return p;
}

/* Log replay during open (single-threaded). */
int vs_collection_replay(uint32_t type, const uint8_t *p, uint64_t len, void *ctx)
{
    vs_collection *c = ctx;
    if (type == VS_WAL_DELETE) {
        if (len < 4 || len != 4 + (uint64_t)get32(p) * 8) return vs_fail(VS_ERR_CORRUPT, "%s: bad delete record", c->dir);
        size_t n = get32(p);
        int64_t *ids = malloc(n ? n * 8 : 1);
        if (!ids) return vs_fail(VS_ERR_NOMEM, "out of memory");
        memcpy(ids, p + 4, n * 8);
        int rc = vs_collection_apply_remove(c, n, ids, NULL);
        free(ids);
        return rc;
    }
    if (type == VS_WAL_PAYLOAD_INDEX) return vs_collection_payload_replay(c, p, len);
    if (type == VS_WAL_LOG_POS) {
        if (len != 8) return vs_fail(VS_ERR_CORRUPT, "%s: bad log position record", c->dir);
        uint64_t pos = get64(p);
        if (pos > c->log_pos) c->log_pos = pos;
        return VS_OK;
    }
    if (type != VS_WAL_ADD) return vs_fail(VS_ERR_CORRUPT, "%s: unknown log record type %u", c->dir, type);
    if (len < 8) return vs_fail(VS_ERR_CORRUPT, "%s: short add record", c->dir);
    size_t n = get32(p);
    uint32_t dim = get32(p + 4);
    size_t fixed = 8 + n * 16 + n * (size_t)dim * 4;
    if (dim != c->dim || fixed > len) return vs_fail(VS_ERR_CORRUPT, "%s: add record does not fit the collection", c->dir);
    int64_t *ids = malloc(n * 8 + 1);
    uint32_t *tl = malloc(n * 4 + 1), *ml = malloc(n * 4 + 1);
    float *x = malloc(n * (size_t)dim * 4 + 1);
    const char **t = malloc(n * sizeof *t + 1), **m = malloc(n * sizeof *m + 1);
    int rc = ids && tl && ml && x && t && m ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    if (!rc) {
        memcpy(ids, p + 8, n * 8);
        memcpy(tl, p + 8 + n * 8, n * 4);
        memcpy(ml, p + 8 + n * 12, n * 4);
        memcpy(x, p + 8 + n * 16, n * (size_t)dim * 4);
        uint64_t off = fixed;
        for (size_t i = 0; i < n && !rc; i++) {
            uint64_t a = tl[i] == ABSENT ? 0 : tl[i], b = ml[i] == ABSENT ? 0 : ml[i];
            if (a + b > len - off) rc = vs_fail(VS_ERR_CORRUPT, "%s: add record strings overrun", c->dir);
            t[i] = tl[i] == ABSENT ? NULL : (const char *)p + off;
            m[i] = ml[i] == ABSENT ? NULL : (const char *)p + off + a;
            off += a + b;
        }
    }
    /* A record whose IDs are already present would mean the snapshot and log overlap. */
    for (size_t i = 0; !rc && i < n; i++)
        if (vs_docstore_get(&c->docs, ids[i]))
            rc = vs_fail(VS_ERR_CORRUPT, "%s: log adds id %lld which the snapshot already holds", c->dir,
                         (long long)ids[i]);
    if (!rc) rc = vs_collection_apply_add(c, n, x, ids, tl, t, ml, m);
    free(ids); free(tl); free(ml); free(x); free(t); free(m);
    return rc;
}
