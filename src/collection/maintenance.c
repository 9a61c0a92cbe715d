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

struct vs_maint {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    int stop, kick, exited;
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

static void kick(vs_collection *c)
{
    struct vs_maint *m = c->maint;
    pthread_mutex_lock(&m->mu);
    if (!m->kick) {
        m->kick = 1;
        pthread_cond_signal(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
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

/* The staged vectors now: the ids in one short read of the documents, the vectors in chunks
 * (an id removed meanwhile is skipped; the delta has its removal). */
static int copy_base(vs_collection *c, int64_t **ids_out, float **x_out, size_t *n_out)
{
    pthread_rwlock_rdlock(&c->docs_rw);
    size_t n = c->docs.count;
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; ids && i < n; i++) ids[i] = c->docs.docs[i].id;
    pthread_rwlock_unlock(&c->docs_rw);
    float *x = malloc((n ? n : 1) * (size_t)c->dim * sizeof *x);
    if (!ids || !x) {
        free(ids);
        free(x);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i += 1024) {
        pthread_rwlock_rdlock(&c->index_rw);
        for (size_t j = i; j < n && j < i + 1024; j++)
            if (vs_index_get(c->index, ids[j], x + m * c->dim) == VS_OK) ids[m++] = ids[j];
        pthread_rwlock_unlock(&c->index_rw);
    }
    vs_clear_error();
    *ids_out = ids;
    *x_out = x;
    *n_out = m;
    return VS_OK;
}

int vs_maint_train(vs_collection *c)
{
    pthread_mutex_lock(&c->write_mu);
    int due = c->staging && !c->train_failed && c->docs.count >= c->train_min && !c->delta;
    if (due && !(c->delta = calloc(1, sizeof *c->delta))) due = 0;
    pthread_mutex_unlock(&c->write_mu);
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
        pthread_mutex_lock(&c->write_mu);
        struct vs_train_delta *d = c->delta, *fresh = NULL;
        if (!rc && d->broken) rc = vs_fail(VS_ERR_NOMEM, "out of memory recording writes during training");
        if (!rc && d->n <= CATCHUP_UNDER_LOCK) {
            rc = delta_apply(c, ix, d);
            if (!rc) {
                pthread_rwlock_wrlock(&c->index_rw);
                vs_index *old = c->index;
                c->index = ix;
                c->staging = 0;
                pthread_rwlock_unlock(&c->index_rw);
                ix = old; /* freed below, outside the locks */
                vs_factory_spec spec;
                c->hnsw = !vs_factory_parse(c->factory, &spec) && spec.coarse == VS_COARSE_HNSW;
                c->delta = NULL;
                vs_collection_refresh_info(c);
                pthread_mutex_unlock(&c->write_mu);
                delta_free(d);
                vs_index_free(ix);
                vs_log(VS_LOG_INFO, "%s: trained %s on %zu vectors", c->dir, c->factory, n);
                return VS_OK;
            }
        }
        if (!rc && !(fresh = calloc(1, sizeof *fresh))) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
        if (rc) {
            c->delta = NULL;
            c->train_failed = 1; /* do not retry on every call; reopening retries */
            pthread_mutex_unlock(&c->write_mu);
            delta_free(d);
            vs_index_free(ix);
            char why[300];
            snprintf(why, sizeof why, "%s", vs_last_error());
            vs_log(VS_LOG_WARNING, "%s: training %s on %zu vectors failed (%s); staying exact", c->dir, c->factory, n, why);
            return vs_fail(rc, "%s: training %s failed: %s", c->dir, c->factory, why);
        }
        c->delta = fresh;
        pthread_mutex_unlock(&c->write_mu);
        rc = delta_apply(c, ix, d);
        delta_free(d);
        pthread_mutex_lock(&c->write_mu);
        if (rc) c->delta->broken = 1;
        pthread_mutex_unlock(&c->write_mu);
        rc = VS_OK;
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
static int scratch_payload_indexes(vs_collection *c, vs_collection *s)
{
    size_t n = 0;
    int rc = vs_collection_payload_indexes(c, NULL, 0, &n);
    vs_payload_index_info *info = rc || !n ? NULL : calloc(n, sizeof *info);
    if (!rc && n && !info) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    size_t now = 0;
    if (!rc && n) rc = vs_collection_payload_indexes(c, info, n, &now);
    for (size_t i = 0; !rc && info && i < n && i < now; i++) /* declared meanwhile: the next snapshot */
        if (!vs_payload_index(&s->payload, info[i].field))
            rc = vs_collection_payload_declare(s, info[i].field, info[i].type, info[i].automatic);
    free(info);
    return rc;
}

static int snapshot_run(vs_collection *c) /* maint_mu held */
{
    pthread_mutex_lock(&c->write_mu);
    int failed = c->log_failed;
    uint64_t S = c->generation, L = c->log_gen;
    pthread_mutex_unlock(&c->write_mu);
    if (failed)
        return vs_fail(VS_ERR_IO, "%s: an earlier log write failed; reopen the collection before a snapshot", c->dir);
    char path[4200];
    vs_collection_path(c, path, sizeof path, "wal", L + 1);
    unlink(path); /* a leftover of a snapshot that failed before it switched logs */
    vs_wal *nw = NULL;
    int rc = vs_wal_open(path, L + 1, NULL, NULL, &nw, NULL);
    if (rc) return rc;

    /* Switch logs: from here on writers append to the new one. */
    pthread_mutex_lock(&c->write_mu);
    vs_wal **r = realloc(c->retired, (c->n_retired + 1) * sizeof *r);
    if (r) {
        c->retired = r;
        r[c->n_retired++] = c->wal;
        c->wal = nw;
        c->log_gen = L + 1;
    }
    vs_wal *old = r ? r[c->n_retired - 1] : NULL;
    pthread_mutex_unlock(&c->write_mu);
    if (!r) {
        vs_wal_close(nw);
        unlink(path);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    /* Everything appended to the old log is now durable (its writers apply it) or failed. */
    rc = vs_wal_retire(old);
    if (rc) {
        pthread_mutex_lock(&c->write_mu);
        c->log_failed = 1;
        pthread_mutex_unlock(&c->write_mu);
        return rc;
    }
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

    pthread_mutex_lock(&c->write_mu);
    c->generation = L + 1;
    vs_collection_refresh_info(c);
    pthread_mutex_unlock(&c->write_mu);
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
    m->kick = 1;
    pthread_cond_signal(&m->cv);
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

/* Background priority (nice + 10, as RocksDB's low-priority pool): on a busy machine the
 * requests' threads get the CPU first and maintenance takes longer, not them. Linux applies
 * nice per thread; the training's worker threads inherit it. */
static void lower_priority(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0 && cur < 19) setpriority(PRIO_PROCESS, (id_t)tid, cur + 10 > 19 ? 19 : cur + 10);
}

static void *maint_main(void *arg)
{
    vs_collection *c = arg;
    struct vs_maint *m = c->maint;
    double last_snapshot = now_s(), failed_at = -1e9;
    lower_priority();
    uint32_t poll = m->policy.poll_ms ? m->policy.poll_ms : 200;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        if (!m->kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(poll % 1000) * 1000000L;
            ts.tv_sec += poll / 1000 + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&m->cv, &m->mu, &ts);
        }
        m->kick = 0;
        if (m->stop) break;
        long want = m->requested;
        if (want > m->done) {
            /* Asked for (vs_collection_snapshot): every request made before this point. */
            pthread_mutex_unlock(&m->mu);
            pthread_mutex_lock(&c->maint_mu);
            int rc = snapshot_run(c);
            pthread_mutex_unlock(&c->maint_mu);
            last_snapshot = now_s();
            pthread_mutex_lock(&m->mu);
            m->done = want;
            m->rc = rc;
            snprintf(m->err, sizeof m->err, "%s", rc ? vs_last_error() : "");
            pthread_cond_broadcast(&m->done_cv);
            continue;
        }
        pthread_mutex_unlock(&m->mu);
        if (now_s() - failed_at >= RETRY_AFTER_FAILURE_S &&
            maintain(c, log_threshold(c, m), m->policy.snapshot_interval_s, &last_snapshot)) {
            vs_log(VS_LOG_WARNING, "%s: maintenance: %s (retrying in %.0f s)", c->dir, vs_last_error(), RETRY_AFTER_FAILURE_S);
            failed_at = now_s();
        }
        pthread_mutex_lock(&m->mu);
    }
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

int vs_collection_start_maintenance(vs_collection *c, const vs_maintenance_policy *policy)
{
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    VS_READ_OPTIONS(vs_maintenance_policy, given, policy, VS_MAINTENANCE_POLICY_V1);
    struct vs_maint *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_NOMEM, "out of memory");
    m->policy = given;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    pthread_cond_init(&m->done_cv, NULL);
    m->kick = 1; /* look once at start: an opened collection may be due already */
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
    if (rc) {
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        pthread_cond_destroy(&m->done_cv);
        free(m);
    }
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
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
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
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    pthread_cond_destroy(&m->done_cv);
    free(m);
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
