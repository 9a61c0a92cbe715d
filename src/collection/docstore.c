/* Dense document array plus an ID map (see docstore.h). */
#include "collection/docstore.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int vs_docstore_init(vs_docstore *s, size_t expected)
{
    memset(s, 0, sizeof *s);
    return vs_idmap_init(&s->map, expected);
}

void vs_docstore_destroy(vs_docstore *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free(s->docs[i].text);
        free(s->docs[i].metadata);
    }
    free(s->docs);
    vs_idmap_destroy(&s->map);
    memset(s, 0, sizeof *s);
}

int vs_docstore_reserve(vs_docstore *s, size_t more)
{
    if (s->count + more > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->count + more) cap *= 2;
        vs_doc *d = realloc(s->docs, cap * sizeof *d);
        if (!d) return vs_fail(VS_ERR_NOMEM, "out of memory for %zu documents", cap);
        s->docs = d;
        s->cap = cap;
    }
    return vs_idmap_reserve(&s->map, more);
}

void vs_docstore_put(vs_docstore *s, int64_t id, char *text, char *metadata)
{
    vs_doc *d = &s->docs[s->count];
    d->id = id;
    d->text = text;
    d->metadata = metadata;
    s->string_bytes += (text ? strlen(text) + 1 : 0) + (metadata ? strlen(metadata) + 1 : 0);
    vs_idmap_put(&s->map, id, s->count);
    s->count++;
}

const vs_doc *vs_docstore_get(const vs_docstore *s, int64_t id)
{
    uint64_t pos;
    return vs_idmap_get(&s->map, id, &pos) ? &s->docs[pos] : NULL;
}

int vs_docstore_remove(vs_docstore *s, int64_t id)
{
    uint64_t pos;
    if (!vs_idmap_get(&s->map, id, &pos)) return 0;
    vs_doc *d = &s->docs[pos];
    s->string_bytes -= (d->text ? strlen(d->text) + 1 : 0) + (d->metadata ? strlen(d->metadata) + 1 : 0);
    free(d->text);
    free(d->metadata);
    vs_idmap_erase(&s->map, id);
    size_t last = --s->count;
    if (pos != last) {
        *d = s->docs[last];
        vs_idmap_put(&s->map, d->id, pos);
    }
    return 1;
}

size_t vs_docstore_memory(const vs_docstore *s)
{
    return s->cap * sizeof(vs_doc) + s->string_bytes + vs_idmap_memory(&s->map);
}
