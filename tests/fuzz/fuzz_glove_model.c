/* libFuzzer harness for the GloVe model file loader (vs_glove_load_buffer): any bytes give
 * VS_OK or an error with a message; a loaded model must look up each of its words (to a row of
 * the same word), decode finite vectors, and embed texts (its own words, and the input's valid
 * UTF-8 prefix) into unit or zero vectors. Fuzzing builds skip checksums, so the fuzzer reaches
 * the section checks behind them. Built with -DVS_FUZZ_NO_MAIN only vs_fuzz_glove_model is
 * defined; test_fuzz_corpus replays tests/fuzz/corpus/glove_model/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/glove.h"
#include "embed/utf8.h"
#include "vecscale.h"

int vs_fuzz_glove_model(const uint8_t *data, size_t size);

static void check_unit_or_zero(const float *v, uint32_t dim)
{
    double ss = 0;
    for (uint32_t d = 0; d < dim; d++) {
        if (!isfinite(v[d])) abort();
        ss += (double)v[d] * v[d];
    }
    if (ss != 0 && fabs(ss - 1.0) > 1e-3) abort();
}

int vs_fuzz_glove_model(const uint8_t *data, size_t size)
{
    /* The container wants its base aligned as a file mapping is; libFuzzer's copy may not be. */
    uint8_t *copy = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!copy) return 0;
    memcpy(copy, data, size);
    vs_glove *g = NULL;
    vs_clear_error();
    int rc = vs_glove_load_buffer(copy, size, "fuzz.vsm", &g);
    if (rc != VS_OK) {
        if (g || rc >= 0 || !vs_last_error()[0]) abort();
        free(copy);
        return 0;
    }
    uint32_t dim = vs_glove_dim(g);
    float *v = malloc(dim * sizeof *v);
    size_t n = vs_glove_count(g);
    for (size_t row = 0; v && row < n && row < 64; row++) {
        const char *w = vs_glove_word(g, row);
        int64_t found = vs_glove_lookup(g, w, strlen(w));
        if (found >= 0 && strcmp(vs_glove_word(g, (size_t)found), w)) abort();
        vs_glove_vector(g, row, v);
        for (uint32_t d = 0; d < dim; d++)
            if (!isfinite(v[d])) abort();
        if (vs_utf8_invalid_at(w, strlen(w)) == strlen(w)) {
            vs_glove_embed_text(g, w, strlen(w), v);
            check_unit_or_zero(v, dim);
        }
    }
    size_t valid = vs_utf8_invalid_at((const char *)data, size);
    if (v) {
        vs_glove_embed_text(g, (const char *)data, valid, v);
        check_unit_or_zero(v, dim);
    }
    free(v);
    vs_glove_free(g);
    free(copy);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_glove_model(data, size); }
#endif
