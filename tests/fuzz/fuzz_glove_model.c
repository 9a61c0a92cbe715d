/* libFuzzer harness for the GloVe model file loader (vs_glove_load_buffer). The input's
 * container checksums are rewritten first (fuzz_common.h), so the section checks behind them
 * see every input. Any bytes give VS_OK or an error with a message; a loaded model must agree
 * with its GMET section (dim, word count) and with its GVEC section's size, keep every word
 * inside the word table (GSTR), look up each of its words (to a row of the same word), decode
 * finite vectors, and embed texts (its own words, and the input's valid UTF-8 prefix) into
 * unit or zero vectors. A format-2 (SIF) model must agree with its GSIF section (components,
 * a weight in [0, 1] per word, unit components) and its embeddings must be orthogonal to
 * the components. The model reads an exact-size copy, so ASan sees a read past its end.
 * Built with -DVS_FUZZ_NO_MAIN only vs_fuzz_glove_model is defined; test_fuzz_corpus replays
 * tests/fuzz/corpus/glove_model/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/glove.h"
#include "embed/utf8.h"
#include "fuzz_common.h"
#include "io/container.h"
#include "vecscale.h"

int vs_fuzz_glove_model(const uint8_t *data, size_t size);

vs_fuzz_stats vs_fuzz_glove_model_stats;

static void check_unit_or_zero(const float *v, uint32_t dim)
{
    double ss = 0;
    for (uint32_t d = 0; d < dim; d++) {
        VS_FUZZ_CHECK(isfinite(v[d]));
        ss += (double)v[d] * v[d];
    }
    VS_FUZZ_CHECK(ss == 0 || fabs(ss - 1.0) <= 1e-3);
}

/* What the loaded model must agree with, read from the (re-checksummed) container itself. */
static void check_sections(const vs_glove *g, const vs_container *c, const char **strs, uint64_t *str_len)
{
    uint64_t len = 0;
    const uint8_t *m = vs_container_find(c, VS_TAG('G', 'M', 'E', 'T'), &len);
    VS_FUZZ_CHECK(m && len >= 40);
    uint32_t dim = vs_fuzz_get32(m + 4), dtype = vs_fuzz_get32(m + 8);
    uint64_t n = vs_fuzz_get64(m + 16);
    VS_FUZZ_CHECK(vs_glove_dim(g) == dim && dim >= 1 && dim <= 65536 && dtype <= 1);
    VS_FUZZ_CHECK(vs_glove_count(g) == n && n >= 1);
    VS_FUZZ_CHECK(vs_container_find(c, VS_TAG('G', 'V', 'E', 'C'), &len) && len == n * dim * (dtype ? 2 : 4));
    *strs = vs_container_find(c, VS_TAG('G', 'S', 'T', 'R'), str_len);
    VS_FUZZ_CHECK(*strs && *str_len == vs_fuzz_get64(m + 32));
    uint32_t version = vs_fuzz_get32(m);
    VS_FUZZ_CHECK(version == VS_GLOVE_TYPE_AVG || version == VS_GLOVE_TYPE_SIF);
    vs_glove_sif sif = vs_glove_sif_of(g);
    if (version == VS_GLOVE_TYPE_AVG) {
        VS_FUZZ_CHECK(!sif.weights && sif.n_components == 0);
        return;
    }
    const uint8_t *s = vs_container_find(c, VS_TAG('G', 'S', 'I', 'F'), &len);
    VS_FUZZ_CHECK(s && len >= 16 && vs_fuzz_get32(s) == sif.n_components && sif.n_components <= VS_GLOVE_MAX_COMPONENTS);
    VS_FUZZ_CHECK(vs_fuzz_get64(s + 8) == n && len == 16 + 4 * (n + (uint64_t)sif.n_components * dim));
    VS_FUZZ_CHECK(sif.weights == (const float *)(s + 16) && sif.a > 0 && isfinite(sif.a));
    for (uint64_t i = 0; i < n; i++) VS_FUZZ_CHECK(sif.weights[i] >= 0 && sif.weights[i] <= 1);
    for (uint32_t j = 0; j < sif.n_components; j++) {
        double ss = 0;
        for (uint32_t d = 0; d < dim; d++) ss += (double)sif.components[j * dim + d] * sif.components[j * dim + d];
        VS_FUZZ_CHECK(fabs(ss - 1) <= 1e-3);
    }
}

/* A SIF embedding has its common components removed; a text with several components may
 * keep a small projection (they are removed one after the other, not jointly). */
static void check_orthogonal(const vs_glove *g, const float *v, uint32_t dim)
{
    vs_glove_sif sif = vs_glove_sif_of(g);
    if (sif.n_components != 1) return;
    double dot = 0;
    for (uint32_t d = 0; d < dim; d++) dot += (double)v[d] * sif.components[d];
    VS_FUZZ_CHECK(fabs(dot) <= 1e-3);
}

int vs_fuzz_glove_model(const uint8_t *data, size_t size)
{
    vs_fuzz_stats *st = &vs_fuzz_glove_model_stats;
    st->inputs++;
    /* The container wants its base aligned as a file mapping is (libFuzzer's copy may not be),
     * and exactly size bytes long, so that ASan reports any read past the end. */
    void *mem = NULL;
    vs_container *c = malloc(sizeof *c);
    if (!c || posix_memalign(&mem, 64, size ? size : 1)) {
        free(c);
        return 0;
    }
    uint8_t *copy = mem;
    if (size) memcpy(copy, data, size);
    st->intact += vs_container_open(c, copy, size, 0, "fuzz.vsm") == VS_OK;
    vs_fuzz_fix_container(copy, size);
    int framed = vs_container_open(c, copy, size, 0, "fuzz.vsm") == VS_OK;
    st->past_checksum += framed;
    vs_glove *g = NULL;
    vs_clear_error();
    int rc = vs_glove_load_buffer(copy, size, "fuzz.vsm", &g);
    if (rc != VS_OK) {
        VS_FUZZ_CHECK(!g && rc < 0 && vs_last_error()[0]);
        free(c);
        free(copy);
        return 0;
    }
    st->accepted++;
    VS_FUZZ_CHECK(framed);
    const char *strs = NULL;
    uint64_t str_len = 0;
    check_sections(g, c, &strs, &str_len);
    uint32_t dim = vs_glove_dim(g);
    float *v = malloc(dim * sizeof *v);
    size_t n = vs_glove_count(g);
    for (size_t row = 0; v && row < n && row < 64; row++) {
        const char *w = vs_glove_word(g, row);
        /* Every word lies in the word table and ends there (a lookup reads it whole). */
        VS_FUZZ_CHECK(w >= strs && w < strs + str_len && memchr(w, 0, (size_t)(strs + str_len - w)));
        int64_t found = vs_glove_lookup(g, w, strlen(w));
        VS_FUZZ_CHECK(found < 0 || !strcmp(vs_glove_word(g, (size_t)found), w));
        vs_glove_vector(g, row, v);
        for (uint32_t d = 0; d < dim; d++) VS_FUZZ_CHECK(isfinite(v[d]));
        if (vs_utf8_invalid_at(w, strlen(w)) == strlen(w)) {
            vs_glove_embed_text(g, w, strlen(w), v);
            check_unit_or_zero(v, dim);
            check_orthogonal(g, v, dim);
        }
    }
    size_t valid = vs_utf8_invalid_at((const char *)data, size);
    if (v) {
        vs_glove_embed_text(g, (const char *)data, valid, v);
        check_unit_or_zero(v, dim);
        check_orthogonal(g, v, dim);
    }
    free(v);
    vs_glove_free(g);
    free(c);
    free(copy);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_glove_model(data, size); }
#endif
