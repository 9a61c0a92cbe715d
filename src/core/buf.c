/* vs_buf (buf.h): doubling growth from 4 KiB, one spare byte for the terminating NUL. */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

int vs_buf_append(vs_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void vs_buf_free(vs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
