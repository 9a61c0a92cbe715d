/* Thread-local last-error message behind vs_last_error(). */
#ifndef VS_CORE_ERROR_H
#define VS_CORE_ERROR_H

#include "vecscale.h"

/* Records code and a printf-style message for the calling thread; returns code so callers
 * can write `return vs_fail(VS_ERR_IO, "open %s: %s", path, strerror(errno));`. */
int vs_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the calling thread's message (successful public calls do not clear it, matching
 * errno semantics: read it only after a failure). */
void vs_clear_error(void);

#endif
