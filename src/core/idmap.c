/* ID -> position hash map (linear probing, backward-shift delete). */
#include "core/idmap.h"

#include <stdlib.h>
#include <string.h>

#include "vecscale.h"

static size_t slot_of(int64_t key, size_t cap)
{
    /* splitmix64 finaliser: user IDs are often sequential, which linear probing hates. */
    uint64_t x = (uint64_t)key + 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (size_t)(x & (cap - 1));
}

static int alloc_table(vs_idmap *m, size_t cap)
{
    m->keys = malloc(cap * sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        free(m->keys); free(m->vals);
        m->keys = NULL; m->vals = NULL;
        return VS_ERR_NOMEM;
    }
    memset(m->keys, 0xff, cap * sizeof *m->keys);
    m->cap = cap;
    return VS_OK;
}

int vs_idmap_init(vs_idmap *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    return alloc_table(m, cap);
}

void vs_idmap_destroy(vs_idmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

int vs_idmap_reserve(vs_idmap *m, size_t more)
{
    size_t need = m->count + more;
    if (need * 2 <= m->cap) return VS_OK; /* load factor stays <= 0.5 */
    size_t cap = m->cap ? m->cap : 16;
    while (cap < need * 2) cap <<= 1;
    vs_idmap old = *m;
    if (alloc_table(m, cap) != VS_OK) {
        *m = old;
        return VS_ERR_NOMEM;
    }
    m->count = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] >= 0) vs_idmap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
    return VS_OK;
}

void vs_idmap_put(vs_idmap *m, int64_t key, uint64_t val)
{
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->keys[i] >= 0 && m->keys[i] != key) i = (i + 1) & mask;
    if (m->keys[i] < 0) m->count++;
    m->keys[i] = key;
    m->vals[i] = val;
}

int vs_idmap_get(const vs_idmap *m, int64_t key, uint64_t *val)
{
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->keys[i] >= 0) {
        if (m->keys[i] == key) {
            if (val) *val = m->vals[i];
            return 1;
        }
        i = (i + 1) & mask;
    }
    return 0;
}

int vs_idmap_erase(vs_idmap *m, int64_t key)
{
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->keys[i] != key) {
        if (m->keys[i] < 0) return 0;
        i = (i + 1) & mask;
    }
    /* Backward shift: pull later entries of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (hole + 1) & mask; m->keys[j] >= 0; j = (j + 1) & mask) {
        size_t home = slot_of(m->keys[j], m->cap);
        int movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->keys[hole] = -1;
    m->count--;
    return 1;
}

size_t vs_idmap_memory(const vs_idmap *m) { return m->cap * (sizeof(int64_t) + sizeof(uint64_t)); }
