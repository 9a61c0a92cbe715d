/* libFuzzer harness for the quantizer loaders (vs_scalar_quantizer_load_buffer,
 * vs_product_quantizer_load_buffer). The input's container checksums are rewritten first
 * (fuzz_common.h), so the metadata parser sees every input; it is offered to both loaders (at
 * most one may accept it: the file names its type). Any input gives VS_OK or an error with a
 * message; a quantizer that loads must encode a finite vector and decode it to finite values
 * (a loaded range or centroid is never NaN/Inf), and save to a buffer that loads back with the
 * same code size. A violated check aborts. Built with -DVS_FUZZ_NO_MAIN only
 * vs_fuzz_load_quantizer is defined; test_fuzz_corpus replays tests/fuzz/corpus/load_quantizer/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fuzz_common.h"
#include "io/container.h"
#include "vecscale.h"

int vs_fuzz_load_quantizer(const uint8_t *data, size_t size);

vs_fuzz_stats vs_fuzz_load_quantizer_stats;

/* One vector through encode and decode: every output finite. */
static void check_codes(uint32_t dim, size_t cs, int (*enc)(const void *, const float *, uint8_t *),
                        int (*dec)(const void *, const uint8_t *, float *), const void *q)
{
    float *x = malloc(dim * sizeof *x), *y = malloc(dim * sizeof *y);
    uint8_t *c = malloc(cs ? cs : 1);
    if (x && y && c) {
        for (uint32_t j = 0; j < dim; j++) x[j] = (float)j * 0.25f - 1.0f;
        vs_clear_error();
        int rc = enc(q, x, c);
        VS_FUZZ_CHECK(rc == VS_OK || (rc < 0 && vs_last_error()[0]));
        if (rc == VS_OK) {
            VS_FUZZ_CHECK(dec(q, c, y) == VS_OK);
            for (uint32_t j = 0; j < dim; j++) VS_FUZZ_CHECK(isfinite(y[j]));
        }
    }
    free(x);
    free(y);
    free(c);
}

static int sq_enc(const void *q, const float *x, uint8_t *c) { return vs_scalar_quantizer_encode(q, 1, x, c); }
static int sq_dec(const void *q, const uint8_t *c, float *x) { return vs_scalar_quantizer_decode(q, 1, c, x); }
static int pq_enc(const void *q, const float *x, uint8_t *c) { return vs_product_quantizer_encode(q, 1, x, c); }
static int pq_dec(const void *q, const uint8_t *c, float *x) { return vs_product_quantizer_decode(q, 1, c, x); }


int vs_fuzz_load_quantizer(const uint8_t *data, size_t size)
{
    vs_fuzz_stats *st = &vs_fuzz_load_quantizer_stats;
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
    int framed = vs_container_open(c, img, size, 0, "fuzz") == VS_OK;
    st->past_checksum += framed;
    /* The dimension is the u32 at byte 8 of the QNTZ section. */
    uint64_t mlen = 0;
    const uint8_t *meta = framed ? vs_container_find(c, VS_TAG('Q', 'N', 'T', 'Z'), &mlen) : NULL;
    uint32_t dim = meta && mlen >= 12 ? vs_fuzz_get32(meta + 8) : 0;
    vs_scalar_quantizer *sq = NULL;
    vs_product_quantizer *pq = NULL;
    vs_clear_error();
    int rs = vs_scalar_quantizer_load_buffer(img, size, &sq);
    VS_FUZZ_CHECK(rs == VS_OK ? sq != NULL : sq == NULL && rs < 0 && vs_last_error()[0]);
    vs_clear_error();
    int rp = vs_product_quantizer_load_buffer(img, size, &pq);
    VS_FUZZ_CHECK(rp == VS_OK ? pq != NULL : pq == NULL && rp < 0 && vs_last_error()[0]);
    VS_FUZZ_CHECK(rs != VS_OK || rp != VS_OK);
    VS_FUZZ_CHECK((rs != VS_OK && rp != VS_OK) || framed);
    void *buf = NULL;
    size_t len = 0;
    if (sq) {
        st->accepted++;
        size_t cs = vs_scalar_quantizer_code_size(sq);
        VS_FUZZ_CHECK(dim >= 1 && dim <= 65536 && cs >= (dim + 1) / 2 && cs <= 2 * (size_t)dim);
        check_codes(dim, cs, sq_enc, sq_dec, sq);
        VS_FUZZ_CHECK(vs_scalar_quantizer_save_buffer(sq, &buf, &len) == VS_OK);
        vs_scalar_quantizer *back = NULL;
        VS_FUZZ_CHECK(vs_scalar_quantizer_load_buffer(buf, len, &back) == VS_OK);
        VS_FUZZ_CHECK(vs_scalar_quantizer_code_size(back) == cs);
        vs_scalar_quantizer_free(back);
    }
    if (pq) {
        st->accepted++;
        size_t cs = vs_product_quantizer_code_size(pq);
        VS_FUZZ_CHECK(dim >= 1 && dim <= 65536 && cs >= 1 && cs <= dim);
        check_codes(dim, cs, pq_enc, pq_dec, pq);
        VS_FUZZ_CHECK(vs_product_quantizer_save_buffer(pq, &buf, &len) == VS_OK);
        vs_product_quantizer *back = NULL;
        VS_FUZZ_CHECK(vs_product_quantizer_load_buffer(buf, len, &back) == VS_OK);
        VS_FUZZ_CHECK(vs_product_quantizer_code_size(back) == cs);
        vs_product_quantizer_free(back);
    }
    vs_buffer_free(buf);
    vs_scalar_quantizer_free(sq);
    vs_product_quantizer_free(pq);
    free(c);
    free(img);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_load_quantizer(data, size); }
#endif
