/* Library messages that are not errors (see vs_set_log_handler): discarded unless the
 * application installed a handler, because a library must never write to its host's stderr. */
#ifndef VS_CORE_LOG_H
#define VS_CORE_LOG_H

#include "vecscale.h"

void vs_log(vs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
