/* The documents of a collection: ID -> (text, metadata JSON), both optional strings.
 * Not synchronised; the collection guards it with its own reader/writer lock. Removal moves
 * the last document into the hole so the array stays dense (snapshots write it as is). */
#ifndef VS_COLLECTION_DOCSTORE_H
#define VS_COLLECTION_DOCSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/idmap.h"

typedef struct {
    int64_t id;
    char *text;     /* NULL = none */
    char *metadata; /* JSON text or NULL */
} vs_doc;

typedef struct {
    vs_doc *docs;
    size_t count, cap;
    size_t string_bytes;
    vs_idmap map; /* id -> position in docs */
} vs_docstore;

int vs_docstore_init(vs_docstore *s, size_t expected);
void vs_docstore_destroy(vs_docstore *s);
/* Makes room for `more` documents so a batch of puts cannot fail half-way. */
int vs_docstore_reserve(vs_docstore *s, size_t more);
/* Takes ownership of text and metadata (malloc'd or NULL). Requires a prior reserve and an ID
 * not yet present. */
void vs_docstore_put(vs_docstore *s, int64_t id, char *text, char *metadata);
const vs_doc *vs_docstore_get(const vs_docstore *s, int64_t id);
/* Returns 1 if the document existed and is now gone. */
int vs_docstore_remove(vs_docstore *s, int64_t id);
size_t vs_docstore_memory(const vs_docstore *s);

#endif
