/* Filtered search and counting: a filter is parsed and checked once per call, then either
 * compiled from payload indexes into a set of IDs (searched with a bitset filter, or exactly
 * over the set's vectors when the set is small) or evaluated per candidate document. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/collection_impl.h"
#include "collection/filter.h"
#include "core/error.h"

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

/* --- compiling ---------------------------------------------------------------------------- */

typedef struct {
    vs_filter_tree tree;
    roaring_bitmap_t *set; /* NULL: per-document path */
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
    int rc = vs_filter_parse(filter_json, &out->tree);
    if (rc) return rc;
    const char *names[MAX_AUTO];
    vs_payload_type types[MAX_AUTO];
    size_t n_auto = 0;
    char unindexed[256] = "";
    pthread_rwlock_rdlock(&c->payload_rw);
    rc = vs_filter_check(&out->tree, &c->payload);
    size_t slow = rc ? 0 : vs_filter_unindexed(out->tree.root, &c->payload, unindexed, sizeof unindexed);
    if (!rc && c->payload.wide_ids) {
        fill_unindexed(report, "document ids above 2^32 (payload indexes hold 32-bit ids)");
    } else if (!rc && slow) {
        fill_unindexed(report, unindexed);
        if (atomic_load(&c->auto_index)) auto_candidates(out->tree.root, &c->payload, names, types, &n_auto);
    } else if (!rc) {
        out->set = vs_filter_compile(out->tree.root, &c->payload);
        if (!out->set) rc = vs_fail(VS_ERR_NOMEM, "out of memory compiling a filter");
    }
    pthread_rwlock_unlock(&c->payload_rw);
    if (rc) {
        vs_filter_free(&out->tree);
        return rc;
    }
    /* names point into the filter's JSON, which lives until vs_filter_free. */
    if (n_auto) vs_collection_request_builds(c, names, types, n_auto);
    if (report && out->set) {
        report->indexed = 1;
        report->allowed = roaring_bitmap_get_cardinality(out->set);
    }
    return VS_OK;
}

static void compiled_free(compiled *cp)
{
    if (cp->set) roaring_bitmap_free(cp->set);
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

/* Exact scan of the set against a graph or list search: a filtered HNSW walk costs about
 * ef * M0 / selectivity distances (it must meet ef allowed nodes), a scan of the set costs
 * |set| of them (hnsw_search.c decides the same way, but scans every node); an IVF search
 * reads nprobe of nlist lists; a Flat scan reads every row. */
static int prefer_exact(const vs_collection *c, uint64_t card, size_t n, uint32_t k, const vs_search_params *p)
{
    if (card == 0 || n == 0 || (double)card * c->dim > EXACT_MAX_FLOATS) return 0;
    vs_factory_spec spec;
    if (c->staging || vs_factory_parse(c->factory, &spec)) return card * 4 < n;
    if (spec.coarse == VS_COARSE_HNSW) {
        double ef = p && p->ef_search ? p->ef_search : (k > 64 ? k : 64);
        if (ef < k) ef = k;
        return (double)card * card < ef * 2.0 * spec.hnsw_m * (double)n;
    }
    if (spec.coarse == VS_COARSE_IVF) {
        double nprobe = p && p->nprobe ? p->nprobe : 1;
        if (nprobe > spec.nlist) nprobe = spec.nlist;
        return (double)card * 2 < (double)n * nprobe / spec.nlist;
    }
    return card * 4 < n;
}

static int search_exact(vs_collection *c, const roaring_bitmap_t *set, size_t nq, const float *queries, uint32_t k,
                        const vs_search_params *params, float *distances, int64_t *ids)
{
    uint64_t card = roaring_bitmap_get_cardinality(set);
    float *x = malloc(card * c->dim * sizeof *x);
    int64_t *xid = malloc(card * sizeof *xid);
    uint32_t *buf = malloc(4096 * sizeof *buf);
    int rc = x && xid && buf ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for an exact filtered search");
    size_t m = 0;
    if (!rc) {
        roaring_uint32_iterator_t it;
        roaring_init_iterator(set, &it);
        pthread_rwlock_rdlock(&c->index_rw);
        uint32_t got;
        while ((got = roaring_read_uint32_iterator(&it, buf, 4096)) > 0)
            for (uint32_t j = 0; j < got; j++)
                /* An ID whose add is still under way is in the payload before the index. */
                if (vs_index_get(c->index, buf[j], x + m * c->dim) == VS_OK) xid[m++] = buf[j];
        pthread_rwlock_unlock(&c->index_rw);
    }
    vs_index *flat = NULL;
    if (!rc && m == 0) empty_rows(c, nq, k, distances, ids);
    if (!rc && m) {
        vs_index_options o = {.dim = c->dim, .metric = c->metric, .factory = "Flat"};
        rc = vs_index_create(&o, &flat);
        if (!rc) rc = vs_index_add(flat, m, x, xid);
        vs_search_params sp = {.n_threads = params ? params->n_threads : 0};
        if (!rc) rc = vs_index_search(flat, nq, queries, k, &sp, distances, ids);
    }
    vs_index_free(flat);
    free(x);
    free(xid);
    free(buf);
    return rc;
}

static int search_bitset(vs_collection *c, const roaring_bitmap_t *set, size_t nq, const float *queries, uint32_t k,
                         const vs_search_params *params, float *distances, int64_t *ids)
{
    uint64_t n_bits = (uint64_t)roaring_bitmap_maximum(set) + 1;
    uint8_t *bits = calloc(n_bits / 8 + 1, 1);
    uint32_t *buf = malloc(4096 * sizeof *buf);
    int rc = bits && buf ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for a filter bitset");
    if (!rc) {
        roaring_uint32_iterator_t it;
        roaring_init_iterator(set, &it);
        uint32_t got;
        while ((got = roaring_read_uint32_iterator(&it, buf, 4096)) > 0)
            for (uint32_t j = 0; j < got; j++) bits[buf[j] >> 3] |= (uint8_t)(1u << (buf[j] & 7));
        vs_filter f = {.kind = VS_FILTER_BITSET, .bits = bits, .n_bits = n_bits};
        vs_search_params p = params ? *params : (vs_search_params){0};
        p.filter = &f;
        rc = vs_collection_search(c, nq, queries, k, &p, distances, ids);
    }
    free(bits);
    free(buf);
    return rc;
}

int vs_collection_search_where(vs_collection *c, size_t nq, const float *queries, uint32_t k,
                               const vs_search_params *params, const char *filter_json, float *distances,
                               int64_t *ids, vs_filter_report *report)
{
    if (report) memset(report, 0, sizeof *report);
    if (!c) return vs_fail(VS_ERR_INVALID_ARG, "collection must not be NULL");
    if (!filter_json || !filter_json[0]) return vs_collection_search(c, nq, queries, k, params, distances, ids);
    if (params && params->filter && params->filter->kind != VS_FILTER_NONE)
        return vs_fail(VS_ERR_INVALID_ARG, "give either params->filter or a filter JSON, not both");
    if (!queries || !distances || !ids || k == 0 || nq == 0)
        return vs_fail(VS_ERR_INVALID_ARG, "queries, distances and ids must not be NULL; nq and k must be positive");
    compiled cp;
    int rc = compile(c, filter_json, &cp, report);
    if (rc) return rc;
    if (cp.set) {
        uint64_t card = roaring_bitmap_get_cardinality(cp.set);
        pthread_rwlock_rdlock(&c->index_rw);
        size_t n = vs_index_size(c->index);
        pthread_rwlock_unlock(&c->index_rw);
        if (card == 0) {
            empty_rows(c, nq, k, distances, ids);
        } else if (prefer_exact(c, card, n, k, params)) {
            if (report) report->exact = 1;
            rc = search_exact(c, cp.set, nq, queries, k, params, distances, ids);
        } else {
            rc = search_bitset(c, cp.set, nq, queries, k, params, distances, ids);
        }
    } else {
        eval_ctx e = {c, cp.tree.root};
        vs_filter f = {.kind = VS_FILTER_PREDICATE, .fn = eval_predicate, .ctx = &e};
        vs_search_params p = params ? *params : (vs_search_params){0};
        p.filter = &f;
        rc = vs_collection_search(c, nq, queries, k, &p, distances, ids);
    }
    compiled_free(&cp);
    return rc;
}

int vs_collection_count_where(vs_collection *c, const char *filter_json, uint64_t *count, vs_filter_report *report)
{
    if (report) memset(report, 0, sizeof *report);
    if (!c || !count) return vs_fail(VS_ERR_INVALID_ARG, "collection and count must not be NULL");
    if (!filter_json || !filter_json[0]) {
        *count = vs_collection_size(c);
        return VS_OK;
    }
    compiled cp;
    int rc = compile(c, filter_json, &cp, report);
    if (rc) return rc;
    if (cp.set) {
        *count = roaring_bitmap_get_cardinality(cp.set);
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
