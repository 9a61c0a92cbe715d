/* Replays the committed fuzz corpora through the harnesses on every test run (with ASan and
 * UBSan in CI), so an input that once crashed a parser stays fixed, and feeds the
 * checksummed parsers (index and model containers, the write-ahead log, snapshot manifests)
 * valid files made by the library plus systematic mutations of them.
 *
 * The harnesses rewrite checksums before parsing (tests/fuzz/fuzz_common.h), so the parsers
 * behind them see every input; each harness aborts on a crash-free but wrong answer (an
 * invariant of an accepted input), and the sanitizers abort on a bad access. Either fails this
 * test and names the input. Per harness it prints how many inputs there were, how many had
 * intact checksums as they came, how many got past the checksum once re-checksummed, and how
 * many the parser accepted; it fails when re-checksumming no longer gets inputs past the
 * checksum, when a corpus file named valid-* or an unmutated generated file is refused, or when
 * mutations are all accepted or all refused (the parser would not be exercised).
 * VS_FUZZ_WRITE_SEEDS=DIR writes the unmutated generated files there (the valid-* seeds). */
#include <signal.h>
#include <sys/stat.h>

#include "test_util.h"

#include "../fuzz/fuzz_common.h"
#include "storage/snapshot_manifest.h"
#include "embed/glove.h"

int vs_fuzz_load_index(const uint8_t *data, size_t size);
int vs_fuzz_load_quantizer(const uint8_t *data, size_t size);
int vs_fuzz_vecfile(const uint8_t *data, size_t size);
int vs_fuzz_tokenizer_text(const uint8_t *data, size_t size);
int vs_fuzz_tokenizer_json(const uint8_t *data, size_t size);
int vs_fuzz_safetensors(const uint8_t *data, size_t size);
int vs_fuzz_glove_model(const uint8_t *data, size_t size);
int vs_fuzz_wal(const uint8_t *data, size_t size);
int vs_fuzz_s3_answers(const uint8_t *data, size_t size);

typedef int (*harness_fn)(const uint8_t *, size_t);

/* ---- naming the input that failed ------------------------------------------------------- */

static char current[1500];

static void say_which(void)
{
    static const char pre[] = "test_fuzz_corpus: failed while replaying ";
    ssize_t r = write(2, pre, sizeof pre - 1);
    r = write(2, current, strlen(current));
    r = write(2, "\n", 1);
    (void)r;
}

static void on_abort(int sig)
{
    say_which();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Present in sanitizer builds: ASan and UBSan call it before they exit. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static int setup(void **state)
{
    (void)state;
    signal(SIGABRT, on_abort);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(say_which);
    return 0;
}

/* ---- feeding and counting --------------------------------------------------------------- */

static void feed(harness_fn h, vs_fuzz_stats *st, const char *name, const uint8_t *buf, size_t len, int must_accept)
{
    snprintf(current, sizeof current, "%s", name);
    size_t before = st ? st->accepted : 0;
    assert_int_equal(h(buf, len), 0);
    if (must_accept && st->accepted != before + 1)
        fail_msg("%s is a valid file but the parser refused it: %s", name, vs_last_error());
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Every file of tests/fuzz/corpus/NAME, in name order; a file named valid-* must be accepted. */
static size_t replay_dir(const char *name, harness_fn h, vs_fuzz_stats *st)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", VS_TEST_SOURCE_DIR, name);
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, by_name);
    if (n < 0) fail_msg("cannot list %s", dir);
    size_t fed = 0;
    for (int i = 0; i < n; i++) {
        const char *f = list[i]->d_name;
        if (f[0] != '.') {
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, f);
            FILE *fp = fopen(path, "rb");
            assert_non_null(fp);
            assert_int_equal(fseek(fp, 0, SEEK_END), 0);
            long len = ftell(fp);
            assert_true(len >= 0);
            rewind(fp);
            uint8_t *buf = malloc(len ? (size_t)len : 1); /* exact: ASan sees a read past the end */
            assert_non_null(buf);
            assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
            fclose(fp);
            feed(h, st, path, buf, (size_t)len, st && !strncmp(f, "valid-", 6));
            free(buf);
            fed++;
        }
        free(list[i]);
    }
    free(list);
    return fed;
}

static vs_fuzz_stats since(const vs_fuzz_stats *now, const vs_fuzz_stats *then)
{
    return (vs_fuzz_stats){now->inputs - then->inputs, now->intact - then->intact,
                           now->past_checksum - then->past_checksum, now->accepted - then->accepted};
}

static void report(const char *what, vs_fuzz_stats s)
{
    print_message("%-26s %5zu inputs: %5zu with intact checksums as committed, %5zu past the checksum once "
                  "re-checksummed, %5zu accepted, %5zu rejected\n",
                  what, s.inputs, s.intact, s.past_checksum, s.accepted, s.inputs - s.accepted);
}

/* A committed corpus of a checksummed format: re-checksumming must get more inputs to the
 * parser than arrive intact, and the parser must get at least half of them. */
static void replay_checksummed(const char *name, harness_fn h, vs_fuzz_stats *st, size_t min_inputs)
{
    vs_fuzz_stats before = *st;
    size_t fed = replay_dir(name, h, st);
    vs_fuzz_stats s = since(st, &before);
    char what[64];
    snprintf(what, sizeof what, "%s corpus", name);
    report(what, s);
    assert_true(fed >= min_inputs);
    assert_true(s.past_checksum > s.intact);
    assert_true(2 * s.past_checksum >= s.inputs);
}

/* ---- generated valid files and their mutations ------------------------------------------ */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void keep_seed(const char *corpus, const char *name, const uint8_t *b, size_t len)
{
    const char *dir = getenv("VS_FUZZ_WRITE_SEEDS");
    if (!dir) return;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, corpus);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/valid-%s", dir, corpus, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Values worth trying in a length, count or offset field: the edges, one off its value, and
 * one off each length the file's sections have (what a field is usually checked against). */
static size_t field_values(uint32_t v, const uint64_t *lens, size_t n_lens, uint32_t *out)
{
    size_t k = 0;
    const uint32_t fixed[] = {0, 1, v - 1, v + 1, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) out[k++] = fixed[i];
    for (size_t i = 0; i < n_lens; i++)
        for (int d = -1; d <= 1; d++) out[k++] = (uint32_t)lens[i] + (uint32_t)d;
    return k;
}

/* Each u32 at pos[i] of b set to each of its field values; every variant goes to h. */
static void mutate_fields(harness_fn h, vs_fuzz_stats *st, const char *name, const uint8_t *b, size_t len,
                          const size_t *pos, size_t n_pos, const uint64_t *lens, size_t n_lens)
{
    uint8_t *m = malloc(len);
    uint32_t *vals = malloc((6 + 3 * n_lens) * sizeof *vals);
    assert_true(m && vals);
    for (size_t i = 0; i < n_pos; i++) {
        uint32_t v;
        memcpy(&v, b + pos[i], 4);
        size_t nv = field_values(v, lens, n_lens, vals);
        for (size_t j = 0; j < nv; j++) {
            if (vals[j] == v) continue;
            memcpy(m, b, len);
            memcpy(m + pos[i], &vals[j], 4);
            char what[200];
            snprintf(what, sizeof what, "%s with the u32 at byte %zu set to %u", name, pos[i], vals[j]);
            feed(h, st, what, m, len, 0);
        }
    }
    free(vals);
    free(m);
}

/* A container file (src/io/container.h): the header's version, size, table offset, section
 * count and kind, every section's length in the table, and the first 4 and last 2 words of
 * every section are mutated. */
static void mutate_container(harness_fn h, vs_fuzz_stats *st, const char *name, const uint8_t *b, size_t len)
{
    feed(h, st, name, b, len, 1);
    uint64_t table = vs_fuzz_get64(b + 24);
    uint32_t count = vs_fuzz_get32(b + 32);
    assert_true(count > 0 && table + (uint64_t)count * 32 <= len);
    uint64_t *lens = malloc(count * sizeof *lens);
    size_t *pos = malloc((5 + count * 7) * sizeof *pos), n_pos = 0;
    assert_true(lens && pos);
    static const size_t header_fields[] = {8, 16, 24, 32, 36};
    for (size_t i = 0; i < 5; i++) pos[n_pos++] = header_fields[i];
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = b + table + (size_t)i * 32;
        uint64_t off = vs_fuzz_get64(e + 8), l = vs_fuzz_get64(e + 16);
        lens[i] = l;
        pos[n_pos++] = table + (size_t)i * 32 + 16;
        for (uint64_t w = 0; w < 4 && 4 * w + 4 <= l; w++) pos[n_pos++] = off + 4 * w;
        for (uint64_t w = 2; w >= 1 && l >= 4 * w + 16; w--) pos[n_pos++] = off + l - 4 * w;
    }
    mutate_fields(h, st, name, b, len, pos, n_pos, lens, count);
    free(lens);
    free(pos);
}

static void check_mutations(const char *what, vs_fuzz_stats s)
{
    if (s.past_checksum) report(what, s);
    else print_message("%-26s %5zu inputs (no checksums): %5zu accepted, %5zu rejected\n", what, s.inputs, s.accepted,
                       s.inputs - s.accepted);
    /* Both outcomes must occur, or the mutations no longer reach the parser's decisions. */
    assert_true(s.accepted > 0 && s.accepted < s.inputs);
}

typedef struct {
    const char *factory;
    vs_metric metric;
    size_t n;
} index_seed;

static void generated_indexes(void)
{
    static const index_seed seeds[] = {
        {"Flat", VS_METRIC_L2, 12},        {"Flat", VS_METRIC_IP, 12},      {"Flat", VS_METRIC_COSINE, 12},
        {"Flat", VS_METRIC_L2, 0},         {"SQ8", VS_METRIC_L2, 12},       {"SQfp16", VS_METRIC_IP, 12},
        {"PQ4x4", VS_METRIC_L2, 40},       {"IVF4,Flat", VS_METRIC_L2, 40}, {"IVF4,SQ8", VS_METRIC_IP, 40},
        {"IVF2,PQ4x4fs", VS_METRIC_L2, 40}, {"IVF4,PQ4x4,RFlat", VS_METRIC_L2, 40},
        {"HNSW4", VS_METRIC_L2, 30},       {"HNSW4,SQ8", VS_METRIC_L2, 30}, {"HNSW4,SQ8", VS_METRIC_IP, 30},
        {"HNSW4,SQfp16", VS_METRIC_COSINE, 30},
    };
    enum { D = 8 };
    char *dir = tu_tempdir();
    vs_fuzz_stats before = vs_fuzz_load_index_stats;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        const index_seed *is = &seeds[s];
        vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = D, .metric = is->metric, .factory = is->factory, .seed = 5};
        vs_index *ix = NULL;
        assert_int_equal(vs_index_create(&o, &ix), VS_OK);
        float *x = tu_random_vectors(is->n ? is->n : 1, D, 40 + s);
        if (is->n) {
            if (!vs_index_is_trained(ix)) assert_int_equal(vs_index_train(ix, is->n, x), VS_OK);
            assert_int_equal(vs_index_add(ix, is->n, x, NULL), VS_OK);
            int64_t gone = 3;
            assert_int_equal(vs_index_remove(ix, 1, &gone, NULL), VS_OK); /* a deletion on file too */
        }
        char path[1200], name[200];
        snprintf(path, sizeof path, "%s/seed.vsi", dir);
        assert_int_equal(vs_index_save(ix, path), VS_OK);
        size_t len;
        uint8_t *b = read_file(path, &len);
        snprintf(name, sizeof name, "%s-%s-%zu.vsi", is->factory, is->metric == VS_METRIC_L2 ? "l2" : is->metric == VS_METRIC_IP ? "ip" : "cos", is->n);
        for (char *c = name; *c; c++)
            if (*c == ',') *c = '_';
        keep_seed("load_index", name, b, len);
        mutate_container(vs_fuzz_load_index, &vs_fuzz_load_index_stats, name, b, len);
        free(b);
        free(x);
        vs_index_free(ix);
    }
    check_mutations("load_index generated", since(&vs_fuzz_load_index_stats, &before));
    tu_rmdir(dir);
}

/* Scalar quantizers of every kind and product quantizers of several widths, trained and not. */
static void generated_quantizers(void)
{
    enum { D = 8, N = 64 };
    char *dir = tu_tempdir();
    vs_fuzz_stats before = vs_fuzz_load_quantizer_stats;
    float *x = tu_random_vectors(N, D, 91);
    static const vs_code_kind sq_kinds[] = {VS_CODE_SQ8, VS_CODE_SQ4, VS_CODE_SQFP16, VS_CODE_SQBF16};
    static const uint32_t pq_shapes[][2] = {{4, 4}, {2, 6}, {8, 5}};
    for (size_t i = 0; i < 4 + 3 + 1; i++) {
        void *buf = NULL;
        size_t len = 0;
        char name[64];
        if (i < 4) {
            vs_scalar_quantizer *q;
            assert_int_equal(vs_scalar_quantizer_create(D, sq_kinds[i], &q), VS_OK);
            assert_int_equal(vs_scalar_quantizer_train(q, N, x), VS_OK);
            assert_int_equal(vs_scalar_quantizer_save_buffer(q, &buf, &len), VS_OK);
            snprintf(name, sizeof name, "sq-kind%d.vsq", (int)sq_kinds[i]);
            vs_scalar_quantizer_free(q);
        } else {
            vs_product_quantizer *q;
            const uint32_t *shape = pq_shapes[i < 7 ? i - 4 : 0];
            assert_int_equal(vs_product_quantizer_create(D, shape[0], shape[1], &q), VS_OK);
            if (i < 7) assert_int_equal(vs_product_quantizer_train(q, N, x, 5, 1), VS_OK);
            assert_int_equal(vs_product_quantizer_save_buffer(q, &buf, &len), VS_OK);
            snprintf(name, sizeof name, "pq-%ux%u%s.vsq", shape[0], shape[1], i < 7 ? "" : "-untrained");
            vs_product_quantizer_free(q);
        }
        keep_seed("load_quantizer", name, buf, len);
        mutate_container(vs_fuzz_load_quantizer, &vs_fuzz_load_quantizer_stats, name, buf, len);
        vs_buffer_free(buf);
    }
    free(x);
    check_mutations("load_quantizer generated", since(&vs_fuzz_load_quantizer_stats, &before));
    tu_rmdir(dir);
}

static void generated_models(void)
{
    char *dir = tu_tempdir();
    vs_fuzz_stats before = vs_fuzz_glove_model_stats;
    char *words[] = {"the", "cat", "sat", "on", "mat", "naïve"};
    float *x = tu_random_vectors(6, 3, 77);
    /* Version 2 (SIF): a weight per word and one common component of unit length. */
    const float weights[6] = {0.01f, 0.5f, 0.9f, 0.2f, 1.0f, 0.0f}, comp[3] = {0.6f, 0.0f, 0.8f};
    const vs_glove_sif sif = {1e-3f, weights, 1, comp};
    for (int v = 0; v < 3; v++) {
        int f32 = v == 1;
        char path[1200], name[64];
        snprintf(path, sizeof path, "%s/seed.vsm", dir);
        assert_int_equal(vs_glove_write(path, "tiny", words, 6, 3, x, f32, v == 2 ? &sif : NULL), VS_OK);
        size_t len;
        uint8_t *b = read_file(path, &len);
        snprintf(name, sizeof name, "glove-6x3-%s%s.vsm", f32 ? "f32" : "f16", v == 2 ? "-sif" : "");
        keep_seed("glove_model", name, b, len);
        mutate_container(vs_fuzz_glove_model, &vs_fuzz_glove_model_stats, name, b, len);
        free(b);
    }
    check_mutations("glove_model generated", since(&vs_fuzz_glove_model_stats, &before));
    free(x);
    tu_rmdir(dir);
}

/* A log written by a collection: adds (with and without text and metadata) and a delete. */
static void generated_logs(void)
{
    char *dir = tu_tempdir();
    vs_collection *c = NULL;
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = 4, .metric = VS_METRIC_L2};
    assert_int_equal(vs_collection_create(dir, &o, &c), VS_OK);
    float *x = tu_random_vectors(5, 4, 9);
    const char *texts[3] = {"first", NULL, "third doc"}, *meta[3] = {NULL, "{\"k\":1}", "m"};
    int64_t ids[3] = {10, 11, 12};
    assert_int_equal(vs_collection_add(c, 3, x, ids, texts, meta, NULL), VS_OK);
    assert_int_equal(vs_collection_remove(c, 1, &ids[1], NULL), VS_OK);
    assert_int_equal(vs_collection_add(c, 2, x + 12, NULL, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    char path[1200];
    snprintf(path, sizeof path, "%s/wal-1.log", dir);
    size_t len;
    uint8_t *b = read_file(path, &len);
    assert_true(len > 32);
    const uint8_t *rec = b + 32; /* the harness writes the header itself */
    size_t rlen = len - 32;
    vs_fuzz_stats before = vs_fuzz_wal_stats;
    keep_seed("wal", "log-add-delete-add", rec, rlen);
    feed(vs_fuzz_wal, &vs_fuzz_wal_stats, "log-add-delete-add", rec, rlen, 1);
    /* Every field of every record header, and the first words of every payload. */
    size_t pos[256], n_pos = 0;
    uint64_t lens[16];
    size_t n_lens = 0;
    for (size_t off = 0; off + 24 <= rlen && n_pos + 10 <= 256;) {
        uint32_t l = vs_fuzz_get32(rec + off);
        lens[n_lens < 16 ? n_lens++ : 15] = l;
        for (size_t w = 0; w < 4; w++) pos[n_pos++] = off + 4 * w;
        for (size_t w = 0; w < 6 && 4 * w + 4 <= l; w++) pos[n_pos++] = off + 16 + 4 * w;
        off += 24 + l;
    }
    mutate_fields(vs_fuzz_wal, &vs_fuzz_wal_stats, "log-add-delete-add", rec, rlen, pos, n_pos, lens, n_lens);
    check_mutations("wal generated", since(&vs_fuzz_wal_stats, &before));
    free(b);
    free(x);
    tu_rmdir(dir);
}

/* A manifest (byte 0 = 0 picks the manifest parser) and every byte of it replaced in turn by
 * characters that matter to its JSON and its paths. */
static void generated_manifests(void)
{
    vs_snap_file files[3] = {{"index.vsi", 123456, {1, 2, 3}}, {"docs/a.bin", 7, {9}}, {"wal.log", 0, {0}}};
    vs_snap_manifest m = {.generation = 42, .created_unix = 1700000000, .n_files = 3, .files = files};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(vs_manifest_encode(&m, &out, &len), VS_OK);
    uint8_t *b = malloc(len + 1), *v = malloc(len + 1);
    assert_true(b && v);
    b[0] = 0;
    memcpy(b + 1, out, len);
    vs_fuzz_stats before = vs_fuzz_s3_answers_stats;
    keep_seed("s3_answers", "manifest-3-files", b, len + 1);
    feed(vs_fuzz_s3_answers, &vs_fuzz_s3_answers_stats, "manifest-3-files", b, len + 1, 1);
    static const char subst[] = "\"0/.\\}-9 ";
    for (size_t i = 1; i <= len; i++)
        for (const char *s = subst; *s; s++) {
            if (b[i] == (uint8_t)*s) continue;
            memcpy(v, b, len + 1);
            v[i] = (uint8_t)*s;
            char what[96];
            snprintf(what, sizeof what, "manifest-3-files with byte %zu set to '%c'", i, *s);
            feed(vs_fuzz_s3_answers, &vs_fuzz_s3_answers_stats, what, v, len + 1, 0);
        }
    check_mutations("s3_answers generated", since(&vs_fuzz_s3_answers_stats, &before));
    free(out);
    free(b);
    free(v);
}

/* Vector files the library wrote (byte 0 picks the format, as in fuzz_vecfile.c), then each cut
 * short by 1 to 9 bytes and grown by one: a row check that is off by one reads past the end,
 * which ASan reports (the harness gets an exact-size copy). */
static void generated_vecfiles(void)
{
    static const struct {
        const char *ext;
        uint8_t byte0;
        vs_dtype dtype;
    } kinds[] = {{"fvecs", 0, VS_DTYPE_F32}, {"ivecs", 1, VS_DTYPE_I32}, {"bvecs", 2, VS_DTYPE_U8},
                 {"npy", 3, VS_DTYPE_F32},   {"npy", 3, VS_DTYPE_U8}};
    char *dir = tu_tempdir();
    vs_fuzz_stats before = vs_fuzz_vecfile_stats;
    uint32_t data[15];
    for (int i = 0; i < 15; i++) data[i] = 0x3f800000u + (uint32_t)i * 977u; /* finite floats, also ints */
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uint8_t bytes[15];
        for (int i = 0; i < 15; i++) bytes[i] = (uint8_t)(i * 17);
        vs_matrix m = {.n = 3, .dim = 5, .dtype = kinds[k].dtype, .data = kinds[k].dtype == VS_DTYPE_U8 ? (void *)bytes : (void *)data};
        char path[1200], name[64];
        snprintf(path, sizeof path, "%s/seed.%s", dir, kinds[k].ext);
        assert_int_equal(vs_matrix_write(path, &m), VS_OK);
        size_t len;
        uint8_t *f = read_file(path, &len);
        snprintf(name, sizeof name, "3x5-%d.%s", (int)kinds[k].dtype, kinds[k].ext);
        for (size_t cut = 0; cut <= 10 && cut < len; cut++) {
            size_t n = cut == 10 ? len + 1 : len - cut;
            uint8_t *b = calloc(n + 1, 1);
            assert_non_null(b);
            b[0] = kinds[k].byte0;
            memcpy(b + 1, f, n < len ? n : len);
            char what[128];
            snprintf(what, sizeof what, "%s %s by %d byte(s)", name, cut == 10 ? "grown" : "cut", cut == 10 ? 1 : (int)cut);
            feed(vs_fuzz_vecfile, &vs_fuzz_vecfile_stats, cut ? what : name, b, n + 1, cut == 0);
            free(b);
        }
        free(f);
    }
    check_mutations("vecfile generated", since(&vs_fuzz_vecfile_stats, &before));
    tu_rmdir(dir);
}

/* ---- the tests -------------------------------------------------------------------------- */

static void load_index_corpus(void **state)
{
    (void)state;
    replay_checksummed("load_index", vs_fuzz_load_index, &vs_fuzz_load_index_stats, 10);
    generated_indexes();
}

static void load_quantizer_corpus(void **state)
{
    (void)state;
    replay_checksummed("load_quantizer", vs_fuzz_load_quantizer, &vs_fuzz_load_quantizer_stats, 4);
    generated_quantizers();
}

static void glove_model_corpus(void **state)
{
    (void)state;
    replay_checksummed("glove_model", vs_fuzz_glove_model, &vs_fuzz_glove_model_stats, 4);
    generated_models();
}

static void wal_corpus(void **state)
{
    (void)state;
    replay_checksummed("wal", vs_fuzz_wal, &vs_fuzz_wal_stats, 8);
    generated_logs();
}

/* Only the manifests among these answers carry a checksum (the stats count those). */
static void s3_answers_corpus(void **state)
{
    (void)state;
    vs_fuzz_stats before = vs_fuzz_s3_answers_stats;
    assert_true(replay_dir("s3_answers", vs_fuzz_s3_answers, NULL) >= 10);
    report("s3_answers corpus (manifests)", since(&vs_fuzz_s3_answers_stats, &before));
    generated_manifests();
}

/* Formats without checksums: every input reaches the parser as it is. */
static void vecfile_corpus(void **state)
{
    (void)state;
    assert_true(replay_dir("vecfile", vs_fuzz_vecfile, NULL) >= 10);
    generated_vecfiles();
}

static void tokenizer_text_corpus(void **state)
{
    (void)state;
    assert_true(replay_dir("tokenizer_text", vs_fuzz_tokenizer_text, NULL) >= 10);
}

static void tokenizer_json_corpus(void **state)
{
    (void)state;
    assert_true(replay_dir("tokenizer_json", vs_fuzz_tokenizer_json, NULL) >= 5);
}

static void safetensors_corpus(void **state)
{
    (void)state;
    assert_true(replay_dir("safetensors", vs_fuzz_safetensors, NULL) >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_index_corpus),     cmocka_unit_test(load_quantizer_corpus),
        cmocka_unit_test(glove_model_corpus),
        cmocka_unit_test(wal_corpus),            cmocka_unit_test(s3_answers_corpus),
        cmocka_unit_test(vecfile_corpus),        cmocka_unit_test(tokenizer_text_corpus),
        cmocka_unit_test(tokenizer_json_corpus), cmocka_unit_test(safetensors_corpus),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
