/* A cluster node's replica side of the replicated write log (issue 16): a thread that
 * follows every stream of its shard ("vs-<collection>-<shard>") through a durable pull
 * consumer and applies each message, in stream order, to the node's collection as the same
 * HTTP request would (vs_server_apply: the collection's write-ahead log first). After each
 * batch it records the last applied stream sequence in the collection
 * (vs_collection_set_log_position), so a restart resumes from there and a snapshot carries
 * it.
 *
 * Applying is idempotent: messages at or below the recorded position are skipped; a message
 * applied but not yet recorded when the node crashed comes again and its request is refused
 * as a no-op (an add of ids the collection holds is 409, a delete of an absent id 404), which
 * is why writes through the log carry their ids. A 4xx answer is the same on every replica
 * (same state, same order) and counts as applied; a 5xx is retried, in order. */
#ifndef VS_SERVER_LOG_APPLY_H
#define VS_SERVER_LOG_APPLY_H

#include <stdint.h>

#include "server/server.h"

typedef struct log_applier log_applier;

/* Starts the thread. node_id names this replica's durable consumers ("replica-<node_id>"). */
int log_applier_start(const char *nats_urls, uint32_t shard, const char *node_id, vs_server_handle *srv,
                      log_applier **out);
/* Stops and joins the thread, closes the consumers. NULL is ok. */
void log_applier_stop(log_applier *a);
/* The largest lag (messages in a followed stream not yet applied) seen at the last check,
 * and whether every followed stream has been checked at least once. */
uint64_t log_applier_lag(log_applier *a, int *known);
/* Messages applied as refused (a 4xx other than 404 / 409) since the start. */
uint64_t log_applier_refused(log_applier *a);

#endif
