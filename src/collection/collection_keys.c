/* String ids of a collection (the rule: vecscale.h, "Document ids"): resolving a batch's keys
 * to internal ids, the public key functions, the ADD_KEYED log record and the KEYS snapshot
 * section. The key map lives beside the documents, under the same lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "collection/collection_impl.h"
#include "core/error.h"

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

int vs_collection_key_check(const char *key, int64_t *int_id)
{
    int64_t v;
    int rc = vs_key_classify(key, key ? strlen(key) : 0, &v);
    if (int_id) *int_id = v;
    return rc;
}

/* Here, not beside vs_shard_of in index/sharded.c: what a key is (an integer written as text,
 * or a string id) is the collection's rule, and the index layer must not link it in. */
uint32_t vs_shard_of_key(const char *key, uint32_t n_shards)
{
    int64_t as_int = -1;
    if (!key || vs_collection_key_check(key, &as_int) != VS_OK) return 0;
    if (as_int >= 0) return vs_shard_of(as_int, n_shards); /* "17" is 17, on 17's shard */
    return vs_shard_of((int64_t)(XXH3_64bits(key, strlen(key)) >> 1), n_shards);
}

void vs_key_batch_free(vs_key_batch *kb)
{
    free(kb->ids);
    free(kb->keys);
    free(kb->lens);
    free(kb->block);
    memset(kb, 0, sizeof *kb);
}

/* Shortened copy of a key for messages (a key may be 256 bytes). */
static const char *shown(const char *key, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", key);
    if (strlen(key) >= cap && cap > 4) memcpy(buf + cap - 4, "...", 4);
    return buf;
}

int vs_keys_resolve(vs_collection *c, size_t n, const char *const *keys, int64_t *ids, vs_key_batch *kb)
{
    memset(kb, 0, sizeof *kb);
    kb->ids = malloc(n * sizeof *kb->ids);
    kb->keys = malloc(n * sizeof *kb->keys);
    kb->lens = malloc(n * sizeof *kb->lens);
    vs_keymap seen; /* string ids of this batch, for duplicates inside it */
    int rc = vs_keymap_init(&seen);
    if (!rc && (!kb->ids || !kb->keys || !kb->lens)) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    int64_t max_int = -1, next_key = c->keys.next_id;
    char sb[80];
    /* Readers may change nothing here (write_mu is held), so the key map is read unlocked. */
    for (size_t i = 0; !rc && i < n; i++) {
        ids[i] = -1;
        if (!keys[i]) continue;
        size_t len = strlen(keys[i]);
        int64_t v;
        rc = vs_key_classify(keys[i], len, &v);
        if (rc) {
            char why[300];
            snprintf(why, sizeof why, "%s", vs_last_error());
            rc = vs_fail(VS_ERR_INVALID_ARG, "id %zu of the batch: %s", i, why);
            break;
        }
        if (v >= 0) {
            ids[i] = v;
            if (v > max_int) max_int = v;
            continue;
        }
        int64_t had;
        if (vs_keymap_find(&c->keys, keys[i], len, &had)) {
            rc = vs_fail(VS_ERR_DUPLICATE_ID, "id \"%s\" already exists", shown(keys[i], sb, sizeof sb));
            break;
        }
        if (vs_keymap_find(&seen, keys[i], len, &had)) {
            rc = vs_fail(VS_ERR_DUPLICATE_ID, "id \"%s\" appears twice in the batch", shown(keys[i], sb, sizeof sb));
            break;
        }
        if ((rc = vs_keymap_reserve(&seen, 1)) || (rc = vs_keymap_put(&seen, keys[i], len, next_key))) break;
        ids[i] = next_key++;
        kb->ids[kb->m] = ids[i];
        kb->keys[kb->m] = keys[i];
        kb->lens[kb->m++] = (uint32_t)len;
    }
    vs_keymap_destroy(&seen);
    /* Automatic ids continue after every integer id so far, this batch's included. */
    int64_t next = c->next_id > max_int + 1 ? c->next_id : max_int + 1;
    for (size_t i = 0; !rc && i < n; i++)
        if (!keys[i]) ids[i] = next++;
    size_t bytes = 4 + kb->m * 12;
    for (size_t j = 0; j < kb->m; j++) bytes += kb->lens[j];
    if (!rc && kb->m && !(kb->block = malloc(bytes))) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    if (!rc && kb->m) {
        uint8_t *p = kb->block, *s = p + 4 + kb->m * 12;
        put32(p, (uint32_t)kb->m);
        for (size_t j = 0; j < kb->m; j++) {
            put64(p + 4 + j * 12, (uint64_t)kb->ids[j]);
            put32(p + 4 + j * 12 + 8, kb->lens[j]);
            memcpy(s, kb->keys[j], kb->lens[j]);
            s += kb->lens[j];
        }
        kb->block_len = bytes;
    }
    if (rc) vs_key_batch_free(kb);
    return rc;
}

int vs_keys_apply(vs_collection *c, const vs_key_batch *kb)
{
    pthread_rwlock_wrlock(&c->docs_rw);
    int rc = vs_keymap_reserve(&c->keys, kb->m);
    size_t j = 0;
    for (; !rc && j < kb->m; j++) rc = vs_keymap_put(&c->keys, kb->keys[j], kb->lens[j], kb->ids[j]);
    if (rc)
        while (j-- > 0) vs_keymap_remove_id(&c->keys, kb->ids[j]);
    pthread_rwlock_unlock(&c->docs_rw);
    return rc;
}

void vs_keys_unapply(vs_collection *c, const vs_key_batch *kb)
{
    pthread_rwlock_wrlock(&c->docs_rw);
    for (size_t j = 0; j < kb->m; j++) vs_keymap_remove_id(&c->keys, kb->ids[j]);
    pthread_rwlock_unlock(&c->docs_rw);
}

int vs_collection_add_keyed(vs_collection *c, size_t n, const float *vectors, const char *const *keys,
                            const char *const *texts, const char *const *metadata, int64_t *assigned_ids)
{
    if (!keys) return vs_collection_add(c, n, vectors, NULL, texts, metadata, assigned_ids);
    return vs_collection_add_ex(c, n, vectors, NULL, keys, texts, metadata, assigned_ids);
}

/* The id a key names, or -1; docs_rw held by the caller. */
static int64_t resolve(vs_collection *c, const char *key, size_t len, int64_t as_int)
{
    int64_t id = -1;
    if (as_int >= 0) return vs_docstore_get(&c->docs, as_int) ? as_int : -1;
    /* A key of an add not yet durable is reserved in the map but names no document yet. */
    return vs_keymap_find(&c->keys, key, len, &id) && vs_docstore_get(&c->docs, id) ? id : -1;
}

int vs_collection_lookup_key(const vs_collection *cc, const char *key, int64_t *id)
{
    /* const: nothing the caller can observe changes; the locks taken are not state. */
    vs_collection *c = (vs_collection *)cc;
    if (!c || !key || !id) return vs_fail(VS_ERR_INVALID_ARG, "collection, key and id must not be NULL");
    size_t len = strlen(key);
    int64_t as_int;
    int rc = vs_key_classify(key, len, &as_int);
    if (rc) return rc;
    pthread_rwlock_rdlock(&c->docs_rw);
    *id = resolve(c, key, len, as_int);
    pthread_rwlock_unlock(&c->docs_rw);
    char sb[80];
    return *id >= 0 ? VS_OK : vs_fail(VS_ERR_NOT_FOUND, "no document with id \"%s\"", shown(key, sb, sizeof sb));
}

int vs_collection_key_of(const vs_collection *cc, int64_t id, char *buf, size_t cap, int *is_string)
{
    /* const: nothing the caller can observe changes; the locks taken are not state. */
    vs_collection *c = (vs_collection *)cc;
    if (!c || !buf || !cap) return vs_fail(VS_ERR_INVALID_ARG, "collection and buffer must not be NULL");
    pthread_rwlock_rdlock(&c->docs_rw);
    int rc = VS_OK, str = 0;
    const vs_keyent *e = vs_keymap_of(&c->keys, id);
    if (!vs_docstore_get(&c->docs, id)) rc = vs_fail(VS_ERR_NOT_FOUND, "no document with id %lld", (long long)id);
    else if (e && e->len + 1 > cap) rc = vs_fail(VS_ERR_INVALID_ARG, "the id needs %u bytes; the buffer has %zu", e->len + 1, cap);
    else if (e) memcpy(buf, e->key, e->len + 1), str = 1;
    else if ((size_t)snprintf(buf, cap, "%lld", (long long)id) >= cap)
        rc = vs_fail(VS_ERR_INVALID_ARG, "the buffer of %zu bytes is too small for id %lld", cap, (long long)id);
    pthread_rwlock_unlock(&c->docs_rw);
    if (is_string) *is_string = str;
    return rc;
}

int vs_collection_remove_keys(vs_collection *c, size_t n, const char *const *keys, size_t *n_removed)
{
    if (n_removed) *n_removed = 0;
    if (!c || (!keys && n)) return vs_fail(VS_ERR_INVALID_ARG, "collection and keys must not be NULL");
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids), *as_int = malloc((n ? n : 1) * sizeof *as_int);
    int rc = ids && as_int ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        if (!keys[i]) rc = vs_fail(VS_ERR_INVALID_ARG, "key %zu is NULL", i);
        else rc = vs_key_classify(keys[i], strlen(keys[i]), &as_int[i]);
    }
    size_t m = 0;
    if (!rc) {
        /* Internal ids of string ids are never reused, so one resolved here and removed by
         * another writer meanwhile is simply absent below. */
        pthread_rwlock_rdlock(&c->docs_rw);
        for (size_t i = 0; i < n; i++) {
            int64_t id = resolve(c, keys[i], strlen(keys[i]), as_int[i]);
            if (id >= 0) ids[m++] = id;
        }
        pthread_rwlock_unlock(&c->docs_rw);
    }
    if (!rc && m) rc = vs_collection_remove(c, m, ids, n_removed);
    free(ids);
    free(as_int);
    return rc;
}

/* Every string id of the record must name a distinct document of its ADD payload, and no string
 * twice, or the key map would hold an id without a document (which a later snapshot refuses). */
static int check_keyed_record(vs_collection *c, const vs_key_batch *kb, const uint8_t *add, uint64_t add_len)
{
    if (add_len < 8 || (uint64_t)get32(add) * 8 + 8 > add_len) return vs_fail(VS_ERR_CORRUPT, "%s: bad keyed add record", c->dir);
    size_t n = get32(add);
    vs_idmap ids;
    vs_keymap seen;
    int rc = vs_idmap_init(&ids, n);
    if (!rc) rc = vs_keymap_init(&seen);
    for (size_t i = 0; !rc && i < n; i++) vs_idmap_put(&ids, (int64_t)get64(add + 8 + 8 * i), 0);
    for (size_t j = 0; !rc && j < kb->m; j++) {
        int64_t v, had;
        uint64_t keyed;
        if (kb->ids[j] < VS_KEYED_ID_MIN || !vs_idmap_get(&ids, kb->ids[j], &keyed) || keyed ||
            vs_key_classify(kb->keys[j], kb->lens[j], &v) || v >= 0 ||
            vs_keymap_find(&c->keys, kb->keys[j], kb->lens[j], &had) || vs_keymap_find(&seen, kb->keys[j], kb->lens[j], &had)) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: keyed add record: string id %zu is invalid, repeated or already present",
                         c->dir, j);
            break;
        }
        vs_idmap_put(&ids, kb->ids[j], 1);
        if (!(rc = vs_keymap_reserve(&seen, 1))) rc = vs_keymap_put(&seen, kb->keys[j], kb->lens[j], kb->ids[j]);
    }
    vs_keymap_destroy(&seen);
    vs_idmap_destroy(&ids);
    return rc;
}

int vs_collection_replay_keyed(uint32_t type, const uint8_t *p, uint64_t len, void *ctx)
{
    if (type != VS_WAL_ADD_KEYED) return vs_collection_replay(type, p, len, ctx);
    vs_collection *c = ctx;
    if (len < 4 || get32(p) == 0 || (uint64_t)get32(p) * 12 + 4 > len)
        return vs_fail(VS_ERR_CORRUPT, "%s: bad keyed add record", c->dir);
    size_t m = get32(p);
    uint64_t off = 4 + (uint64_t)m * 12;
    vs_key_batch kb = {.m = m};
    kb.ids = malloc(m * sizeof *kb.ids);
    kb.keys = malloc(m * sizeof *kb.keys);
    kb.lens = malloc(m * sizeof *kb.lens);
    int rc = kb.ids && kb.keys && kb.lens ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t j = 0; !rc && j < m; j++) {
        kb.ids[j] = (int64_t)get64(p + 4 + j * 12);
        kb.lens[j] = get32(p + 4 + j * 12 + 8);
        kb.keys[j] = (const char *)p + off;
        if (kb.lens[j] > len - off) rc = vs_fail(VS_ERR_CORRUPT, "%s: keyed add record: keys overrun", c->dir);
        off += kb.lens[j];
    }
    if (!rc) rc = check_keyed_record(c, &kb, p + off, len - off);
    if (!rc) rc = vs_keys_apply(c, &kb);
    if (!rc) {
        rc = vs_collection_replay(VS_WAL_ADD, p + off, len - off, ctx);
        if (rc) vs_keys_unapply(c, &kb);
    }
    vs_key_batch_free(&kb);
    return rc;
}

int vs_keys_encode(const vs_collection *c, uint8_t **out, size_t *len)
{
    const vs_keymap *k = &c->keys;
    size_t bytes = 16 + k->count * 12;
    for (size_t i = 0; i < k->count; i++) bytes += k->ents[i].len;
    uint8_t *p = malloc(bytes);
    if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory writing a snapshot");
    put64(p, k->count);
    put64(p + 8, (uint64_t)k->next_id);
    uint8_t *s = p + 16 + k->count * 12;
    for (size_t i = 0; i < k->count; i++) {
        put64(p + 16 + i * 12, (uint64_t)k->ents[i].id);
        put32(p + 16 + i * 12 + 8, k->ents[i].len);
        memcpy(s, k->ents[i].key, k->ents[i].len);
        s += k->ents[i].len;
    }
    *out = p;
    *len = bytes;
    return VS_OK;
}

int vs_keys_decode(vs_collection *c, const uint8_t *p, uint64_t len, const char *origin)
{
    if (!p) return VS_OK; /* before string ids */
    if (len < 16 || get64(p) > (len - 16) / 12) return vs_fail(VS_ERR_CORRUPT, "%s: bad KEYS section", origin);
    size_t n = get64(p);
    int64_t next = (int64_t)get64(p + 8);
    int rc = vs_keymap_reserve(&c->keys, n);
    uint64_t off = 16 + (uint64_t)n * 12;
    for (size_t i = 0; !rc && i < n; i++) {
        int64_t id = (int64_t)get64(p + 16 + i * 12), v, had;
        uint32_t kl = get32(p + 16 + i * 12 + 8);
        const char *key = (const char *)p + off;
        if (kl > len - off || id < VS_KEYED_ID_MIN || id >= next || !vs_docstore_get(&c->docs, id) ||
            vs_key_classify(key, kl, &v) || v >= 0 || vs_keymap_find(&c->keys, key, kl, &had) ||
            vs_keymap_of(&c->keys, id))
            return vs_fail(VS_ERR_CORRUPT, "%s: string id %zu of the KEYS section is inconsistent", origin, i);
        rc = vs_keymap_put(&c->keys, key, kl, id);
        off += kl;
    }
    if (!rc && off != len) rc = vs_fail(VS_ERR_CORRUPT, "%s: KEYS section has %llu stray bytes", origin,
                                        (unsigned long long)(len - off));
    if (!rc && next > c->keys.next_id) c->keys.next_id = next;
    return rc;
}
