/* Key <-> id maps of a collection (see keymap.h). */
#include "collection/keymap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "embed/utf8.h"
#include "vecscale.h"

int vs_key_classify(const char *key, size_t len, int64_t *int_id)
{
    *int_id = -1;
    if (!key || len == 0) return vs_fail(VS_ERR_INVALID_ARG, "an id must not be an empty string");
    if (len > VS_KEY_MAX_BYTES)
        return vs_fail(VS_ERR_INVALID_ARG, "a string id is at most %d bytes (this one has %zu)", VS_KEY_MAX_BYTES, len);
    if (memchr(key, 0, len)) return vs_fail(VS_ERR_INVALID_ARG, "a string id must not contain NUL");
    size_t bad = vs_utf8_invalid_at(key, len);
    if (bad != len) return vs_fail(VS_ERR_INVALID_ARG, "a string id must be valid UTF-8 (invalid byte at offset %zu)", bad);
    /* Canonical decimal: digits only, no leading zero except "0" itself, below 2^62. */
    if (len > 19 || (len > 1 && key[0] == '0')) return VS_OK;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (key[i] < '0' || key[i] > '9') return VS_OK;
        v = v * 10 + (uint64_t)(key[i] - '0');
    }
    if (v < (uint64_t)VS_KEYED_ID_MIN) *int_id = (int64_t)v;
    return VS_OK;
}

int vs_keymap_init(vs_keymap *m)
{
    memset(m, 0, sizeof *m);
    m->next_id = VS_KEYED_ID_MIN;
    return vs_idmap_init(&m->by_id, 0);
}

void vs_keymap_destroy(vs_keymap *m)
{
    for (size_t i = 0; i < m->count; i++) free(m->ents[i].key);
    free(m->ents);
    free(m->slots);
    vs_idmap_destroy(&m->by_id);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const vs_keymap *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->nslots - 1;
    for (size_t s = h & mask;; s = (s + 1) & mask) {
        uint64_t p = m->slots[s];
        if (!p) return s;
        const vs_keyent *e = &m->ents[p - 1];
        if (e->hash == h && e->len == len && !memcmp(e->key, key, len)) return s;
    }
}

/* Load factor at most 1/2. */
static int rehash(vs_keymap *m, size_t want)
{
    size_t n = 64;
    while (n < 2 * want) n *= 2;
    if (n <= m->nslots) return VS_OK;
    uint64_t *slots = calloc(n, sizeof *slots);
    if (!slots) return vs_fail(VS_ERR_NOMEM, "out of memory for %zu string ids", want);
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
    for (size_t i = 0; i < m->count; i++)
        m->slots[find_slot(m, m->ents[i].key, m->ents[i].len, m->ents[i].hash)] = i + 1;
    return VS_OK;
}

int vs_keymap_reserve(vs_keymap *m, size_t more)
{
    size_t need = m->count + more;
    if (need > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < need) cap *= 2;
        vs_keyent *e = realloc(m->ents, cap * sizeof *e);
        if (!e) return vs_fail(VS_ERR_NOMEM, "out of memory for %zu string ids", need);
        m->ents = e;
        m->cap = cap;
    }
    int rc = rehash(m, need);
    return rc ? rc : vs_idmap_reserve(&m->by_id, more);
}

int vs_keymap_put(vs_keymap *m, const char *key, size_t len, int64_t id)
{
    char *k = malloc(len + 1);
    if (!k) return vs_fail(VS_ERR_NOMEM, "out of memory");
    memcpy(k, key, len);
    k[len] = 0;
    uint64_t h = XXH3_64bits(key, len);
    vs_keyent *e = &m->ents[m->count];
    *e = (vs_keyent){.id = id, .key = k, .len = (uint32_t)len, .hash = h};
    m->slots[find_slot(m, key, len, h)] = m->count + 1;
    vs_idmap_put(&m->by_id, id, m->count);
    m->count++;
    m->key_bytes += len + 1;
    if (id >= m->next_id) m->next_id = id + 1;
    return VS_OK;
}

int vs_keymap_find(const vs_keymap *m, const char *key, size_t len, int64_t *id)
{
    if (!m->count) return 0;
    uint64_t p = m->slots[find_slot(m, key, len, XXH3_64bits(key, len))];
    if (!p) return 0;
    *id = m->ents[p - 1].id;
    return 1;
}

const vs_keyent *vs_keymap_of(const vs_keymap *m, int64_t id)
{
    uint64_t pos;
    return vs_idmap_get(&m->by_id, id, &pos) ? &m->ents[pos] : NULL;
}

/* Linear probing without tombstones: after emptying a slot, later entries of the same run
 * that could live in it move back (backward-shift deletion). */
static void erase_slot(vs_keymap *m, size_t s)
{
    size_t mask = m->nslots - 1;
    m->slots[s] = 0;
    for (size_t j = (s + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
        size_t home = m->ents[m->slots[j] - 1].hash & mask;
        /* Move j into the hole s unless its home lies cyclically in (s, j]. */
        int stays = s <= j ? (home > s && home <= j) : (home > s || home <= j);
        if (stays) continue;
        m->slots[s] = m->slots[j];
        m->slots[j] = 0;
        s = j;
    }
}

int vs_keymap_remove_id(vs_keymap *m, int64_t id)
{
    uint64_t pos;
    if (!vs_idmap_get(&m->by_id, id, &pos)) return 0;
    vs_keyent *e = &m->ents[pos];
    erase_slot(m, find_slot(m, e->key, e->len, e->hash));
    vs_idmap_erase(&m->by_id, id);
    m->key_bytes -= e->len + 1;
    free(e->key);
    size_t last = --m->count;
    if (pos != last) {
        *e = m->ents[last];
        m->slots[find_slot(m, e->key, e->len, e->hash)] = pos + 1;
        vs_idmap_put(&m->by_id, e->id, pos);
    }
    return 1;
}

size_t vs_keymap_memory(const vs_keymap *m)
{
    return m->cap * sizeof(vs_keyent) + m->nslots * sizeof(uint64_t) + m->key_bytes + vs_idmap_memory(&m->by_id);
}
