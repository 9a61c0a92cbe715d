/* Documents for `vecscale build --input docs.json|docs.jsonl`: {"id", "text", ...} objects. */
#ifndef VS_CLI_DOCS_INPUT_H
#define VS_CLI_DOCS_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* IDs follow the library's one rule (vecscale.h, "Document ids"): an integer "id"
 * (0 <= id < 2^53) or a string "id" (1 to 256 bytes; "17" is the integer 17) is the document's
 * id and is not repeated in the fields; documents without "id" get integers after the largest
 * integer id in the file (0, 1, ... when there is none). Duplicates (17 and "17" included) and
 * invalid ids are errors naming both places / the place. */
typedef struct {
    char **text;     /* n texts */
    char **metadata; /* n JSON objects: every other field; NULL when there are none */
    char **keys;     /* n ids as text under the rule above, for vs_collection_add_keyed */
    size_t *where;   /* n source positions: line (.jsonl) or 1-based array element (.json) */
    size_t n;
    size_t n_auto;   /* documents without "id" */
    int jsonl;       /* where[] counts lines, else array elements */
} cli_docs;

/* Reads a JSON array of objects (.json) or one object per line (.jsonl). Errors name the file
 * and line (or array element), go to stderr, and leave *out empty; returns 0 on success. */
int cli_docs_read(const char *path, cli_docs *out);
void cli_docs_free(cli_docs *d);
/* "line 12" / "document 12": where document i came from, for messages. */
const char *cli_docs_where(const cli_docs *d, size_t i, char *buf, size_t cap);
/* True when argv has --input (or -i) naming a .json or .jsonl file. */
int cli_wants_documents(int argc, char **argv);
/* True when argv has --query TEXT (a text query; --queries FILE holds vectors). */
int cli_wants_text_query(int argc, char **argv);

#endif
