/* GloVe sentence model on a tiny committed GloVe-text fixture: import, averaging, Unicode word
 * splitting, threads, the format-1 file fixture, name resolution and every bad-input path. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
