/* The WordPiece vocabulary: token string -> id, an open-addressing table on XXH3-64. */
#include "embed/tokenizer_impl.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"

int vs_vocab_init(vs_vocab *v, size_t expect)
{
    memset(v, 0, sizeof *v);
    v->slots = 64;
    while (v->slots < 2 * expect) v->slots <<= 1;
    v->table = calloc(v->slots, sizeof *v->table);
    if (!v->table) return vs_fail(VS_ERR_NOMEM, "out of memory");
    return VS_OK;
}

void vs_vocab_free(vs_vocab *v)
{
    for (size_t i = 0; i < v->n; i++) free(v->tokens[i]);
    free(v->tokens);
    free(v->lens);
    free(v->ids);
    free(v->table);
    memset(v, 0, sizeof *v);
}

int32_t vs_vocab_get(const vs_vocab *v, const char *s, size_t len)
{
    size_t mask = v->slots - 1, h = XXH3_64bits(s, len) & mask;
    for (;; h = (h + 1) & mask) {
        uint32_t e = v->table[h];
        if (!e) return -1;
        if (v->lens[e - 1] == len && memcmp(v->tokens[e - 1], s, len) == 0) return v->ids[e - 1];
    }
}

int vs_vocab_add(vs_vocab *v, const char *s, size_t len, int32_t id, const char *origin)
{
    if (len == 0) return vs_fail(VS_ERR_CORRUPT, "%s: empty token (id %d)", origin, id);
    size_t h0 = XXH3_64bits(s, len) & (v->slots - 1);
    for (; v->table[h0]; h0 = (h0 + 1) & (v->slots - 1)) {
        size_t k = v->table[h0] - 1;
        if (v->lens[k] == len && memcmp(v->tokens[k], s, len) == 0) { /* a repeated token: the last id wins, as in */
            v->ids[v->table[h0] - 1] = id;             /* Hugging Face's load_vocab and JSON.parse */
            if ((size_t)id + 1 > v->max_id_plus_1) v->max_id_plus_1 = (size_t)id + 1;
            return VS_OK;
        }
    }
    if (2 * (v->n + 1) > v->slots) {
        size_t ns = v->slots * 2;
        uint32_t *nt = calloc(ns, sizeof *nt);
        if (!nt) return vs_fail(VS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < v->n; i++) {
            size_t h = XXH3_64bits(v->tokens[i], v->lens[i]) & (ns - 1);
            while (nt[h]) h = (h + 1) & (ns - 1);
            nt[h] = (uint32_t)i + 1;
        }
        free(v->table);
        v->table = nt;
        v->slots = ns;
    }
    if (v->n == v->cap) {
        size_t nc = v->cap ? 2 * v->cap : 1024;
        char **nt = realloc(v->tokens, nc * sizeof *nt);
        if (!nt) return vs_fail(VS_ERR_NOMEM, "out of memory");
        v->tokens = nt;
        int32_t *ni = realloc(v->ids, nc * sizeof *ni);
        if (!ni) return vs_fail(VS_ERR_NOMEM, "out of memory");
        v->ids = ni;
        size_t *nl = realloc(v->lens, nc * sizeof *nl);
        if (!nl) return vs_fail(VS_ERR_NOMEM, "out of memory");
        v->lens = nl;
        v->cap = nc;
    }
    char *copy = malloc(len + 1);
    if (!copy) return vs_fail(VS_ERR_NOMEM, "out of memory");
    memcpy(copy, s, len);
    copy[len] = 0;
    v->tokens[v->n] = copy;
    v->lens[v->n] = len;
    v->ids[v->n] = id;
    size_t h = XXH3_64bits(s, len) & (v->slots - 1);
    while (v->table[h]) h = (h + 1) & (v->slots - 1);
    v->table[h] = (uint32_t)v->n + 1;
    v->n++;
    if ((size_t)id + 1 > v->max_id_plus_1) v->max_id_plus_1 = (size_t)id + 1;
    return VS_OK;
}
