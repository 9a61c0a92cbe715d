/* Collection lifecycle and reads: create, open (snapshot + log replay), search, documents. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collection/collection_impl.h"
#include "core/error.h"
#include "core/options.h"

void vs_collection_path(const vs_collection *c, char *buf, size_t cap, const char *kind, uint64_t generation)
{
    if (!strcmp(kind, "index"))
        snprintf(buf, cap, "%s/index-%llu.vsi", c->dir, (unsigned long long)generation);
    else if (!strcmp(kind, "wal"))
        snprintf(buf, cap, "%s/wal-%llu.log", c->dir, (unsigned long long)generation);
    else if (!strcmp(kind, "payload"))
        snprintf(buf, cap, "%s/payload-%llu.vsp", c->dir, (unsigned long long)generation);
    else
        snprintf(buf, cap, "%s/%s", c->dir, VS_COLLECTION_FILE);
}

static int mkdirs(const char *dir)
{
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p) return vs_fail(VS_ERR_INVALID_ARG, "bad collection directory '%s'", dir);
    memcpy(p, dir, n + 1);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST) return vs_fail(VS_ERR_IO, "mkdir %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) && errno != EEXIST) return vs_fail(VS_ERR_IO, "mkdir %s: %s", p, strerror(errno));
    return VS_OK;
}

static vs_collection *alloc_collection(const char *dir)
{
    vs_collection *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->lock_fd = -1;
    if (!(c->dir = strdup(dir))) {
        free(c);
        return NULL;
    }
    size_t n = strlen(c->dir);
    while (n > 1 && c->dir[n - 1] == '/') c->dir[--n] = 0;
    /* Writer preference: a waiting chunk write is not starved by a stream of searches. */
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->index_rw, &a);
    pthread_rwlock_init(&c->docs_rw, &a);
    pthread_rwlock_init(&c->payload_rw, &a);
    pthread_rwlockattr_destroy(&a);
    pthread_mutex_init(&c->write_mu, NULL);
    pthread_mutex_init(&c->info_mu, NULL);
    pthread_mutex_init(&c->maint_mu, NULL);
    pthread_mutex_init(&c->builder_mu, NULL);
    pthread_mutex_init(&c->fcache_mu, NULL);
    atomic_init(&c->auto_index, 1);
    if (vs_docstore_init(&c->docs, 0) || vs_keymap_init(&c->keys) || vs_idmap_init(&c->pending, 0) ||
        vs_payload_init(&c->payload)) {
        vs_docstore_destroy(&c->docs);
        vs_keymap_destroy(&c->keys);
        vs_idmap_destroy(&c->pending);
        free(c->dir);
        free(c);
        return NULL;
    }
    return c;
}

/* Two processes appending to one log would corrupt it: the second one is refused. */
static int lock_dir(vs_collection *c)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/LOCK", c->dir);
    c->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->lock_fd < 0) {
        if (errno == ENOENT) return vs_fail(VS_ERR_NOT_FOUND, "%s holds no collection (no %s)", c->dir, VS_COLLECTION_FILE);
        return vs_fail(VS_ERR_IO, "open %s: %s", p, strerror(errno));
    }
    if (flock(c->lock_fd, LOCK_EX | LOCK_NB))
        return vs_fail(VS_ERR_IO, "collection %s is in use by another process (%s)", c->dir, strerror(errno));
    return VS_OK;
}

static void free_collection(vs_collection *c)
{
    vs_maint_free(c);
    vs_idmap_destroy(&c->pending);
    pthread_mutex_destroy(&c->maint_mu);
    if (c->lock_fd >= 0) close(c->lock_fd);
    vs_index_free(c->index);
    vs_docstore_destroy(&c->docs);
    vs_keymap_destroy(&c->keys);
    vs_collection_fcache_clear(c);
    vs_payload_destroy(&c->payload);
    for (size_t i = 0; i < c->n_retired; i++) vs_wal_close(c->retired[i]);
    free(c->retired);
    pthread_rwlock_destroy(&c->index_rw);
    pthread_rwlock_destroy(&c->docs_rw);
    pthread_rwlock_destroy(&c->payload_rw);
    pthread_mutex_destroy(&c->builder_mu);
    pthread_mutex_destroy(&c->fcache_mu);
    pthread_mutex_destroy(&c->write_mu);
    pthread_mutex_destroy(&c->info_mu);
    free(c->dir);
    free(c);
}

/* Decides how the collection writes: HNSW inserts beside searches; an untrained IVF index
 * waits behind a Flat stand-in until train_min vectors arrived. */
static int setup_index_kind(vs_collection *c)
{
    vs_factory_spec spec = {.struct_size = sizeof spec};
    int rc = vs_factory_parse(c->factory, &spec);
    if (rc) return rc;
    c->hnsw = spec.coarse == VS_COARSE_HNSW && !spec.shards && !c->staging; /* sharded: writes take index_rw */
    if (c->train_min == 0) c->train_min = spec.coarse == VS_COARSE_IVF ? 39 * spec.nlist : 1000;
    return VS_OK;
}

static int new_index(const vs_collection *c, const char *factory, vs_index **out)
{
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = c->dim, .metric = c->metric, .factory = factory, .n_threads = c->n_threads};
    return vs_index_create(&o, out);
}

static int create_collection(const char *dir, const vs_collection_options *opts, vs_index *given, vs_collection **out);

int vs_collection_create(const char *dir, const vs_collection_options *opts, vs_collection **out)
{
    return create_collection(dir, opts, NULL, out);
}

void vs_collection_options_init(vs_collection_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->snapshot_log_bytes = 64ull << 20;
}

int vs_collection_create_with_index(const char *dir, const vs_collection_options *caller_opts, vs_index *index,
                                    vs_collection **out)
{
    if (!index || !caller_opts) return vs_fail(VS_ERR_INVALID_ARG, "index and options must not be NULL");
    VS_READ_OPTIONS(vs_collection_options, given, caller_opts, VS_COLLECTION_OPTIONS_V1);
    const vs_collection_options *opts = &given;
    if (!vs_index_is_trained(index) || vs_index_size(index))
        return vs_fail(VS_ERR_INVALID_ARG, "a collection starts from a trained, empty index (this one is %s, %zu vectors)",
                       vs_index_is_trained(index) ? "trained" : "untrained", vs_index_size(index));
    if (vs_index_dim(index) != opts->dim || vs_index_metric(index) != opts->metric)
        return vs_fail(VS_ERR_INVALID_ARG, "the index is %u-dimensional %s, the options say %u-dimensional %s",
                       vs_index_dim(index), vs_metric_name(vs_index_metric(index)), opts->dim, vs_metric_name(opts->metric));
    return create_collection(dir, opts, index, out);
}

/* given: a trained, empty index the collection takes over on success (NULL = make one). */
static int create_collection(const char *dir, const vs_collection_options *caller_opts, vs_index *given,
                             vs_collection **out)
{
    if (!dir || !caller_opts || !out)
        return vs_fail(VS_ERR_INVALID_ARG, "directory, options and out must not be NULL");
    VS_READ_OPTIONS(vs_collection_options, read, caller_opts, VS_COLLECTION_OPTIONS_V1);
    const vs_collection_options *opts = &read;
    const char *factory = opts->factory ? opts->factory : "Flat";
    const char *model = opts->model ? opts->model : "";
    if (strlen(factory) >= 64 || strlen(model) >= 256)
        return vs_fail(VS_ERR_INVALID_ARG, "the factory string must be shorter than 64 bytes and the model name than 256");
    if (opts->n_payload_indexes && !opts->payload_indexes)
        return vs_fail(VS_ERR_INVALID_ARG, "n_payload_indexes is %zu but payload_indexes is NULL", opts->n_payload_indexes);
    for (size_t i = 0; i < opts->n_payload_indexes; i++) {
        const vs_payload_index_spec *ps = &opts->payload_indexes[i];
        size_t fl = ps->field ? strlen(ps->field) : 0;
        if (!fl || fl >= VS_PAYLOAD_FIELD_MAX || ps->type < VS_PAYLOAD_KEYWORD || ps->type > VS_PAYLOAD_BOOL)
            return vs_fail(VS_ERR_INVALID_ARG, "payload index %zu: a field name of 1 to %d bytes and a type (keyword, integer, float, bool)",
                           i, VS_PAYLOAD_FIELD_MAX - 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(opts->payload_indexes[j].field, ps->field) && opts->payload_indexes[j].type != ps->type)
                return vs_fail(VS_ERR_INVALID_ARG, "payload indexes %zu and %zu give field '%s' two types", j, i, ps->field);
    }
    int rc = mkdirs(dir);
    if (rc) return rc;
    vs_collection *c = alloc_collection(dir);
    if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
    char path[4200];
    vs_collection_path(c, path, sizeof path, "conf", 0);
    rc = lock_dir(c);
    if (rc) {
        free_collection(c);
        return rc;
    }
    if (access(path, F_OK) == 0) {
        free_collection(c);
        return vs_fail(VS_ERR_INVALID_ARG, "%s already holds a collection", dir);
    }
    c->dim = opts->dim;
    c->metric = opts->metric;
    snprintf(c->factory, sizeof c->factory, "%s", factory);
    snprintf(c->model, sizeof c->model, "%s", model);
    c->train_min = opts->train_min;
    c->n_threads = opts->n_threads;
    c->snapshot_log_bytes = opts->snapshot_log_bytes ? opts->snapshot_log_bytes : 64ull << 20;
    c->generation = c->log_gen = 1;
    if (given) c->index = given;
    else rc = new_index(c, factory, &c->index);
    if (!rc) {
        snprintf(c->factory, sizeof c->factory, "%s", vs_index_factory(c->index));
        if (!vs_index_is_trained(c->index)) {
            vs_index_free(c->index);
            c->index = NULL;
            c->staging = 1;
            rc = new_index(c, "Flat", &c->index);
        }
    }
    if (!rc) rc = setup_index_kind(c);
    atomic_store(&c->auto_index, !opts->no_auto_index);
    for (size_t i = 0; !rc && i < opts->n_payload_indexes; i++)
        rc = vs_collection_payload_declare(c, opts->payload_indexes[i].field, opts->payload_indexes[i].type, 0);
    if (!rc) rc = vs_collection_write_snapshot(c, 1);
    if (!rc) {
        vs_collection_path(c, path, sizeof path, "wal", 1);
        unlink(path); /* a leftover of an earlier, interrupted create */
        rc = vs_wal_open(path, 1, NULL, NULL, &c->wal, NULL);
    }
    if (rc) {
        if (given && c->index == given) c->index = NULL; /* the caller keeps it */
        free_collection(c);
        return rc;
    }
    vs_collection_refresh_info(c);
    *out = c;
    return VS_OK;
}

/* Removes files of other generations and temporary files an interrupted snapshot left. */
static void remove_stale_files(vs_collection *c)
{
    DIR *d = opendir(c->dir);
    if (!d) return;
    char keep_index[64], keep_payload[64];
    snprintf(keep_index, sizeof keep_index, "index-%llu.vsi", (unsigned long long)c->generation);
    snprintf(keep_payload, sizeof keep_payload, "payload-%llu.vsp", (unsigned long long)c->generation);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        /* The logs generation .. log_gen are replayed (a snapshot in progress had started
         * the later ones); any other is stale. */
        unsigned long long g = 0;
        char tail[8] = "";
        int chain = sscanf(n, "wal-%llu.%7s", &g, tail) == 2 && !strcmp(tail, "log") && g >= c->generation &&
                    g <= c->log_gen;
        int ours = (!strncmp(n, "index-", 6) && strcmp(n, keep_index)) ||
                   (!strncmp(n, "wal-", 4) && !chain) ||
                   (!strncmp(n, "payload-", 8) && strcmp(n, keep_payload)) || strstr(n, ".tmp.");
        if (!ours) continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", c->dir, n);
        unlink(p);
    }
    closedir(d);
}

int vs_collection_open(const char *dir, vs_collection **out)
{
    if (!dir || !out) return vs_fail(VS_ERR_INVALID_ARG, "directory and out must not be NULL");
    vs_collection *c = alloc_collection(dir);
    if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
    char conf[4200];
    vs_collection_path(c, conf, sizeof conf, "conf", 0);
    int rc = access(conf, F_OK) ? vs_fail(VS_ERR_NOT_FOUND, "%s holds no collection (no %s)", dir, VS_COLLECTION_FILE)
                                : lock_dir(c);
    if (!rc) rc = vs_collection_read_snapshot(c); /* config, documents, index */
    if (!rc) rc = vs_collection_payload_load(c);
    if (!rc) rc = setup_index_kind(c);
    if (!rc) {
        c->exclusive_write = c->hnsw;
        rc = vs_maint_replay_logs(c, 1, 0);
    }
    /* Indexes the snapshot caught mid-build. */
    if (!rc) rc = vs_collection_payload_build_all(c);
    /* Opening is no add request: a staging IVF index with enough vectors trains here (a
     * failure is logged and leaves it exact, as at the first try). */
    if (!rc && vs_maint_train(c)) vs_clear_error();
    if (rc) {
        if (c->wal) vs_wal_close(c->wal);
        c->wal = NULL;
        free_collection(c);
        return rc;
    }
    remove_stale_files(c);
    vs_collection_refresh_info(c);
    *out = c;
    return VS_OK;
}

int vs_collection_close(vs_collection *c)
{
    if (!c) return VS_OK;
    vs_maint_free(c); /* the maintenance thread first: it may be writing a snapshot */
    vs_collection_builder_stop(c);
    int rc = vs_wal_close(c->wal);
    free_collection(c);
    return rc;
}

int vs_collection_search(vs_collection *c, size_t nq, const float *queries, uint32_t k,
                         const vs_search_params *params, float *distances, int64_t *ids)
{
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    pthread_rwlock_rdlock(&c->index_rw);
    int rc;
    if (vs_index_size(c->index) == 0 && queries && distances && ids && k > 0) {
        /* An empty collection has no neighbours; that is an answer, not an error. */
        float none = c->metric == VS_METRIC_L2 ? INFINITY : -INFINITY;
        for (size_t i = 0; i < nq * k; i++) {
            distances[i] = none;
            ids[i] = -1;
        }
        rc = VS_OK;
    } else {
        rc = vs_index_search(c->index, nq, queries, k, params, distances, ids);
    }
    pthread_rwlock_unlock(&c->index_rw);
    return rc;
}

int vs_collection_get_vector(const vs_collection *cc, int64_t id, float *out)
{
    /* const: nothing the caller can observe changes; the locks taken are not state. */
    vs_collection *c = (vs_collection *)cc;
    if (!c || !out) return vs_fail(VS_ERR_INVALID_ARG, "collection and out must not be NULL");
    pthread_rwlock_rdlock(&c->index_rw);
    int rc = vs_index_get(c->index, id, out);
    pthread_rwlock_unlock(&c->index_rw);
    return rc;
}

int vs_collection_with_doc(const vs_collection *cc, int64_t id, vs_doc_fn fn, void *ctx)
{
    /* const: nothing the caller can observe changes; the locks taken are not state. */
    vs_collection *c = (vs_collection *)cc;
    if (!c || !fn) return vs_fail(VS_ERR_INVALID_ARG, "collection and callback must not be NULL");
    pthread_rwlock_rdlock(&c->docs_rw);
    const vs_doc *d = vs_docstore_get(&c->docs, id);
    if (d) fn(id, d->text, d->metadata, ctx);
    pthread_rwlock_unlock(&c->docs_rw);
    return d ? VS_OK : vs_fail(VS_ERR_NOT_FOUND, "no document with id %lld", (long long)id);
}

size_t vs_collection_size(const vs_collection *cc)
{
    /* const: nothing the caller can observe changes; the locks taken are not state. */
    vs_collection *c = (vs_collection *)cc;
    return c ? atomic_load(&c->count) : 0;
}

uint32_t vs_collection_dim(const vs_collection *c)
{
    return c ? c->dim : 0;
}

void vs_collection_refresh_info(vs_collection *c)
{
    vs_collection_info in;
    memset(&in, 0, sizeof in);
    in.dim = c->dim;
    in.metric = c->metric;
    in.trained = !c->staging;
    in.generation = c->generation;
    in.log_bytes = vs_wal_size(c->wal);
    in.log_syncs = vs_wal_sync_count(c->wal);
    /* vs_index_memory_bytes must not overlap an HNSW writer: the caller is the writer. */
    in.memory_bytes = vs_index_memory_bytes(c->index) + vs_docstore_memory(&c->docs) + vs_keymap_memory(&c->keys);
    pthread_rwlock_rdlock(&c->payload_rw);
    for (size_t i = 0; i < c->payload.n_ix; i++) in.memory_bytes += vs_pindex_memory(c->payload.ix[i]);
    pthread_rwlock_unlock(&c->payload_rw);
    snprintf(in.factory, sizeof in.factory, "%s", c->factory);
    snprintf(in.model, sizeof in.model, "%s", c->model);
    pthread_mutex_lock(&c->info_mu);
    c->info = in;
    pthread_mutex_unlock(&c->info_mu);
}

int vs_collection_info_get(const vs_collection *cc, vs_collection_info *out)
{
    /* const: nothing the caller can observe changes; the locks taken are not state. */
    vs_collection *c = (vs_collection *)cc;
    if (!c || !out) return vs_fail(VS_ERR_INVALID_ARG, "collection and out must not be NULL");
    /* The caller's struct may be shorter than ours (vecscale.h, "Options and result structs"). */
    size_t n = 0;
    int rc = vs_result_size(out, sizeof *out, VS_COLLECTION_INFO_V1, "vs_collection_info", &n);
    if (rc) return rc;
    pthread_mutex_lock(&c->info_mu);
    vs_collection_info in = c->info;
    pthread_mutex_unlock(&c->info_mu);
    in.count = atomic_load(&c->count);
    vs_result_write(out, &in, n);
    return VS_OK;
}

vs_collection *vs_collection_alloc(const char *dir)
{
    return alloc_collection(dir);
}

void vs_collection_free(vs_collection *c)
{
    free_collection(c);
}

int vs_collection_setup_kind(vs_collection *c)
{
    return setup_index_kind(c);
}
