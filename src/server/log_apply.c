/* The replica side of the replicated write log: see log_apply.h. */
#include "server/log_apply.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "log/jetstream.h"

#define MAX_FOLLOWED 256
#define FETCH_BATCH 64

typedef struct {
    char coll[80];
    vs_js_consumer *consumer;
    uint64_t applied;  /* last applied (and, after a batch, recorded) stream sequence */
    /* Up to here a 409 is a message applied before a crash (the position is recorded after
     * each fetched batch): what the durable had delivered when opened. Past it, a real conflict. */
    uint64_t replay_until;
    uint64_t failed_seq; /* a message whose apply failed (5xx) and may have half-happened */
    uint64_t lag;
    int lag_known;
    int warned;
} followed;

struct log_applier {
    char *urls;
    uint32_t shard;
    char durable[160];
    vs_server_handle *srv;
    vs_js *js;
    pthread_t thread;
    atomic_int stop;
    unsigned delay_ms; /* VECSCALE_TEST_APPLY_DELAY_MS: tests make a replica lag on purpose */
    followed items[MAX_FOLLOWED];
    size_t n;
    atomic_uint_fast64_t max_lag;
    atomic_int lag_known;
    /* Messages a replica refused (a 4xx other than the 404 / 409 of a re-applied write): the
     * router checks writes before publishing, so any is a bug or a writer that skipped the
     * checks; counted in /health and /metrics, shown per replica in the router's GET /cluster. */
    atomic_uint_fast64_t refused;
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int add_stream(const char *coll, uint32_t shard, void *ctx)
{
    log_applier *a = ctx;
    if (shard != a->shard) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->items[i].coll, coll)) return 0;
    if (a->n == MAX_FOLLOWED) {
        fprintf(stderr, "vecscale serve: log: more than %d collections; not following %s\n", MAX_FOLLOWED, coll);
        return 1;
    }
    followed *f = &a->items[a->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->coll, sizeof f->coll, "%s", coll);
    return 0;
}

typedef struct {
    log_applier *a;
    followed *f;
} apply_ctx;

static int apply_one(const vs_js_msg *m, void *ctx)
{
    apply_ctx *x = ctx;
    followed *f = x->f;
    if (m->seq <= f->applied) return VS_OK; /* applied before a restart */
    if (x->a->delay_ms) sleep_ms(x->a->delay_ms);
    char path[400];
    const char *method = "POST";
    if (!strcmp(m->op, "create")) {
        snprintf(path, sizeof path, "/collections");
    } else if (!strcmp(m->op, "vectors") || !strcmp(m->op, "index")) {
        snprintf(path, sizeof path, "/collections/%s/%s", f->coll, m->op);
    } else if (!strcmp(m->op, "delete")) {
        method = "DELETE";
        if (m->len == 0 || m->len > 300) {
            fprintf(stderr, "vecscale serve: log: %s sequence %llu: bad document id; skipped\n", f->coll,
                    (unsigned long long)m->seq);
            f->applied = m->seq;
            return VS_OK;
        }
        snprintf(path, sizeof path, "/collections/%s/documents/%.*s", f->coll, (int)m->len, (const char *)m->data);
    } else if (!strcmp(m->op, "drop")) { /* DELETE /collections/{name} through a router */
        method = "DELETE";
        snprintf(path, sizeof path, "/collections/%s", f->coll);
    } else {
        /* A newer writer's operation: applying the rest around it would diverge. */
        fprintf(stderr, "vecscale serve: log: %s sequence %llu: unknown operation '%s'; stopped here\n", f->coll,
                (unsigned long long)m->seq, m->op);
        return VS_ERR_UNSUPPORTED;
    }
    char *reply = NULL;
    int status = vs_server_apply(x->a->srv, method, path, !strcmp(method, "DELETE") ? "" : m->data,
                                 !strcmp(method, "DELETE") ? 0 : m->len, &reply);
    if (status >= 500) {
        f->failed_seq = m->seq;
        if (!f->warned++)
            fprintf(stderr, "vecscale serve: log: %s sequence %llu (%s) failed with %d: %s; retrying\n", f->coll,
                    (unsigned long long)m->seq, m->op, status, reply ? reply : "");
        free(reply);
        return VS_ERR_IO;
    }
    f->warned = 0;
    /* A 409 on a message applied before a crash (or before a failed attempt's 5xx) and a 404
     * (a delete of what is gone: deletes are idempotent) are the expected no-ops; any other
     * 4xx is the write's own fault, refused alike by every replica: so is a 409 past the
     * replay window, an add of an id the collection already held, which the router should
     * have refused before publishing. */
    int reapplied = status == 404 || (status == 409 && (m->seq <= f->replay_until || m->seq == f->failed_seq));
    if (status >= 400 && !reapplied) {
        atomic_fetch_add(&x->a->refused, 1);
        fprintf(stderr, "vecscale serve: log: %s sequence %llu (%s, message %s) refused with %d: %.300s\n", f->coll,
                (unsigned long long)m->seq, m->op, m->msg_id ? m->msg_id : "", status, reply ? reply : "");
    }
    free(reply);
    f->applied = m->seq;
    return VS_OK;
}

/* Opens f's consumer at the collection's recorded position + 1 (1 when the collection does
 * not exist yet: its stream starts with its creation). */
static int open_consumer(log_applier *a, followed *f)
{
    uint64_t pos = 0;
    if (vs_server_log_position(a->srv, f->coll, &pos) != VS_OK) pos = 0;
    f->applied = pos;
    int rc = vs_js_consumer_open(a->js, f->coll, a->shard, a->durable, pos + 1, &f->consumer);
    /* Only what the durable had delivered can have been applied before a restart; when the
     * cluster cannot say, at most the batch after the recorded position. */
    uint64_t d = rc == VS_OK ? vs_js_consumer_delivered_before(f->consumer) : UINT64_MAX;
    f->replay_until = d == UINT64_MAX ? pos + FETCH_BATCH : d > pos ? d : pos;
    return rc;
}

/* Applies what f's stream holds (waiting at most wait_ms for the first message; 0: what is
 * there now); returns how many messages were applied. */
static int follow(log_applier *a, followed *f, uint32_t wait_ms)
{
    if (!f->consumer && open_consumer(a, f) != VS_OK) {
        if (!f->warned++) fprintf(stderr, "vecscale serve: log: %s: %s\n", f->coll, vs_last_error());
        return 0;
    }
    uint64_t before = f->applied;
    apply_ctx x = {a, f};
    int got = 0;
    int rc = vs_js_consumer_fetch(f->consumer, FETCH_BATCH, wait_ms, apply_one, &x, &got);
    if (rc != VS_OK && rc != VS_ERR_IO && !f->warned++)
        fprintf(stderr, "vecscale serve: log: %s: %s\n", f->coll, vs_last_error());
    if (f->applied > before) {
        /* Durable with the collection's data; a crash before this re-applies the batch. */
        /* (a dropped collection has no position to record: a restart replays its stream) */
        int prc = vs_server_set_log_position(a->srv, f->coll, f->applied);
        if (prc != VS_OK && prc != VS_ERR_NOT_FOUND && !f->warned++)
            fprintf(stderr, "vecscale serve: log: %s: recording position %llu: %s\n", f->coll,
                    (unsigned long long)f->applied, vs_last_error());
    }
    return got;
}

static followed *find_followed(log_applier *a, const char *coll)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->items[i].coll, coll)) return &a->items[i];
    return NULL;
}

/* Refreshes one stream's lag and publishes the worst of all: from the consumer (a JetStream
 * API round trip) when noted_seq is 0, else from the stream sequence a note named. */
static void update_lag(log_applier *a, followed *one, uint64_t noted_seq)
{
    uint64_t p = 0;
    if (noted_seq) {
        one->lag = noted_seq > one->applied ? noted_seq - one->applied : 0;
    } else if (one->consumer && vs_js_consumer_pending(one->consumer, &p) == VS_OK) {
        one->lag = p;
        one->lag_known = 1;
    }
    uint64_t worst = 0;
    int all = 1;
    for (size_t i = 0; i < a->n; i++) {
        if (!a->items[i].lag_known) all = 0;
        if (a->items[i].lag > worst) worst = a->items[i].lag;
    }
    atomic_store(&a->max_lag, worst);
    atomic_store(&a->lag_known, all);
}

/* How the applier waits for work: it waits on the streams' notes (one subscription for all of
 * them, see vs_js_notify_open) and fetches only the stream a note names, so an add's apply
 * never waits behind another stream's fetch timeout, however many idle collections the
 * replica follows; a note also updates its stream's lag (its sequence is the stream's last).
 * The rest is spread out, one stream at a time, so that no more than two JetStream round trips
 * ever stand between a note and its fetch: every SWEEP_S each stream is looked at once without
 * waiting (notes are hints: lost while reconnecting, absent on a stream made before them; a
 * full batch means more is there, fetched at once) and its lag taken from its consumer. Done
 * for all streams in a row every 0.5 s, that made a waited add's p50 55 ms instead of 10 with
 * ~25 streams followed on the loaded test machine, and one stream every 0.5 s / n still
 * 37 ms with ~40 (two requests each, 160 a second, kept the NATS nodes busy). */
#define SWEEP_S 2.0
/* A note can come before the consumer's own NATS node holds the message (the stream's
 * leader republishes it): the fetch it triggers waits this long for it. */
#define NOTE_WAIT_MS 100u

static void drain(log_applier *a, followed *f, uint32_t wait_ms)
{
    /* a replica catching up shows its lag between batches (the router stops searching it) */
    for (int got = follow(a, f, wait_ms); got == FETCH_BATCH && !atomic_load(&a->stop); got = follow(a, f, 0))
        update_lag(a, f, 0);
}

static void *applier_main(void *arg)
{
    log_applier *a = arg;
    int warned = 0;
    while (!atomic_load(&a->stop) && vs_js_open(a->urls, 3000, &a->js) != VS_OK) {
        if (!warned++) fprintf(stderr, "vecscale serve: log: waiting for NATS: %s\n", vs_last_error());
        sleep_ms(500);
    }
    vs_js_notify *notes = NULL;
    if (a->js && vs_js_notify_open(a->js, a->shard, &notes) != VS_OK)
        fprintf(stderr, "vecscale serve: log: %s; looking at every stream every %.1f s instead\n", vs_last_error(),
                SWEEP_S);
    double next_scan = 0, next_step = 0;
    size_t turn = 0;
    followed *again = NULL; /* a noted message its fetch did not bring: looked at once more */
    while (!atomic_load(&a->stop)) {
        double t = now_s();
        if (t >= next_scan) {
            if (vs_js_list_streams(a->js, add_stream, a) != VS_OK && !warned++)
                fprintf(stderr, "vecscale serve: log: listing streams: %s\n", vs_last_error());
            next_scan = t + 1.0;
        }
        if (!a->n) {
            sleep_ms(100);
            continue;
        }
        if (again) {
            drain(a, again, NOTE_WAIT_MS);
            update_lag(a, again, 0);
            again = NULL;
        }
        if (t >= next_step) {
            followed *f = &a->items[turn++ % a->n];
            drain(a, f, 0);
            update_lag(a, f, 0);
            next_step = t + SWEEP_S / (double)a->n;
        }
        double left = next_step - now_s();
        if (left > 0.1) left = 0.1; /* stop and the scans stay prompt */
        uint32_t wait = left > 0 ? (uint32_t)(left * 1000) + 1 : 1;
        if (!notes) {
            sleep_ms(wait);
            continue;
        }
        char coll[80];
        uint64_t seq = 0;
        for (int rc = vs_js_notify_next(notes, wait, coll, sizeof coll, &seq); rc == VS_OK && !atomic_load(&a->stop);
             rc = vs_js_notify_next(notes, 1, coll, sizeof coll, &seq)) {
            followed *f = find_followed(a, coll);
            if (!f && vs_js_list_streams(a->js, add_stream, a) == VS_OK) /* a stream created since the last listing */
                f = find_followed(a, coll);
            if (!f) continue;
            if (seq && seq <= f->applied) continue; /* applied already (a batch, or a note repeated) */
            drain(a, f, NOTE_WAIT_MS);
            if (seq) update_lag(a, f, seq);
            if (f->applied < seq) again = f; /* else its lag would wait for its turn (2 s) */
            double t2 = now_s();
            if (t2 >= next_step || t2 >= next_scan) break; /* a steady flow of notes must not starve them */
        }
    }
    vs_js_notify_close(notes);
    for (size_t i = 0; i < a->n; i++) vs_js_consumer_close(a->items[i].consumer);
    vs_js_close(a->js);
    return NULL;
}

int log_applier_start(const char *nats_urls, uint32_t shard, const char *node_id, vs_server_handle *srv,
                      log_applier **out)
{
    log_applier *a = calloc(1, sizeof *a);
    if (!a || !(a->urls = strdup(nats_urls))) {
        free(a);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    a->shard = shard;
    a->srv = srv;
    const char *delay = getenv("VECSCALE_TEST_APPLY_DELAY_MS");
    a->delay_ms = delay ? (unsigned)strtoul(delay, NULL, 10) : 0;
    /* Consumer names allow no '.', '*', '>' or spaces: anything else becomes '_'. */
    snprintf(a->durable, sizeof a->durable, "replica-%s", node_id);
    for (char *p = a->durable; *p; p++)
        if (*p == '.' || *p == '*' || *p == '>' || *p == ' ') *p = '_';
    if (pthread_create(&a->thread, NULL, applier_main, a)) {
        free(a->urls);
        free(a);
        return vs_fail(VS_ERR_NOMEM, "cannot start the log applier thread");
    }
    *out = a;
    return VS_OK;
}

void log_applier_stop(log_applier *a)
{
    if (!a) return;
    atomic_store(&a->stop, 1);
    pthread_join(a->thread, NULL);
    free(a->urls);
    free(a);
}

uint64_t log_applier_lag(log_applier *a, int *known)
{
    if (known) *known = a ? atomic_load(&a->lag_known) : 0;
    return a ? (uint64_t)atomic_load(&a->max_lag) : 0;
}

uint64_t log_applier_refused(log_applier *a) { return a ? (uint64_t)atomic_load(&a->refused) : 0; }
