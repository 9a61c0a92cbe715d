/* A growable byte buffer, always NUL-terminated so a text body can be parsed in place. Used for
 * HTTP bodies (the client's responses, the router's requests) and S3 XML documents. */
#ifndef VS_CORE_BUF_H
#define VS_CORE_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} vs_buf;

/* Appends n bytes; 0, or -1 when out of memory (b is unchanged then). */
int vs_buf_append(vs_buf *b, const void *p, size_t n);
/* Frees the storage and empties b. */
void vs_buf_free(vs_buf *b);

#endif
