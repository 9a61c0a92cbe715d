/* Collection maintenance: IVF training and snapshots (log compaction), never inside an add or
 * a remove. They run when the caller asks (vs_collection_maintain, vs_collection_snapshot) or
 * on the maintenance thread the caller started (vs_collection_start_maintenance).
 *
 * A snapshot does not freeze the live collection: it starts a new log (writers go on at once),
 * then rebuilds the state from the files, as open would (the last snapshot plus every log
 * before the new one) in a scratch copy, writes that as the next generation and commits it
 * by renaming collection.vsc. Writers and searches never wait for it; it costs a second copy
 * of the collection in memory while it runs. Until the commit, open replays the old
 * generation's logs and then the new one.
 *
 * Training copies the staged vectors, trains and fills the real index outside every lock while
 * the writes applied meanwhile are recorded (c->delta); it replays those onto the new index in
 * rounds and swaps the index in once the rest is small, holding the writer mutex for that
 * last short round only. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "collection/collection_impl.h"
#include "core/error.h"
#include "core/options.h"
#include "core/log.h"
#include "io/atomic_file.h"

#define SYNC_TIMEOUT_MS 30000
/* Writes replayed onto a freshly trained index under the writer mutex, at most (the thread
 * runs at background priority: what it does under a lock must be tiny). */
#define CATCHUP_UNDER_LOCK 16
#define RETRY_AFTER_FAILURE_S 10.0

_Atomic(vs_maint_hook_fn) vs_maint_test_hook;

static void hook(vs_collection *c, vs_maint_step step)
{
    vs_maint_hook_fn f = atomic_load(&vs_maint_test_hook);
    if (f) f(c, step);
}

struct vs_train_delta {
    size_t n, cap;
    int64_t *ids;
    uint8_t *is_add;
    float *x; /* dim floats per entry (unused for removes) */
    int broken; /* out of memory while recording: this training round is void */
};

typedef int (*step_fn)(vs_collection *c, void *arg);

struct vs_maint {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int stop, exited;
    /* Wake-ups: a byte in the pipe, at most one pending (kicked). Writers kick without any
     * lock the thread holds, so no add ever waits for the thread. */
    int wake[2];
    atomic_int kicked;
    /* The companion: a thread at the caller's priority that runs the thread's locked steps
     * (see locked()). */
    pthread_t companion;
    int has_companion;
    pthread_mutex_t cmu;
    pthread_cond_t ccv;
    step_fn job;
    void *job_arg;
    int job_rc, job_done, companion_stop;
    char job_err[512];
    vs_maintenance_policy policy;
    /* vs_collection_snapshot while the thread runs: ticket `requested`, served by the first
     * snapshot started after it (done = the last ticket it covered, rc/err its result). */
    long requested, done;
    int rc;
    char err[512];
    int waiters; /* callers between registering and leaving (under write_mu); stop waits for 0 */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The maintenance thread itself (set on it only). */
static _Thread_local struct vs_maint *self;

/* Runs a step that takes a lock writers or readers need (write_mu, index_rw, docs_rw,
 * payload_rw, a log's mutex). On the maintenance thread, which runs at background priority,
 * the companion runs it at the caller's priority: preempted inside write_mu at nice 19 the
 * thread would stall every writer for as long as the machine's other work keeps it off the
 * CPU. Elsewhere (vs_collection_maintain, open) the calling thread runs it. The step's error
 * message comes back with its code. */
static int locked(vs_collection *c, step_fn fn, void *arg)
{
    struct vs_maint *m = self;
    if (!m || !m->has_companion) return fn(c, arg);
    pthread_mutex_lock(&m->cmu);
    m->job = fn;
    m->job_arg = arg;
    m->job_done = 0;
    pthread_cond_broadcast(&m->ccv);
    while (!m->job_done) pthread_cond_wait(&m->ccv, &m->cmu);
    int rc = m->job_rc;
    char err[512];
    snprintf(err, sizeof err, "%s", m->job_err);
    pthread_mutex_unlock(&m->cmu);
    return rc ? vs_fail(rc, "%s", err) : VS_OK;
}

struct companion_arg {
    vs_collection *c;
    struct vs_maint *m;
};

static void *companion_main(void *arg)
{
    struct companion_arg a = *(struct companion_arg *)arg;
    free(arg);
    struct vs_maint *m = a.m;
    pthread_mutex_lock(&m->cmu);
    for (;;) {
        while (!m->job && !m->companion_stop) pthread_cond_wait(&m->ccv, &m->cmu);
        if (!m->job) break;
        step_fn fn = m->job;
        void *fa = m->job_arg;
        m->job = NULL;
        pthread_mutex_unlock(&m->cmu);
        int rc = fn(a.c, fa);
        pthread_mutex_lock(&m->cmu);
        m->job_rc = rc;
        snprintf(m->job_err, sizeof m->job_err, "%s", rc ? vs_last_error() : "");
        m->job_done = 1;
        pthread_cond_broadcast(&m->ccv);
    }
    pthread_mutex_unlock(&m->cmu);
    return NULL;
}

/* ---- log chain --------------------------------------------------------------------------- */

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

int vs_maint_replay_logs(vs_collection *c, int live, uint64_t upto)
{
    char path[4200];
    uint64_t last = c->generation;
    if (live) {
        for (;;) {
            vs_collection_path(c, path, sizeof path, "wal", last + 1);
            if (!exists(path)) break;
            last++;
        }
    } else {
        last = upto;
    }
    for (uint64_t g = c->generation; g <= last; g++) {
        vs_collection_path(c, path, sizeof path, "wal", g);
        if (!live && !exists(path)) continue; /* a copy made without logs: nothing to replay */
        vs_wal *w = NULL;
        int rc = vs_wal_open(path, g, vs_collection_replay_keyed, c, &w, NULL);
        if (rc) return rc;
        if (live && g == last) c->wal = w;
        else if ((rc = vs_wal_close(w))) return rc;
    }
    if (live) c->log_gen = last;
    return VS_OK;
}

/* ---- training ---------------------------------------------------------------------------- */

static void delta_free(struct vs_train_delta *d)
{
    if (!d) return;
    free(d->ids);
    free(d->is_add);
    free(d->x);
    free(d);
}

static void delta_push(vs_collection *c, size_t n, const int64_t *ids, const float *x)
{
    struct vs_train_delta *d = c->delta;
    if (d->broken) return;
    if (d->n + n > d->cap) {
        size_t cap = d->cap ? d->cap : 256;
        while (cap < d->n + n) cap *= 2;
        int64_t *i2 = realloc(d->ids, cap * sizeof *i2);
        if (i2) d->ids = i2;
        uint8_t *a2 = realloc(d->is_add, cap);
        if (a2) d->is_add = a2;
        float *x2 = realloc(d->x, cap * (size_t)c->dim * sizeof *x2);
        if (x2) d->x = x2;
        if (!i2 || !a2 || !x2) {
            d->broken = 1;
            return;
        }
        d->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        d->ids[d->n] = ids[i];
        d->is_add[d->n] = x != NULL;
        if (x) memcpy(d->x + d->n * c->dim, x + i * c->dim, c->dim * sizeof *x);
        d->n++;
    }
}

static void wake(struct vs_maint *m)
{
    if (!atomic_exchange(&m->kicked, 1)) {
        ssize_t r = write(m->wake[1], "k", 1); /* full pipe: a wake-up is pending anyway */
        (void)r;
    }
}

static void kick(vs_collection *c)
{
    wake(c->maint);
}

static uint64_t log_threshold(const vs_collection *c, const struct vs_maint *m)
{
    return m && m->policy.snapshot_log_bytes ? m->policy.snapshot_log_bytes : c->snapshot_log_bytes;
}

void vs_maint_note_add(vs_collection *c, size_t n, const int64_t *ids, const float *vectors)
{
    if (c->delta) delta_push(c, n, ids, vectors);
    if (c->maint && ((c->staging && !c->train_failed && c->docs.count >= c->train_min) ||
                     vs_wal_size(c->wal) >= log_threshold(c, c->maint)))
        kick(c);
}

void vs_maint_note_remove(vs_collection *c, size_t n, const int64_t *ids)
{
    if (c->delta) delta_push(c, n, ids, NULL);
    if (c->maint && vs_wal_size(c->wal) >= log_threshold(c, c->maint)) kick(c);
}

/* Replays recorded writes onto the new index: a removal, or an add that replaces whatever
 * copy of the id the index got (the base copy may have caught it before or after). */
static int delta_apply(vs_collection *c, vs_index *ix, const struct vs_train_delta *d)
{
    for (size_t i = 0; i < d->n;) {
        /* A run of adds (distinct ids: re-adding an id needs a remove between) in one call. */
        size_t j = i + 1;
        while (j < d->n && d->is_add[j] == d->is_add[i]) j++;
        int rc = vs_index_remove(ix, j - i, &d->ids[i], NULL);
        if (!rc && d->is_add[i]) rc = vs_index_add(ix, j - i, d->x + i * c->dim, &d->ids[i]);
        if (rc) return rc;
        i = j;
    }
    return VS_OK;
}

/* The trained, still empty index as a file image, so a snapshot's scratch copy can hold the
 * same quantizer (and a reopened collection the same lists) without training again. */
static void keep_trained_image(vs_collection *c, const vs_index *ix)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/trained.tmp.vsi", c->dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (vs_index_save(ix, path) == VS_OK) {
        FILE *f = fopen(path, "rb");
        struct stat st;
        if (f && fstat(fileno(f), &st) == 0 && (buf = malloc((size_t)st.st_size + 1)) &&
            fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size)
            len = (size_t)st.st_size;
        if (f) fclose(f);
    }
    unlink(path);
    if (!len) {
        free(buf);
        vs_log(VS_LOG_WARNING, "%s: could not keep the trained quantizer (%s); snapshots stay exact until reopened",
               c->dir, vs_last_error());
        vs_clear_error();
        return;
    }
    free(c->trained_image);
    c->trained_image = buf;
    c->trained_len = len;
}

struct base_copy {
    int64_t *ids;
    float *x;
    size_t n, i, m;
};

static int copy_ids_step(vs_collection *c, void *arg)
{
    struct base_copy *b = arg;
    pthread_rwlock_rdlock(&c->docs_rw);
    b->n = c->docs.count;
    b->ids = malloc((b->n ? b->n : 1) * sizeof *b->ids);
    for (size_t i = 0; b->ids && i < b->n; i++) b->ids[i] = c->docs.docs[i].id;
    pthread_rwlock_unlock(&c->docs_rw);
    return b->ids ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
}

static int copy_chunk_step(vs_collection *c, void *arg)
{
    struct base_copy *b = arg;
    pthread_rwlock_rdlock(&c->index_rw);
    for (size_t j = b->i; j < b->n && j < b->i + 1024; j++)
        if (vs_index_get(c->index, b->ids[j], b->x + b->m * c->dim) == VS_OK) b->ids[b->m++] = b->ids[j];
    pthread_rwlock_unlock(&c->index_rw);
    vs_clear_error();
    return VS_OK;
}

/* The staged vectors now: the ids in one short read of the documents, the vectors in chunks
 * (an id removed meanwhile is skipped; the delta has its removal). */
static int copy_base(vs_collection *c, int64_t **ids_out, float **x_out, size_t *n_out)
{
    struct base_copy b = {0};
    int rc = locked(c, copy_ids_step, &b);
    if (!rc && !(b.x = malloc((b.n ? b.n : 1) * (size_t)c->dim * sizeof *b.x)))
        rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    for (b.i = 0; !rc && b.i < b.n; b.i += 1024) rc = locked(c, copy_chunk_step, &b);
    if (rc) {
        free(b.ids);
        free(b.x);
        return rc;
    }
    *ids_out = b.ids;
    *x_out = b.x;
    *n_out = b.m;
    return VS_OK;
}

static int train_begin_step(vs_collection *c, void *arg)
{
    int *due = arg;
    pthread_mutex_lock(&c->write_mu);
    *due = c->staging && !c->train_failed && c->docs.count >= c->train_min && !c->delta;
    if (*due && !(c->delta = calloc(1, sizeof *c->delta))) *due = 0;
    pthread_mutex_unlock(&c->write_mu);
    return VS_OK;
}

/* One catch-up round under the writer mutex: swaps the new index in when few recorded writes
 * are left (finished), else takes the recorded writes (out) for replay outside the lock and
 * starts a fresh record. On failure it ends the training (train_failed) and returns the code. */
struct catchup {
    vs_index *ix;   /* in: the new index; out when finished: the one it replaced */
    struct vs_train_delta *out;
    int finished;
};

static int catchup_step(vs_collection *c, void *arg)
{
    struct catchup *r = arg;
    pthread_mutex_lock(&c->write_mu);
    struct vs_train_delta *d = c->delta, *fresh = NULL;
    r->out = d;
    int rc = d->broken ? vs_fail(VS_ERR_NOMEM, "out of memory recording writes during training") : VS_OK;
    if (!rc && d->n <= CATCHUP_UNDER_LOCK) {
        rc = delta_apply(c, r->ix, d);
        if (!rc) {
            pthread_rwlock_wrlock(&c->index_rw);
            vs_index *old = c->index;
            c->index = r->ix;
            c->staging = 0;
            pthread_rwlock_unlock(&c->index_rw);
            r->ix = old; /* freed by the caller, outside the locks */
            vs_factory_spec spec = {.struct_size = sizeof spec};
            c->hnsw = !vs_factory_parse(c->factory, &spec) && spec.coarse == VS_COARSE_HNSW && !spec.shards;
            c->delta = NULL;
            vs_collection_refresh_info(c);
            pthread_mutex_unlock(&c->write_mu);
            r->finished = 1;
            return VS_OK;
        }
    }
    if (!rc && !(fresh = calloc(1, sizeof *fresh))) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    if (rc) {
        c->delta = NULL;
        c->train_failed = 1; /* do not retry on every call; reopening retries */
        pthread_mutex_unlock(&c->write_mu);
        return rc;
    }
    c->delta = fresh;
    pthread_mutex_unlock(&c->write_mu);
    return VS_OK;
}

/* Ends a training that failed before its catch-up (r->out: the record to free). */
static int abandon_step(vs_collection *c, void *arg)
{
    struct catchup *r = arg;
    pthread_mutex_lock(&c->write_mu);
    r->out = c->delta;
    c->delta = NULL;
    c->train_failed = 1;
    pthread_mutex_unlock(&c->write_mu);
    return VS_OK;
}

static int mark_broken_step(vs_collection *c, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&c->write_mu);
    c->delta->broken = 1;
    pthread_mutex_unlock(&c->write_mu);
    return VS_OK;
}

int vs_maint_train(vs_collection *c)
{
    int due = 0;
    locked(c, train_begin_step, &due);
    if (!due) return VS_OK;

    int64_t *ids = NULL;
    float *x = NULL;
    size_t n = 0;
    vs_index *ix = NULL;
    int rc = copy_base(c, &ids, &x, &n);
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = c->dim, .metric = c->metric, .factory = c->factory, .n_threads = c->n_threads};
    if (!rc) rc = vs_index_create(&o, &ix);
    if (!rc) rc = vs_index_train(ix, n, x);
    if (!rc) keep_trained_image(c, ix);
    if (!rc) rc = vs_index_add(ix, n, x, ids);
    free(x);
    free(ids);
    if (!rc) hook(c, VS_MAINT_TRAINED);
    /* Catch up with the writes applied meanwhile; the last few under the writer mutex. */
    for (;;) {
        struct catchup r = {.ix = ix};
        if (rc) locked(c, abandon_step, &r); /* keeps this thread's error message */
        else rc = locked(c, catchup_step, &r);
        if (r.finished) {
            delta_free(r.out);
            vs_index_free(r.ix);
            vs_log(VS_LOG_INFO, "%s: trained %s on %zu vectors", c->dir, c->factory, n);
            return VS_OK;
        }
        if (rc) {
            delta_free(r.out);
            vs_index_free(ix);
            char why[300];
            snprintf(why, sizeof why, "%s", vs_last_error());
            vs_log(VS_LOG_WARNING, "%s: training %s on %zu vectors failed (%s); staying exact", c->dir, c->factory, n, why);
            return vs_fail(rc, "%s: training %s failed: %s", c->dir, c->factory, why);
        }
        if (delta_apply(c, ix, r.out)) locked(c, mark_broken_step, NULL);
        delta_free(r.out);
    }
}

/* ---- snapshots --------------------------------------------------------------------------- */

/* The scratch copy of a staging collection gets the quantizer the live one trained. */
static int scratch_use_trained(vs_collection *s, const uint8_t *image, size_t len)
{
    vs_index *ix = NULL;
    size_t n = s->docs.count;
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    float *x = malloc((n ? n : 1) * (size_t)s->dim * sizeof *x);
    int rc = ids && x ? vs_index_load_buffer(image, len, &ix) : vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        ids[i] = s->docs.docs[i].id;
        rc = vs_index_get(s->index, ids[i], x + i * s->dim);
    }
    if (!rc && n) rc = vs_index_add(ix, n, x, ids);
    free(ids);
    free(x);
    if (rc) {
        vs_index_free(ix);
        return rc;
    }
    vs_index_free(s->index);
    s->index = ix;
    s->staging = 0;
    return VS_OK;
}

/* Automatic payload indexes are declared by searches without a log record: the scratch copy
 * takes the live collection's list (built from its own documents), so a snapshot keeps them. */
struct index_list {
    vs_payload_index_info *info;
    size_t n;
};

static int index_list_step(vs_collection *c, void *arg)
{
    struct index_list *l = arg;
    size_t n = 0, now = 0;
    int rc = vs_collection_payload_indexes(c, NULL, 0, &n);
    if (rc || !n) return rc;
    if (!(l->info = calloc(n, sizeof *l->info))) return vs_fail(VS_ERR_NOMEM, "out of memory");
    l->info[0].struct_size = sizeof *l->info;
    rc = vs_collection_payload_indexes(c, l->info, n, &now);
    l->n = now < n ? now : n; /* declared meanwhile: the next snapshot */
    return rc;
}

static int scratch_payload_indexes(vs_collection *c, vs_collection *s)
{
    struct index_list l = {0};
    int rc = locked(c, index_list_step, &l);
    for (size_t i = 0; !rc && i < l.n; i++)
        if (!vs_payload_index(&s->payload, l.info[i].field))
            rc = vs_collection_payload_declare(s, l.info[i].field, l.info[i].type, l.info[i].automatic);
    free(l.info);
    return rc;
}

/* snapshot_run's steps under the writer mutex: the state it starts from, the switch to the
 * new log, a failed retirement, the commit. */
struct snap {
    int failed;
    uint64_t S, L;
    vs_wal *nw, *old;
};

static int snap_state_step(vs_collection *c, void *arg)
{
    struct snap *p = arg;
    pthread_mutex_lock(&c->write_mu);
    p->failed = c->log_failed;
    p->S = c->generation;
    p->L = c->log_gen;
    pthread_mutex_unlock(&c->write_mu);
    return VS_OK;
}

static int snap_switch_step(vs_collection *c, void *arg)
{
    struct snap *p = arg;
    pthread_mutex_lock(&c->write_mu);
    vs_wal **r = realloc(c->retired, (c->n_retired + 1) * sizeof *r);
    if (r) {
        c->retired = r;
        r[c->n_retired++] = c->wal;
        p->old = c->wal;
        c->wal = p->nw;
        c->log_gen = p->L + 1;
    }
    pthread_mutex_unlock(&c->write_mu);
    return r ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
}

/* Waits (normally without flushing: see vs_wal_retire) for the writers of the old log. */
static int snap_retire_step(vs_collection *c, void *arg)
{
    struct snap *p = arg;
    int rc = vs_wal_retire(p->old);
    if (rc) {
        pthread_mutex_lock(&c->write_mu);
        c->log_failed = 1;
        pthread_mutex_unlock(&c->write_mu);
    }
    return rc;
}

static int snap_commit_step(vs_collection *c, void *arg)
{
    struct snap *p = arg;
    pthread_mutex_lock(&c->write_mu);
    c->generation = p->L + 1;
    vs_collection_refresh_info(c);
    pthread_mutex_unlock(&c->write_mu);
    return VS_OK;
}

static int snapshot_run(vs_collection *c) /* maint_mu held */
{
    struct snap p = {0};
    locked(c, snap_state_step, &p);
    uint64_t S = p.S, L = p.L;
    if (p.failed)
        return vs_fail(VS_ERR_IO, "%s: an earlier log write failed; reopen the collection before a snapshot", c->dir);
    char path[4200];
    vs_collection_path(c, path, sizeof path, "wal", L + 1);
    unlink(path); /* a leftover of a snapshot that failed before it switched logs */
    int rc = vs_wal_open(path, L + 1, NULL, NULL, &p.nw, NULL);
    if (rc) return rc;

    /* Switch logs: from here on writers append to the new one. */
    rc = locked(c, snap_switch_step, &p);
    if (rc) {
        vs_wal_close(p.nw);
        unlink(path);
        return rc;
    }
    /* Everything appended to the old log is now durable (its writers apply it) or failed. */
    rc = locked(c, snap_retire_step, &p);
    if (rc) return rc;
    hook(c, VS_MAINT_ROTATED);

    /* The state as open would see it, before the new log. */
    vs_collection *s = vs_collection_alloc(c->dir);
    if (!s) return vs_fail(VS_ERR_NOMEM, "out of memory");
    rc = vs_collection_read_snapshot(s);
    if (!rc && s->generation != S)
        rc = vs_fail(VS_ERR_CORRUPT, "%s: collection.vsc changed under a snapshot (generation %llu, expected %llu)",
                     c->dir, (unsigned long long)s->generation, (unsigned long long)S);
    if (!rc) rc = vs_collection_payload_load(s); /* as open does: payload indexes too */
    if (!rc) rc = vs_collection_setup_kind(s);
    if (!rc) rc = vs_maint_replay_logs(s, 0, L);
    if (!rc) rc = vs_collection_payload_build_all(s);
    if (!rc) rc = scratch_payload_indexes(c, s);
    if (!rc && s->staging && c->trained_image && scratch_use_trained(s, c->trained_image, c->trained_len)) {
        vs_log(VS_LOG_WARNING, "%s: snapshot keeps the staging index (%s)", c->dir, vs_last_error());
        vs_clear_error();
    }
    hook(c, VS_MAINT_WRITTEN);
    if (!rc) rc = vs_collection_write_snapshot(s, L + 1); /* the commit point: collection.vsc */
    vs_collection_free(s);
    if (rc) return rc;
    hook(c, VS_MAINT_COMMITTED);

    locked(c, snap_commit_step, &p);
    for (uint64_t g = S; g <= L; g++) {
        vs_collection_path(c, path, sizeof path, "wal", g);
        unlink(path);
    }
    vs_collection_path(c, path, sizeof path, "index", S);
    unlink(path);
    vs_collection_path(c, path, sizeof path, "payload", S);
    unlink(path);
    return VS_OK;
}

#define THREAD_GONE 1 /* not a vecscale code (those are <= 0) */

/* With the maintenance thread running, the snapshot is its work (at its background
 * priority); the caller waits for the result. THREAD_GONE if the thread stopped meanwhile. */
static int snapshot_on_thread(vs_collection *c, struct vs_maint *m)
{
    pthread_mutex_lock(&m->mu);
    long ticket = ++m->requested;
    wake(m);
    while (m->done < ticket && !m->exited) pthread_cond_wait(&m->done_cv, &m->mu);
    int rc = m->done >= ticket ? m->rc : THREAD_GONE;
    char err[512];
    snprintf(err, sizeof err, "%s", m->err);
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_lock(&c->write_mu);
    m->waiters--;
    pthread_mutex_unlock(&c->write_mu);
    if (rc < 0) return vs_fail(rc, "%s", err);
    return rc;
}

int vs_collection_snapshot(vs_collection *c)
{
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    pthread_mutex_lock(&c->write_mu);
    struct vs_maint *m = c->maint;
    if (m) m->waiters++;
    pthread_mutex_unlock(&c->write_mu);
    int rc = m ? snapshot_on_thread(c, m) : THREAD_GONE;
    if (rc != THREAD_GONE) return rc;
    pthread_mutex_lock(&c->maint_mu);
    rc = snapshot_run(c);
    pthread_mutex_unlock(&c->maint_mu);
    return rc;
}

/* Training if due, then a snapshot if the log is over the threshold or (interval_s > 0) the
 * last snapshot is that old and the log holds records. */
static int maintain(vs_collection *c, uint64_t log_bytes, double interval_s, double *last_snapshot)
{
    pthread_mutex_lock(&c->maint_mu);
    int rc = vs_maint_train(c);
    uint64_t size = vs_wal_size(c->wal);
    int due = size >= log_bytes || (interval_s > 0 && now_s() - *last_snapshot >= interval_s && size > VS_WAL_HEADER_SIZE);
    if (due) {
        int src = snapshot_run(c);
        *last_snapshot = now_s();
        if (!rc) rc = src;
    }
    pthread_mutex_unlock(&c->maint_mu);
    return rc;
}

int vs_collection_maintain(vs_collection *c)
{
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    double never = now_s();
    return maintain(c, c->snapshot_log_bytes, 0, &never);
}

/* Background priority: the lowest nice value (19, set per thread: Linux applies nice per
 * thread and the training's worker threads inherit it) and the idle I/O class, so on a busy
 * machine every other thread, the requests' and the kernel's I/O threads that a log sync
 * needs included, gets the CPU and the disk first; maintenance takes longer instead. Not
 * SCHED_IDLE: its weight (3 against nice 0's 1024) lets a loaded machine starve a training for
 * hours. Relative (nice + 10, the first version) was not enough: a server started at nice -15
 * ran maintenance at -5, ahead of the kernel's journal and loop threads that every add's
 * fdatasync waits for. A thread cannot take a lower nice value back without privilege, so
 * the steps under locks run on the companion (locked()). */
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1
static void lower_priority(void)
{
#ifdef __linux__
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (setpriority(PRIO_PROCESS, (id_t)tid, 19))
        vs_log(VS_LOG_WARNING, "maintenance thread: setpriority: %s", strerror(errno));
#ifdef SYS_ioprio_set
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, (int)tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT))
        vs_log(VS_LOG_WARNING, "maintenance thread: ioprio_set: %s", strerror(errno));
#endif
#endif /* elsewhere nice is per process: lowering it would slow the requests too */
}

static void wait_for_wake(struct vs_maint *m, uint32_t poll_ms)
{
    struct pollfd p = {.fd = m->wake[0], .events = POLLIN};
    if (!atomic_load(&m->kicked)) poll(&p, 1, (int)poll_ms);
    atomic_store(&m->kicked, 0); /* before draining: a kick from now on leaves a byte */
    char buf[64];
    while (read(m->wake[0], buf, sizeof buf) > 0) {
    }
}

static void *maint_main(void *arg)
{
    vs_collection *c = arg;
    struct vs_maint *m = c->maint;
    double last_snapshot = now_s(), failed_at = -1e9;
    struct companion_arg *ca = malloc(sizeof *ca);
    if (ca) *ca = (struct companion_arg){c, m};
    m->has_companion = ca && pthread_create(&m->companion, NULL, companion_main, ca) == 0;
    if (m->has_companion) {
        self = m;
        lower_priority();
        vs_atomic_paced = 1; /* snapshot files: never a burst ahead of the log's syncs */
    } else {
        free(ca);
        vs_log(VS_LOG_WARNING, "%s: maintenance runs at normal priority (no companion thread: %s)", c->dir,
               strerror(errno));
    }
    uint32_t poll = m->policy.poll_ms ? m->policy.poll_ms : 200;
    for (;;) {
        wait_for_wake(m, poll);
        pthread_mutex_lock(&m->mu);
        int stop = m->stop;
        long want = m->requested;
        pthread_mutex_unlock(&m->mu);
        if (stop) break;
        if (want > m->done) {
            /* Asked for (vs_collection_snapshot): every request made before this point. */
            pthread_mutex_lock(&c->maint_mu);
            int rc = snapshot_run(c);
            pthread_mutex_unlock(&c->maint_mu);
            last_snapshot = now_s();
            pthread_mutex_lock(&m->mu);
            m->done = want;
            m->rc = rc;
            snprintf(m->err, sizeof m->err, "%s", rc ? vs_last_error() : "");
            pthread_cond_broadcast(&m->done_cv);
            pthread_mutex_unlock(&m->mu);
            wake(m); /* look again at once: the policy or another request */
            continue;
        }
        if (now_s() - failed_at >= RETRY_AFTER_FAILURE_S &&
            maintain(c, log_threshold(c, m), m->policy.snapshot_interval_s, &last_snapshot)) {
            vs_log(VS_LOG_WARNING, "%s: maintenance: %s (retrying in %.0f s)", c->dir, vs_last_error(), RETRY_AFTER_FAILURE_S);
            failed_at = now_s();
        }
    }
    if (m->has_companion) {
        pthread_mutex_lock(&m->cmu);
        m->companion_stop = 1;
        pthread_cond_broadcast(&m->ccv);
        pthread_mutex_unlock(&m->cmu);
        pthread_join(m->companion, NULL);
    }
    self = NULL;
    pthread_mutex_lock(&m->mu);
    m->exited = 1; /* waiting callers run their snapshot themselves */
    pthread_cond_broadcast(&m->done_cv);
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

void vs_maintenance_policy_init(vs_maintenance_policy *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->poll_ms = 200;
}

static void maint_destroy(struct vs_maint *m)
{
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->done_cv);
    pthread_mutex_destroy(&m->cmu);
    pthread_cond_destroy(&m->ccv);
    if (m->wake[0] >= 0) close(m->wake[0]);
    if (m->wake[1] >= 0) close(m->wake[1]);
    free(m);
}

int vs_collection_start_maintenance(vs_collection *c, const vs_maintenance_policy *policy)
{
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    VS_READ_OPTIONS(vs_maintenance_policy, given, policy, VS_MAINTENANCE_POLICY_V1);
    struct vs_maint *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_NOMEM, "out of memory");
    m->policy = given;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->done_cv, NULL);
    pthread_mutex_init(&m->cmu, NULL);
    pthread_cond_init(&m->ccv, NULL);
    m->wake[0] = m->wake[1] = -1;
    if (pipe(m->wake) || fcntl(m->wake[0], F_SETFL, O_NONBLOCK) || fcntl(m->wake[1], F_SETFL, O_NONBLOCK) ||
        fcntl(m->wake[0], F_SETFD, FD_CLOEXEC) || fcntl(m->wake[1], F_SETFD, FD_CLOEXEC)) {
        int e = errno;
        maint_destroy(m);
        return vs_fail(VS_ERR_IO, "%s: cannot create the maintenance thread's pipe: %s", c->dir, strerror(e));
    }
    wake(m); /* look once at start: an opened collection may be due already */
    pthread_mutex_lock(&c->write_mu);
    int rc = c->maint ? vs_fail(VS_ERR_INVALID_ARG, "%s: maintenance is already running", c->dir) : VS_OK;
    if (!rc) {
        c->maint = m;
        if (pthread_create(&m->thread, NULL, maint_main, c)) {
            c->maint = NULL;
            rc = vs_fail(VS_ERR_IO, "%s: cannot start the maintenance thread: %s", c->dir, strerror(errno));
        }
    }
    pthread_mutex_unlock(&c->write_mu);
    if (rc) maint_destroy(m);
    return rc;
}

int vs_collection_stop_maintenance(vs_collection *c)
{
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    pthread_mutex_lock(&c->write_mu);
    struct vs_maint *m = c->maint;
    pthread_mutex_unlock(&c->write_mu);
    if (!m) return VS_OK;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_mutex_unlock(&m->mu);
    wake(m);
    pthread_join(m->thread, NULL); /* waits for a snapshot or training in progress */
    pthread_mutex_lock(&c->write_mu);
    c->maint = NULL; /* no new waiters; the registered ones leave (the thread has exited) */
    pthread_mutex_unlock(&c->write_mu);
    for (;;) {
        pthread_mutex_lock(&c->write_mu);
        int waiting = m->waiters;
        pthread_mutex_unlock(&c->write_mu);
        if (!waiting) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    maint_destroy(m);
    return VS_OK;
}

void vs_maint_free(vs_collection *c)
{
    if (c->maint) vs_collection_stop_maintenance(c);
    delta_free(c->delta);
    c->delta = NULL;
    free(c->trained_image);
    c->trained_image = NULL;
}
