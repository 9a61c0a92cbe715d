/* Retention of the write log: what a shard's stream may drop once a snapshot covers it.
 *
 * Policy: after a replica publishes a snapshot of a collection that contains every message up
 * to sequence `covered`, the collection's stream on that shard keeps
 *   - every message after `covered` (a replica restored from the snapshot replays them),
 *   - every message after the lowest acknowledged floor of the stream's durable consumers
 *     (each replica's; a replica that is down keeps its consumer, so it resumes from the
 *     stream rather than needing a snapshot), and
 *   - `keep` more messages below the lower of those two (a replica acknowledges a message
 *     before it records its position with its data; up to one fetch batch can be acknowledged
 *     and not yet recorded when it crashes).
 * Everything below is purged. A replica that never comes back holds retention at its floor
 * until its consumer is deleted (`vs-<collection>-<shard>`, consumer `replica-<node id>`). */
#ifndef VS_LOG_RETENTION_H
#define VS_LOG_RETENTION_H

#include <stdint.h>

#include "log/jetstream.h"

typedef struct {
    uint64_t first_before;  /* the stream's first sequence before (0 = empty) */
    uint64_t kept_from;     /* its first sequence now (what the purge kept) */
    uint64_t acked_floor;   /* lowest acknowledged floor over its consumers (covered if none) */
    uint32_t consumers;
    char held_by[64];       /* the consumer with that floor ("" when none is below covered) */
} vs_js_retention;

/* Applies the policy above to the collection's stream on `shard`. VS_OK with *out filled
 * (kept_from == first_before when nothing could be dropped), or the NATS error. */
int vs_js_retain(vs_js *js, const char *collection, uint32_t shard, uint64_t covered, uint64_t keep,
                 vs_js_retention *out);

#endif
