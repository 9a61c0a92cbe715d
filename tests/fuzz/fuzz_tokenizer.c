/* libFuzzer harness: arbitrary bytes as text for the BERT tokenizer and the text models.
 * Byte 0 picks max_tokens (2..65, or 512 for 255); the rest is the text. The valid UTF-8
 * prefix goes through the real all-MiniLM-L6-v2 tokenizer (tests/fixtures/embed/minilm), whose
 * output must be [CLS] ids... [SEP] within the vocabulary and the limit; the whole input (up to
 * its first NUL) goes through vs_model_embed of the tiny BERT fixture, which must either embed
 * it into a finite unit vector or refuse it with a message, and must refuse only invalid,
 * empty or over-long text. Built with -DVS_FUZZ_NO_MAIN only vs_fuzz_tokenizer_text is
 * defined; test_fuzz_corpus replays tests/fuzz/corpus/tokenizer_text/ through it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/tokenizer.h"
#include "embed/utf8.h"
#include "vecscale.h"

#ifndef VS_TEST_SOURCE_DIR
#error "VS_TEST_SOURCE_DIR (the tests/ directory) must be defined"
#endif

int vs_fuzz_tokenizer_text(const uint8_t *data, size_t size);

static vs_tokenizer *tok;
static vs_model *tiny;

static void unload(void)
{
    vs_tokenizer_free(tok);
    vs_model_free(tiny);
}

static void load_once(void)
{
    if (tok) return;
    atexit(unload); /* before the leak check, which registered itself first */
    if (vs_tokenizer_load(VS_TEST_SOURCE_DIR "/fixtures/embed/minilm", &tok) ||
        vs_model_open(VS_TEST_SOURCE_DIR "/fixtures/embed/bert_tiny_f32", &tiny))
        abort(); /* the harness's own fixtures are missing */
}

static void check_tokens(const char *text, size_t len, size_t max_tokens)
{
    int32_t ids[512];
    size_t n = 0;
    if (vs_tokenizer_encode(tok, text, len, max_tokens, ids, &n) != VS_OK) abort();
    size_t vocab = vs_tokenizer_vocab_size(tok);
    if (n < 2 || n > max_tokens || ids[0] != vs_tokenizer_token_id(tok, "[CLS]") ||
        ids[n - 1] != vs_tokenizer_token_id(tok, "[SEP]"))
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= vocab) abort();
}

static void check_embed(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return;
    memcpy(text, data, size);
    text[size] = 0;
    size_t len = strlen(text);
    int acceptable = len > 0 && len <= VS_MODEL_MAX_TEXT_BYTES && vs_utf8_invalid_at(text, len) == len;
    size_t dim = vs_model_dim(tiny);
    float *v = malloc(dim * sizeof *v);
    const char *texts[1] = {text};
    vs_clear_error();
    int rc = v ? vs_model_embed(tiny, texts, 1, 1, v) : VS_ERR_NOMEM;
    if (rc == VS_OK) {
        if (!acceptable) abort();
        double ss = 0;
        for (size_t i = 0; i < dim; i++) {
            if (!isfinite(v[i])) abort();
            ss += (double)v[i] * v[i];
        }
        if (vs_model_normalizes(tiny) && fabs(ss - 1.0) > 1e-3) abort();
    } else if (rc != VS_ERR_NOMEM && (acceptable || rc >= 0 || !vs_last_error()[0])) {
        abort();
    }
    free(v);
    free(text);
}

int vs_fuzz_tokenizer_text(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    load_once();
    size_t max_tokens = data[0] == 255 ? 512 : 2 + data[0] % 64;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    check_tokens(text, vs_utf8_invalid_at(text, len), max_tokens);
    check_embed(data + 1, len);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_tokenizer_text(data, size); }
#endif
