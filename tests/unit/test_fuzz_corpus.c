/* Replays the committed fuzz corpora through the harnesses on every test run (with ASan and
 * UBSan in CI), so an input that once crashed a parser stays fixed. */
#include "test_util.h"

int vs_fuzz_load_index(const uint8_t *data, size_t size);
int vs_fuzz_vecfile(const uint8_t *data, size_t size);
int vs_fuzz_tokenizer_text(const uint8_t *data, size_t size);
int vs_fuzz_tokenizer_json(const uint8_t *data, size_t size);
int vs_fuzz_safetensors(const uint8_t *data, size_t size);
int vs_fuzz_glove_model(const uint8_t *data, size_t size);

static void load_index_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("load_index", vs_fuzz_load_index) >= 10);
}

static void vecfile_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("vecfile", vs_fuzz_vecfile) >= 10);
}

/* Text embeddings (issue 5): tokenizer, its files, safetensors, GloVe model files. */
static void tokenizer_text_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("tokenizer_text", vs_fuzz_tokenizer_text) >= 10);
}

static void tokenizer_json_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("tokenizer_json", vs_fuzz_tokenizer_json) >= 5);
}

static void safetensors_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("safetensors", vs_fuzz_safetensors) >= 5);
}

static void glove_model_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("glove_model", vs_fuzz_glove_model) >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_index_corpus),
        cmocka_unit_test(vecfile_corpus),
        cmocka_unit_test(tokenizer_text_corpus),
        cmocka_unit_test(tokenizer_json_corpus),
        cmocka_unit_test(safetensors_corpus),
        cmocka_unit_test(glove_model_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
