/* String ids ("keys") of a collection: key <-> internal int64 id, both directions.
 * Not synchronised; the collection guards it with docs_rw like the documents. Entries are a
 * dense array (removal moves the last entry into the hole); a string hash table and an id map
 * point into it. Keyed documents get internal ids from VS_KEYED_ID_MIN up, never reused. */
#ifndef VS_COLLECTION_KEYMAP_H
#define VS_COLLECTION_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/idmap.h"

typedef struct {
    int64_t id;
    char *key; /* NUL-terminated, len bytes */
    uint32_t len;
    uint64_t hash;
} vs_keyent;

typedef struct {
    vs_keyent *ents;
    size_t count, cap;
    uint64_t *slots; /* entry position + 1; 0 = empty */
    size_t nslots;   /* power of two */
    vs_idmap by_id;  /* id -> entry position */
    int64_t next_id; /* internal id for the next new key */
    size_t key_bytes;
} vs_keymap;

int vs_keymap_init(vs_keymap *m);
void vs_keymap_destroy(vs_keymap *m);
/* Makes room for `more` puts so a batch cannot fail half-way (the key copies are made here
 * by the caller's put, so put can still fail with VS_ERR_NOMEM: callers undo). */
int vs_keymap_reserve(vs_keymap *m, size_t more);
/* Adds key -> id (key copied). Requires a prior reserve, a key and an id not present. */
int vs_keymap_put(vs_keymap *m, const char *key, size_t len, int64_t id);
/* 1 and *id when present. */
int vs_keymap_find(const vs_keymap *m, const char *key, size_t len, int64_t *id);
/* The key of id or NULL. */
const vs_keyent *vs_keymap_of(const vs_keymap *m, int64_t id);
/* 1 when id had a key, now gone. */
int vs_keymap_remove_id(vs_keymap *m, int64_t id);
size_t vs_keymap_memory(const vs_keymap *m);

/* The one rule for ids given as text (see vecscale.h, "Document ids"): VS_OK with *int_id the
 * integer when key is the canonical decimal form of an integer below VS_KEYED_ID_MIN, or -1 for
 * a string key; VS_ERR_INVALID_ARG (with a reason) for an empty, too long or invalid UTF-8 key. */
int vs_key_classify(const char *key, size_t len, int64_t *int_id);

#endif
