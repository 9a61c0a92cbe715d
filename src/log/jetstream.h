/* The cluster's replicated write log on NATS JetStream (issue 16): one stream per collection
 * and shard, subject "vs.<collection>.<shard>", replicated over a NATS cluster with Raft.
 * Writers publish with a message id (Nats-Msg-Id) so that a retried publish is stored once
 * within the stream's duplicate window; each replica reads its shard's stream through its own
 * durable pull consumer and acknowledges what it applied.
 *
 * Every call is blocking and bounded by the handle's timeout (a publish by its own budget,
 * retried with the same message id across a NATS node's failure). A handle may be shared by
 * threads for publishing; a consumer is used by one thread at a time. Errors are VS_ERR_*
 * codes with vs_last_error() naming the NATS status or JetStream error. */
#ifndef VS_LOG_JETSTREAM_H
#define VS_LOG_JETSTREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct vs_js vs_js;
typedef struct vs_js_consumer vs_js_consumer;

/* urls: "nats://127.0.0.1:4222[,nats://...]". timeout_ms bounds the first connect and every
 * JetStream API call (0 = 5000). After the first connect the client reconnects to any of the
 * servers for as long as the handle lives. VS_ERR_NETWORK if no server answered. */
int vs_js_open(const char *urls, uint32_t timeout_ms, vs_js **out);
void vs_js_close(vs_js *js);
/* Releases libnats' process-wide threads and memory; call once, after every handle is closed
 * (a process that exits without it leaks them, which LeakSanitizer reports). */
void vs_js_shutdown(void);

/* The stream's name for a collection's shard ("vs-<collection>-<shard>"); collection names
 * are [A-Za-z0-9_-]{1,64}. VS_ERR_INVALID_ARG for anything else. */
int vs_js_stream_name(const char *collection, uint32_t shard, char *out, size_t cap);

/* Creates the shard's stream if absent (file storage, `replicas` copies, duplicate window
 * dup_window_s seconds) and leaves an existing one as it is. */
int vs_js_ensure_stream(vs_js *js, const char *collection, uint32_t shard, int replicas, uint32_t dup_window_s);
/* The stream's first and last sequence (both 0 when it never held a message). */
int vs_js_stream_seqs(vs_js *js, const char *collection, uint32_t shard, uint64_t *first, uint64_t *last);
/* Calls fn(collection, shard, ctx) for every collection stream ("vs-<collection>-<shard>") the
 * cluster holds; a non-zero return stops. */
int vs_js_list_streams(vs_js *js, int (*fn)(const char *collection, uint32_t shard, void *ctx), void *ctx);
/* The NATS server currently leading the stream's Raft group ("" while it elects one). */
int vs_js_stream_leader(vs_js *js, const char *collection, uint32_t shard, char *out, size_t cap);
int vs_js_delete_stream(vs_js *js, const char *collection, uint32_t shard);
/* Drops the stream's messages below sequence `keep_from` (retention once a published snapshot
 * covers them); a consumer that still needs one of them gets VS_ERR_NOT_FOUND from fetch. */
int vs_js_purge_below(vs_js *js, const char *collection, uint32_t shard, uint64_t keep_from);

/* Publishes one operation to the shard's stream and returns once JetStream stored it on a
 * quorum of its replicas: *seq is its stream sequence, *duplicate 1 when the stream already
 * held a message with this msg_id (then *seq is that message's). op is a short token carried in
 * the "Vs-Op" header; msg_id is required. Timeouts, a lost connection and a stream without a
 * leader are retried with the same msg_id until budget_ms has passed (0 = 10000). */
int vs_js_publish(vs_js *js, const char *collection, uint32_t shard, const char *op, const void *data, size_t n,
                  const char *msg_id, uint32_t budget_ms, uint64_t *seq, int *duplicate);

/* Opens durable pull consumer `durable` on the shard's stream (explicit acks, one message in
 * flight per fetch batch). The caller's own record of what it applied is the truth: the
 * consumer delivers from stream sequence next_seq on, and an existing durable whose
 * acknowledged floor is not next_seq - 1 (a replica restored from an older snapshot, or one
 * whose acks were lost in a crash), or whose info the cluster cannot give (its Raft group lost
 * quorum), is deleted and created anew at next_seq. */
int vs_js_consumer_open(vs_js *js, const char *collection, uint32_t shard, const char *durable, uint64_t next_seq,
                        vs_js_consumer **out);
void vs_js_consumer_close(vs_js_consumer *c);
/* The last stream sequence the durable had delivered (to this process or one before it) when
 * it was opened: 0 for a new durable, UINT64_MAX when the cluster could not say. Nothing past
 * it can have been applied before a restart. */
uint64_t vs_js_consumer_delivered_before(const vs_js_consumer *c);

/* One delivered message: stream sequence, op header, msg id, body. */
typedef struct {
    uint64_t seq;
    const char *op;
    const char *msg_id;
    const void *data;
    size_t len;
} vs_js_msg;

/* Fetches up to max messages (waiting at most wait_ms for the first; 0: a few ms, for what is
 * there now) and calls fn for each in
 * stream order; a message fn returns VS_OK for is acknowledged, and the first non-VS_OK return
 * stops the batch (that message and the rest are redelivered later) and is returned. *got is
 * the count fn accepted. A wait with nothing to deliver is VS_OK with *got = 0, unless the
 * consumer delivered nothing for seconds although the stream holds the next sequence (a
 * consumer stalled by NATS node crashes): then VS_ERR_NETWORK says so, and the next fetch
 * re-creates the consumer there. */
int vs_js_consumer_fetch(vs_js_consumer *c, int max, uint32_t wait_ms, int (*fn)(const vs_js_msg *m, void *ctx),
                         void *ctx, int *got);
/* Notes of stored messages (headers only, republished by each stream; see
 * vs_js_ensure_stream) for every collection's stream of one shard. next waits at most wait_ms
 * for one and gives its collection and stream sequence; VS_ERR_NOT_FOUND when none came.
 * Notes are hints (lost across a reconnect, absent for streams made before them): a reader
 * still looks at its streams now and then. */
typedef struct vs_js_notify vs_js_notify;
int vs_js_notify_open(vs_js *js, uint32_t shard, vs_js_notify **out);
void vs_js_notify_close(vs_js_notify *n);
int vs_js_notify_next(vs_js_notify *n, uint32_t wait_ms, char *collection, size_t cap, uint64_t *seq);

/* Messages in the stream after what this consumer delivered (the replica's lag). */
int vs_js_consumer_pending(vs_js_consumer *c, uint64_t *pending);

#endif
