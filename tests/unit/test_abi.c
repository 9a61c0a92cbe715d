/* The header's stability rules (vecscale.h, "Options and result structs" and "Persistence"): an
 * options struct from an older, shorter header (struct_size = the offset of a later field) gets
 * the defaults for the fields it lacks, whatever bytes follow it; struct_size 0 is the full 0.2
 * layout; a size the library does not know is refused; the _init functions write the
 * documented defaults. A result struct from an older header is filled up to its struct_size and
 * not a byte further (allocated at exactly that size, so ASan sees any overrun), an array of
 * them is laid out by the first element's size, and a size the library cannot fill is refused
 * before the call does anything. vs_index_save_buffer is the inverse of vs_index_load_buffer for every
 * index type (and writes the bytes vs_index_save writes), and quantizers survive their files. */
#include <stddef.h>

#include "test_util.h"

enum { D = 16, N = 600, NQ = 20, K = 5, NLIST = 16 };

static float *data, *queries;

static int setup(void **state)
{
    (void)state;
    data = tu_random_vectors(N, D, 11);
    queries = tu_random_vectors(NQ, D, 12);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(data);
    free(queries);
    return 0;
}

static vs_index *build(const vs_index_options *o)
{
    vs_index *ix = NULL;
    if (vs_index_create(o, &ix)) fail_msg("create: %s", vs_last_error());
    if (!vs_index_is_trained(ix) && vs_index_train(ix, N, data)) fail_msg("train: %s", vs_last_error());
    if (vs_index_add(ix, N, data, NULL)) fail_msg("add: %s", vs_last_error());
    return ix;
}

static int same_image(const vs_index *a, const vs_index *b)
{
    void *ba, *bb;
    size_t la, lb;
    assert_int_equal(vs_index_save_buffer(a, &ba, &la), VS_OK);
    assert_int_equal(vs_index_save_buffer(b, &bb, &lb), VS_OK);
    int same = la == lb && !memcmp(ba, bb, la);
    vs_buffer_free(ba);
    vs_buffer_free(bb);
    return same;
}

/* A caller built against a header that ended before `seed`: whatever its memory holds after
 * struct_size is not read, so the index is the one the default seed gives. */
static void shorter_index_options_use_defaults(void **state)
{
    (void)state;
    vs_index_options def;
    vs_index_options_init(&def);
    def.dim = D;
    def.factory = "IVF16,Flat";
    vs_index *ref = build(&def);

    vs_index_options old = def;
    old.seed = 987654321;        /* bytes past the old struct's end */
    old.ef_construction = 7;
    old.struct_size = offsetof(vs_index_options, n_threads);
    vs_index *a = build(&old);
    assert_true(same_image(a, ref));

    /* The same bytes inside struct_size are read: the seed changes the trained index, so the
     * comparison above can tell a read field from an ignored one. */
    old.struct_size = sizeof old;
    vs_index *b = build(&old);
    assert_false(same_image(b, ref));
    /* struct_size 0 is the full 0.2 layout. */
    old.struct_size = 0;
    vs_index *c = build(&old);
    assert_true(same_image(c, b));
    vs_index_free(ref);
    vs_index_free(a);
    vs_index_free(b);
    vs_index_free(c);
}

static void shorter_search_params_use_defaults(void **state)
{
    (void)state;
    vs_index_options o;
    vs_index_options_init(&o);
    o.dim = D;
    o.factory = "IVF16,Flat";
    vs_index *ix = build(&o);
    float d0[NQ * K], d1[NQ * K], d2[NQ * K];
    int64_t i0[NQ * K], i1[NQ * K], i2[NQ * K];
    vs_search_params p;
    vs_search_params_init(&p);
    assert_int_equal(vs_index_search(ix, NQ, queries, K, &p, d0, i0), VS_OK);

    p.nprobe = NLIST; /* every list: exact, unlike the default of 1 */
    p.struct_size = offsetof(vs_search_params, nprobe);
    assert_int_equal(vs_index_search(ix, NQ, queries, K, &p, d1, i1), VS_OK);
    assert_memory_equal(i1, i0, sizeof i0);
    assert_memory_equal(d1, d0, sizeof d0);

    p.struct_size = sizeof p;
    assert_int_equal(vs_index_search(ix, NQ, queries, K, &p, d2, i2), VS_OK);
    assert_true(memcmp(i2, i0, sizeof i0) != 0);
    vs_index_free(ix);
}

static void shorter_kmeans_params_use_defaults(void **state)
{
    (void)state;
    float c0[4 * D], c1[4 * D], c2[4 * D];
    assert_int_equal(vs_kmeans(N, D, data, 4, NULL, c0, NULL), VS_OK);
    vs_kmeans_params p;
    vs_kmeans_params_init(&p);
    p.seed = 99;
    p.n_iter = 1;
    p.struct_size = offsetof(vs_kmeans_params, n_iter);
    assert_int_equal(vs_kmeans(N, D, data, 4, &p, c1, NULL), VS_OK);
    assert_memory_equal(c1, c0, sizeof c0);
    p.struct_size = sizeof p;
    assert_int_equal(vs_kmeans(N, D, data, 4, &p, c2, NULL), VS_OK);
    assert_true(memcmp(c2, c0, sizeof c0) != 0);
}

static void unknown_struct_sizes_are_refused(void **state)
{
    (void)state;
    vs_index_options o;
    vs_index_options_init(&o);
    o.dim = D;
    vs_index *ix = NULL;
    o.struct_size = sizeof o + 8; /* a newer header than this library */
    assert_int_equal(vs_index_create(&o, &ix), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "struct_size"));
    o.struct_size = 3;
    assert_int_equal(vs_index_create(&o, &ix), VS_ERR_INVALID_ARG);
    assert_null(ix);
    vs_search_params p = {.struct_size = sizeof p + 1};
    float d[K];
    int64_t id[K];
    o.struct_size = sizeof o;
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    assert_int_equal(vs_index_add(ix, 10, data, NULL), VS_OK);
    assert_int_equal(vs_index_search(ix, 1, queries, K, &p, d, id), VS_ERR_INVALID_ARG);
    vs_index_free(ix);
    vs_kmeans_params kp = {.struct_size = 1};
    float c[2 * D];
    assert_int_equal(vs_kmeans(N, D, data, 2, &kp, c, NULL), VS_ERR_INVALID_ARG);
    vs_collection_options co = {.struct_size = sizeof co * 2, .dim = D};
    vs_collection *coll = NULL;
    char *dir = tu_tempdir();
    assert_int_equal(vs_collection_create(dir, &co, &coll), VS_ERR_INVALID_ARG);
    tu_rmdir(dir);
    vs_model_options mo = {.struct_size = sizeof mo + 4};
    vs_model *m = NULL;
    assert_int_equal(vs_model_open_with("no-such-model", &mo, &m), VS_ERR_INVALID_ARG);
}

/* The _init functions write the defaults vecscale.h documents, and struct_size. */
static void init_functions_fill_defaults(void **state)
{
    (void)state;
    vs_index_options io;
    memset(&io, 0xab, sizeof io);
    vs_index_options_init(&io);
    assert_int_equal(io.struct_size, sizeof io);
    assert_int_equal(io.dim, 0);
    assert_int_equal(io.metric, VS_METRIC_L2);
    assert_null(io.factory);
    assert_int_equal(io.n_threads, 0);
    assert_int_equal(io.ef_construction, 200);
    assert_int_equal(io.seed, 0);
    vs_search_params sp;
    memset(&sp, 0xab, sizeof sp);
    vs_search_params_init(&sp);
    assert_int_equal(sp.struct_size, sizeof sp);
    assert_null(sp.filter);
    assert_int_equal(sp.nprobe, 1);
    assert_int_equal(sp.ef_search, 0);
    assert_true(sp.k_factor == 4.0f);
    vs_kmeans_params kp;
    vs_kmeans_params_init(&kp);
    assert_int_equal(kp.struct_size, sizeof kp);
    assert_int_equal(kp.n_iter, 25);
    assert_int_equal(kp.max_points_per_centroid, 256);
    assert_int_equal(kp.seed, 1234);
    vs_s3_options so;
    vs_s3_options_init(&so);
    assert_int_equal(so.struct_size, sizeof so);
    assert_int_equal(so.timeout_ms, 30000);
    assert_int_equal(so.retries, 3);
    assert_int_equal(so.part_size, 64ull << 20);
    assert_int_equal(so.list_page, 1000);
    vs_model_options mo;
    vs_model_options_init(&mo);
    assert_int_equal(mo.struct_size, sizeof mo);
    assert_int_equal(mo.precision, VS_PRECISION_DEFAULT);
    assert_null(mo.model_dir);
    vs_model_pull_options po;
    vs_model_pull_options_init(&po);
    assert_int_equal(po.struct_size, sizeof po);
    assert_int_equal(po.timeout_s, 30);
    vs_collection_options co;
    vs_collection_options_init(&co);
    assert_int_equal(co.struct_size, sizeof co);
    assert_int_equal(co.snapshot_log_bytes, 64ull << 20);
    assert_int_equal(co.no_auto_index, 0);
    vs_maintenance_policy mp;
    vs_maintenance_policy_init(&mp);
    assert_int_equal(mp.struct_size, sizeof mp);
    assert_int_equal(mp.poll_ms, 200);

    /* What an _init writes and what zero means give the same index (HNSW: ef_construction). */
    io.dim = D;
    io.factory = "HNSW8";
    vs_index_options zero = {.dim = D, .factory = "HNSW8"};
    vs_index *a = build(&io), *b = build(&zero);
    assert_true(same_image(a, b));
    vs_index_free(a);
    vs_index_free(b);
}

/* vs_index_save_buffer -> vs_index_load_buffer for every index type: the same answers, and
 * the same bytes as vs_index_save and as a second save of the loaded index. */
static void save_buffer_round_trips_every_type(void **state)
{
    (void)state;
    static const struct { const char *factory; vs_metric metric; } kinds[] = {
        {"Flat", VS_METRIC_L2},           {"Flat", VS_METRIC_COSINE},        {"IVF16,Flat", VS_METRIC_L2},
        {"IVF16,SQ8", VS_METRIC_IP},      {"IVF16,SQ4", VS_METRIC_L2},       {"IVF16,SQfp16", VS_METRIC_L2},
        {"IVF16,SQbf16", VS_METRIC_IP},   {"IVF16,PQ4", VS_METRIC_L2},       {"IVF16,PQ8x4fs", VS_METRIC_L2},
        {"IVF16,PQ8x4fs,RFlat", VS_METRIC_L2}, {"SQ8", VS_METRIC_L2},        {"PQ4x6", VS_METRIC_IP},
        {"PQ8x4fs", VS_METRIC_L2},        {"HNSW8", VS_METRIC_L2},           {"HNSW8,SQ8", VS_METRIC_L2},
        {"HNSW8,SQ4", VS_METRIC_IP},      {"HNSW8,SQfp16", VS_METRIC_COSINE}, {"HNSW8,SQbf16", VS_METRIC_L2},
        {"HNSW8,SQ8,RFlat", VS_METRIC_L2},
    };
    char *dir = tu_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/x.vsi", dir);
    for (size_t t = 0; t < sizeof kinds / sizeof kinds[0]; t++) {
        vs_index_options o;
        vs_index_options_init(&o);
        o.dim = D;
        o.metric = kinds[t].metric;
        o.factory = kinds[t].factory;
        vs_index *ix = build(&o);
        int64_t gone[2] = {3, 77};
        assert_int_equal(vs_index_remove(ix, 2, gone, NULL), VS_OK);
        void *buf;
        size_t len;
        if (vs_index_save_buffer(ix, &buf, &len)) fail_msg("%s: %s", kinds[t].factory, vs_last_error());
        vs_index *back = NULL;
        if (vs_index_load_buffer(buf, len, &back)) fail_msg("%s: load_buffer: %s", kinds[t].factory, vs_last_error());
        assert_string_equal(vs_index_factory(back), vs_index_factory(ix));
        assert_int_equal(vs_index_size(back), N - 2);
        float da[NQ * K], db[NQ * K];
        int64_t ia[NQ * K], ib[NQ * K];
        vs_search_params p;
        vs_search_params_init(&p);
        p.nprobe = 4;
        assert_int_equal(vs_index_search(ix, NQ, queries, K, &p, da, ia), VS_OK);
        assert_int_equal(vs_index_search(back, NQ, queries, K, &p, db, ib), VS_OK);
        if (memcmp(ia, ib, sizeof ia) || memcmp(da, db, sizeof da))
            fail_msg("%s: the loaded index answers differently", kinds[t].factory);
        void *again;
        size_t again_len;
        assert_int_equal(vs_index_save_buffer(back, &again, &again_len), VS_OK);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, buf, len);
        assert_int_equal(vs_index_save(ix, path), VS_OK);
        FILE *f = fopen(path, "rb");
        uint8_t *file = malloc(len + 1);
        assert_int_equal(fread(file, 1, len + 1, f), len);
        fclose(f);
        assert_memory_equal(file, buf, len);
        /* The image is checked like a file: a flipped byte of the first section is refused. */
        ((uint8_t *)buf)[64 + 2] ^= 0x40;
        vs_index *bad = NULL;
        assert_int_equal(vs_index_load_buffer(buf, len, &bad), VS_ERR_CORRUPT);
        free(file);
        vs_buffer_free(again);
        vs_buffer_free(buf);
        vs_index_free(back);
        vs_index_free(ix);
    }
    vs_buffer_free(NULL);
    tu_rmdir(dir);
}

static void scalar_quantizer_files(void **state)
{
    (void)state;
    static const vs_code_kind kinds[] = {VS_CODE_SQ8, VS_CODE_SQ4, VS_CODE_SQFP16, VS_CODE_SQBF16};
    char *dir = tu_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/q.vsq", dir);
    for (size_t k = 0; k < 4; k++) {
        vs_scalar_quantizer *q, *f = NULL, *b = NULL;
        assert_int_equal(vs_scalar_quantizer_create(D, kinds[k], &q), VS_OK);
        assert_int_equal(vs_scalar_quantizer_train(q, N, data), VS_OK);
        assert_int_equal(vs_scalar_quantizer_save(q, path), VS_OK);
        assert_int_equal(vs_scalar_quantizer_load(path, &f), VS_OK);
        void *buf;
        size_t len;
        assert_int_equal(vs_scalar_quantizer_save_buffer(q, &buf, &len), VS_OK);
        assert_int_equal(vs_scalar_quantizer_load_buffer(buf, len, &b), VS_OK);
        size_t cs = vs_scalar_quantizer_code_size(q);
        assert_int_equal(vs_scalar_quantizer_code_size(f), cs);
        uint8_t *c0 = malloc(N * cs), *c1 = malloc(N * cs), *c2 = malloc(N * cs);
        assert_int_equal(vs_scalar_quantizer_encode(q, N, data, c0), VS_OK);
        assert_int_equal(vs_scalar_quantizer_encode(f, N, data, c1), VS_OK);
        assert_int_equal(vs_scalar_quantizer_encode(b, N, data, c2), VS_OK);
        assert_memory_equal(c1, c0, N * cs);
        assert_memory_equal(c2, c0, N * cs);
        /* Not a product quantizer's file. */
        vs_product_quantizer *wrong = NULL;
        assert_int_equal(vs_product_quantizer_load(path, &wrong), VS_ERR_INVALID_ARG);
        assert_null(wrong);
        free(c0);
        free(c1);
        free(c2);
        vs_buffer_free(buf);
        vs_scalar_quantizer_free(q);
        vs_scalar_quantizer_free(f);
        vs_scalar_quantizer_free(b);
    }
    /* An untrained SQ8 keeps its configuration and stays untrained. */
    vs_scalar_quantizer *u, *ub;
    assert_int_equal(vs_scalar_quantizer_create(D, VS_CODE_SQ8, &u), VS_OK);
    assert_int_equal(vs_scalar_quantizer_save(u, path), VS_OK);
    assert_int_equal(vs_scalar_quantizer_load(path, &ub), VS_OK);
    uint8_t code[D];
    assert_int_equal(vs_scalar_quantizer_encode(ub, 1, data, code), VS_ERR_NOT_TRAINED);
    vs_scalar_quantizer_free(u);
    vs_scalar_quantizer_free(ub);
    snprintf(path, sizeof path, "%s/missing.vsq", dir);
    assert_int_equal(vs_scalar_quantizer_load(path, &ub), VS_ERR_NOT_FOUND);
    tu_rmdir(dir);
}

static void product_quantizer_files(void **state)
{
    (void)state;
    static const uint32_t bits[] = {4, 6, 8};
    char *dir = tu_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/q.vsq", dir);
    for (size_t k = 0; k < 3; k++) {
        vs_product_quantizer *q, *f = NULL, *b = NULL;
        assert_int_equal(vs_product_quantizer_create(D, 4, bits[k], &q), VS_OK);
        assert_int_equal(vs_product_quantizer_train(q, N, data, 3, 1), VS_OK);
        assert_int_equal(vs_product_quantizer_save(q, path), VS_OK);
        assert_int_equal(vs_product_quantizer_load(path, &f), VS_OK);
        void *buf;
        size_t len;
        assert_int_equal(vs_product_quantizer_save_buffer(q, &buf, &len), VS_OK);
        assert_int_equal(vs_product_quantizer_load_buffer(buf, len, &b), VS_OK);
        size_t cs = vs_product_quantizer_code_size(q);
        assert_int_equal(vs_product_quantizer_code_size(b), cs);
        uint8_t *c0 = malloc(N * cs), *c1 = malloc(N * cs), *c2 = malloc(N * cs);
        float *r0 = malloc(N * D * sizeof *r0), *r1 = malloc(N * D * sizeof *r1);
        assert_int_equal(vs_product_quantizer_encode(q, N, data, c0), VS_OK);
        assert_int_equal(vs_product_quantizer_encode(f, N, data, c1), VS_OK);
        assert_int_equal(vs_product_quantizer_encode(b, N, data, c2), VS_OK);
        assert_memory_equal(c1, c0, N * cs);
        assert_memory_equal(c2, c0, N * cs);
        assert_int_equal(vs_product_quantizer_decode(q, N, c0, r0), VS_OK);
        assert_int_equal(vs_product_quantizer_decode(f, N, c0, r1), VS_OK);
        assert_memory_equal(r1, r0, N * D * sizeof *r0);
        /* A damaged file is refused, a scalar loader refuses it too. */
        ((uint8_t *)buf)[len - 40] ^= 1;
        vs_product_quantizer *bad = NULL;
        assert_int_equal(vs_product_quantizer_load_buffer(buf, len, &bad), VS_ERR_CORRUPT);
        assert_null(bad);
        vs_scalar_quantizer *wrong = NULL;
        assert_int_equal(vs_scalar_quantizer_load(path, &wrong), VS_ERR_INVALID_ARG);
        free(c0);
        free(c1);
        free(c2);
        free(r0);
        free(r1);
        vs_buffer_free(buf);
        vs_product_quantizer_free(q);
        vs_product_quantizer_free(f);
        vs_product_quantizer_free(b);
    }
    tu_rmdir(dir);
}

/* A collection of N documents with metadata {"g": i % 3} and a keyword index on "g", plus
 * a declared integer index on "n". */
static vs_collection *small_collection(char **dir)
{
    *dir = tu_tempdir();
    vs_payload_index_spec pix[2] = {{"g", VS_PAYLOAD_KEYWORD}, {"n", VS_PAYLOAD_INTEGER}};
    vs_collection_options o;
    vs_collection_options_init(&o);
    o.dim = D;
    o.payload_indexes = pix;
    o.n_payload_indexes = 2;
    o.no_auto_index = 1;
    vs_collection *c = NULL;
    if (vs_collection_create(*dir, &o, &c)) fail_msg("create: %s", vs_last_error());
    char (*meta)[48] = malloc(N * sizeof *meta);
    const char **mp = malloc(N * sizeof *mp);
    for (int i = 0; i < N; i++) {
        snprintf(meta[i], sizeof meta[i], "{\"g\": \"g%d\", \"n\": %d}", i % 3, i);
        mp[i] = meta[i];
    }
    if (vs_collection_add(c, N, data, NULL, NULL, mp, NULL)) fail_msg("add: %s", vs_last_error());
    free(meta);
    free(mp);
    return c;
}

/* The bytes of `p` from `from` to `to` all hold `v`. */
static int bytes_are(const void *p, size_t from, size_t to, uint8_t v)
{
    for (size_t i = from; i < to; i++)
        if (((const uint8_t *)p)[i] != v) return 0;
    return 1;
}

/* A result struct as a caller built against an older header holds it: exactly `size` bytes
 * on the heap (ASan reports a write of one byte more), filled with 0xee, struct_size = size. */
static void *old_struct(size_t size)
{
    void *p = malloc(size);
    memset(p, 0xee, size);
    memcpy(p, &size, sizeof size);
    return p;
}

/* The old struct's bytes as the current struct (zero beyond them), then frees it. */
static void read_old(void *full, size_t full_size, void *old, size_t size)
{
    memset(full, 0, full_size);
    memcpy(full, old, size);
    free(old);
}

/* A caller whose header ended before a field: the fields it has are filled as for a full
 * struct, nothing past its size is written. */
static void shorter_result_structs_are_filled_within_their_size(void **state)
{
    (void)state;
    char *dir;
    vs_collection *c = small_collection(&dir);
    vs_collection_info full = {.struct_size = sizeof full};
    assert_int_equal(vs_collection_info_get(c, &full), VS_OK);
    assert_int_equal(full.count, N);
    assert_string_equal(full.factory, "Flat");

    size_t old = offsetof(vs_collection_info, log_bytes);
    void *raw = old_struct(old);
    assert_int_equal(vs_collection_info_get(c, raw), VS_OK);
    vs_collection_info in;
    read_old(&in, sizeof in, raw, old);
    assert_int_equal(in.struct_size, old); /* the caller's, untouched */
    assert_int_equal(in.dim, D);
    assert_int_equal(in.count, N);
    assert_int_equal(in.generation, full.generation);
    /* struct_size 0 is the full 0.3 layout. */
    vs_collection_info zero;
    memset(&zero, 0xee, sizeof zero);
    zero.struct_size = 0;
    assert_int_equal(vs_collection_info_get(c, &zero), VS_OK);
    assert_string_equal(zero.model, full.model);
    assert_string_equal(zero.factory, "Flat");

    /* A report that ends inside `unindexed`: the flags are written, the text cut at the size. */
    size_t rold = offsetof(vs_filter_report, unindexed) + 4;
    raw = old_struct(rold);
    float d[K];
    int64_t id[K];
    assert_int_equal(vs_collection_search_where(c, 1, queries, K, NULL, "{\"g\": \"g1\"}", d, id, raw), VS_OK);
    vs_filter_report rep;
    read_old(&rep, sizeof rep, raw, rold);
    assert_int_equal(rep.indexed, 1);
    assert_int_equal(rep.allowed, N / 3);
    uint64_t count = 0;
    raw = old_struct(offsetof(vs_filter_report, allowed));
    assert_int_equal(vs_collection_count_where(c, "{\"g\": \"g2\"}", &count, raw), VS_OK);
    read_old(&rep, sizeof rep, raw, offsetof(vs_filter_report, allowed));
    assert_int_equal(count, N / 3);
    assert_int_equal(rep.indexed, 1);
    assert_int_equal(rep.allowed, 0);

    /* An array of payload index descriptions in the old element size: each element that many
     * bytes, each one's struct_size set to it. */
    size_t el = offsetof(vs_payload_index_info, values);
    uint8_t *arr = malloc(2 * el);
    memset(arr, 0xee, 2 * el);
    memcpy(arr, &el, sizeof el);
    size_t n = 0;
    assert_int_equal(vs_collection_payload_indexes(c, (vs_payload_index_info *)arr, 2, &n), VS_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < 2; i++) {
        vs_payload_index_info e;
        memset(&e, 0, sizeof e);
        memcpy(&e, arr + i * el, el);
        assert_int_equal(e.struct_size, el);
        assert_string_equal(e.field, i ? "n" : "g");
        assert_int_equal(e.type, i ? VS_PAYLOAD_INTEGER : VS_PAYLOAD_KEYWORD);
        assert_int_equal(e.documents, N);
    }
    free(arr);

    /* A factory spec from a header that ended before pq_m: coarse and nlist filled... */
    size_t fold = offsetof(vs_factory_spec, pq_m);
    raw = old_struct(fold);
    assert_int_equal(vs_factory_parse("IVF77,SQ8", raw), VS_OK);
    /* ... and, as an input, read as zero in the fields it lacks (no RFlat). */
    char name[64];
    assert_int_equal(vs_factory_format(raw, name, sizeof name), VS_OK);
    assert_string_equal(name, "IVF77,SQ8");
    vs_factory_spec fs;
    read_old(&fs, sizeof fs, raw, fold);
    assert_int_equal(fs.coarse, VS_COARSE_IVF);
    assert_int_equal(fs.nlist, 77);
    assert_int_equal(fs.code, VS_CODE_SQ8);

    /* Snapshot stats: checked before any work, filled within the size on the way out. */
    raw = old_struct(offsetof(vs_snapshot_stats, bytes));
    assert_int_equal(vs_snapshot_push(NULL, dir, "s3://b/p", raw), VS_ERR_INVALID_ARG);
    assert_null(strstr(vs_last_error(), "struct_size")); /* refused for the NULL client */
    vs_snapshot_stats ss;
    read_old(&ss, sizeof ss, raw, offsetof(vs_snapshot_stats, bytes));
    assert_int_equal(ss.generation, 0); /* what a failed push reports, within the size */
    assert_int_equal(ss.files, 0);
    assert_int_equal(vs_collection_close(c), VS_OK);
    tu_rmdir(dir);
}

/* A struct_size that cannot be filled (smaller than the size field, or from a newer header)
 * is refused, naming the struct, and the call does nothing. */
static void unfillable_result_sizes_are_refused(void **state)
{
    (void)state;
    char *dir;
    vs_collection *c = small_collection(&dir);
    vs_collection_info in;
    memset(&in, 0xee, sizeof in);
    in.struct_size = 4;
    assert_int_equal(vs_collection_info_get(c, &in), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "vs_collection_info.struct_size is 4"));
    assert_true(bytes_are(&in, sizeof in.struct_size, sizeof in, 0xee));
    in.struct_size = sizeof in + 8;
    assert_int_equal(vs_collection_info_get(c, &in), VS_ERR_INVALID_ARG);
    assert_true(bytes_are(&in, sizeof in.struct_size, sizeof in, 0xee));

    float d[K];
    int64_t id[K];
    memset(id, 0x55, sizeof id);
    vs_filter_report rep = {.struct_size = 1};
    assert_int_equal(vs_collection_search_where(c, 1, queries, K, NULL, "{\"g\": \"g1\"}", d, id, &rep),
                     VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "vs_filter_report.struct_size"));
    assert_true(bytes_are(id, 0, sizeof id, 0x55)); /* no search ran */
    uint64_t count = 7;
    assert_int_equal(vs_collection_count_where(c, "{\"g\": \"g1\"}", &count, &rep), VS_ERR_INVALID_ARG);
    assert_int_equal(count, 7);

    vs_payload_index_info info[2] = {{.struct_size = sizeof info[0] * 2}};
    size_t n = 99;
    assert_int_equal(vs_collection_payload_indexes(c, info, 2, &n), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "vs_payload_index_info.struct_size"));
    assert_int_equal(n, 99);
    /* A sizing call (cap 0) reads no element. */
    assert_int_equal(vs_collection_payload_indexes(c, NULL, 0, &n), VS_OK);
    assert_int_equal(n, 2);

    vs_factory_spec fs = {.struct_size = 2};
    assert_int_equal(vs_factory_parse("Flat", &fs), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "vs_factory_spec.struct_size"));

    char *empty = tu_tempdir();
    vs_snapshot_stats ss = {.struct_size = sizeof ss + 1};
    assert_int_equal(vs_snapshot_push(NULL, dir, "s3://b/p", &ss), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "vs_snapshot_stats.struct_size"));
    assert_int_equal(vs_snapshot_pull(NULL, "s3://b/p", 0, empty, &ss), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "vs_snapshot_stats.struct_size"));
    vs_snapshot_gc_stats gs = {.struct_size = 3};
    assert_int_equal(vs_snapshot_gc(NULL, "s3://b/p", 1, 0, 1, &gs), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "vs_snapshot_gc_stats.struct_size"));
    tu_rmdir(empty);
    assert_int_equal(vs_collection_close(c), VS_OK);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shorter_index_options_use_defaults),
        cmocka_unit_test(shorter_search_params_use_defaults),
        cmocka_unit_test(shorter_kmeans_params_use_defaults),
        cmocka_unit_test(unknown_struct_sizes_are_refused),
        cmocka_unit_test(init_functions_fill_defaults),
        cmocka_unit_test(save_buffer_round_trips_every_type),
        cmocka_unit_test(scalar_quantizer_files),
        cmocka_unit_test(product_quantizer_files),
        cmocka_unit_test(shorter_result_structs_are_filled_within_their_size),
        cmocka_unit_test(unfillable_result_sizes_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
