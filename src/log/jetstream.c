/* Connection, streams and publishing on NATS JetStream (see jetstream.h). */
#include "log/jetstream.h"

#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "log/jetstream_impl.h"

#define MAX_URLS 16

/* NATS status (and JetStream error code, when the server gave one) as a VS_ERR_*: what the
 * caller can act on. The text names both. */
int js_fail(natsStatus s, jsErrCode jerr, const char *what)
{
    int code = VS_ERR_NETWORK;
    if (jerr == JSStreamNotFoundErr || jerr == JSConsumerNotFoundErr || s == NATS_NOT_FOUND) code = VS_ERR_NOT_FOUND;
    else if (s == NATS_NO_MEMORY) code = VS_ERR_NOMEM;
    else if (s == NATS_INVALID_ARG) code = VS_ERR_INVALID_ARG;
    const char *detail = nats_GetLastError(NULL);
    if (jerr)
        return vs_fail(code, "jetstream: %s: %s (JetStream error %d%s%s)", what, natsStatus_GetText(s), (int)jerr,
                       detail && *detail ? ": " : "", detail && *detail ? detail : "");
    return vs_fail(code, "jetstream: %s: %s%s%s", what, natsStatus_GetText(s), detail && *detail ? ": " : "",
                   detail && *detail ? detail : "");
}

uint64_t js_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int valid_collection(const char *c)
{
    size_t n = c ? strlen(c) : 0;
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

int vs_js_stream_name(const char *collection, uint32_t shard, char *out, size_t cap)
{
    if (!valid_collection(collection))
        return vs_fail(VS_ERR_INVALID_ARG, "jetstream: collection name '%s' is not [A-Za-z0-9_-]{1,64}",
                       collection ? collection : "(null)");
    int n = snprintf(out, cap, "vs-%s-%u", collection, shard);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "jetstream: stream name buffer too small");
    return VS_OK;
}

int js_subject(const char *collection, uint32_t shard, char *out, size_t cap)
{
    if (!valid_collection(collection))
        return vs_fail(VS_ERR_INVALID_ARG, "jetstream: collection name '%s' is not [A-Za-z0-9_-]{1,64}",
                       collection ? collection : "(null)");
    int n = snprintf(out, cap, "vs.%s.%u", collection, shard);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "jetstream: subject buffer too small");
    return VS_OK;
}

int vs_js_open(const char *urls, uint32_t timeout_ms, vs_js **out)
{
    if (!out || !urls || !*urls) return vs_fail(VS_ERR_INVALID_ARG, "jetstream: no NATS url given");
    *out = NULL;
    vs_js *js = calloc(1, sizeof *js);
    if (!js) return vs_fail(VS_ERR_NOMEM, "jetstream: out of memory");
    js->timeout_ms = timeout_ms ? timeout_ms : 5000;
    char *copy = strdup(urls);
    const char *list[MAX_URLS];
    int n = 0;
    if (!copy) {
        free(js);
        return vs_fail(VS_ERR_NOMEM, "jetstream: out of memory");
    }
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && n < MAX_URLS; tok = strtok_r(NULL, ",", &save))
        if (*tok) list[n++] = tok;
    natsStatus s = n ? NATS_OK : NATS_INVALID_ARG;
    if (s == NATS_OK) s = natsOptions_Create(&js->opts);
    if (s == NATS_OK) s = natsOptions_SetServers(js->opts, list, n);
    if (s == NATS_OK) s = natsOptions_SetTimeout(js->opts, js->timeout_ms);
    /* After the first connect, never give up: a NATS node's restart or a partition must not
     * end a long-running server's log client. Publishes made while reconnecting are
     * buffered by libnats and retried by vs_js_publish with their message ids. */
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(js->opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(js->opts, 100);
    if (s == NATS_OK) s = natsOptions_SetPingInterval(js->opts, 2000);
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(js->opts, 2);
    free(copy);
    if (s != NATS_OK) {
        int rc = js_fail(s, 0, n ? "options" : "no NATS url given");
        vs_js_close(js);
        return rc;
    }
    s = natsConnection_Connect(&js->nc, js->opts);
    if (s != NATS_OK) {
        char what[600];
        snprintf(what, sizeof what, "connect to %.500s", urls);
        int rc = js_fail(s, 0, what);
        vs_js_close(js);
        return rc;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = js->timeout_ms;
    s = natsConnection_JetStream(&js->ctx, js->nc, &jo);
    if (s != NATS_OK) {
        int rc = js_fail(s, 0, "JetStream context");
        vs_js_close(js);
        return rc;
    }
    *out = js;
    return VS_OK;
}

void vs_js_close(vs_js *js)
{
    if (!js) return;
    jsCtx_Destroy(js->ctx);
    natsConnection_Destroy(js->nc);
    natsOptions_Destroy(js->opts);
    free(js);
}

/* Bounded: a handle still open (a caller's bug, or a test that failed midway) would
 * otherwise make the wait endless. */
void vs_js_shutdown(void) { nats_CloseAndWait(5000); }

int vs_js_ensure_stream(vs_js *js, const char *collection, uint32_t shard, int replicas, uint32_t dup_window_s)
{
    char name[128], subject[128];
    int rc = vs_js_stream_name(collection, shard, name, sizeof name);
    if (rc == VS_OK) rc = js_subject(collection, shard, subject, sizeof subject);
    if (rc != VS_OK) return rc;
    if (replicas < 1 || replicas > 5) return vs_fail(VS_ERR_INVALID_ARG, "jetstream: %d replicas (1..5)", replicas);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[1] = {subject};
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Replicas = replicas;
    cfg.Duplicates = (int64_t)(dup_window_s ? dup_window_s : 120) * 1000000000LL;
    cfg.DenyDelete = true; /* replicas rely on every sequence being there until a snapshot covers it */
    /* Each stored message's headers (no body) go out again on "vsn.<collection>.<shard>": a
     * replica following many streams waits on that one subject instead of on every stream's
     * fetch in turn (vs_js_notify_open). */
    char note[128];
    int nn = snprintf(note, sizeof note, "vsn.%s.%u", collection, shard);
    if (nn < 0 || (size_t)nn >= sizeof note) return vs_fail(VS_ERR_INVALID_ARG, "jetstream: subject buffer too small");
    jsRePublish rp;
    jsRePublish_Init(&rp);
    rp.Source = subject;
    rp.Destination = note;
    rp.HeadersOnly = true;
    cfg.RePublish = &rp;
    /* Creating is idempotent for an identical config; a stream that exists with another
     * config (say, other replicas) is left alone: it is the cluster's, not this caller's. */
    for (int attempt = 0;; attempt++) {
        jsErrCode jerr = 0;
        jsStreamInfo *si = NULL;
        natsStatus s = js_AddStream(&si, js->ctx, &cfg, NULL, &jerr);
        jsStreamInfo_Destroy(si);
        if (s == NATS_OK || jerr == JSStreamNameExistErr) return VS_OK;
        /* Right after a NATS node's restart the meta group may be electing: try a few times. */
        if (attempt >= 20 || (jerr && jerr != JSClusterNotAvailErr && s != NATS_TIMEOUT)) {
            char what[200];
            snprintf(what, sizeof what, "create stream %s (R=%d)", name, replicas);
            return js_fail(s, jerr, what);
        }
        nats_Sleep(250);
    }
}

/* The shard's stream info (caller destroys *si), or the NATS error. */
static int stream_info(vs_js *js, const char *collection, uint32_t shard, jsStreamInfo **si)
{
    char name[128];
    int rc = vs_js_stream_name(collection, shard, name, sizeof name);
    if (rc != VS_OK) return rc;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(si, js->ctx, name, NULL, &jerr);
    if (s != NATS_OK) {
        char what[200];
        snprintf(what, sizeof what, "stream info %s", name);
        return js_fail(s, jerr, what);
    }
    return VS_OK;
}

int vs_js_stream_seqs(vs_js *js, const char *collection, uint32_t shard, uint64_t *first, uint64_t *last)
{
    jsStreamInfo *si = NULL;
    int rc = stream_info(js, collection, shard, &si);
    if (rc != VS_OK) return rc;
    if (first) *first = si->State.FirstSeq;
    if (last) *last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return VS_OK;
}

int vs_js_list_streams(vs_js *js, int (*fn)(const char *collection, uint32_t shard, void *ctx), void *ctx)
{
    jsStreamNamesList *list = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_StreamNames(&list, js->ctx, NULL, &jerr);
    if (s == NATS_NOT_FOUND) return VS_OK; /* no stream at all */
    if (s != NATS_OK) return js_fail(s, jerr, "list streams");
    int rc = VS_OK;
    for (int i = 0; i < list->Count && rc == VS_OK; i++) {
        const char *n = list->List[i];
        const char *dash = strrchr(n, '-');
        if (strncmp(n, "vs-", 3) || !dash || dash <= n + 3 || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
            continue;
        char coll[80];
        size_t len = (size_t)(dash - (n + 3));
        if (len >= sizeof coll) continue;
        memcpy(coll, n + 3, len);
        coll[len] = 0;
        if (!valid_collection(coll)) continue;
        rc = fn(coll, (uint32_t)strtoul(dash + 1, NULL, 10), ctx);
    }
    jsStreamNamesList_Destroy(list);
    return rc;
}

int vs_js_stream_leader(vs_js *js, const char *collection, uint32_t shard, char *out, size_t cap)
{
    jsStreamInfo *si = NULL;
    int rc = stream_info(js, collection, shard, &si);
    if (rc != VS_OK) return rc;
    snprintf(out, cap, "%s", si->Cluster && si->Cluster->Leader ? si->Cluster->Leader : "");
    jsStreamInfo_Destroy(si);
    return VS_OK;
}

int vs_js_delete_stream(vs_js *js, const char *collection, uint32_t shard)
{
    char name[128];
    int rc = vs_js_stream_name(collection, shard, name, sizeof name);
    if (rc != VS_OK) return rc;
    jsErrCode jerr = 0;
    natsStatus s = js_DeleteStream(js->ctx, name, NULL, &jerr);
    if (s != NATS_OK) {
        char what[200];
        snprintf(what, sizeof what, "delete stream %s", name);
        return js_fail(s, jerr, what);
    }
    return VS_OK;
}

int vs_js_purge_below(vs_js *js, const char *collection, uint32_t shard, uint64_t keep_from)
{
    char name[128];
    int rc = vs_js_stream_name(collection, shard, name, sizeof name);
    if (rc != VS_OK) return rc;
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Purge.Sequence = keep_from; /* up to, not including */
    jsErrCode jerr = 0;
    natsStatus s = js_PurgeStream(js->ctx, name, &o, &jerr);
    if (s != NATS_OK) {
        char what[200];
        snprintf(what, sizeof what, "purge %s below %llu", name, (unsigned long long)keep_from);
        return js_fail(s, jerr, what);
    }
    return VS_OK;
}

int vs_js_publish(vs_js *js, const char *collection, uint32_t shard, const char *op, const void *data, size_t n,
                  const char *msg_id, uint32_t budget_ms, uint64_t *seq, int *duplicate)
{
    char name[128], subject[128];
    int rc = vs_js_stream_name(collection, shard, name, sizeof name);
    if (rc == VS_OK) rc = js_subject(collection, shard, subject, sizeof subject);
    if (rc != VS_OK) return rc;
    if (!msg_id || !*msg_id || !op || !*op || (!data && n) || n > INT32_MAX)
        return vs_fail(VS_ERR_INVALID_ARG, "jetstream: publish needs an op, a message id and a body");
    uint64_t deadline = js_now_ms() + (budget_ms ? budget_ms : 10000);
    natsStatus s = NATS_OK;
    jsErrCode jerr = 0;
    for (int attempt = 0;; attempt++) {
        natsMsg *m = NULL;
        s = natsMsg_Create(&m, subject, NULL, data, (int)n);
        if (s == NATS_OK) s = natsMsgHeader_Set(m, "Vs-Op", op);
        if (s != NATS_OK) {
            natsMsg_Destroy(m);
            return js_fail(s, 0, "publish: message");
        }
        uint64_t now = js_now_ms();
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = msg_id;
        po.ExpectStream = name;
        /* Each try waits at most 2 s for its ack: a leader that died with the request in
         * flight never answers, and the next try reaches the new leader. */
        uint64_t left = deadline > now ? deadline - now : 1;
        po.MaxWait = (int64_t)(left < 2000 ? left : 2000);
        jsPubAck *pa = NULL;
        jerr = 0;
        s = js_PublishMsg(&pa, js->ctx, m, &po, &jerr);
        natsMsg_Destroy(m);
        if (s == NATS_OK) {
            if (seq) *seq = pa->Sequence;
            if (duplicate) *duplicate = pa->Duplicate;
            jsPubAck_Destroy(pa);
            return VS_OK;
        }
        jsPubAck_Destroy(pa);
        if (jerr == JSStreamNotFoundErr) break;
        if (js_now_ms() + 50 >= deadline) break;
        nats_Sleep(attempt < 4 ? 25 : 100);
    }
    char what[300];
    snprintf(what, sizeof what, "publish %s to %s", msg_id, name);
    return js_fail(s, jerr, what);
}

struct vs_js_notify {
    natsSubscription *sub;
};

int vs_js_notify_open(vs_js *js, uint32_t shard, vs_js_notify **out)
{
    if (!js || !out) return vs_fail(VS_ERR_INVALID_ARG, "jetstream: notify needs a handle");
    *out = NULL;
    vs_js_notify *n = calloc(1, sizeof *n);
    if (!n) return vs_fail(VS_ERR_NOMEM, "jetstream: out of memory");
    char subj[64];
    snprintf(subj, sizeof subj, "vsn.*.%u", shard);
    natsStatus s = natsConnection_SubscribeSync(&n->sub, js->nc, subj);
    /* Notes are hints: a slow applier may drop them rather than make the server cut it off. */
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(n->sub, 4096, 4 * 1024 * 1024);
    if (s != NATS_OK) {
        natsSubscription_Destroy(n->sub);
        free(n);
        return js_fail(s, 0, "subscribe to the log's notes");
    }
    *out = n;
    return VS_OK;
}

void vs_js_notify_close(vs_js_notify *n)
{
    if (!n) return;
    natsSubscription_Unsubscribe(n->sub);
    natsSubscription_Destroy(n->sub);
    free(n);
}

int vs_js_notify_next(vs_js_notify *n, uint32_t wait_ms, char *collection, size_t cap, uint64_t *seq)
{
    natsMsg *m = NULL;
    /* libnats reads a timeout of 0 as "none"; 1 ms is the shortest real wait */
    natsStatus s = natsSubscription_NextMsg(&m, n->sub, wait_ms ? (int64_t)wait_ms : 1);
    if (s == NATS_TIMEOUT) return VS_ERR_NOT_FOUND;
    if (s != NATS_OK) return js_fail(s, 0, "next log note");
    const char *subj = natsMsg_GetSubject(m), *v = NULL;
    const char *a = strchr(subj, '.'), *b = a ? strrchr(subj, '.') : NULL;
    int rc = VS_OK;
    if (!a || b <= a + 1 || (size_t)(b - a - 1) >= cap) {
        rc = vs_fail(VS_ERR_CORRUPT, "jetstream: log note on %.100s", subj);
    } else {
        memcpy(collection, a + 1, (size_t)(b - a - 1));
        collection[b - a - 1] = 0;
        *seq = natsMsgHeader_Get(m, "Nats-Sequence", &v) == NATS_OK && v ? strtoull(v, NULL, 10) : 0;
    }
    natsMsg_Destroy(m);
    return rc;
}
