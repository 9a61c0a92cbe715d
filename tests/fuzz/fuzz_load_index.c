/* libFuzzer harness for the index loader (vs_index_load_buffer). The input's container
 * checksums are rewritten first (fuzz_common.h), so the metadata and section parsers behind
 * them see every input. Any input gives VS_OK or an error with a message; an index that loads
 * must agree with its META section (dim, metric, size), answer a search with a well-formed
 * row (found IDs first, at most size of them, sorted best first, padding -1 with an infinite
 * distance), get every found ID, and take one add (reconstructed as finite floats) and remove
 * consistently. Bulk sections are not validated on load: a forged file may repeat an ID, hold
 * a negative one or a NaN vector, and answers with them: wrong but memory-safe, which is what
 * the loaders promise for a file whose checksums were forged. A violated check aborts. Built with -DVS_FUZZ_NO_MAIN only
 * vs_fuzz_load_index is defined; test_fuzz_corpus replays tests/fuzz/corpus/load_index/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fuzz_common.h"
#include "io/container.h"
#include "vecscale.h"

int vs_fuzz_load_index(const uint8_t *data, size_t size);

vs_fuzz_stats vs_fuzz_load_index_stats;

enum { K = 8 };

/* Best first: L2 distances ascend, IP and cosine scores descend. */
static int in_order(vs_metric m, float a, float b) { return m == VS_METRIC_L2 ? a <= b : a >= b; }

static void check_search(vs_index *ix, vs_metric metric, uint32_t dim, size_t n, const float *q)
{
    float s[K], *v = malloc(dim * sizeof *v);
    int64_t id[K];
    if (!v) return;
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .nprobe = 1u << 20, .ef_search = 64};
    vs_clear_error();
    int rc = vs_index_search(ix, 1, q, K, &p, s, id);
    if (rc != VS_OK) {
        /* An empty or untrained index may refuse, but must say why. */
        VS_FUZZ_CHECK(rc < 0 && vs_last_error()[0]);
        free(v);
        return;
    }
    /* Padding (id -1, infinite distance) only after the results. */
    size_t found = 0;
    while (found < K && id[found] != -1) found++;
    VS_FUZZ_CHECK(found <= n);
    for (size_t i = found; i < K; i++) {
        VS_FUZZ_CHECK(id[i] == -1);
        VS_FUZZ_CHECK(isinf(s[i]) && (metric == VS_METRIC_L2) == (s[i] > 0));
    }
    for (size_t i = 0; i < found; i++) {
        VS_FUZZ_CHECK(!isnan(s[i]));
        VS_FUZZ_CHECK(i == 0 || in_order(metric, s[i - 1], s[i]));
        vs_clear_error();
        rc = vs_index_get(ix, id[i], v);
        VS_FUZZ_CHECK(rc == VS_OK || (rc < 0 && vs_last_error()[0]));
    }
    free(v);
}

int vs_fuzz_load_index(const uint8_t *data, size_t size)
{
    vs_fuzz_stats *st = &vs_fuzz_load_index_stats;
    st->inputs++;
    uint8_t *img = calloc(size ? size : 1, 1);
    vs_container *c = malloc(sizeof *c);
    if (!img || !c) {
        free(img);
        free(c);
        return 0;
    }
    if (size) memcpy(img, data, size);
    st->intact += vs_container_open(c, img, size, 0, "fuzz") == VS_OK;
    vs_fuzz_fix_container(img, size);
    /* The loader copies img to its own aligned image; c points into img. */
    int framed = vs_container_open(c, img, size, 0, "fuzz") == VS_OK;
    st->past_checksum += framed;
    vs_index *ix = NULL;
    vs_clear_error();
    int rc = vs_index_load_buffer(img, size, &ix);
    if (rc != VS_OK) {
        VS_FUZZ_CHECK(ix == NULL && rc < 0 && vs_last_error()[0]);
        free(c);
        free(img);
        return 0;
    }
    st->accepted++;
    VS_FUZZ_CHECK(framed);
    uint64_t mlen = 0;
    const uint8_t *meta = vs_container_find(c, VS_TAG('M', 'E', 'T', 'A'), &mlen);
    VS_FUZZ_CHECK(meta && mlen >= 32);
    uint32_t dim = vs_index_dim(ix);
    vs_metric metric = vs_index_metric(ix);
    size_t n = vs_index_size(ix);
    VS_FUZZ_CHECK(dim >= 1 && dim <= 65536 && dim == vs_fuzz_get32(meta));
    VS_FUZZ_CHECK((uint32_t)metric == vs_fuzz_get32(meta + 4) && metric <= VS_METRIC_COSINE);
    VS_FUZZ_CHECK(n == vs_fuzz_get64(meta + 8));
    vs_factory_spec spec = {.struct_size = sizeof spec};
    VS_FUZZ_CHECK(vs_factory_parse(vs_index_factory(ix), &spec) == VS_OK);
    float *q = calloc(dim, sizeof *q);
    if (q) {
        q[0] = 1.0f;
        check_search(ix, metric, dim, n, q);
        /* One add under an ID no fuzzed file is likely to hold, then its removal. */
        int64_t fresh = ((int64_t)1 << 40) + 7;
        vs_clear_error();
        rc = vs_index_add(ix, 1, q, &fresh);
        VS_FUZZ_CHECK(rc == VS_OK || (rc < 0 && vs_last_error()[0]));
        if (rc == VS_OK) {
            VS_FUZZ_CHECK(vs_index_size(ix) == n + 1);
            float *back = malloc(dim * sizeof *back);
            rc = back ? vs_index_get(ix, fresh, back) : VS_ERR_NOMEM;
            for (uint32_t d = 0; rc == VS_OK && d < dim; d++) VS_FUZZ_CHECK(isfinite(back[d]));
            free(back);
            check_search(ix, metric, dim, n + 1, q);
            /* The first remove builds the ID map, which may find the file's repeated IDs. */
            size_t removed = 0;
            vs_clear_error();
            rc = vs_index_remove(ix, 1, &fresh, &removed);
            VS_FUZZ_CHECK(rc == VS_OK ? removed == 1 && vs_index_size(ix) == n : rc < 0 && vs_last_error()[0]);
        }
        free(q);
    }
    vs_index_free(ix);
    free(c);
    free(img);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_load_index(data, size); }
#endif
