/* Documents for `vecscale build --input docs.json|docs.jsonl`: {"id", "text", ...} objects. */
#ifndef VS_CLI_DOCS_INPUT_H
#define VS_CLI_DOCS_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* IDs: when every document has an integer "id" (0 <= id < 2^53) those are the collection IDs
 * and "id" is not repeated in the fields. Otherwise (a string "id", or none) documents are
 * numbered by position from 0 and their "id" stays in the stored fields. Duplicate ids of
 * either kind are an error. */
typedef struct {
    char **text;     /* n texts */
    char **metadata; /* n JSON objects: every other field; NULL when there are none */
    int64_t *ids;    /* n collection IDs */
    size_t *where;   /* n source positions: line (.jsonl) or 1-based array element (.json) */
    size_t n;
    int by_position; /* IDs are positions (not every document had an integer "id") */
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
