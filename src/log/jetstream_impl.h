/* Shared between the JetStream log's files: the handle and error mapping. */
#ifndef VS_LOG_JETSTREAM_IMPL_H
#define VS_LOG_JETSTREAM_IMPL_H

#include <nats/nats.h>
#include <stdint.h>

#include "log/jetstream.h"

struct vs_js {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *ctx;
    uint32_t timeout_ms;
};

/* Records a NATS failure (status, JetStream error code, libnats' last error text) as a
 * VS_ERR_* and returns it. */
int js_fail(natsStatus s, jsErrCode jerr, const char *what);
int js_subject(const char *collection, uint32_t shard, char *out, size_t cap);
uint64_t js_now_ms(void);

#endif
