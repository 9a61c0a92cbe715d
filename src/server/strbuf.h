/* A growable string for building responses. Allocation failure is sticky: `failed` is set
 * and later appends do nothing, so callers check once at the end. */
#ifndef VS_SERVER_SB_H
#define VS_SERVER_SB_H

#include <stddef.h>

typedef struct sb {
    char *s;
    size_t len, cap;
    int failed;
} sb;

void sb_add(sb *b, const char *s, size_t n);
void sb_puts(sb *b, const char *s);
void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal with escapes. */
void sb_json_string(sb *b, const char *s);
/* A float that reads back exactly; non-finite values become null. */
void sb_json_float(sb *b, float v);

#endif
