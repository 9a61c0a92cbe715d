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
        if (!f->warned++)
            fprintf(stderr, "vecscale serve: log: %s sequence %llu (%s) failed with %d: %s; retrying\n", f->coll,
                    (unsigned long long)m->seq, m->op, status, reply ? reply : "");
        free(reply);
        return VS_ERR_IO;
    }
    f->warned = 0;
    /* 409 / 404 on a message applied before a crash are the expected no-ops; other 4xx are
     * the write's own fault, refused alike by every replica. */
    if (status >= 400 && status != 409 && status != 404) {
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
    return vs_js_consumer_open(a->js, f->coll, a->shard, a->durable, pos + 1, &f->consumer);
}

static void follow(log_applier *a, followed *f, uint32_t wait_ms)
{
    if (!f->consumer && open_consumer(a, f) != VS_OK) {
        if (!f->warned++) fprintf(stderr, "vecscale serve: log: %s: %s\n", f->coll, vs_last_error());
        return;
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
}

static void *applier_main(void *arg)
{
    log_applier *a = arg;
    int warned = 0;
    while (!atomic_load(&a->stop) && vs_js_open(a->urls, 3000, &a->js) != VS_OK) {
        if (!warned++) fprintf(stderr, "vecscale serve: log: waiting for NATS: %s\n", vs_last_error());
        sleep_ms(500);
    }
    double next_scan = 0, next_lag = 0;
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
        uint32_t wait = (uint32_t)(100 / a->n) + 1;
        for (size_t i = 0; i < a->n && !atomic_load(&a->stop); i++) follow(a, &a->items[i], wait);
        if (t >= next_lag) {
            uint64_t worst = 0;
            int all = 1;
            for (size_t i = 0; i < a->n; i++) {
                followed *f = &a->items[i];
                uint64_t p = 0;
                if (f->consumer && vs_js_consumer_pending(f->consumer, &p) == VS_OK) {
                    f->lag = p;
                    f->lag_known = 1;
                }
                if (!f->lag_known) all = 0;
                if (f->lag > worst) worst = f->lag;
            }
            atomic_store(&a->max_lag, worst);
            atomic_store(&a->lag_known, all);
            next_lag = t + 0.5;
        }
    }
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
