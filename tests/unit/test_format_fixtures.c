/* Every on-disk format against committed fixtures (tests/fixtures/README.md): HNSW files in
 * each code layout (also ones written by older commits), a collection directory (snapshot,
 * documents, write-ahead log), the log on its own and a snapshot manifest. Each fixture's
 * CONTENT is checked against values recorded here. Then the gate that makes a format change
 * without a fixture fail: what this build writes must carry the version of the newest fixture
 * of its format, and the deterministic writers must reproduce their newest fixture byte for
 * byte; every versioned file under tests/fixtures must be known to a test. */
#include <sys/stat.h>

#include "test_util.h"

#include "storage/snapshot_manifest.h"
#include "collection/wal.h"
#include "embed/glove.h"
#include "io/container.h"

/* The generator's data (vec(), N, D) and writers, shared so fixture and test cannot drift. */
#define GEN_MANIFEST 1
#define main gen_fixtures_main
#include "../fixtures/gen_fixtures.c"
#undef main

#define FIX VS_TEST_SOURCE_DIR "/fixtures/"
#define K 5
#define NQ 3

static void read_all(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    assert_int_equal(fread(*buf, 1, *len, f), *len);
    (*buf)[*len] = 0;
    fclose(f);
}

static void copy_file(const char *from, const char *to)
{
    uint8_t *b;
    size_t n;
    read_all(from, &b, &n);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(b);
}

static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void query(int k, float *q)
{
    for (int j = 0; j < D; j++) q[j] = (float)((k * 5 + j * 3) % 11) * 0.3f - 1.5f + (j == 1 ? 0.2f : 0.0f);
}

/* --- HNSW ------------------------------------------------------------------------------- */

typedef struct {
    const char *file, *factory;
    vs_metric metric;
    uint32_t layout; /* the HNSW section's layout field */
    float tol;       /* |stored - written| per component (the code's rounding) */
    int64_t ids[NQ][K];
    float dist[NQ][K];
} hnsw_fixture;

/* Recorded from the fixtures when they were made (VS_FIXTURE_RECORD=1 prints these rows). */
static const hnsw_fixture HNSW_FIXTURES[] = {
#include "test_format_fixtures_hnsw.inc"
};
#define N_HNSW (sizeof HNSW_FIXTURES / sizeof HNSW_FIXTURES[0])

/* The layout field of the HNSW section of an index file image. */
static uint32_t hnsw_layout_of(const uint8_t *b, size_t n, const char *origin)
{
    vs_container c;
    assert_int_equal(vs_container_open(&c, b, n, 0, origin), VS_OK);
    uint64_t len;
    const uint8_t *h = vs_container_find(&c, VS_TAG('H', 'N', 'S', 'W'), &len);
    if (!h || len < 4) fail_msg("%s: no HNSW section", origin);
    return get_u32(h);
}

static void record_row(const hnsw_fixture *f, const int64_t *ids, const float *dist)
{
    printf("    {\"%s\", \"%s\", %s, %u, %gf,\n     {", f->file, f->factory,
           f->metric == VS_METRIC_L2 ? "VS_METRIC_L2" : f->metric == VS_METRIC_IP ? "VS_METRIC_IP" : "VS_METRIC_COSINE",
           f->layout, (double)f->tol);
    for (int q = 0; q < NQ; q++) {
        printf("{");
        for (int k = 0; k < K; k++) printf("%lld%s", (long long)ids[q * K + k], k + 1 < K ? ", " : "");
        printf("}%s", q + 1 < NQ ? ", " : "},\n     {");
    }
    for (int q = 0; q < NQ; q++) {
        printf("{");
        for (int k = 0; k < K; k++) printf("%.9gf%s", (double)dist[q * K + k], k + 1 < K ? ", " : "");
        printf("}%s", q + 1 < NQ ? ", " : "}},\n");
    }
}

static void check_hnsw_index(const hnsw_fixture *f, const vs_index *ix)
{
    assert_int_equal(vs_index_dim(ix), D);
    assert_int_equal(vs_index_size(ix), N - 2);
    assert_int_equal(vs_index_metric(ix), f->metric);
    assert_string_equal(vs_index_factory(ix), f->factory);
    for (int i = 0; i < N; i++) {
        float got[D], want[D];
        int64_t id = 1000 + 3 * i;
        int rc = vs_index_get(ix, id, got);
        if (i == 5 || i == 40) { /* removed before saving */
            assert_int_equal(rc, VS_ERR_NOT_FOUND);
            continue;
        }
        assert_int_equal(rc, VS_OK);
        vec(i, want);
        if (f->metric == VS_METRIC_COSINE) {
            double s = 0;
            for (int j = 0; j < D; j++) s += (double)want[j] * want[j];
            for (int j = 0; j < D; j++) want[j] = (float)(want[j] / sqrt(s));
        }
        for (int j = 0; j < D; j++)
            if (fabsf(got[j] - want[j]) > f->tol)
                fail_msg("%s: id %lld component %d is %.7g, written %.7g (tolerance %g)", f->file, (long long)id, j,
                         (double)got[j], (double)want[j], (double)f->tol);
    }
    float q[NQ * D], dist[NQ * K];
    int64_t ids[NQ * K];
    for (int k = 0; k < NQ; k++) query(k, q + k * D);
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = 64};
    assert_int_equal(vs_index_search(ix, NQ, q, K, &p, dist, ids), VS_OK);
    if (getenv("VS_FIXTURE_RECORD")) {
        record_row(f, ids, dist);
        return;
    }
    for (int r = 0; r < NQ * K; r++) {
        float want = f->dist[r / K][r % K];
        if (ids[r] != f->ids[r / K][r % K] || fabsf(dist[r] - want) > 1e-5f * (1 + fabsf(want)))
            fail_msg("%s: query %d rank %d is id %lld at %.9g, recorded id %lld at %.9g", f->file, r / K, r % K,
                     (long long)ids[r], (double)dist[r], (long long)f->ids[r / K][r % K], (double)want);
    }
}

static void hnsw_fixtures(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_HNSW; i++) {
        const hnsw_fixture *f = &HNSW_FIXTURES[i];
        char path[1024];
        snprintf(path, sizeof path, FIX "%s", f->file);
        uint8_t *b;
        size_t n;
        read_all(path, &b, &n);
        assert_int_equal(hnsw_layout_of(b, n, path), f->layout);
        vs_index *loaded, *viewed, *buffered;
        if (vs_index_load(path, &loaded)) fail_msg("%s: %s", path, vs_last_error());
        assert_int_equal(vs_index_view(path, &viewed), VS_OK);
        assert_int_equal(vs_index_load_buffer(b, n, &buffered), VS_OK);
        assert_int_equal(vs_index_verify_file(path), VS_OK);
        check_hnsw_index(f, loaded);
        if (!getenv("VS_FIXTURE_RECORD")) {
            check_hnsw_index(f, viewed);
            check_hnsw_index(f, buffered);
        }
        /* An old file stays writable: the first add copies the image and links into it. */
        float v[D];
        vec(5, v);
        int64_t id = 5;
        assert_int_equal(vs_index_add(viewed, 1, v, &id), VS_OK);
        float d1;
        int64_t i1;
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = 64};
        assert_int_equal(vs_index_search(viewed, 1, v, 1, &p, &d1, &i1), VS_OK);
        if (f->metric != VS_METRIC_IP && f->tol <= 1e-6f) assert_int_equal(i1, 5); /* exact codes: its own nearest */
        assert_int_equal(vs_index_size(viewed), N - 1);
        assert_int_equal(vs_index_get(viewed, 5, v), VS_OK);
        vs_index_free(loaded);
        vs_index_free(viewed);
        vs_index_free(buffered);
        free(b);
        print_message("%-32s %-16s layout %u: contents and %d recorded results match\n", f->file, f->factory,
                      f->layout, NQ * K);
    }
}

/* HNSW{M},SQ8 under L2 was layout 1 until 1e5bc19 (which added the code norm to each record):
 * such a file cannot be read as layout 2 and must be refused with a rebuild message, not
 * misread. */
static void hnsw_sq8_l2_layout1_is_refused(void **state)
{
    (void)state;
    const char *path = FIX "hnsw_sq8_l1_l2_b8986e5.vsi";
    uint8_t *b;
    size_t n;
    read_all(path, &b, &n);
    assert_int_equal(hnsw_layout_of(b, n, path), 1);
    free(b);
    vs_index *ix = NULL;
    assert_int_equal(vs_index_load(path, &ix), VS_ERR_VERSION);
    assert_null(ix);
    assert_non_null(strstr(vs_last_error(), "rebuilt"));
    assert_int_equal(vs_index_view(path, &ix), VS_ERR_VERSION);
}

/* --- collection ------------------------------------------------------------------------- */

typedef struct {
    int64_t id;
    int vec_of; /* index into vec() */
    const char *text, *meta;
} doc_want;

/* What gen_fixtures collection leaves: 6 documents in the snapshot, then (log only) 3 more,
 * 11 and 21 removed, and one with an automatic ID (23: after the largest used). */
static const doc_want DOCS[] = {
    {10, 0, "alpha", "{\"n\":1}"}, {12, 2, NULL, "{\"tag\":\"c\"}"}, {13, 3, "", "{}"},
    {14, 4, "\xc3\xa9t\xc3\xa9", NULL}, {15, 5, "zeta", "[1,2]"}, {20, 6, "eta", "{\"late\":true}"},
    {22, 8, "iota", NULL}, {23, 8, NULL, NULL},
};
#define N_DOCS (sizeof DOCS / sizeof DOCS[0])

typedef struct {
    int found;
    char text[64], meta[64];
    int has_text, has_meta;
} doc_got;

static void doc_cb(int64_t id, const char *text, const char *metadata, void *ctx)
{
    (void)id;
    doc_got *g = ctx;
    g->found = 1;
    g->has_text = text != NULL;
    g->has_meta = metadata != NULL;
    snprintf(g->text, sizeof g->text, "%s", text ? text : "");
    snprintf(g->meta, sizeof g->meta, "%s", metadata ? metadata : "");
}

static const char *const COLLECTION_FILES[] = {"collection.vsc", "index-2.vsi", "wal-2.log"};

/* String-id documents of collection_v2 (besides DOCS): "doc-a" (snapshot) is removed in the
 * log; "30" is the integer 30; the automatic id of that batch is 31 (after 30). */
#define KEYED0 ((int64_t)1 << 62)
static const struct {
    const char *key;
    int64_t id;
    int vec_of, is_string;
    const char *text, *meta;
} KEYED[] = {
    {"\xc3\xa9-cl\xc3\xa9", KEYED0 + 1, 10, 1, NULL, NULL},
    {"doc-b", KEYED0 + 2, 11, 1, NULL, "{\"k\":2}"},
    {"30", 30, 12, 0, NULL, NULL},
    {"31", 31, 13, 0, NULL, NULL},
};
#define N_KEYED (sizeof KEYED / sizeof KEYED[0])

static void check_collection(const char *fixture, int keyed)
{
    char *dir = tu_tempdir(), from[1024], to[1024];
    for (size_t i = 0; i < 3; i++) {
        snprintf(from, sizeof from, FIX "%s/%s", fixture, COLLECTION_FILES[i]);
        snprintf(to, sizeof to, "%s/%s", dir, COLLECTION_FILES[i]);
        copy_file(from, to); /* opening writes (LOCK, log appends): never in the source tree */
    }
    vs_collection *c;
    if (vs_collection_open(dir, &c)) fail_msg("%s", vs_last_error());
    vs_collection_info info = {.struct_size = sizeof info};
    assert_int_equal(vs_collection_info_get(c, &info), VS_OK);
    assert_int_equal(info.dim, D);
    assert_int_equal(info.metric, VS_METRIC_L2);
    assert_int_equal(info.generation, 2);
    assert_string_equal(info.factory, "Flat");
    assert_string_equal(info.model, "fixture-model");
    assert_int_equal(vs_collection_size(c), N_DOCS + (keyed ? N_KEYED : 0));
    for (size_t i = 0; keyed && i < N_KEYED; i++) {
        int64_t id = -1;
        char buf[VS_KEY_MAX_BYTES + 1];
        int is_string = -1;
        doc_got g = {0};
        float v[D], want[D];
        if (vs_collection_lookup_key(c, KEYED[i].key, &id)) fail_msg("%s: %s", KEYED[i].key, vs_last_error());
        assert_int_equal(id, KEYED[i].id);
        assert_int_equal(vs_collection_key_of(c, id, buf, sizeof buf, &is_string), VS_OK);
        assert_string_equal(buf, KEYED[i].key);
        assert_int_equal(is_string, KEYED[i].is_string);
        assert_int_equal(vs_collection_with_doc(c, id, doc_cb, &g), VS_OK);
        assert_int_equal(g.has_text, KEYED[i].text != NULL);
        assert_int_equal(g.has_meta, KEYED[i].meta != NULL);
        if (KEYED[i].meta) assert_string_equal(g.meta, KEYED[i].meta);
        assert_int_equal(vs_collection_get_vector(c, id, v), VS_OK);
        vec(KEYED[i].vec_of, want);
        assert_memory_equal(v, want, sizeof v);
    }
    if (keyed) {
        int64_t id;
        assert_int_equal(vs_collection_lookup_key(c, "doc-a", &id), VS_ERR_NOT_FOUND); /* removed in the log */
        char buf[8];
        assert_int_equal(vs_collection_key_of(c, KEYED0, buf, sizeof buf, NULL), VS_ERR_NOT_FOUND);
    }
    for (size_t i = 0; i < N_DOCS; i++) {
        doc_got g = {0};
        float v[D], want[D];
        assert_int_equal(vs_collection_with_doc(c, DOCS[i].id, doc_cb, &g), VS_OK);
        assert_int_equal(g.has_text, DOCS[i].text != NULL);
        assert_int_equal(g.has_meta, DOCS[i].meta != NULL);
        if (DOCS[i].text) assert_string_equal(g.text, DOCS[i].text);
        if (DOCS[i].meta) assert_string_equal(g.meta, DOCS[i].meta);
        assert_int_equal(vs_collection_get_vector(c, DOCS[i].id, v), VS_OK);
        vec(DOCS[i].vec_of, want);
        assert_memory_equal(v, want, sizeof v);
    }
    doc_got g = {0};
    assert_int_equal(vs_collection_with_doc(c, 11, doc_cb, &g), VS_ERR_NOT_FOUND); /* removed (snapshot) */
    assert_int_equal(vs_collection_with_doc(c, 21, doc_cb, &g), VS_ERR_NOT_FOUND); /* removed (log) */
    /* Search sees snapshot and log alike: 22 and 23 share a vector, 0 apart from it. */
    float q[D], dist[3];
    int64_t ids[3];
    vec(8, q);
    assert_int_equal(vs_collection_search(c, 1, q, 3, NULL, dist, ids), VS_OK);
    assert_true((ids[0] == 22 && ids[1] == 23) || (ids[0] == 23 && ids[1] == 22));
    assert_float_equal(dist[0], 0, 0);
    assert_float_equal(dist[1], 0, 0);
    /* Written before replicated-log positions existed (no LPOS section, log version < 3). */
    assert_int_equal(vs_collection_log_position(c), 0);
    /* The next automatic ID continues after the largest ever used. */
    int64_t next;
    assert_int_equal(vs_collection_add(c, 1, q, NULL, NULL, NULL, &next), VS_OK);
    assert_int_equal(next, keyed ? 32 : 24);
    if (keyed) { /* internal ids of string ids continue after the snapshot's and the log's */
        const char *k = "doc-new";
        assert_int_equal(vs_collection_add_keyed(c, 1, q, &k, NULL, NULL, &next), VS_OK);
        assert_int_equal(next, KEYED0 + 3);
    }
    assert_int_equal(vs_collection_close(c), VS_OK);
    tu_rmdir(dir);
}

static void collection_fixture(void **state)
{
    (void)state;
    check_collection("collection_v1", 0);
}

static void collection_v2_fixture(void **state)
{
    (void)state;
    check_collection("collection_v2", 1);
}

/* --- payload indexes --------------------------------------------------------------------- */

static const char *const PAYLOAD_FILES[] = {"collection.vsc", "index-2.vsi", "payload-2.vsp", "wal-2.log"};

/* gen_fixtures payload: the snapshot's payload file plus the log's removal, adds and float
 * index; each filter's count by hand from PAYLOAD_META (live: 30, 32..38). */
static void payload_fixture(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), from[1024], to[1024];
    for (size_t i = 0; i < 4; i++) {
        snprintf(from, sizeof from, FIX "payload_v1/%s", PAYLOAD_FILES[i]);
        snprintf(to, sizeof to, "%s/%s", dir, PAYLOAD_FILES[i]);
        copy_file(from, to);
    }
    vs_collection *c;
    if (vs_collection_open(dir, &c)) fail_msg("%s", vs_last_error());
    assert_int_equal(vs_collection_set_auto_index(c, 0), VS_OK);
    vs_payload_index_info info[8] = {{.struct_size = sizeof info[0]}};
    size_t n = 0;
    assert_int_equal(vs_collection_payload_indexes(c, info, 8, &n), VS_OK);
    assert_int_equal(n, 4);
    static const struct { const char *field; vs_payload_type type; uint64_t docs, values; } want[] = {
        {"tag", VS_PAYLOAD_KEYWORD, 4, 3}, {"year", VS_PAYLOAD_INTEGER, 5, 6},
        {"flag", VS_PAYLOAD_BOOL, 3, 2}, {"score", VS_PAYLOAD_FLOAT, 5, 5}};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(info[i].field, want[i].field);
        assert_int_equal(info[i].type, want[i].type);
        assert_int_equal(info[i].ready, 1);
        assert_int_equal(info[i].automatic, 0);
        assert_int_equal(info[i].documents, want[i].docs);
        assert_int_equal(info[i].values, want[i].values);
    }
    static const struct { const char *filter; uint64_t count; } f[] = {
        {"{\"tag\":\"a\"}", 2}, {"{\"tag\":{\"in\":[\"b\",\"c\"]}}", 3},
        {"{\"year\":{\"gte\":1999,\"lt\":2010}}", 3}, {"{\"year\":2005}", 1}, {"{\"flag\":true}", 2},
        {"{\"flag\":{\"exists\":false}}", 5}, {"{\"score\":{\"gt\":1}}", 3}, {"{\"tag\":{\"exists\":true}}", 4},
        {"{\"not\":{\"tag\":\"a\"}}", 6}, {"{\"or\":[{\"tag\":\"c\"},{\"flag\":false}]}", 3},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        uint64_t got = 0;
        vs_filter_report r = {.struct_size = sizeof r};
        if (vs_collection_count_where(c, f[i].filter, &got, &r)) fail_msg("%s: %s", f[i].filter, vs_last_error());
        if (got != f[i].count || !r.indexed)
            fail_msg("%s: %llu documents (indexed %d), expected %llu from the index", f[i].filter,
                     (unsigned long long)got, r.indexed, (unsigned long long)f[i].count);
    }
    float q[D], dist[2];
    int64_t ids[2];
    vec(7, q);
    assert_int_equal(vs_collection_search_where(c, 1, q, 2, NULL, "{\"year\":1999}", dist, ids, NULL), VS_OK);
    assert_int_equal(ids[0], 37);
    assert_int_equal(ids[1], 30);
    assert_int_equal(vs_collection_close(c), VS_OK);
    tu_rmdir(dir);
}

/* --- write-ahead log -------------------------------------------------------------------- */

typedef struct {
    int n;
    uint32_t type[8];
    uint8_t *payload[8];
    uint64_t len[8];
} replayed;

static int record_cb(uint32_t type, const uint8_t *payload, uint64_t len, void *ctx)
{
    replayed *r = ctx;
    assert_true(r->n < 8);
    r->type[r->n] = type;
    r->len[r->n] = len;
    r->payload[r->n] = malloc(len + 1);
    memcpy(r->payload[r->n], payload, len);
    r->n++;
    return 0;
}

/* ADD payload (ARCHITECTURE.md): u32 n, u32 dim, i64 ids[n], u32 text_len[n], u32 meta_len[n],
 * f32 vectors[n x dim], then each document's text and metadata. */
static void check_add(const uint8_t *p, uint64_t len, size_t n, const int64_t *ids, const int *vecs,
                      const char *const *texts, const char *const *metas)
{
    assert_int_equal(get_u32(p), n);
    assert_int_equal(get_u32(p + 4), D);
    const uint8_t *tl = p + 8 + 8 * n, *ml = tl + 4 * n, *vx = ml + 4 * n, *s = vx + 4 * D * n;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal((int64_t)get_u64(p + 8 + 8 * i), ids[i]);
        float want[D];
        vec(vecs[i], want);
        assert_memory_equal(vx + 4 * D * i, want, sizeof want);
        uint32_t a = get_u32(tl + 4 * i), m = get_u32(ml + 4 * i);
        assert_int_equal(a, texts[i] ? strlen(texts[i]) : 0xFFFFFFFFu);
        assert_int_equal(m, metas[i] ? strlen(metas[i]) : 0xFFFFFFFFu);
        if (texts[i]) { assert_memory_equal(s, texts[i], a); s += a; }
        if (metas[i]) { assert_memory_equal(s, metas[i], m); s += m; }
    }
    assert_int_equal(s - p, len);
}

static void wal_fixture(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/wal.log", dir);
    copy_file(FIX "collection_v1/wal-2.log", path);
    vs_wal *w;
    replayed r = {0};
    uint64_t dropped = 1;
    assert_int_equal(vs_wal_open(path, 2, record_cb, &r, &w, &dropped), VS_OK);
    assert_int_equal(dropped, 0);
    assert_int_equal(vs_wal_last_seq(w), 3);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.type[0], VS_WAL_ADD);
    check_add(r.payload[0], r.len[0], 3, (int64_t[]){20, 21, 22}, (int[]){6, 7, 8},
              (const char *[]){"eta", NULL, "iota"}, (const char *[]){"{\"late\":true}", "null", NULL});
    assert_int_equal(r.type[1], VS_WAL_DELETE); /* only the IDs that existed: 11 and 21, not 99 */
    assert_int_equal(r.len[1], 4 + 2 * 8);
    assert_int_equal(get_u32(r.payload[1]), 2);
    assert_int_equal(get_u64(r.payload[1] + 4), 11);
    assert_int_equal(get_u64(r.payload[1] + 12), 21);
    assert_int_equal(r.type[2], VS_WAL_ADD);
    check_add(r.payload[2], r.len[2], 1, (int64_t[]){23}, (int[]){8}, (const char *[]){NULL},
              (const char *[]){NULL});
    assert_int_equal(vs_wal_close(w), VS_OK);
    for (int i = 0; i < r.n; i++) free(r.payload[i]);

    /* The same log with a final record cut short (a crash mid-write): the three intact records
     * replay, the torn 40 bytes are dropped. */
    uint8_t *b;
    size_t n;
    read_all(path, &b, &n);
    FILE *f = fopen(path, "ab");
    assert_int_equal(fwrite(b + 32, 1, 40, f), 40); /* the start of the first record again */
    fclose(f);
    memset(&r, 0, sizeof r);
    assert_int_equal(vs_wal_open(path, 2, record_cb, &r, &w, &dropped), VS_OK);
    assert_int_equal(r.n, 3);
    assert_int_equal(dropped, 40);
    assert_int_equal(vs_wal_close(w), VS_OK);
    for (int i = 0; i < r.n; i++) free(r.payload[i]);
    /* A log of another generation is not replayed into this snapshot. */
    assert_int_equal(vs_wal_open(path, 3, NULL, NULL, &w, NULL), VS_ERR_CORRUPT);
    free(b);
    tu_rmdir(dir);
}

/* Log version 2 (collection_v2/wal-2.log): the version 1 records, then ADD_KEYED ("doc-b" as
 * the first internal id after the snapshot's two, then 30 and the automatic 31) and the DELETE
 * of "doc-a" by its internal id. */
static void wal_v2_fixture(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/wal.log", dir);
    copy_file(FIX "collection_v2/wal-2.log", path);
    uint8_t *b;
    size_t n;
    read_all(path, &b, &n);
    assert_int_equal(get_u32(b + 8), 2);
    free(b);
    vs_wal *w;
    replayed r = {0};
    assert_int_equal(vs_wal_open(path, 2, record_cb, &r, &w, NULL), VS_OK);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.type[0], VS_WAL_ADD);
    assert_int_equal(r.type[1], VS_WAL_DELETE);
    assert_int_equal(r.type[2], VS_WAL_ADD);
    assert_int_equal(r.type[3], VS_WAL_ADD_KEYED);
    const uint8_t *p = r.payload[3];
    assert_int_equal(get_u32(p), 1); /* one string id; "30" is an integer */
    assert_int_equal((int64_t)get_u64(p + 4), KEYED0 + 2);
    assert_int_equal(get_u32(p + 12), 5);
    assert_memory_equal(p + 16, "doc-b", 5);
    check_add(p + 21, r.len[3] - 21, 3, (int64_t[]){KEYED0 + 2, 30, 31}, (int[]){11, 12, 13},
              (const char *[]){NULL, NULL, NULL}, (const char *[]){"{\"k\":2}", NULL, NULL});
    assert_int_equal(r.type[4], VS_WAL_DELETE);
    assert_int_equal(r.len[4], 4 + 8);
    assert_int_equal(get_u32(r.payload[4]), 1);
    assert_int_equal((int64_t)get_u64(r.payload[4] + 4), KEYED0);
    assert_int_equal(vs_wal_close(w), VS_OK);
    for (int i = 0; i < r.n; i++) free(r.payload[i]);
    tu_rmdir(dir);
}

/* --- snapshot manifest ------------------------------------------------------------------- */

static void manifest_fixture(void **state)
{
    (void)state;
    uint8_t *b;
    size_t n;
    read_all(FIX "manifest_v1.vsm", &b, &n);
    vs_snap_manifest m;
    if (vs_manifest_decode((const char *)b, n, "manifest_v1.vsm", &m)) fail_msg("%s", vs_last_error());
    assert_int_equal(m.generation, 42);
    assert_int_equal(m.created_unix, 1764000000);
    assert_int_equal(m.n_files, 3);
    static const char *const paths[3] = {"docs/collection.vsc", "index.vsi", "wal-3.log"};
    static const uint64_t sizes[3] = {1234, 4608, 32};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(m.files[i].path, paths[i]);
        assert_int_equal(m.files[i].size, sizes[i]);
        for (int k = 0; k < 16; k++) assert_int_equal(m.files[i].xxh128[k], (uint8_t)(i * 16 + k * 7 + 1));
    }
    char seg[64];
    vs_manifest_segment_name(&m.files[1], seg, sizeof seg);
    assert_string_equal(seg, "11181f262d343b424950575e656c737a-4608");
    vs_manifest_clear(&m);
    free(b);
}

/* --- quantizer files --------------------------------------------------------------------- */

/* sq8_v1.vsq: SQ8 ranges of vec(0..N-1): each dimension's smallest value codes as 0 and its
 * largest as 255. pq2x4_v1.vsq: 2 sub-quantizers of 16 centroids trained on exactly 16 vectors,
 * so vec(0..15) decode back exactly. Both load from the file and from a buffer, and a save of
 * the loaded quantizer gives the fixture's bytes. */
static void quantizer_fixtures(void **state)
{
    (void)state;
    float lo[D], hi[D], v[D];
    for (int j = 0; j < D; j++) lo[j] = INFINITY, hi[j] = -INFINITY;
    for (int i = 0; i < N; i++) {
        vec(i, v);
        for (int j = 0; j < D; j++) {
            if (v[j] < lo[j]) lo[j] = v[j];
            if (v[j] > hi[j]) hi[j] = v[j];
        }
    }
    vs_scalar_quantizer *sq;
    if (vs_scalar_quantizer_load(FIX "sq8_v1.vsq", &sq)) fail_msg("%s", vs_last_error());
    assert_int_equal(vs_scalar_quantizer_code_size(sq), D);
    uint8_t code[D];
    assert_int_equal(vs_scalar_quantizer_encode(sq, 1, lo, code), VS_OK);
    for (int j = 0; j < D; j++) assert_int_equal(code[j], 0);
    assert_int_equal(vs_scalar_quantizer_encode(sq, 1, hi, code), VS_OK);
    for (int j = 0; j < D; j++) assert_int_equal(code[j], 255);
    uint8_t *b;
    size_t n;
    void *again;
    size_t again_len;
    read_all(FIX "sq8_v1.vsq", &b, &n);
    assert_int_equal(vs_scalar_quantizer_save_buffer(sq, &again, &again_len), VS_OK);
    assert_int_equal(again_len, n);
    assert_memory_equal(again, b, n);
    vs_buffer_free(again);
    free(b);
    vs_scalar_quantizer_free(sq);

    vs_product_quantizer *pq;
    read_all(FIX "pq2x4_v1.vsq", &b, &n);
    if (vs_product_quantizer_load_buffer(b, n, &pq)) fail_msg("%s", vs_last_error());
    assert_int_equal(vs_product_quantizer_code_size(pq), 1);
    for (int i = 0; i < PQ_TRAIN; i++) {
        float back[D];
        vec(i, v);
        assert_int_equal(vs_product_quantizer_encode(pq, 1, v, code), VS_OK);
        assert_int_equal(vs_product_quantizer_decode(pq, 1, code, back), VS_OK);
        assert_memory_equal(back, v, sizeof v);
    }
    assert_int_equal(vs_product_quantizer_save_buffer(pq, &again, &again_len), VS_OK);
    assert_int_equal(again_len, n);
    assert_memory_equal(again, b, n);
    vs_buffer_free(again);
    free(b);
    vs_product_quantizer_free(pq);
    vs_product_quantizer *f;
    if (vs_product_quantizer_load(FIX "pq2x4_v1.vsq", &f)) fail_msg("%s", vs_last_error());
    vs_product_quantizer_free(f);
}

/* --- the gate ----------------------------------------------------------------------------- */

/* Versioned files under tests/fixtures and the test that checks each one's content. A new
 * fixture file that no test knows fails below. */
static const char *const KNOWN[][2] = {
    {"flat_v1_l2.vsi", "test_persist"}, {"flat_v1_cosine.vsi", "test_persist"},
    {"ivf_v1_l2.vsi", "test_ivf"}, {"ivf_v1_cosine.vsi", "test_ivf"},
    {"ivf_sq8_v1_l2.vsi", "test_ivf_codes"}, {"ivf_pq4fs_rflat_v1_l2.vsi", "test_ivf_codes"},
    {"pq8_v1_l2.vsi", "test_ivf_codes"}, {"embed/glove_tiny_v1.vsm", "test_embed_glove"},
    {"embed/glove_tiny_sif_v2.vsm", "test_embed_glove"},
    {"hnsw_sq8_l1_l2_b8986e5.vsi", "test_format_fixtures (refused)"},
    {"collection_v1/collection.vsc", "test_format_fixtures"}, {"collection_v1/index-2.vsi", "test_format_fixtures"},
    {"collection_v1/wal-2.log", "test_format_fixtures"}, {"manifest_v1.vsm", "test_format_fixtures"},
    {"collection_v2/collection.vsc", "test_format_fixtures"}, {"collection_v2/index-2.vsi", "test_format_fixtures"},
    {"collection_v2/wal-2.log", "test_format_fixtures"},
    {"payload_v1/collection.vsc", "test_format_fixtures"}, {"payload_v1/index-2.vsi", "test_format_fixtures"},
    {"payload_v1/payload-2.vsp", "test_format_fixtures"}, {"payload_v1/wal-2.log", "test_format_fixtures"},
    {"sq8_v1.vsq", "test_format_fixtures"}, {"pq2x4_v1.vsq", "test_format_fixtures"},
    {"ru8_v1/index.vsi", "cli_scale_build"}, {"ru8_v2/index.vsi", "test_refine_u8"},
};

static int known(const char *rel)
{
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (!strcmp(KNOWN[i][0], rel)) return 1;
    for (size_t i = 0; i < N_HNSW; i++)
        if (!strcmp(HNSW_FIXTURES[i].file, rel)) return 1;
    return 0;
}

typedef struct {
    uint32_t container, wal, manifest, payload, glove;
    size_t files;
} newest;

/* Walks tests/fixtures (one level of subdirectories), recording the newest version of each
 * format and failing on a versioned file no test checks. */
static void scan(const char *sub, newest *nw)
{
    char dpath[1024];
    snprintf(dpath, sizeof dpath, FIX "%s", sub);
    DIR *d = opendir(dpath);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char rel[512], path[1600];
        snprintf(rel, sizeof rel, "%s%s%s", sub, *sub ? "/" : "", e->d_name);
        snprintf(path, sizeof path, FIX "%s", rel);
        struct stat st;
        if (stat(path, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            if (!*sub) scan(rel, nw);
            continue;
        }
        FILE *f = fopen(path, "rb");
        uint8_t h[80] = {0};
        size_t got = f ? fread(h, 1, sizeof h, f) : 0;
        if (f) fclose(f);
        uint32_t *slot = NULL, v = 0;
        if (got >= 12 && !memcmp(h, "VECSCALE", 8)) slot = &nw->container, v = get_u32(h + 8);
        else if (got >= 12 && !memcmp(h, "VSWAL\0\0\0", 8)) slot = &nw->wal, v = get_u32(h + 8);
        else if (got >= 12 && !memcmp(h, "VSMANIFEST ", 11)) slot = &nw->manifest, v = (uint32_t)atoi((char *)h + 11);
        if (!slot) continue;
        /* A payload file (container kind 4) also carries its own version, first in PHDR at 64. */
        if (slot == &nw->container && got >= 68 && get_u32(h + 36) == 4 && get_u32(h + 64) > nw->payload)
            nw->payload = get_u32(h + 64);
        /* A GloVe model (kind 3) too: GMET, written first, starts with its format version. */
        if (slot == &nw->container && got >= 68 && get_u32(h + 36) == 3 && get_u32(h + 64) > nw->glove)
            nw->glove = get_u32(h + 64);
        if (!known(rel)) fail_msg("tests/fixtures/%s: a versioned file no test checks (add it to a test and README.md)", rel);
        if (v > *slot) *slot = v;
        nw->files++;
    }
    closedir(d);
}

static void same_bytes(const char *fixture, const char *fresh, const char *format)
{
    uint8_t *a, *b;
    size_t na, nb;
    read_all(fixture, &a, &na);
    read_all(fresh, &b, &nb);
    if (na != nb || memcmp(a, b, na))
        fail_msg("%s: this build writes different bytes (%zu) than the newest fixture %s (%zu) at the same "
                 "version. A format change needs a version bump and a new fixture (tests/fixtures/README.md); "
                 "if the bytes differ for another reason, say why in the review and regenerate it",
                 format, nb, fixture, na);
    free(a);
    free(b);
}

static void versions_have_fixtures(void **state)
{
    (void)state;
    newest nw = {0};
    scan("", &nw);
    char *dir = tu_tempdir(), path[1024];

    /* What this build writes now. */
    snprintf(path, sizeof path, "%s/coll", dir);
    assert_int_equal(make_collection(path), 0);
    uint8_t *b;
    size_t n;
    snprintf(path, sizeof path, "%s/coll/collection.vsc", dir);
    read_all(path, &b, &n);
    uint32_t container_now = get_u32(b + 8);
    free(b);
    snprintf(path, sizeof path, "%s/coll/wal-2.log", dir);
    read_all(path, &b, &n);
    uint32_t wal_now = get_u32(b + 8);
    free(b);
    snprintf(path, sizeof path, "%s/m.vsm", dir);
    assert_int_equal(make_manifest(path), 0);
    read_all(path, &b, &n);
    uint32_t manifest_now = (uint32_t)atoi((char *)b + 11);
    free(b);
    snprintf(path, sizeof path, "%s/pay", dir);
    assert_int_equal(make_payload_collection(path), 0);
    snprintf(path, sizeof path, "%s/pay/payload-2.vsp", dir);
    read_all(path, &b, &n);
    uint32_t payload_now = get_u32(b + 64);
    free(b);
    print_message("payload     %-18u %u\n", payload_now, nw.payload);
    if (payload_now != nw.payload)
        fail_msg("payload indexes are written as version %u but the newest fixture has %u: add a fixture", payload_now,
                 nw.payload);
    /* GloVe models: the newest format (SIF) this build writes has a fixture. */
    snprintf(path, sizeof path, "%s/g.vsm", dir);
    char *words[2] = {"a", "b"};
    float vecs[4] = {1, 0, 0, 1}, weights[2] = {0.5f, 1}, comp[2] = {0, 1};
    vs_glove_sif sif = {1e-3f, weights, 1, comp};
    assert_int_equal(vs_glove_write(path, "g", words, 2, 2, vecs, 1, &sif), VS_OK);
    read_all(path, &b, &n);
    uint32_t glove_now = get_u32(b + 64);
    free(b);
    print_message("glove model %-18u %u\n", glove_now, nw.glove);
    assert_int_equal(glove_now, VS_GLOVE_FORMAT_VERSION);
    if (glove_now != nw.glove)
        fail_msg("GloVe models are written as format %u but the newest fixture has %u: add a fixture", glove_now, nw.glove);
    print_message("format      this build writes  newest fixture\n");
    print_message("container   %-18u %u\nwal         %-18u %u\nmanifest    %-18u %u\n", container_now, nw.container,
                  wal_now, nw.wal, manifest_now, nw.manifest);
    assert_int_equal(container_now, VS_FORMAT_VERSION);
    if (container_now != nw.container || wal_now != nw.wal || manifest_now != nw.manifest)
        fail_msg("a format version has no fixture of that version: add one (tests/fixtures/make_fixtures.sh, README.md)");

    /* HNSW: the layout this build writes for each code layout has a fixture. */
    static const struct { const char *factory, *metric; } kinds[] = {
        {"HNSW8,Flat", "l2"}, {"HNSW8,SQ8", "l2"}, {"HNSW8,SQ8", "ip"}, {"HNSW8,SQ4", "l2"},
        {"HNSW8,SQfp16", "ip"}, {"HNSW8,SQbf16", "l2"}, {"HNSW8,SQ8,RFlat", "l2"},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        snprintf(path, sizeof path, "%s/h.vsi", dir);
        assert_int_equal(make_index(path, kinds[k].factory, metric_of(kinds[k].metric)), 0);
        read_all(path, &b, &n);
        uint32_t now = hnsw_layout_of(b, n, path), best = 0;
        free(b);
        for (size_t i = 0; i < N_HNSW; i++)
            if (!strcmp(HNSW_FIXTURES[i].factory, kinds[k].factory) &&
                (HNSW_FIXTURES[i].metric == VS_METRIC_L2) == (metric_of(kinds[k].metric) == VS_METRIC_L2) &&
                HNSW_FIXTURES[i].layout > best)
                best = HNSW_FIXTURES[i].layout;
        print_message("%-16s %-3s layout %u, newest fixture %u\n", kinds[k].factory, kinds[k].metric, now, best);
        if (now != best) fail_msg("%s (%s) is written as HNSW layout %u but the newest fixture has %u: add a fixture",
                                  kinds[k].factory, kinds[k].metric, now, best);
    }

    /* The deterministic writers reproduce their newest fixture exactly. */
    for (size_t i = 0; i < 3; i++) {
        char fixture[1024];
        snprintf(fixture, sizeof fixture, FIX "collection_v2/%s", COLLECTION_FILES[i]);
        snprintf(path, sizeof path, "%s/coll/%s", dir, COLLECTION_FILES[i]);
        same_bytes(fixture, path, COLLECTION_FILES[i]);
    }
    snprintf(path, sizeof path, "%s/m.vsm", dir);
    same_bytes(FIX "manifest_v1.vsm", path, "manifest");
    for (size_t i = 0; i < 4; i++) {
        char fixture[1024];
        snprintf(fixture, sizeof fixture, FIX "payload_v1/%s", PAYLOAD_FILES[i]);
        snprintf(path, sizeof path, "%s/pay/%s", dir, PAYLOAD_FILES[i]);
        same_bytes(fixture, path, PAYLOAD_FILES[i]);
    }
    /* Quantizer files: the SQ8 writer is deterministic (ranges are minima and maxima). */
    char pq_path[1100];
    snprintf(path, sizeof path, "%s/sq.vsq", dir);
    snprintf(pq_path, sizeof pq_path, "%s/pq.vsq", dir);
    assert_int_equal(make_quantizers(path, pq_path), 0);
    same_bytes(FIX "sq8_v1.vsq", path, "scalar quantizer");
    print_message("%zu versioned fixture files, each checked by a test\n", nw.files);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hnsw_fixtures),
        cmocka_unit_test(hnsw_sq8_l2_layout1_is_refused),
        cmocka_unit_test(collection_fixture),
        cmocka_unit_test(collection_v2_fixture),
        cmocka_unit_test(payload_fixture),
        cmocka_unit_test(wal_fixture),
        cmocka_unit_test(wal_v2_fixture),
        cmocka_unit_test(manifest_fixture),
        cmocka_unit_test(quantizer_fixtures),
        cmocka_unit_test(versions_have_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
