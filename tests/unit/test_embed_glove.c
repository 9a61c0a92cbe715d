/* GloVe sentence model on a tiny committed GloVe-text fixture: import, averaging, Unicode word
 * splitting, threads, the format-1 file fixture, SIF models (format 2: building, the fixture,
 * damaged GSIF sections), name resolution and every bad-input path. */
#include <fcntl.h>
#include <sys/stat.h>

#include "embed/glove.h"
#include "io/container.h"
#include "test_util.h"

#define FIX VS_TEST_SOURCE_DIR "/fixtures/embed/"

static void expect(int rc, int code, const char *needle)
{
    if (rc != code) print_error("rc %d (%s), want %d\n", rc, vs_last_error(), code);
    assert_int_equal(rc, code);
    if (needle && !strstr(vs_last_error(), needle)) {
        print_error("message \"%s\" lacks \"%s\"\n", vs_last_error(), needle);
        fail();
    }
}

static char *tiny_model(char *dir, int f32)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/tiny.vsm", dir);
    assert_int_equal(vs_model_import_glove(FIX "glove_tiny.txt", path, f32), VS_OK);
    return path;
}

static void embed1(vs_model *m, const char *text, float *out) { assert_int_equal(vs_model_embed(m, &text, 1, 1, out), VS_OK); }

static void assert_vec(const float *v, float a, float b, float c, float d)
{
    const float want[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) assert_float_equal(v[i], want[i], 1e-3);
}

static void averages_and_normalises(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    for (int f32 = 0; f32 <= 1; f32++) {
        vs_model *m;
        assert_int_equal(vs_model_open(tiny_model(dir, f32), &m), VS_OK);
        assert_int_equal(vs_model_dim(m), 4);
        assert_string_equal(vs_model_name(m), "tiny");
        assert_true(vs_model_normalizes(m));
        float v[4];
        embed1(m, "cat", v);
        assert_vec(v, 1, 0, 0, 0);
        embed1(m, "The CAT, the dog!", v); /* (0.1+1+0.1, 1, 0, 0) normalised; case folded */
        float n = sqrtf(1.2f * 1.2f + 1);
        assert_vec(v, 1.2f / n, 1 / n, 0, 0);
        embed1(m, "big", v); /* unit length whatever the word vector's norm */
        assert_vec(v, 0.6f, 0.8f, 0, 0);
        embed1(m, "CAFÉ—naïve", v); /* non-ASCII upper case folded, em dash splits */
        n = sqrtf(0.25f + 0.25f);
        assert_vec(v, -0.5f / sqrtf(0.5f * 0.5f + 0.25f), 0.5f / sqrtf(0.5f * 0.5f + 0.25f), 0, 0);
        (void)n;
        embed1(m, "東京 in 2008", v);
        assert_vec(v, 0, 0, -1 / sqrtf(2), -1 / sqrtf(2));
        embed1(m, "zebra quux", v); /* no known word: the normalised mean word vector */
        float mean[4] = {0.1f + 1 + 0.5f - 1 + 3, 1 + 0.5f + 4, 1 - 1, 1 - 1}, mn = sqrtf(vs_norm_sq(mean, 4));
        assert_vec(v, mean[0] / mn, mean[1] / mn, 0, 0);
        embed1(m, "sat-mat", v);
        assert_vec(v, 0, 0, 1 / sqrtf(2), 1 / sqrtf(2));
        /* Known-word counts: repeated words count each time; a text of unknown words counts 0
         * (its vector, the fallback, cannot tell it apart from a real text). */
        const char *texts[4] = {"The CAT, the dog!", "zebra quux", "sat-mat", "x 東京"};
        uint32_t known[4] = {9, 9, 9, 9};
        float rows[16], plain[16];
        assert_int_equal(vs_model_embed_known(m, texts, 4, 1, rows, known), VS_OK);
        assert_int_equal(known[0], 4);
        assert_int_equal(known[1], 0);
        assert_int_equal(known[2], 2);
        assert_int_equal(known[3], 1);
        assert_int_equal(vs_model_embed(m, texts, 4, 1, plain), VS_OK);
        assert_memory_equal(rows, plain, sizeof rows);
        assert_int_equal(vs_model_embed_known(m, texts, 4, 1, rows, NULL), VS_OK);
        assert_memory_equal(rows, plain, sizeof rows);
        vs_model_free(m);
    }
    tu_rmdir(dir);
}

/* vs_model_tokenize splits words exactly as embedding does (rows in file order, -1 unknown),
 * sizes with cap 0, writes at most cap, and applies the embed text checks. */
static void tokenize_gives_word_rows(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_model *m;
    assert_int_equal(vs_model_open(tiny_model(dir, 0), &m), VS_OK);
    int32_t ids[8] = {0};
    size_t n = 99;
    assert_int_equal(vs_model_tokenize(m, "The CAT, zebra sat-mat CAFÉ—naïve 東京!", ids, 8, &n), VS_OK);
    const int32_t want[8] = {0, 1, -1, 3, 4, 5, 6, 7};
    assert_int_equal(n, 8);
    assert_memory_equal(ids, want, sizeof want);
    assert_int_equal(vs_model_tokenize(m, "cat dog the", NULL, 0, &n), VS_OK);
    assert_int_equal(n, 3);
    int32_t two[3] = {-7, -7, -7};
    assert_int_equal(vs_model_tokenize(m, "cat dog the", two, 2, &n), VS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(two[0], 1);
    assert_int_equal(two[1], 2);
    assert_int_equal(two[2], -7); /* beyond cap: untouched */
    assert_int_equal(vs_model_tokenize(m, "...", ids, 8, &n), VS_OK);
    assert_int_equal(n, 0);
    expect(vs_model_tokenize(m, "", ids, 8, &n), VS_ERR_INVALID_ARG, "empty");
    expect(vs_model_tokenize(m, "\xff", ids, 8, &n), VS_ERR_INVALID_ARG, "UTF-8");
    expect(vs_model_tokenize(m, "cat", NULL, 4, &n), VS_ERR_INVALID_ARG, "NULL");
    expect(vs_model_tokenize(NULL, "cat", ids, 8, &n), VS_ERR_INVALID_ARG, "NULL");
    vs_model_free(m);
    tu_rmdir(dir);
}

static void threads_give_identical_results(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_model *m;
    assert_int_equal(vs_model_open(tiny_model(dir, 0), &m), VS_OK);
    enum { N = 1000 };
    static const char *const words[] = {"the", "cat", "dog", "sat", "mat", "café", "big", "x"};
    char *texts[N];
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(64);
        snprintf(texts[i], 64, "%s %s %s", words[i % 8], words[(i / 8) % 8], words[(i / 64) % 8]);
    }
    float *a = malloc(N * 4 * sizeof(float)), *b = malloc(N * 4 * sizeof(float));
    assert_int_equal(vs_model_embed(m, (const char *const *)texts, N, 1, a), VS_OK);
    assert_int_equal(vs_model_embed(m, (const char *const *)texts, N, 3, b), VS_OK);
    assert_memory_equal(a, b, N * 4 * sizeof(float));
    for (int i = 0; i < N; i++) free(texts[i]);
    free(a);
    free(b);
    vs_model_free(m);
    tu_rmdir(dir);
}

static void bad_texts_fail_and_write_nothing(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_model *m;
    assert_int_equal(vs_model_open(tiny_model(dir, 0), &m), VS_OK);
    float out[3 * 4];
    for (int i = 0; i < 12; i++) out[i] = 42;
    const char *empty[] = {"cat", "", "dog"};
    expect(vs_model_embed(m, empty, 3, 1, out), VS_ERR_INVALID_ARG, "text 1 is empty");
    const char *bad_utf8[] = {"cat", "dog", "ab\xc3\x28"};
    expect(vs_model_embed(m, bad_utf8, 3, 1, out), VS_ERR_INVALID_ARG, "text 2 is not valid UTF-8 (byte 2");
    const char *overlong_form[] = {"\xc0\xaf"};
    expect(vs_model_embed(m, overlong_form, 1, 1, out), VS_ERR_INVALID_ARG, "not valid UTF-8");
    const char *surrogate[] = {"\xed\xa0\x80"};
    expect(vs_model_embed(m, surrogate, 1, 1, out), VS_ERR_INVALID_ARG, "not valid UTF-8");
    const char *cut[] = {"caf\xc3"};
    expect(vs_model_embed(m, cut, 1, 1, out), VS_ERR_INVALID_ARG, "not valid UTF-8");
    const char *null_text[] = {"cat", NULL};
    expect(vs_model_embed(m, null_text, 2, 1, out), VS_ERR_INVALID_ARG, "text 1 is NULL");
    char *big = malloc(VS_MODEL_MAX_TEXT_BYTES + 2);
    memset(big, 'a', VS_MODEL_MAX_TEXT_BYTES + 1);
    big[VS_MODEL_MAX_TEXT_BYTES + 1] = 0;
    const char *longt[] = {big};
    expect(vs_model_embed(m, longt, 1, 1, out), VS_ERR_INVALID_ARG, "longer than");
    big[VS_MODEL_MAX_TEXT_BYTES] = 0; /* exactly at the limit is fine */
    assert_int_equal(vs_model_embed(m, longt, 1, 1, out), VS_OK);
    free(big);
    for (int i = 4; i < 12; i++) assert_float_equal(out[i], 42, 0);
    expect(vs_model_embed(NULL, empty, 1, 1, out), VS_ERR_INVALID_ARG, "model is NULL");
    expect(vs_model_embed(m, NULL, 1, 1, out), VS_ERR_INVALID_ARG, "must not be NULL");
    assert_int_equal(vs_model_embed(m, NULL, 0, 1, NULL), VS_OK);
    vs_model_free(m);
    vs_model_free(NULL);
    tu_rmdir(dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void bad_glove_text_is_rejected(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(out, sizeof out, "%s/out.vsm", dir);
    write_file(in, "a 1 2 3\nb 1 2\n");
    expect(vs_model_import_glove(in, out, 0), VS_ERR_CORRUPT, ":2: 2 values, expected 3");
    write_file(in, "a 1 2 3\nb 1 2 3 4\n");
    expect(vs_model_import_glove(in, out, 0), VS_ERR_CORRUPT, ":2: more than 3 values");
    write_file(in, "a 1 x 3\n");
    expect(vs_model_import_glove(in, out, 0), VS_ERR_CORRUPT, ":1: value 2 is not a finite number");
    write_file(in, "a 1 inf 3\n");
    expect(vs_model_import_glove(in, out, 0), VS_ERR_CORRUPT, "not a finite number");
    write_file(in, "a 1 2 3\na 4 5 6\n");
    expect(vs_model_import_glove(in, out, 0), VS_ERR_INVALID_ARG, "word 'a' appears twice");
    write_file(in, "\xff 1 2\n");
    expect(vs_model_import_glove(in, out, 0), VS_ERR_CORRUPT, "invalid UTF-8");
    write_file(in, "\n\n");
    expect(vs_model_import_glove(in, out, 0), VS_ERR_EMPTY, "no word vectors");
    write_file(in, "novalues\n");
    expect(vs_model_import_glove(in, out, 0), VS_ERR_CORRUPT, "expected 'word v1 ... vD'");
    expect(vs_model_import_glove(FIX "does-not-exist.txt", out, 0), VS_ERR_NOT_FOUND, "does-not-exist");
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0); /* nothing half-written */
    tu_rmdir(dir);
}

static void damaged_model_files_are_rejected(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char *path = tiny_model(dir, 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char img[1 << 16];
    size_t len = fread(img, 1, sizeof img, f);
    fclose(f);
    assert_true(len > 512 && len < sizeof img);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.vsm", dir);
    vs_model *m = (vs_model *)1;
    static vs_container c;
    assert_int_equal(vs_container_open(&c, img, len, 0, "tiny"), VS_OK);
    for (size_t at = 0; at < len; at += 7) { /* a flipped byte of header, table or section is caught */
        int covered = at < 64 || at >= len - 32 * (size_t)c.count;
        for (uint32_t i = 0; i < c.count; i++)
            covered |= at >= c.sections[i].offset && at < c.sections[i].offset + c.sections[i].length;
        if (!covered) continue; /* alignment padding between sections */
        img[at] ^= 0x40;
        FILE *w = fopen(bad, "wb");
        fwrite(img, 1, len, w);
        fclose(w);
        int rc = vs_model_open(bad, &m);
        if (rc != VS_ERR_CORRUPT && rc != VS_ERR_VERSION) print_error("byte %zu flipped: rc %d\n", at, rc);
        assert_true(rc == VS_ERR_CORRUPT || rc == VS_ERR_VERSION);
        assert_null(m);
        img[at] ^= 0x40;
    }
    FILE *w = fopen(bad, "wb");
    fwrite(img, 1, len / 2, w);
    fclose(w);
    expect(vs_model_open(bad, &m), VS_ERR_CORRUPT, "bad.vsm");
    w = fopen(bad, "wb");
    fwrite(img, 1, 10, w);
    fclose(w);
    expect(vs_model_open(bad, &m), VS_ERR_CORRUPT, "truncated");
    expect(vs_model_open(FIX "glove_tiny.txt", &m), VS_ERR_CORRUPT, "glove_tiny.txt");
    expect(vs_model_open("no-such-model-xyz", &m), VS_ERR_NOT_FOUND, "model 'no-such-model-xyz' not found");
    expect(vs_model_open("", &m), VS_ERR_INVALID_ARG, "empty");
    expect(vs_model_open("cat", NULL), VS_ERR_INVALID_ARG, "NULL");
    tu_rmdir(dir);
}

static void names_resolve_through_model_dir(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    tiny_model(dir, 0);
    setenv("VECSCALE_MODEL_DIR", dir, 1);
    vs_model *m;
    assert_int_equal(vs_model_open("tiny", &m), VS_OK);
    assert_string_equal(vs_model_name(m), "tiny");
    vs_model_free(m);
    expect(vs_model_open("tiny2", &m), VS_ERR_NOT_FOUND, dir);
    unsetenv("VECSCALE_MODEL_DIR");
    tu_rmdir(dir);
}

/* Format-1 model files stay loadable: the committed fixture was written by this code
 * (VS_WRITE_FIXTURES=1 rewrites it). */
static void format_v1_fixture_loads(void **state)
{
    (void)state;
    if (getenv("VS_WRITE_FIXTURES")) assert_int_equal(vs_model_import_glove(FIX "glove_tiny.txt", FIX "glove_tiny_v1.vsm", 0), VS_OK);
    vs_model *m;
    assert_int_equal(vs_model_open(FIX "glove_tiny_v1.vsm", &m), VS_OK);
    assert_string_equal(vs_model_name(m), "glove_tiny_v1");
    float v[4];
    embed1(m, "dog sat", v);
    assert_vec(v, 0, 1 / sqrtf(2), 1 / sqrtf(2), 0);
    embed1(m, "zebra", v); /* written before GUNK existed: no fallback, the zero vector */
    assert_vec(v, 0, 0, 0, 0);
    const char *zebra = "zebra";
    uint32_t known = 5;
    assert_int_equal(vs_model_embed_known(m, &zebra, 1, 1, v, &known), VS_OK);
    assert_int_equal(known, 0);
    vs_model_free(m);
}


/* --- SIF (format version 2) -------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

#define SIF_A 0.1f
/* Sentence vectors cat, cat, (0.1 w_the + w_cat) / 2 along e1 and dog: second moment diag(0.39, 0.20, 0, 0), so the common
 * component is e1 (the cat axis) and removing it leaves the other axes. */
static const char SIF_CORPUS[] = "cat\ncat\nThe cat\nzebra\n\ndog\n";

/* w = a / (a + p), p = 1 / ((rank + 2.7) H), H the sum over the 10 words of glove_tiny.txt. */
static float sif_weight(int rank)
{
    double h = 0;
    for (int r = 0; r < 10; r++) h += 1 / (r + 2.7);
    return (float)(SIF_A / (SIF_A + 1 / ((rank + 2.7) * h)));
}

static void make_tiny_sif(const char *dir, const char *out)
{
    char plain[600], corpus[600];
    snprintf(plain, sizeof plain, "%s/plain.vsm", dir);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    assert_int_equal(vs_model_import_glove(FIX "glove_tiny.txt", plain, 0), VS_OK);
    FILE *f = fopen(corpus, "w");
    assert_non_null(f);
    fputs(SIF_CORPUS, f);
    fclose(f);
    const char *base = strrchr(out, '/') + 1;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(strrchr(base, '.') - base), base);
    size_t lines = 0;
    assert_int_equal(vs_glove_make_sif(plain, corpus, out, name, SIF_A, &lines), VS_OK);
    assert_int_equal(lines, 4); /* "zebra" has no known word, the empty line none */
}

static void check_tiny_sif(const char *path, const char *name)
{
    vs_glove *g;
    assert_int_equal(vs_glove_load(path, &g), VS_OK);
    vs_glove_sif sif = vs_glove_sif_of(g);
    assert_non_null(sif.weights);
    assert_float_equal(sif.a, SIF_A, 0);
    for (int r = 0; r < 10; r++) assert_float_equal(sif.weights[r], sif_weight(r), 1e-6);
    assert_int_equal(sif.n_components, 1);
    assert_vec(sif.components, 1, 0, 0, 0);
    vs_glove_free(g);
    vs_model *m;
    assert_int_equal(vs_model_open(path, &m), VS_OK);
    assert_string_equal(vs_model_name(m), name);
    float v[4];
    embed1(m, "cat dog", v); /* the cat axis removed */
    assert_vec(v, 0, 1, 0, 0);
    embed1(m, "dog sat", v); /* weighted: the rarer "sat" (rank 3) weighs more than "dog" (rank 2) */
    float n = sqrtf(sif_weight(2) * sif_weight(2) + sif_weight(3) * sif_weight(3));
    assert_true(sif_weight(3) > sif_weight(2) * 1.05f);
    assert_vec(v, 0, sif_weight(2) / n, sif_weight(3) / n, 0);
    embed1(m, "big", v); /* (3, 4) minus its cat part */
    assert_vec(v, 0, 1, 0, 0);
    embed1(m, "the cat", v); /* all along the common component: nothing left */
    assert_vec(v, 0, 0, 0, 0);
    embed1(m, "zebra", v); /* the fallback (mean word vector) also loses the component */
    assert_vec(v, 0, 1, 0, 0);
    vs_model_free(m);
}

/* The committed format-2 fixture loads with its weights, component and embeddings, and this
 * build writes it byte for byte (VS_WRITE_FIXTURES=1 rewrites it). */
static void format_v2_sif_fixture_loads(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), fresh[600];
    snprintf(fresh, sizeof fresh, "%s/glove_tiny_sif_v2.vsm", dir);
    make_tiny_sif(dir, fresh);
    if (getenv("VS_WRITE_FIXTURES")) make_tiny_sif(dir, FIX "glove_tiny_sif_v2.vsm");
    check_tiny_sif(FIX "glove_tiny_sif_v2.vsm", "glove_tiny_sif_v2");
    check_tiny_sif(fresh, "glove_tiny_sif_v2");
    size_t na, nb;
    unsigned char *a = slurp(FIX "glove_tiny_sif_v2.vsm", &na), *b = slurp(fresh, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    tu_rmdir(dir);
}

/* Writes img's sections again (valid checksums), with GMET's version and GSIF replaced. */
static void rewrite(const unsigned char *img, size_t len, const char *out, uint32_t version, const void *gsif,
                    size_t gsif_len, int drop_gsif)
{
    static vs_container c;
    assert_int_equal(vs_container_open(&c, img, len, 0, "sif"), VS_OK);
    vs_container_writer *w;
    assert_int_equal(vs_container_create(out, 3, &w), VS_OK);
    for (uint32_t i = 0; i < c.count; i++) {
        const vs_section *s = &c.sections[i];
        static unsigned char buf[1 << 16];
        assert_true(s->length <= sizeof buf);
        memcpy(buf, img + s->offset, s->length);
        if (s->tag == VS_TAG('G', 'M', 'E', 'T')) memcpy(buf, &version, 4);
        if (s->tag == VS_TAG('G', 'S', 'I', 'F')) {
            if (drop_gsif) continue;
            if (gsif) {
                assert_int_equal(vs_container_add(w, s->tag, s->flags, gsif, gsif_len), VS_OK);
                continue;
            }
        }
        assert_int_equal(vs_container_add(w, s->tag, s->flags, buf, s->length), VS_OK);
    }
    assert_int_equal(vs_container_commit(w), VS_OK);
}

static void sif_errors(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), path[600], bad[600], plain[600], corpus[600];
    snprintf(path, sizeof path, "%s/sif.vsm", dir);
    snprintf(bad, sizeof bad, "%s/bad.vsm", dir);
    snprintf(plain, sizeof plain, "%s/plain.vsm", dir);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    make_tiny_sif(dir, path);
    size_t lines, len;
    expect(vs_glove_make_sif(path, corpus, bad, "x", SIF_A, &lines), VS_ERR_INVALID_ARG, "already a SIF model");
    expect(vs_glove_make_sif(plain, corpus, bad, "x", 0, &lines), VS_ERR_INVALID_ARG, "must be > 0");
    expect(vs_glove_make_sif(plain, "/nonexistent/c.txt", bad, "x", SIF_A, &lines), VS_ERR_NOT_FOUND, "c.txt");
    FILE *f = fopen(corpus, "w");
    fputs("zebra quux\n\n", f);
    fclose(f);
    expect(vs_glove_make_sif(plain, corpus, bad, "x", SIF_A, &lines), VS_ERR_EMPTY, "no line with a known word");
    f = fopen(corpus, "w");
    fputs("cat\n\xff\xfe dog\n", f);
    fclose(f);
    expect(vs_glove_make_sif(plain, corpus, bad, "x", SIF_A, &lines), VS_ERR_CORRUPT, "corpus.txt:2: invalid UTF-8");
    /* The writer refuses weights outside [0, 1] and components that are not unit length. */
    char *words[2] = {"a", "b"};
    float vecs[4] = {1, 0, 0, 1}, wts[2] = {0.5f, 1.5f}, comp[2] = {1, 0}, half[2] = {0.5f, 0};
    vs_glove_sif s = {SIF_A, wts, 1, comp};
    expect(vs_glove_write(bad, "x", words, 2, 2, vecs, 1, &s), VS_ERR_INVALID_ARG, "not in [0, 1]");
    wts[1] = 1;
    s.components = half;
    expect(vs_glove_write(bad, "x", words, 2, 2, vecs, 1, &s), VS_ERR_INVALID_ARG, "not of unit length");
    /* The reader: versions, a missing or inconsistent GSIF. */
    unsigned char *img = slurp(path, &len);
    vs_model *m = NULL;
    rewrite(img, len, bad, 3, NULL, 0, 0);
    expect(vs_model_open(bad, &m), VS_ERR_VERSION, "model format version 3 is newer than this build reads (2)");
    rewrite(img, len, bad, 0, NULL, 0, 0);
    expect(vs_model_open(bad, &m), VS_ERR_CORRUPT, "version 0");
    rewrite(img, len, bad, 2, NULL, 0, 1);
    expect(vs_model_open(bad, &m), VS_ERR_CORRUPT, "without its GSIF section");
    rewrite(img, len, bad, 1, NULL, 0, 0); /* version 1 ignores GSIF: plain averages */
    assert_int_equal(vs_model_open(bad, &m), VS_OK);
    float v[4];
    embed1(m, "the cat", v);
    assert_vec(v, 1, 0, 0, 0);
    vs_model_free(m);
    static vs_container c;
    assert_int_equal(vs_container_open(&c, img, len, 0, "sif"), VS_OK);
    uint64_t glen;
    const unsigned char *g0 = vs_container_find(&c, VS_TAG('G', 'S', 'I', 'F'), &glen);
    assert_int_equal(glen, 16 + 4 * (10 + 4));
    unsigned char g[16 + 4 * 14];
    float x;
    struct { size_t at; float val; const char *msg; } cases[] = {
        {16 + 4 * 3, 1.01f, "SIF weight of word 3 is not in [0, 1]"},
        {16 + 4 * 3, -0.5f, "SIF weight of word 3 is not in [0, 1]"},
        {16 + 4 * 3, NAN, "SIF weight of word 3 is not in [0, 1]"},
        {16 + 4 * 10, 0.9f, "SIF component 0 is not of unit length"},
        {16 + 4 * 11, INFINITY, "SIF component 0 is not of unit length"},
        {4, 0.0f, "does not fit the model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(g, g0, sizeof g);
        x = cases[i].val;
        memcpy(g + cases[i].at, &x, 4);
        rewrite(img, len, bad, 2, g, sizeof g, 0);
        expect(vs_model_open(bad, &m), VS_ERR_CORRUPT, cases[i].msg);
    }
    memcpy(g, g0, sizeof g);
    g[0] = 9; /* more components than allowed */
    rewrite(img, len, bad, 2, g, sizeof g, 0);
    expect(vs_model_open(bad, &m), VS_ERR_CORRUPT, "does not fit the model");
    g[0] = 0; /* no component: the size no longer matches */
    rewrite(img, len, bad, 2, g, sizeof g, 0);
    expect(vs_model_open(bad, &m), VS_ERR_CORRUPT, "does not fit the model");
    rewrite(img, len, bad, 2, g, 16 + 4 * 10, 0); /* no component, and sized for none: valid */
    assert_int_equal(vs_model_open(bad, &m), VS_OK);
    embed1(m, "dog sat", v); /* weights only */
    float n = sqrtf(sif_weight(2) * sif_weight(2) + sif_weight(3) * sif_weight(3));
    assert_vec(v, 0, sif_weight(2) / n, sif_weight(3) / n, 0);
    vs_model_free(m);
    free(img);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(averages_and_normalises),
        cmocka_unit_test(threads_give_identical_results),
        cmocka_unit_test(tokenize_gives_word_rows),
        cmocka_unit_test(bad_texts_fail_and_write_nothing),
        cmocka_unit_test(bad_glove_text_is_rejected),
        cmocka_unit_test(damaged_model_files_are_rejected),
        cmocka_unit_test(names_resolve_through_model_dir),
        cmocka_unit_test(format_v1_fixture_loads),
        cmocka_unit_test(format_v2_sif_fixture_loads),
        cmocka_unit_test(sif_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
