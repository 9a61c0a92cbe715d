/* Open-addressing hash map from user ID (int64 >= 0) to row position, for delete and
 * duplicate checks. Linear probing with backward-shift deletion (no tombstones). */
#ifndef VS_CORE_IDMAP_H
#define VS_CORE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t *keys;   /* -1 = empty slot */
    uint64_t *vals;
    size_t cap;      /* power of two */
    size_t count;
} vs_idmap;

int vs_idmap_init(vs_idmap *m, size_t expected);
void vs_idmap_destroy(vs_idmap *m);
/* Makes room for `more` insertions without rehashing mid-batch. */
int vs_idmap_reserve(vs_idmap *m, size_t more);
/* Inserts or overwrites. Requires a prior reserve for the slot. */
void vs_idmap_put(vs_idmap *m, int64_t key, uint64_t val);
/* Returns 1 and sets *val when present. */
int vs_idmap_get(const vs_idmap *m, int64_t key, uint64_t *val);
/* Returns 1 when the key was present and is now gone. */
int vs_idmap_erase(vs_idmap *m, int64_t key);
size_t vs_idmap_memory(const vs_idmap *m);

#endif
