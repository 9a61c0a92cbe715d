/* A replica's durable pull consumer on its shard's stream (see jetstream.h).
 *
 * Order is the point: a replica must apply sequence n before n+1. A JetStream consumer does
 * not promise that once a message goes unacknowledged (it is redelivered after AckWait, while
 * later ones are delivered now), so this side keeps the next sequence it expects and, on any
 * gap or failed apply, deletes the consumer and creates it again at that sequence. Messages
 * below it (redeliveries of what was applied) are acknowledged and skipped.
 *
 * A consumer can also stop delivering without any error: a pull whose messages died with a
 * NATS node leaves them unacknowledged until AckWait, and after kill -9s of NATS nodes a
 * clustered consumer's Raft group can be left with no working leader (seen under load in
 * log_chaos: the replicas' views of one consumer disagreed by 300 sequences, none delivered,
 * and every fetch simply timed out, for good). Only the stream tells: when fetches delivered
 * nothing for a while although the stream holds sequence `next`, the consumer is re-created
 * at `next`; the wait before that doubles after each re-creation that did not help (a
 * consumer still electing its leader under load is not torn down in a loop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "log/jetstream_impl.h"

/* A consumer that delivered nothing for STALL_MS while its stream holds what it should
 * deliver is re-created; each re-creation without progress doubles the wait, up to
 * STALL_MAX_MS (below the consumer's 30 s AckWait, after which the server redelivers
 * anyway). STALL_MS is above an ordinary failover of the consumer's leader (Raft's 2-5 s
 * election after its node died): at 3 s, log_chaos under ASan re-created consumers 1-6
 * times a run in mid-election, churn that helps nothing. VECSCALE_TEST_STALL_MS overrides
 * the first wait (tests). */
#define STALL_MS 8000u
#define STALL_MAX_MS 24000u
/* How long a fetch asked for what is there now waits: the replica's sweep looks at one stream
 * at a time, so this bounds what stands between a note and its fetch. */
#define ZERO_WAIT_MS 3u

struct vs_js_consumer {
    vs_js *js;
    natsSubscription *sub;
    char stream[128], subject[128], durable[128];
    uint64_t next; /* the stream sequence the caller applies next */
    int reset;     /* recreate the consumer at `next` before the next fetch */
    uint64_t idle_since_ms; /* last delivery, or the consumer's (re-)creation */
    uint32_t stall_ms;      /* how long no delivery is tolerated (see STALL_MS) */
    uint32_t stall_base_ms;
    uint64_t delivered_before; /* the durable's last delivered sequence when opened; UINT64_MAX: unknown */
};

static void unbind(vs_js_consumer *c)
{
    if (!c->sub) return;
    /* The consumer was created here, not by the subscribe call, so unsubscribing only drops
     * this process's pull inbox: the durable and its acknowledged floor stay on the server. */
    natsSubscription_Unsubscribe(c->sub);
    natsSubscription_Destroy(c->sub);
    c->sub = NULL;
}

/* Creates the durable at c->next (deleting one that exists) and binds a pull subscription. */
static int create_and_bind(vs_js_consumer *c, int drop_existing)
{
    unbind(c);
    jsErrCode jerr = 0;
    natsStatus s;
    char what[300];
    if (drop_existing) {
        s = js_DeleteConsumer(c->js->ctx, c->stream, c->durable, NULL, &jerr);
        if (s != NATS_OK && jerr != JSConsumerNotFoundErr) {
            snprintf(what, sizeof what, "delete consumer %s on %s", c->durable, c->stream);
            return js_fail(s, jerr, what);
        }
    }
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = c->durable;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = 30LL * 1000000000LL;
    cc.MaxAckPending = 1024;
    cc.FilterSubject = c->subject;
    if (c->next <= 1) {
        cc.DeliverPolicy = js_DeliverAll;
    } else {
        cc.DeliverPolicy = js_DeliverByStartSequence;
        cc.OptStartSeq = c->next;
    }
    jsConsumerInfo *ci = NULL;
    jerr = 0;
    s = js_AddConsumer(&ci, c->js->ctx, c->stream, &cc, NULL, &jerr);
    jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK) {
        snprintf(what, sizeof what, "create consumer %s on %s at %llu", c->durable, c->stream,
                 (unsigned long long)c->next);
        return js_fail(s, jerr, what);
    }
    return VS_OK;
}

static int bind(vs_js_consumer *c)
{
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = c->stream;
    so.Consumer = c->durable;
    so.ManualAck = true;
    jsErrCode jerr = 0;
    natsStatus s = js_PullSubscribe(&c->sub, c->js->ctx, c->subject, c->durable, NULL, &so, &jerr);
    if (s != NATS_OK) {
        char what[300];
        snprintf(what, sizeof what, "bind consumer %s on %s", c->durable, c->stream);
        return js_fail(s, jerr, what);
    }
    c->reset = 0;
    c->idle_since_ms = js_now_ms();
    return VS_OK;
}

/* After a fetch that delivered nothing: VS_OK while that is normal (the stream holds nothing
 * past what was applied, or the wait has not run out); otherwise marks the consumer for
 * re-creation and says why (VS_ERR_NETWORK). */
static int check_stall(vs_js_consumer *c)
{
    uint64_t now = js_now_ms();
    if (now - c->idle_since_ms < c->stall_ms) return VS_OK;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js->ctx, c->stream, NULL, &jerr);
    uint64_t first = s == NATS_OK ? si->State.FirstSeq : 0, last = s == NATS_OK ? si->State.LastSeq : 0;
    jsStreamInfo_Destroy(si);
    c->idle_since_ms = now; /* the next look comes a full wait later */
    if (s != NATS_OK) return VS_OK; /* no stream leader to ask: a fetch error will tell */
    if (last < c->next) {
        c->stall_ms = c->stall_base_ms; /* caught up: idle is normal */
        return VS_OK;
    }
    uint32_t waited = c->stall_ms;
    c->stall_ms = waited >= STALL_MAX_MS / 2 ? STALL_MAX_MS : waited * 2;
    c->reset = 1;
    return vs_fail(VS_ERR_NETWORK,
                   "jetstream: consumer %s on %s delivered nothing for %u ms although the stream holds sequences "
                   "%llu to %llu and this replica needs %llu: re-creating it there",
                   c->durable, c->stream, waited, (unsigned long long)first, (unsigned long long)last,
                   (unsigned long long)c->next);
}

int vs_js_consumer_open(vs_js *js, const char *collection, uint32_t shard, const char *durable, uint64_t next_seq,
                        vs_js_consumer **out)
{
    if (!js || !out || !durable || !*durable || strlen(durable) >= 128 || strpbrk(durable, ". *>"))
        return vs_fail(VS_ERR_INVALID_ARG, "jetstream: consumer name must be 1..127 characters without . * > or space");
    *out = NULL;
    vs_js_consumer *c = calloc(1, sizeof *c);
    if (!c) return vs_fail(VS_ERR_NOMEM, "jetstream: out of memory");
    c->js = js;
    c->next = next_seq ? next_seq : 1;
    const char *stall = getenv("VECSCALE_TEST_STALL_MS");
    unsigned long base = stall ? strtoul(stall, NULL, 10) : 0;
    c->stall_base_ms = base >= 100 && base <= STALL_MAX_MS ? (uint32_t)base : STALL_MS;
    c->stall_ms = c->stall_base_ms;
    snprintf(c->durable, sizeof c->durable, "%s", durable);
    int rc = vs_js_stream_name(collection, shard, c->stream, sizeof c->stream);
    if (rc == VS_OK) rc = js_subject(collection, shard, c->subject, sizeof c->subject);
    if (rc != VS_OK) {
        free(c);
        return rc;
    }
    /* Reuse the durable only when its acknowledged floor is exactly what the caller applied
     * and nothing is in flight; anything else is re-created at the caller's sequence. So is
     * one whose info cannot be had: a consumer whose Raft group lost quorum ("JetStream
     * system temporarily unavailable") never answers again, and only a new one (a new
     * group) delivers. */
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, js->ctx, c->stream, c->durable, NULL, &jerr);
    c->delivered_before = s == NATS_OK ? ci->Delivered.Stream : (jerr == JSConsumerNotFoundErr ? 0 : UINT64_MAX);
    int reuse = s == NATS_OK && ci->AckFloor.Stream + 1 == c->next && ci->Delivered.Stream + 1 == c->next &&
                ci->Config && ci->Config->AckPolicy == js_AckExplicit;
    jsConsumerInfo_Destroy(ci);
    if (!reuse) rc = create_and_bind(c, !(s != NATS_OK && jerr == JSConsumerNotFoundErr));
    if (rc == VS_OK) rc = bind(c);
    if (rc != VS_OK) {
        vs_js_consumer_close(c);
        return rc;
    }
    *out = c;
    return VS_OK;
}

uint64_t vs_js_consumer_delivered_before(const vs_js_consumer *c) { return c ? c->delivered_before : UINT64_MAX; }

void vs_js_consumer_close(vs_js_consumer *c)
{
    if (!c) return;
    unbind(c);
    free(c);
}

int vs_js_consumer_fetch(vs_js_consumer *c, int max, uint32_t wait_ms, int (*fn)(const vs_js_msg *m, void *ctx),
                         void *ctx, int *got)
{
    if (got) *got = 0;
    if (!c || !fn || max < 1) return vs_fail(VS_ERR_INVALID_ARG, "jetstream: fetch needs a consumer, a callback and max >= 1");
    if (c->reset || !c->sub) {
        int rc = create_and_bind(c, 1);
        if (rc == VS_OK) rc = bind(c);
        if (rc != VS_OK) return rc;
    }
    natsMsgList list = {0};
    jsErrCode jerr = 0;
    /* wait_ms 0 ("what is there now") is a short fetch, not a no-wait pull request
     * (natsSubscription_FetchRequest with NoWait): with that, test_log_replica's replicas
     * died of heap corruption ("malloc(): corrupted top size") 2 runs in 10. */
    natsStatus s = natsSubscription_Fetch(&list, c->sub, max, wait_ms ? wait_ms : ZERO_WAIT_MS, &jerr);
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) return check_stall(c); /* nothing delivered */
    if (s != NATS_OK) {
        char what[300];
        snprintf(what, sizeof what, "fetch from %s", c->stream);
        /* The subscription may be unusable (its server died): bind again next time. */
        c->reset = 1;
        return js_fail(s, jerr, what);
    }
    int rc = VS_OK, accepted = 0;
    natsMsg *last_acked = NULL;
    /* libnats 3.4 allocates `max` slots but once reported a Count past them (ASan: a read
     * one past its 512-byte array, fresh clone 5 of session 26): never look beyond `max`;
     * what is not acked here is delivered again. */
    int count = list.Count < max ? list.Count : max;
    for (int i = 0; i < count && rc == VS_OK; i++) {
        natsMsg *msg = list.Msgs[i];
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
            c->reset = 1;
            rc = vs_fail(VS_ERR_NETWORK, "jetstream: message without JetStream metadata from %s", c->stream);
            break;
        }
        uint64_t seq = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
        if (seq < c->next) { /* redelivered after the caller applied it */
            natsMsg_Ack(msg, NULL);
            c->idle_since_ms = js_now_ms();
            continue;
        }
        if (seq > c->next) {
            /* A gap: either an earlier message is awaiting redelivery, or the stream no
             * longer holds it (retention dropped it before this replica applied it). */
            uint64_t first = 0;
            jsStreamInfo *si = NULL;
            jsErrCode e2 = 0;
            if (js_GetStreamInfo(&si, c->js->ctx, c->stream, NULL, &e2) == NATS_OK) first = si->State.FirstSeq;
            jsStreamInfo_Destroy(si);
            if (first > c->next) {
                rc = vs_fail(VS_ERR_NOT_FOUND,
                             "jetstream: %s starts at sequence %llu but this replica needs %llu: restore a snapshot first",
                             c->stream, (unsigned long long)first, (unsigned long long)c->next);
            }
            c->reset = 1;
            break;
        }
        vs_js_msg m = {.seq = seq, .op = "", .msg_id = "", .data = natsMsg_GetData(msg),
                       .len = (size_t)natsMsg_GetDataLength(msg)};
        const char *v = NULL;
        if (natsMsgHeader_Get(msg, "Vs-Op", &v) == NATS_OK && v) m.op = v;
        if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &v) == NATS_OK && v) m.msg_id = v;
        rc = fn(&m, ctx);
        if (rc != VS_OK) {
            c->reset = 1; /* redeliver from this message, in order */
            break;
        }
        c->next = seq + 1;
        c->idle_since_ms = js_now_ms();
        c->stall_ms = c->stall_base_ms;
        accepted++;
        if (last_acked) natsMsg_Ack(last_acked, NULL);
        last_acked = msg;
    }
    /* Acks go out in order on one connection: waiting for the last one's confirmation means
     * the server has recorded all of them. */
    if (last_acked) {
        jsErrCode e3 = 0;
        if (natsMsg_AckSync(last_acked, NULL, &e3) != NATS_OK) c->reset = 1;
    }
    natsMsgList_Destroy(&list);
    if (got) *got = accepted;
    return rc;
}

int vs_js_consumer_pending(vs_js_consumer *c, uint64_t *pending)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, c->js->ctx, c->stream, c->durable, NULL, &jerr);
    if (s != NATS_OK) {
        char what[300];
        snprintf(what, sizeof what, "consumer info %s on %s", c->durable, c->stream);
        return js_fail(s, jerr, what);
    }
    *pending = ci->NumPending + (uint64_t)ci->NumAckPending;
    jsConsumerInfo_Destroy(ci);
    return VS_OK;
}
