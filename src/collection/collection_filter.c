/* Filtered search and counting: a filter is parsed and checked once per call, then either
 * compiled from payload indexes into a set of IDs (searched with a bitset filter, or exactly
 * over the set's vectors when the set is small) or evaluated per candidate document. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/collection_impl.h"
#include "collection/filter.h"
#include "core/error.h"
#include "core/options.h"

/* The exact path gathers the allowed vectors into a temporary Flat index; beyond this many
 * floats (256 MiB) the bitset filter on the collection's index is used instead. */
#define EXACT_MAX_FLOATS (64u << 20)
#define MAX_AUTO 8

/* --- per-document path ------------------------------------------------------------------ */

typedef struct {
    vs_collection *c;
    const vs_fnode *root;
} eval_ctx;

static int doc_passes(vs_collection *c, const vs_fnode *root, const vs_doc *d)
{
    cJSON *md = d && d->metadata ? cJSON_Parse(d->metadata) : NULL;
    int ok = d && vs_filter_eval(root, md);
    cJSON_Delete(md);
    return ok;
    (void)c;
}

static int eval_predicate(int64_t id, void *p)
{
    eval_ctx *e = p;
    pthread_rwlock_rdlock(&e->c->docs_rw);
    int ok = doc_passes(e->c, e->root, vs_docstore_get(&e->c->docs, id));
    pthread_rwlock_unlock(&e->c->docs_rw);
    return ok;
}

/* --- compiled filters and their cache ------------------------------------------------------ */

/* An indexed filter compiled at one payload version, shared by the calls that use it. */
typedef struct vs_fcache_entry {
    char *text;
    uint64_t version, last_use;
    atomic_int refs;           /* the cache's slot holds one */
    roaring_bitmap_t *set;
    uint64_t card;
    pthread_mutex_t mu;        /* builds the parts below once */
    uint8_t *bits;
    uint64_t n_bits;
    int subset_done, subset_rc;
    vs_index *subset;          /* Flat index of the set's vectors (exact path); NULL if none */
} vs_fcache_entry;

static void entry_release(vs_fcache_entry *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1) return;
    free(e->text);
    roaring_bitmap_free(e->set);
    free(e->bits);
    vs_index_free(e->subset);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static vs_fcache_entry *cache_get(vs_collection *c, const char *text, uint64_t version)
{
    vs_fcache_entry *e = NULL;
    pthread_mutex_lock(&c->fcache_mu);
    for (int i = 0; i < 4 && !e; i++) {
        vs_fcache_entry *x = c->fcache[i];
        if (x && x->version == version && !strcmp(x->text, text)) {
            e = x;
            atomic_fetch_add(&e->refs, 1);
            e->last_use = ++c->fcache_clock;
        }
    }
    pthread_mutex_unlock(&c->fcache_mu);
    return e;
}

/* Puts e in the slot of the same text or the least recently used one. */
static void cache_put(vs_collection *c, vs_fcache_entry *e)
{
    vs_fcache_entry *old = NULL;
    atomic_fetch_add(&e->refs, 1);
    pthread_mutex_lock(&c->fcache_mu);
    int slot = 0;
    for (int i = 0; i < 4; i++) {
        if (c->fcache[i] && !strcmp(c->fcache[i]->text, e->text)) {
            slot = i;
            break;
        }
        if (!c->fcache[i] || (c->fcache[slot] && c->fcache[i]->last_use < c->fcache[slot]->last_use)) slot = i;
    }
    old = c->fcache[slot];
    e->last_use = ++c->fcache_clock;
    c->fcache[slot] = e;
    pthread_mutex_unlock(&c->fcache_mu);
    entry_release(old);
}

void vs_collection_fcache_clear(vs_collection *c)
{
    for (int i = 0; i < 4; i++) {
        entry_release(c->fcache[i]);
        c->fcache[i] = NULL;
    }
}

typedef struct {
    vs_filter_tree tree;     /* per-document path */
    vs_fcache_entry *entry;  /* indexed path */
} compiled;

/* Fields without any index whose values suggest one, for the automatic builder. */
static void auto_candidates(const vs_fnode *n, const vs_payload *p, const char **names, vs_payload_type *types, size_t *m)
{
    for (size_t i = 0; i < n->n_kids; i++) auto_candidates(n->kids[i], p, names, types, m);
    if (!n->field || *m >= MAX_AUTO || vs_payload_index(p, n->field)) return;
    const vs_field_stat *f = vs_payload_field(p, n->field);
    vs_payload_type t = f ? vs_payload_suggest(f) : 0;
    if (!t) return;
    for (size_t j = 0; j < *m; j++)
        if (!strcmp(names[j], n->field)) return;
    names[*m] = n->field;
    types[(*m)++] = t;
}

static void fill_unindexed(vs_filter_report *r, const char *why)
{
    if (r) snprintf(r->unindexed, sizeof r->unindexed, "%s", why);
}

static int compile(vs_collection *c, const char *filter_json, compiled *out, vs_filter_report *report)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&c->payload_rw);
    uint64_t version = c->payload.version;
    pthread_rwlock_unlock(&c->payload_rw);
    if ((out->entry = cache_get(c, filter_json, version))) {
        if (report) {
            report->indexed = report->cached = 1;
            report->allowed = out->entry->card;
        }
        return VS_OK;
    }
    int rc = vs_filter_parse(filter_json, &out->tree);
    if (rc) return rc;
    const char *names[MAX_AUTO];
    vs_payload_type types[MAX_AUTO];
    size_t n_auto = 0;
    char unindexed[256] = "";
    roaring_bitmap_t *set = NULL;
    pthread_rwlock_rdlock(&c->payload_rw);
    version = c->payload.version;
    rc = vs_filter_check(&out->tree, &c->payload);
    size_t slow = rc ? 0 : vs_filter_unindexed(out->tree.root, &c->payload, unindexed, sizeof unindexed);
    if (!rc && c->payload.wide_ids) {
        fill_unindexed(report, "integer document ids of 2^31 or more (payload indexes key ids in 32 bits)");
    } else if (!rc && slow) {
        fill_unindexed(report, unindexed);
        if (atomic_load(&c->auto_index)) auto_candidates(out->tree.root, &c->payload, names, types, &n_auto);
    } else if (!rc) {
        set = vs_filter_compile(out->tree.root, &c->payload);
        if (!set) rc = vs_fail(VS_ERR_NOMEM, "out of memory compiling a filter");
    }
    pthread_rwlock_unlock(&c->payload_rw);
    if (!rc && set) {
        vs_fcache_entry *e = calloc(1, sizeof *e);
        char *text = strdup(filter_json);
        if (!e || !text) {
            free(e);
            free(text);
            roaring_bitmap_free(set);
            rc = vs_fail(VS_ERR_NOMEM, "out of memory compiling a filter");
        } else {
            e->text = text;
            e->version = version;
            e->set = set;
            e->card = roaring_bitmap_get_cardinality(set);
            pthread_mutex_init(&e->mu, NULL);
            atomic_init(&e->refs, 1);
            cache_put(c, e);
            out->entry = e;
        }
    }
    if (rc) {
        vs_filter_free(&out->tree);
        return rc;
    }
    /* names point into the filter's JSON, which lives until vs_filter_free. */
    if (n_auto) vs_collection_request_builds(c, names, types, n_auto);
    if (report && out->entry) {
        report->indexed = 1;
        report->allowed = out->entry->card;
    }
    return VS_OK;
}

static void compiled_free(compiled *cp)
{
    entry_release(cp->entry);
    vs_filter_free(&cp->tree);
}

/* --- searching an ID set ------------------------------------------------------------------ */

static void empty_rows(const vs_collection *c, size_t nq, uint32_t k, float *distances, int64_t *ids)
{
    float none = c->metric == VS_METRIC_L2 ? INFINITY : -INFINITY;
    for (size_t i = 0; i < nq * k; i++) {
        distances[i] = none;
        ids[i] = -1;
    }
}

typedef enum { PATH_BITSET, PATH_EXACT, PATH_POST } set_path;

/* By the set's size against the index: a filtered HNSW walk costs about ef * M0 /
 * selectivity distances (it must meet ef allowed nodes), a scan of the set costs |set| of
 * them (hnsw_search.c decides the same way, but scans every node); a set of >= 20% is
 * cheaper to find among an unfiltered search's 3k / selectivity best. An IVF search reads
 * nprobe of nlist lists; a Flat scan reads every row. */
/* Tests and benchmarks force a path: 1 bitset, 2 exact, 3 post-filter (0 = choose). */
int vs_collection_filter_path = 0;

static set_path choose_path(const vs_collection *c, uint64_t card, size_t n, uint32_t k, const vs_search_params *p)
{
    if (vs_collection_filter_path) return (set_path)(vs_collection_filter_path - 1);
    if (card == 0 || n == 0) return PATH_BITSET;
    int fits = (double)card * c->dim <= EXACT_MAX_FLOATS;
    vs_factory_spec spec = {.struct_size = sizeof spec};
    if (c->staging || vs_factory_parse(c->factory, &spec)) return fits && card * 4 < n ? PATH_EXACT : PATH_BITSET;
    if (spec.coarse == VS_COARSE_HNSW && !spec.shards) {
        double ef = p && p->ef_search ? p->ef_search : (k > 64 ? k : 64);
        if (ef < k) ef = k;
        if (fits && (double)card * card < ef * 2.0 * spec.hnsw_m * (double)n) return PATH_EXACT;
        return card * 5 >= n ? PATH_POST : PATH_BITSET;
    }
    if (spec.coarse == VS_COARSE_IVF) {
        double nprobe = p && p->nprobe ? p->nprobe : 1;
        if (nprobe > spec.nlist) nprobe = spec.nlist;
        return fits && (double)card * 2 < (double)n * nprobe / spec.nlist ? PATH_EXACT : PATH_BITSET;
    }
    return fits && card * 4 < n ? PATH_EXACT : PATH_BITSET;
}

/* The set's vectors in a Flat index, gathered once per cache entry. */
static int entry_subset(vs_collection *c, vs_fcache_entry *e, vs_index **out)
{
    pthread_mutex_lock(&e->mu);
    if (!e->subset_done) {
        float *x = malloc(e->card * c->dim * sizeof *x);
        int64_t *xid = malloc(e->card * sizeof *xid);
        uint32_t *buf = malloc(4096 * sizeof *buf);
        int rc = x && xid && buf ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for an exact filtered search");
        size_t m = 0;
        if (!rc) {
            roaring_uint32_iterator_t it;
            roaring_init_iterator(e->set, &it);
            pthread_rwlock_rdlock(&c->index_rw);
            uint32_t got;
            while ((got = roaring_read_uint32_iterator(&it, buf, 4096)) > 0)
                for (uint32_t j = 0; j < got; j++)
                    /* An ID whose add is still under way is in the payload before the index
                     * (the add bumps the version when done, retiring this entry). */
                    if (vs_index_get(c->index, vs_payload_id(buf[j]), x + m * c->dim) == VS_OK)
                        xid[m++] = vs_payload_id(buf[j]);
            pthread_rwlock_unlock(&c->index_rw);
        }
        if (!rc && m) {
            vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = c->dim, .metric = c->metric, .factory = "Flat"};
            rc = vs_index_create(&o, &e->subset);
            if (!rc) rc = vs_index_add(e->subset, m, x, xid);
        }
        free(x);
        free(xid);
        free(buf);
        e->subset_rc = rc;
        e->subset_done = 1;
    }
    pthread_mutex_unlock(&e->mu);
    *out = e->subset;
    return e->subset_rc;
}

/* Ids of string keys (keys >= 2^31) are far beyond any bitset: test the bitmap itself. */
static int set_has(int64_t id, void *ctx)
{
    uint32_t key;
    return vs_payload_key(id, &key) && roaring_bitmap_contains(ctx, key);
}

static int entry_bits(vs_fcache_entry *e, vs_filter *f)
{
    if (roaring_bitmap_maximum(e->set) >> 31) {
        *f = (vs_filter){.kind = VS_FILTER_PREDICATE, .fn = set_has, .ctx = e->set};
        return VS_OK;
    }
    pthread_mutex_lock(&e->mu);
    if (!e->bits) {
        uint64_t n_bits = (uint64_t)roaring_bitmap_maximum(e->set) + 1;
        uint8_t *bits = calloc(n_bits / 8 + 1, 1);
        uint32_t *buf = malloc(4096 * sizeof *buf);
        if (bits && buf) {
            roaring_uint32_iterator_t it;
            roaring_init_iterator(e->set, &it);
            uint32_t got;
            while ((got = roaring_read_uint32_iterator(&it, buf, 4096)) > 0)
                for (uint32_t j = 0; j < got; j++) bits[buf[j] >> 3] |= (uint8_t)(1u << (buf[j] & 7));
            e->bits = bits;
            e->n_bits = n_bits;
        } else {
            free(bits);
        }
        free(buf);
    }
    pthread_mutex_unlock(&e->mu);
    *f = (vs_filter){.kind = VS_FILTER_BITSET, .bits = e->bits, .n_bits = e->n_bits};
    return e->bits ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for a filter bitset");
}

static int search_bitset(vs_collection *c, vs_fcache_entry *e, size_t nq, const float *queries, uint32_t k,
                         const vs_search_params *params, float *distances, int64_t *ids)
{
    vs_filter f;
    int rc = entry_bits(e, &f);
    if (rc) return rc;
    vs_search_params p = params ? *params : (vs_search_params){.struct_size = sizeof(vs_search_params)};
    p.filter = &f;
    return vs_collection_search(c, nq, queries, k, &p, distances, ids);
}

/* Unfiltered search for kk = 3k / selectivity candidates, keeping those in the set; a query
 * left with fewer than k (when at least k pass) is answered by an exact scan of the set (or
 * the bitset search when the set's vectors are too many to gather). */
static int search_post(vs_collection *c, vs_fcache_entry *e, size_t n, size_t nq, const float *queries, uint32_t k,
                       const vs_search_params *params, float *distances, int64_t *ids)
{
    double sel = (double)e->card / (double)n;
    size_t kk = (size_t)ceil(3.0 * k / sel) + 2;
    if (kk > n) kk = n;
    if (kk < k) kk = k;
    float *d = malloc(nq * kk * sizeof *d);
    int64_t *id = malloc(nq * kk * sizeof *id);
    int rc = d && id ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for a filtered search");
    vs_search_params p = params ? *params : (vs_search_params){.struct_size = sizeof(vs_search_params)};
    p.filter = NULL;
    if (!rc) rc = vs_collection_search(c, nq, queries, (uint32_t)kk, &p, d, id);
    for (size_t i = 0; !rc && i < nq; i++) {
        size_t got = 0;
        for (size_t j = 0; j < kk && got < k && id[i * kk + j] >= 0; j++)
            if (set_has(id[i * kk + j], e->set)) {
                distances[i * k + got] = d[i * kk + j];
                ids[i * k + got++] = id[i * kk + j];
            }
        for (size_t j = got; j < k; j++) { /* fewer than k pass at all: pad, as every search does */
            distances[i * k + j] = c->metric == VS_METRIC_L2 ? INFINITY : -INFINITY;
            ids[i * k + j] = -1;
        }
        if (got >= k || got >= e->card) continue;
        /* Short: the filter correlates with the query (its neighbours mostly fail). The walk
         * with the bitset would wade through them; a scan of the set does not. */
        if ((double)e->card * c->dim <= EXACT_MAX_FLOATS) {
            vs_index *subset = NULL;
            rc = entry_subset(c, e, &subset);
            vs_search_params sp = {.struct_size = sizeof(vs_search_params)};
            if (!rc && subset) rc = vs_index_search(subset, 1, queries + i * c->dim, k, &sp, distances + i * k, ids + i * k);
        } else {
            rc = search_bitset(c, e, 1, queries + i * c->dim, k, params, distances + i * k, ids + i * k);
        }
    }
    free(d);
    free(id);
    return rc;
}

static int search_where(vs_collection *c, size_t nq, const float *queries, uint32_t k,
                        const vs_search_params *caller_params, const char *filter_json, float *distances,
                        int64_t *ids, vs_filter_report *report)
{
    VS_READ_OPTIONS(vs_search_params, given, caller_params, VS_SEARCH_PARAMS_V1);
    const vs_search_params *params = &given;
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    if (!filter_json || !filter_json[0]) return vs_collection_search(c, nq, queries, k, params, distances, ids);
    if (params && params->filter && params->filter->kind != VS_FILTER_NONE)
        return vs_fail(VS_ERR_INVALID_ARG, "give either params->filter or a filter JSON, not both");
    if ((nq && (!queries || !distances || !ids)) || k == 0)
        return vs_fail(VS_ERR_INVALID_ARG, "queries, distances and ids must not be NULL; k must be positive");
    compiled cp;
    int rc = compile(c, filter_json, &cp, report);
    if (rc) return rc;
    if (nq == 0) { /* nothing to search; the filter was still checked */
        compiled_free(&cp);
        return VS_OK;
    }
    vs_fcache_entry *e = cp.entry;
    if (e) {
        pthread_rwlock_rdlock(&c->index_rw);
        size_t n = vs_index_size(c->index);
        pthread_rwlock_unlock(&c->index_rw);
        set_path path = choose_path(c, e->card, n, k, params);
        vs_index *subset = NULL;
        if (e->card == 0) {
            empty_rows(c, nq, k, distances, ids);
        } else if (path == PATH_EXACT) {
            if (report) report->exact = 1;
            rc = entry_subset(c, e, &subset);
            if (!rc && !subset) empty_rows(c, nq, k, distances, ids);
            if (!rc && subset) {
                vs_search_params sp = {.struct_size = sizeof(vs_search_params), .n_threads = params ? params->n_threads : 0};
                rc = vs_index_search(subset, nq, queries, k, &sp, distances, ids);
            }
        } else if (path == PATH_POST) {
            if (report) report->post_filter = 1;
            rc = search_post(c, e, n, nq, queries, k, params, distances, ids);
        } else {
            rc = search_bitset(c, e, nq, queries, k, params, distances, ids);
        }
    } else {
        eval_ctx ev = {c, cp.tree.root};
        vs_filter f = {.kind = VS_FILTER_PREDICATE, .fn = eval_predicate, .ctx = &ev};
        vs_search_params p = params ? *params : (vs_search_params){.struct_size = sizeof(vs_search_params)};
        p.filter = &f;
        rc = vs_collection_search(c, nq, queries, k, &p, distances, ids);
    }
    compiled_free(&cp);
    return rc;
}

static int count_where(vs_collection *c, const char *filter_json, uint64_t *count, vs_filter_report *report)
{
    if (!c || !count) return vs_fail(VS_ERR_INVALID_ARG, "collection and count must not be NULL");
    if (!filter_json || !filter_json[0]) {
        *count = vs_collection_size(c);
        return VS_OK;
    }
    compiled cp;
    int rc = compile(c, filter_json, &cp, report);
    if (rc) return rc;
    if (cp.entry) {
        *count = cp.entry->card;
    } else {
        uint64_t m = 0;
        pthread_rwlock_rdlock(&c->docs_rw);
        for (size_t i = 0; i < c->docs.count; i++) m += (uint64_t)doc_passes(c, cp.tree.root, &c->docs.docs[i]);
        pthread_rwlock_unlock(&c->docs_rw);
        *count = m;
    }
    compiled_free(&cp);
    return VS_OK;
}

/* The caller's report may be shorter than ours (vecscale.h, "Options and result structs"):
 * its size is checked before the search, and only its bytes are written after. */
int vs_collection_search_where(vs_collection *c, size_t nq, const float *queries, uint32_t k,
                               const vs_search_params *params, const char *filter_json, float *distances,
                               int64_t *ids, vs_filter_report *report)
{
    size_t n = 0;
    if (report) {
        int rc = vs_result_size(report, sizeof *report, VS_FILTER_REPORT_V1, "vs_filter_report", &n);
        if (rc) return rc;
    }
    vs_filter_report full = {.struct_size = sizeof full};
    int rc = search_where(c, nq, queries, k, params, filter_json, distances, ids, report ? &full : NULL);
    if (report) vs_result_write(report, &full, n);
    return rc;
}

int vs_collection_count_where(vs_collection *c, const char *filter_json, uint64_t *count, vs_filter_report *report)
{
    size_t n = 0;
    if (report) {
        int rc = vs_result_size(report, sizeof *report, VS_FILTER_REPORT_V1, "vs_filter_report", &n);
        if (rc) return rc;
    }
    vs_filter_report full = {.struct_size = sizeof full};
    int rc = count_where(c, filter_json, count, report ? &full : NULL);
    if (report) vs_result_write(report, &full, n);
    return rc;
}
