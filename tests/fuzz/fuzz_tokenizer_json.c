/* libFuzzer harness for the tokenizer loaders: byte 0 picks the file kind (even: tokenizer.json,
 * odd: vocab.txt), the rest is the file. Loading gives VS_OK or an error with a message; a
 * loaded tokenizer must encode fixed texts and the input's own valid UTF-8 prefix as
 * [CLS] ... [SEP] with non-negative ids within the limit. Built with -DVS_FUZZ_NO_MAIN only
 * vs_fuzz_tokenizer_json is defined; test_fuzz_corpus replays tests/fuzz/corpus/tokenizer_json/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/tokenizer.h"
#include "embed/utf8.h"
#include "vecscale.h"

int vs_fuzz_tokenizer_json(const uint8_t *data, size_t size);

static void encode_checked(const vs_tokenizer *t, const char *text, size_t len)
{
    enum { MAX = 48 };
    int32_t ids[MAX];
    size_t n = 0;
    if (vs_tokenizer_encode(t, text, len, MAX, ids, &n) != VS_OK) abort();
    if (n < 2 || n > MAX || ids[0] != vs_tokenizer_token_id(t, "[CLS]") || ids[n - 1] != vs_tokenizer_token_id(t, "[SEP]"))
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0) abort();
}

int vs_fuzz_tokenizer_json(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *file = (const char *)data + 1;
    size_t len = size - 1;
    vs_tokenizer *t = NULL;
    vs_clear_error();
    int rc = data[0] % 2 ? vs_tokenizer_from_vocab(file, len, "fuzz/vocab.txt", &t)
                         : vs_tokenizer_from_json(file, len, "fuzz/tokenizer.json", &t);
    if (rc != VS_OK) {
        if (t || rc >= 0 || !vs_last_error()[0]) abort();
        return 0;
    }
    static const char *const texts[] = {
        "Hello, World!", "un##affable [CLS] [SEP] [MASK] [UNK]", "Ça coûte 3,50 € — naïve café", "東京タワー 你好",
        "emoji 🙂👍🏽 and\ttabs\nnewlines", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) encode_checked(t, texts[i], strlen(texts[i]));
    size_t valid = vs_utf8_invalid_at(file, len);
    encode_checked(t, file, valid < 4096 ? valid : 4096);
    vs_tokenizer_free(t);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_tokenizer_json(data, size); }
#endif
