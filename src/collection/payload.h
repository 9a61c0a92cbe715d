/* Payload indexes of a collection: per metadata field, the documents holding each value, as
 * CRoaring bitmaps of document IDs, plus a catalog of every top-level field the documents
 * hold (how many values of each JSON type), which filters are checked against.
 *
 * Not synchronised: the collection guards it with payload_rw (writers exclusive, filter
 * compilation shared). Only top-level fields of a metadata object are indexed; an array
 * value counts each element. Bitmaps hold 32-bit keys (CRoaring's C API in Debian 12 has no
 * 64-bit bitmap; vs_payload_key below), so a document id that has no key (an integer id of
 * 2^31 or more) turns the indexes off (`wide_ids`): every filter then takes the
 * per-document path, and the report says why. */
#ifndef VS_COLLECTION_PAYLOAD_H
#define VS_COLLECTION_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <roaring/roaring.h>

#include "vecscale.h"

struct cJSON;

/* Bitmaps hold 32-bit keys: an integer id below 2^31 is its own key, the id of a string key
 * (VS_KEYED_ID_MIN + n, n < 2^31) is 2^31 + n. Any other id cannot be keyed (returns 0). */
static inline int vs_payload_key(int64_t id, uint32_t *key)
{
    if (id >= 0 && id < ((int64_t)1 << 31)) {
        *key = (uint32_t)id;
        return 1;
    }
    if (id >= VS_KEYED_ID_MIN && id - VS_KEYED_ID_MIN < ((int64_t)1 << 31)) {
        *key = (uint32_t)(id - VS_KEYED_ID_MIN) | (1u << 31);
        return 1;
    }
    return 0;
}

static inline int64_t vs_payload_id(uint32_t key)
{
    return key >> 31 ? VS_KEYED_ID_MIN + (int64_t)(key & 0x7fffffffu) : (int64_t)key;
}

/* JSON value kinds the catalog counts. */
enum { VS_JT_STRING, VS_JT_INT, VS_JT_FLOAT, VS_JT_BOOL, VS_JT_OTHER, VS_JT_N };

typedef struct {
    char *name;
    uint64_t docs;             /* documents holding the field with a non-null value */
    uint64_t count[VS_JT_N];   /* values per kind (array elements counted one by one) */
} vs_field_stat;

/* One (value, id) pair of a numeric index. */
typedef struct {
    double v;
    uint32_t id;
} vs_num_entry;

/* A string -> bitmap hash table (open addressing, linear probing, never shrinks). */
typedef struct {
    char **keys;
    roaring_bitmap_t **sets;
    size_t cap, count;
} vs_kwmap;

typedef enum { VS_PIX_BUILDING = 0, VS_PIX_READY = 1 } vs_pix_state;

typedef struct {
    char *field;
    vs_payload_type type;
    vs_pix_state state;
    int automatic;            /* created by a filter, not declared */
    size_t build_pos;         /* documents [build_pos, count) already read by the builder */
    roaring_bitmap_t *present; /* documents with a non-null value */
    /* keyword */
    vs_kwmap kw;
    /* bool: [0] false, [1] true */
    roaring_bitmap_t *b[2];
    /* integer / float: sorted entries plus an unsorted tail; `dead` holds removed IDs whose
     * entries are still in the arrays (compacted when the tail is merged) */
    vs_num_entry *sorted, *tail;
    size_t n_sorted, n_tail, cap_sorted, cap_tail;
    roaring_bitmap_t *dead;
    size_t n_dead_entries; /* entries of `dead` IDs still in sorted / tail */
} vs_pindex;

typedef struct {
    vs_field_stat *fields;
    size_t n_fields, cap_fields;
    vs_pindex **ix;
    size_t n_ix;
    roaring_bitmap_t *all; /* every live document */
    int wide_ids;          /* a document ID >= 2^32 was seen: indexes are off */
    uint64_t version;      /* bumped by every change (compiled filter cache key) */
} vs_payload;

int vs_payload_init(vs_payload *p);
void vs_payload_destroy(vs_payload *p);

/* Updates catalog and every index for one document being added / removed; metadata may be
 * NULL or any text (only a JSON object contributes fields). Out of memory: VS_ERR_NOMEM,
 * and the payload is left as it was for this document. */
int vs_payload_add_doc(vs_payload *p, int64_t id, const char *metadata);
void vs_payload_remove_doc(vs_payload *p, int64_t id, const char *metadata);
/* Same, from an already parsed object (NULL = no fields). */
int vs_payload_add_parsed(vs_payload *p, int64_t id, const struct cJSON *md);
void vs_payload_remove_parsed(vs_payload *p, int64_t id, const struct cJSON *md);

const vs_field_stat *vs_payload_field(const vs_payload *p, const char *name);
vs_pindex *vs_payload_index(const vs_payload *p, const char *field);
/* Adds an index in state BUILDING (*out = the new or the existing one of that type).
 * VS_ERR_INVALID_ARG if the field already has an index of another type. */
int vs_payload_declare(vs_payload *p, const char *field, vs_payload_type type, int automatic, vs_pindex **out);
/* Feeds one document to a BUILDING index (idempotent per document). */
int vs_pindex_add_parsed(vs_pindex *x, uint32_t id, const struct cJSON *md);
/* Loading (payload_io.c): a keyword value's whole set; a catalog entry. */
int vs_pindex_add_keyword(vs_pindex *x, const char *value, const uint32_t *ids, size_t n);
int vs_payload_set_field(vs_payload *p, const char *name, uint64_t docs, const uint64_t *count);
/* The index type a field's values suggest (0 = none fits: mixed or only nested values). */
vs_payload_type vs_payload_suggest(const vs_field_stat *f);
const char *vs_payload_type_name(vs_payload_type t);
int vs_payload_type_parse(const char *s, vs_payload_type *out);
size_t vs_pindex_memory(const vs_pindex *x);
uint64_t vs_pindex_values(const vs_pindex *x);

/* Query side (payload_rw held shared). Each returns a new bitmap (NULL = out of memory). */
roaring_bitmap_t *vs_pindex_equal_str(const vs_pindex *x, const char *s);
roaring_bitmap_t *vs_pindex_equal_bool(const vs_pindex *x, int b);
/* Numbers in [lo, hi], each end open or closed (lo = -inf / hi = +inf for none). */
roaring_bitmap_t *vs_pindex_range(const vs_pindex *x, double lo, int lo_open, double hi, int hi_open);

/* payload_io.c: the payload file of a snapshot ("payload-<generation>.vsp"). */
#define VS_FILE_KIND_PAYLOAD 4u
#define VS_PAYLOAD_VERSION 1u
int vs_payload_write(const vs_payload *p, const char *path);
/* VS_ERR_NOT_FOUND when the file does not exist (a collection written before payload
 * indexes: the caller rebuilds the catalog from the documents). */
int vs_payload_read(vs_payload *p, const char *path);

#endif
