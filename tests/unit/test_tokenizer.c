/* The BERT tokenizer against the reference: tests/fixtures/embed/tokenizer_reference.jsonl holds
 * 1,223 strings and the IDs transformers.js gives them with the real all-MiniLM-L6-v2 tokenizer
 * (tools/tokenizer_reference.mjs). Every one must match, loaded from tokenizer.json and from
 * vocab.txt + tokenizer_config.json. Also truncation and damaged tokenizer files. */
#include <sys/stat.h>

#include "embed/json_file.h"
#include "embed/tokenizer.h"
#include "test_util.h"

#define FIX VS_TEST_SOURCE_DIR "/fixtures/embed/"

static size_t check_reference(const vs_tokenizer *t)
{
    char *text;
    size_t len;
    assert_int_equal(vs_read_file(FIX "tokenizer_reference.jsonl", 64 << 20, &text, &len), VS_OK);
    size_t cases = 0, bad = 0;
    int32_t *ids = malloc(sizeof(int32_t) * 100000);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        const char *s = cJSON_GetObjectItem(j, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(j, "ids");
        size_t n = 0;
        assert_int_equal(vs_tokenizer_encode(t, s, strlen(s), 100000, ids, &n), VS_OK);
        int same = n == (size_t)cJSON_GetArraySize(want);
        for (size_t i = 0; same && i < n; i++) same = ids[i] == cJSON_GetArrayItem(want, (int)i)->valueint;
        if (!same && bad++ < 10) {
            char *w = cJSON_PrintUnformatted(want);
            print_error("mismatch for %s\n  want %s\n  got ", line, w);
            for (size_t i = 0; i < n; i++) print_error("%d,", ids[i]);
            print_error("\n");
            free(w);
        }
        cases++;
        cJSON_Delete(j);
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(ids);
    free(text);
    print_message("%zu of %zu reference strings match\n", cases - bad, cases);
    assert_true(cases >= 1000);
    assert_int_equal(bad, 0);
    return cases;
}

static void matches_reference_from_tokenizer_json(void **state)
{
    (void)state;
    vs_tokenizer *t;
    assert_int_equal(vs_tokenizer_load(FIX "minilm", &t), VS_OK);
    assert_int_equal(vs_tokenizer_vocab_size(t), 30522);
    check_reference(t);
    vs_tokenizer_free(t);
}

static void copy_file(const char *from, const char *to)
{
    char *b;
    size_t l;
    assert_int_equal(vs_read_file(from, 64 << 20, &b, &l), VS_OK);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, l, f), l);
    fclose(f);
    free(b);
}

static void matches_reference_from_vocab_txt(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), p[512];
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    copy_file(FIX "minilm/vocab.txt", p);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    copy_file(FIX "minilm/tokenizer_config.json", p);
    vs_tokenizer *t;
    assert_int_equal(vs_tokenizer_load(dir, &t), VS_OK);
    check_reference(t);
    vs_tokenizer_free(t);
    tu_rmdir(dir);
}

static void truncates_keeping_cls_and_sep(void **state)
{
    (void)state;
    vs_tokenizer *t;
    assert_int_equal(vs_tokenizer_load(FIX "minilm", &t), VS_OK);
    const char *s = "the quick brown fox jumps over the lazy dog";
    int32_t ids[16];
    size_t n;
    assert_int_equal(vs_tokenizer_encode(t, s, strlen(s), 5, ids, &n), VS_OK);
    assert_int_equal(n, 5);
    const int32_t want[5] = {101, 1996, 4248, 2829, 102};
    assert_memory_equal(ids, want, sizeof want);
    assert_int_equal(vs_tokenizer_encode(t, s, strlen(s), 2, ids, &n), VS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[1], 102);
    assert_int_equal(vs_tokenizer_encode(t, s, strlen(s), 1, ids, &n), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_tokenizer_token_id(t, "##ing"), 2075);
    assert_int_equal(vs_tokenizer_token_id(t, "no-such-token"), -1);
    vs_tokenizer_free(t);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect(int rc, int code, const char *needle)
{
    if (rc != code) print_error("rc %d (%s), want %d\n", rc, vs_last_error(), code);
    assert_int_equal(rc, code);
    if (needle && !strstr(vs_last_error(), needle)) {
        print_error("message \"%s\" lacks \"%s\"\n", vs_last_error(), needle);
        fail();
    }
}

static void damaged_tokenizer_files_are_rejected(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), p[512];
    vs_tokenizer *t = NULL;
    expect(vs_tokenizer_load(dir, &t), VS_ERR_NOT_FOUND, "neither tokenizer.json nor vocab.txt");
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    write_file(p, "[PAD]\n[UNK]\nhello\n");
    expect(vs_tokenizer_load(dir, &t), VS_ERR_CORRUPT, "lacks [CLS]");
    write_file(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xff\n");
    expect(vs_tokenizer_load(dir, &t), VS_ERR_CORRUPT, "not valid UTF-8");
    write_file(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    write_file(p, "{\"do_lower_case\": \"yes\"}");
    expect(vs_tokenizer_load(dir, &t), VS_ERR_CORRUPT, "wrong type");
    write_file(p, "{\"do_lower_case\": false");
    expect(vs_tokenizer_load(dir, &t), VS_ERR_CORRUPT, "invalid JSON");
    write_file(p, "{\"do_lower_case\": false}");
    assert_int_equal(vs_tokenizer_load(dir, &t), VS_OK); /* cased: "Hello" is not "hello" */
    int32_t ids[8];
    size_t n;
    assert_int_equal(vs_tokenizer_encode(t, "Hello hello", 11, 8, ids, &n), VS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 4);
    vs_tokenizer_free(t);
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    write_file(p, "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}");
    expect(vs_tokenizer_load(dir, &t), VS_ERR_UNSUPPORTED, "'BPE' is not supported");
    write_file(p, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}");
    expect(vs_tokenizer_load(dir, &t), VS_ERR_UNSUPPORTED, "pre-tokenizer 'Whitespace'");
    write_file(p, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": \"x\"}}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}");
    expect(vs_tokenizer_load(dir, &t), VS_ERR_CORRUPT, "vocabulary entry 'a'");
    write_file(p, "[1, 2");
    expect(vs_tokenizer_load(dir, &t), VS_ERR_CORRUPT, "invalid JSON");
    assert_null(t);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_reference_from_tokenizer_json),
        cmocka_unit_test(matches_reference_from_vocab_txt),
        cmocka_unit_test(truncates_keeping_cls_and_sep),
        cmocka_unit_test(damaged_tokenizer_files_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
