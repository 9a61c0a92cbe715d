/* A replica's durable pull consumer on its shard's stream (see jetstream.h).
 *
 * Order is the point: a replica must apply sequence n before n+1. A JetStream consumer does
 * not promise that once a message goes unacknowledged (it is redelivered after AckWait, while
 * later ones are delivered now), so this side keeps the next sequence it expects and, on any
 * gap or failed apply, deletes the consumer and creates it again at that sequence. Messages
 * below it (redeliveries of what was applied) are acknowledged and skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "log/jetstream_impl.h"

struct vs_js_consumer {
    vs_js *js;
    natsSubscription *sub;
    char stream[128], subject[128], durable[128];
    uint64_t next; /* the stream sequence the caller applies next */
    int reset;     /* recreate the consumer at `next` before the next fetch */
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
    return VS_OK;
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
    snprintf(c->durable, sizeof c->durable, "%s", durable);
    int rc = vs_js_stream_name(collection, shard, c->stream, sizeof c->stream);
    if (rc == VS_OK) rc = js_subject(collection, shard, c->subject, sizeof c->subject);
    if (rc != VS_OK) {
        free(c);
        return rc;
    }
    /* Reuse the durable only when its acknowledged floor is exactly what the caller applied
     * and nothing is in flight; anything else is re-created at the caller's sequence. */
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, js->ctx, c->stream, c->durable, NULL, &jerr);
    int reuse = s == NATS_OK && ci->AckFloor.Stream + 1 == c->next && ci->Delivered.Stream + 1 == c->next &&
                ci->Config && ci->Config->AckPolicy == js_AckExplicit;
    jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK && jerr != JSConsumerNotFoundErr) {
        char what[300];
        snprintf(what, sizeof what, "consumer info %s on %s", c->durable, c->stream);
        rc = js_fail(s, jerr, what);
    } else if (!reuse) {
        rc = create_and_bind(c, s == NATS_OK);
    }
    if (rc == VS_OK) rc = bind(c);
    if (rc != VS_OK) {
        vs_js_consumer_close(c);
        return rc;
    }
    *out = c;
    return VS_OK;
}

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
    natsStatus s = natsSubscription_Fetch(&list, c->sub, max, wait_ms ? wait_ms : 1, &jerr);
    if (s == NATS_TIMEOUT) return VS_OK; /* nothing to deliver within wait_ms */
    if (s != NATS_OK) {
        char what[300];
        snprintf(what, sizeof what, "fetch from %s", c->stream);
        /* The subscription may be unusable (its server died): bind again next time. */
        c->reset = 1;
        return js_fail(s, jerr, what);
    }
    int rc = VS_OK, accepted = 0;
    natsMsg *last_acked = NULL;
    for (int i = 0; i < list.Count && rc == VS_OK; i++) {
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
