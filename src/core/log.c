/* Process-wide message handler. A mutex (not two atomics) keeps fn and ctx a matching pair. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static vs_log_fn handler;
static void *handler_ctx;

void vs_set_log_handler(vs_log_fn fn, void *ctx)
{
    pthread_mutex_lock(&lock);
    handler = fn;
    handler_ctx = ctx;
    pthread_mutex_unlock(&lock);
}

void vs_log(vs_log_level level, const char *fmt, ...)
{
    pthread_mutex_lock(&lock);
    vs_log_fn fn = handler;
    void *ctx = handler_ctx;
    pthread_mutex_unlock(&lock);
    if (!fn) return; /* formatting is skipped too: nobody listens */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(level, msg, ctx);
}
