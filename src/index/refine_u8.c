/* ",Ru8": any base index followed by re-ranking on the original uint8 vectors, kept on disk
 * in a store file of their own (rerank_u8.h) and read in batches of queries (io_uring, or
 * WILLNEED hints + pread; two batches pipelined: see vs_refine_u8_search_io), so RAM holds
 * only the base index. Search asks the base for k * k_factor candidates (k_factor 0 means 10: the
 * base is typically 4-bit fast-scan, and a read costs little next to a recall point) and keeps
 * the best k by their exact keys from the store.
 *
 * Ownership: the index owns its store file. vs_index_create makes a new empty one at
 * vs_index_options.refine_store (replacing a file there); adds append to it; vs_index_save
 * commits it (its rows made durable, then its header) before writing the index file, which
 * records the store's name, rows and checksum in a RU8S section: the name relative to the
 * index file's directory when the store is in it (a directory moves as a whole), else
 * absolute. Load and view open the store named there (read-write when the file allows, so
 * the index can grow; read-only otherwise) and use the rows the index was saved with; a
 * first add cuts off rows appended after that save. Two open indexes must not add to one
 * store.
 *
 * Rows are IDs: row r of the store holds the vector of ID r, so adds take automatic IDs (or
 * the same ones given explicitly) and their values must be integers 0..255. Removes remove
 * from the base only (the row stays, unreachable). l2 and ip; not cosine (the rows are not
 * normalised). Not under "Shards{n}," (each shard would need a store of its own).
 *
 * RU8S (not bulk): u32 layout (1) | u32 dim | u64 rows | u64 XXH3-64 of the rows' bytes |
 * u32 name length | u32 0 | the name (no NUL). */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/validate.h"
#include "index/index_impl.h"
#include "index/rerank_u8.h"
#include "io/container.h"
#include "kernels/topk.h"

#define TAG_RU8S VS_TAG('R', 'U', '8', 'S')
enum { RU8S_FIXED = 32, RU8S_LAYOUT = 1 };
#define RU8_DEFAULT_K_FACTOR 10.0f

typedef struct {
    vs_index *base;
    vs_ru8_store store; /* fd -1 until created or opened */
} ru8;

static ru8 *ru8_of(const vs_index *ix) { return ix->impl; }

static int make_base(const vs_index *ix, vs_index **out)
{
    vs_factory_spec base = ix->spec;
    base.refine_u8 = 0;
    char name[64];
    vs_factory_format(&base, name, sizeof name);
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = ix->dim, .metric = ix->metric,
                          .factory = name, .n_threads = ix->n_threads, .ef_construction = ix->ef_construction,
                          .seed = ix->seed};
    return vs_index_create(&o, out);
}

static int ru8_init(vs_index *ix)
{
    if (ix->metric == VS_METRIC_COSINE)
        return vs_fail(VS_ERR_UNSUPPORTED, "\"%s\": re-ranking on uint8 vectors supports l2 and ip, not cosine", ix->factory);
    if (!ix->refine_store && !ix->opening)
        return vs_fail(VS_ERR_INVALID_ARG, "\"%s\" keeps its uint8 vectors in a file: set vs_index_options.refine_store",
                       ix->factory);
    ru8 *r = calloc(1, sizeof *r);
    if (!r) return vs_fail(VS_ERR_NOMEM, "out of memory");
    r->store.fd = -1;
    int rc = make_base(ix, &r->base);
    if (!rc && ix->refine_store) rc = vs_ru8_create(&r->store, ix->refine_store, ix->dim);
    if (rc) {
        vs_index_free(r->base);
        free(r);
        return rc;
    }
    ix->impl = r;
    ix->trained = r->base->trained;
    return VS_OK;
}

static void ru8_destroy(vs_index *ix)
{
    ru8 *r = ru8_of(ix);
    if (!r) return;
    vs_index_free(r->base);
    vs_ru8_close(&r->store);
    free(r);
}

static int ru8_train(vs_index *ix, size_t n, const float *x)
{
    ru8 *r = ru8_of(ix);
    r->base->n_threads = ix->n_threads;
    int rc = vs_index_train(r->base, n, x);
    if (!rc) ix->trained = r->base->trained;
    return rc;
}

static int ru8_add(vs_index *ix, size_t n, const float *x, const int64_t *ids)
{
    ru8 *r = ru8_of(ix);
    r->base->n_threads = ix->n_threads; /* a loaded index's threads are set on the outer one */
    vs_ru8_store *s = &r->store;
    for (size_t i = 0; i < n; i++)
        if (ids[i] != (int64_t)(s->rows + i))
            return vs_fail(VS_ERR_INVALID_ARG, "\"%s\": row %zu has id %lld, but the store's next row is %llu (ids are "
                           "rows: leave ids NULL)", ix->factory, i, (long long)ids[i],
                           (unsigned long long)(s->rows + i));
    const size_t d = ix->dim;
    uint8_t *u = malloc(n * d);
    if (!u) return vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < n * d; j++) {
        float v = x[j];
        if (!(v >= 0 && v <= 255) || v != (float)(int)v) {
            free(u);
            return vs_fail(VS_ERR_INVALID_ARG, "\"%s\": vector %zu holds %g at dimension %zu; the store keeps uint8 "
                           "values (integers 0..255)", ix->factory, j / d, (double)v, j % d);
        }
        u[j] = (uint8_t)v;
    }
    int rc = vs_index_add(r->base, n, x, ids);
    if (!rc) {
        rc = vs_ru8_append(s, u, n);
        if (rc) { /* keep the two in step: undo the base's half */
            char msg[256];
            snprintf(msg, sizeof msg, "%s", vs_last_error());
            size_t gone;
            r->base->ops->remove(r->base, n, ids, &gone);
            rc = vs_fail(rc, "%s", msg);
        }
    }
    free(u);
    return rc;
}

static int ru8_remove(vs_index *ix, size_t n, const int64_t *ids, size_t *n_removed)
{
    return ru8_of(ix)->base->ops->remove(ru8_of(ix)->base, n, ids, n_removed);
}

static int ru8_get(const vs_index *ix, int64_t id, float *out)
{
    const ru8 *r = ru8_of(ix);
    /* A removed ID's row is still in the store: the base says whether the ID is there. */
    int rc = r->base->ops->get(r->base, id, out);
    if (rc) return rc;
    uint8_t *u = malloc(ix->dim);
    if (!u) return vs_fail(VS_ERR_NOMEM, "out of memory");
    rc = vs_ru8_row(&r->store, id, u);
    for (uint32_t t = 0; !rc && t < ix->dim; t++) out[t] = u[t];
    free(u);
    return rc;
}

/* Candidates for batch after batch of queries, the batches' store reads alternating between
 * two vs_ru8_batch: a batch's reads are issued right after its scan and waited for only
 * after the next batch's scan, so a cold disk works while the CPU scans. */
int vs_refine_u8_search_io(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                           uint32_t batch, vs_bread_mode io, vs_ru8_progress progress, void *ctx, float *keys,
                           int64_t *ids)
{
    if (!ix || ix->ops != &vs_refine_u8_ops) return vs_fail(VS_ERR_INVALID_ARG, "not a \",Ru8\" index");
    const ru8 *r = ru8_of(ix);
    if (k == 0 || k > VS_MAX_K) return vs_fail(VS_ERR_INVALID_ARG, "k = %u is not in 1..%u", k, VS_MAX_K);
    if (!batch) return vs_fail(VS_ERR_INVALID_ARG, "re-ranking batch of 0 queries");
    if (!nq) return VS_OK;
    int rc = vs_check_finite(q, nq, ix->dim, "query");
    if (rc) return rc;
    if (!r->base->trained) return vs_fail(VS_ERR_NOT_TRAINED, "index \"%s\" must be trained before searching", ix->factory);
    if (r->base->ops->size(r->base) == 0) return vs_fail(VS_ERR_EMPTY, "the index is empty: add vectors before searching");
    float kf = p && p->k_factor > 0 ? p->k_factor : RU8_DEFAULT_K_FACTOR;
    if (kf < 1) kf = 1;
    double want = (double)k * kf;
    uint32_t kc = want > VS_MAX_K ? VS_MAX_K : (uint32_t)want;
    if (kc < k) kc = k;
    unsigned threads = p && p->n_threads > 1 ? p->n_threads : 1;
    if (batch > nq) batch = (uint32_t)nq;
    const size_t d = ix->dim;
    vs_ru8_batch *b[2] = {NULL, NULL};
    float *ckeys = malloc((size_t)batch * kc * sizeof *ckeys);
    int64_t *cids = malloc((size_t)batch * kc * sizeof *cids);
    rc = ckeys && cids ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for %u re-ranking candidates", kc);
    for (int j = 0; j < 2 && !rc; j++) rc = vs_ru8_batch_create(&r->store, batch, kc, io, &b[j]);
    if (!rc && progress) progress(ctx, 0, vs_ru8_batch_io(b[0]));
    size_t prev = 0;
    for (size_t i = 0, c = 0; i < nq && !rc; i += batch, c++) {
        size_t n = nq - i < batch ? nq - i : batch;
        const float *qi = q + i * d;
        rc = r->base->ops->search_candidates ? r->base->ops->search_candidates(r->base, n, qi, kc, p, ckeys, cids)
                                             : r->base->ops->search(r->base, n, qi, kc, p, ckeys, cids);
        if (!rc) rc = vs_ru8_batch_start(b[c & 1], n, cids);
        if (!rc && c)
            rc = vs_ru8_batch_finish(b[(c - 1) & 1], ix->metric, q + prev * d, k, threads, keys + prev * k,
                                     ids + prev * k);
        if (!rc && i + n == nq)
            rc = vs_ru8_batch_finish(b[c & 1], ix->metric, qi, k, threads, keys + i * k, ids + i * k);
        prev = i;
        if (!rc && progress) progress(ctx, i + n, NULL);
    }
    vs_ru8_batch_free(b[0]); /* waits for reads still in flight after an error */
    vs_ru8_batch_free(b[1]);
    free(ckeys);
    free(cids);
    return rc;
}

static int ru8_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                      float *keys, int64_t *ids)
{
    return vs_refine_u8_search_io(ix, nq, q, k, p, VS_RU8_BATCH, VS_BREAD_AUTO, NULL, NULL, keys, ids);
}

static int ru8_range(const vs_index *ix, size_t nq, const float *q, float key_radius, const vs_search_params *p,
                     vs_range_result **out)
{
    /* Candidates by the base's estimate, kept by their exact key. */
    const ru8 *r = ru8_of(ix);
    vs_range_result *c = NULL;
    int rc = r->base->ops->range_search(r->base, nq, q, key_radius, p, &c);
    if (rc) return rc;
    uint8_t *u = malloc(ix->dim);
    if (!u) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i < nq && !rc; i++) {
        size_t from = c->lims[i], to = c->lims[i + 1];
        c->lims[i] = at;
        for (size_t j = from; j < to && !rc; j++) {
            rc = vs_ru8_row(&r->store, c->ids[j], u);
            float key = rc ? 0 : vs_ru8_key(ix->metric, q + i * ix->dim, u, ix->dim);
            if (!rc && key < key_radius) {
                c->ids[at] = c->ids[j];
                c->distances[at++] = key;
            }
        }
        vs_pairs_sort(c->distances + c->lims[i], c->ids + c->lims[i], at - c->lims[i]);
    }
    free(u);
    if (rc) {
        vs_range_result_free(c);
        return rc;
    }
    c->lims[nq] = at;
    *out = c;
    return VS_OK;
}

static size_t ru8_size(const vs_index *ix) { return ru8_of(ix)->base->ops->size(ru8_of(ix)->base); }
static size_t ru8_memory(const vs_index *ix) { return sizeof(ru8) + vs_index_memory_bytes(ru8_of(ix)->base); }
/* RAM per vector: the base's code (the uint8 vector is on disk). */
static size_t ru8_code_size(const vs_index *ix) { return vs_index_code_size(ru8_of(ix)->base); }

/* The store's name as the index file records it. */
static void store_name(const char *store, const char *index_file, char *out, size_t cap)
{
    char sdir[4200], idir[4200], sreal[PATH_MAX], ireal[PATH_MAX], tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", store);
    snprintf(sdir, sizeof sdir, "%s", dirname(tmp));
    snprintf(tmp, sizeof tmp, "%s", store);
    if (!realpath(sdir, sreal)) {
        snprintf(out, cap, "%s", store);
        return;
    }
    if (index_file) {
        snprintf(tmp, sizeof tmp, "%s", index_file);
        snprintf(idir, sizeof idir, "%s", dirname(tmp));
        if (realpath(idir, ireal) && !strcmp(ireal, sreal)) {
            snprintf(tmp, sizeof tmp, "%s", store);
            snprintf(out, cap, "%s", basename(tmp));
            return;
        }
    }
    snprintf(tmp, sizeof tmp, "%s", store);
    snprintf(out, cap, "%s/%s", sreal, basename(tmp));
}

static int ru8_save(const vs_index *ix, vs_container_writer *w)
{
    ru8 *r = ru8_of(ix);
    int rc = vs_ru8_commit(&r->store);
    if (rc) return rc;
    rc = r->base->ops->save(r->base, w);
    if (rc) return rc;
    char name[4200];
    store_name(r->store.path, vs_container_target(w), name, sizeof name);
    uint32_t nlen = (uint32_t)strlen(name), layout = RU8S_LAYOUT, dim = ix->dim, zero = 0;
    /* The checksum of the rows this index holds: the store's header describes the same rows
     * after the commit above. */
    uint64_t rows = r->store.rows, sum = r->store.data_checksum;
    uint8_t head[RU8S_FIXED];
    memcpy(head, &layout, 4);
    memcpy(head + 4, &dim, 4);
    memcpy(head + 8, &rows, 8);
    memcpy(head + 16, &sum, 8);
    memcpy(head + 24, &nlen, 4);
    memcpy(head + 28, &zero, 4);
    const void *parts[2] = {head, name};
    const uint64_t lens[2] = {RU8S_FIXED, nlen};
    return vs_container_add_parts(w, TAG_RU8S, 0, parts, lens, 2);
}

/* Opens the named store: read-write when the file allows it, else read-only. */
static int open_store(vs_ru8_store *s, const char *path, uint64_t rows)
{
    return vs_ru8_open(s, path, rows, access(path, W_OK) == 0);
}

static int ru8_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin)
{
    ru8 *r = ru8_of(ix);
    int rc = r->base->ops->load(r->base, c, ntotal, origin);
    if (rc) return rc;
    uint64_t len;
    const uint8_t *m = vs_container_find(c, TAG_RU8S, &len);
    uint32_t layout = 0, dim = 0, nlen = 0;
    uint64_t rows = 0, sum = 0;
    if (m && len >= RU8S_FIXED) {
        memcpy(&layout, m, 4);
        memcpy(&dim, m + 4, 4);
        memcpy(&rows, m + 8, 8);
        memcpy(&sum, m + 16, 8);
        memcpy(&nlen, m + 24, 4);
    }
    if (!m || len < RU8S_FIXED || nlen == 0 || nlen >= 4096 || len != RU8S_FIXED + nlen)
        return vs_fail(VS_ERR_CORRUPT, "%s: missing or malformed RU8S section (the re-ranking store's name)", origin);
    if (layout != RU8S_LAYOUT)
        return vs_fail(VS_ERR_VERSION, "%s: RU8S layout %u (this vecscale reads %u)", origin, layout, RU8S_LAYOUT);
    if (dim != ix->dim || rows < ntotal)
        return vs_fail(VS_ERR_CORRUPT, "%s: RU8S names %llu rows of %u for an index of %llu vectors of %u", origin,
                       (unsigned long long)rows, dim, (unsigned long long)ntotal, ix->dim);
    char name[4096], path[8300];
    memcpy(name, m + RU8S_FIXED, nlen);
    name[nlen] = '\0';
    /* A relative name is beside the index file (a buffer has no file: the current directory). */
    if (name[0] != '/' && ix->opening && ix->opening[0]) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s", ix->opening);
        snprintf(path, sizeof path, "%s/%s", dirname(tmp), name);
    } else {
        snprintf(path, sizeof path, "%s", name);
    }
    rc = open_store(&r->store, path, rows);
    if (!rc && r->store.dim != ix->dim)
        rc = vs_fail(VS_ERR_CORRUPT, "%s holds rows of %u bytes, the index %s vectors of %u", path, r->store.dim,
                     origin, ix->dim);
    else if (!rc && rows == r->store.committed && sum != r->store.data_checksum)
        rc = vs_fail(VS_ERR_CORRUPT, "%s is not the store %s was saved with (checksum differs)", path, origin);
    /* The store committed more rows since: what a verify checks is this index's part. */
    if (!rc) r->store.data_checksum = sum;
    if (rc) vs_ru8_close(&r->store);
    return rc;
}

const vs_index_ops vs_refine_u8_ops = {
    .name = "RefineU8",
    .init = ru8_init,
    .destroy = ru8_destroy,
    .train = ru8_train,
    .add = ru8_add,
    .remove = ru8_remove,
    .get = ru8_get,
    .search = ru8_search,
    .range_search = ru8_range,
    .size = ru8_size,
    .memory_bytes = ru8_memory,
    .code_size = ru8_code_size,
    .save = ru8_save,
    .load = ru8_load,
};

const vs_ru8_store *vs_refine_u8_store(const vs_index *ix)
{
    return ix && ix->ops == &vs_refine_u8_ops ? &ru8_of(ix)->store : NULL;
}

int vs_refine_u8_attach(vs_index *base, const char *store_path, vs_index **out)
{
    *out = NULL;
    char factory[64];
    if (snprintf(factory, sizeof factory, "%s,Ru8", base->factory) >= (int)sizeof factory)
        return vs_fail(VS_ERR_INVALID_ARG, "factory string too long");
    vs_index_options o = {.struct_size = sizeof o, .dim = base->dim, .metric = base->metric, .factory = factory};
    vs_index *ix;
    int rc = vs_index_create_opening(&o, "", &ix);
    if (rc) return rc;
    ru8 *r = ru8_of(ix);
    rc = vs_ru8_open(&r->store, store_path, 0, 0); /* the old layout's index file cannot record more rows */
    if (!rc && (r->store.dim != base->dim || r->store.rows != vs_index_size(base)))
        rc = vs_fail(VS_ERR_CORRUPT, "%s holds %llu rows of %u but the index %zu of %u", store_path,
                     (unsigned long long)r->store.rows, r->store.dim, vs_index_size(base), base->dim);
    if (rc) {
        vs_index_free(ix);
        return rc;
    }
    vs_index_free(r->base);
    r->base = base;
    ix->trained = base->trained;
    ix->next_id = base->next_id;
    *out = ix;
    return VS_OK;
}
