/* IVF sections (see ARCHITECTURE.md):
 *   IVFH  u32 nlist | u32 code kind (0 = Flat) | u16 PQ m | u8 PQ bits | u8 fast-scan |
 *         u8 by-residual (PQ: 1 residual codes, 0 codes of the vectors) |
 *         3 bytes zero                                                   (verified)
 *   ICEN  nlist x dim float32 centroids, only when trained             (verified)
 *   IQNT  quantizer: SQ8/SQ4 dim float32 minima then dim ranges; PQ
 *         m x ksub x dsub float32 sub-centroids; absent for Flat, fp16,
 *         bf16                                                          (verified)
 *   ILOF  nlist + 1 u64 row offsets of each list in IIDS               (verified)
 *   IVEC  all lists' codes back to back, list 0 first: rows of the code
 *         size, or for fast-scan ceil(n/32) blocks per list            (bulk)
 *   IIDS  all lists' int64 user IDs, same order                        (bulk)
 * Version-1 IVF-Flat files have the same layout with a zero tail in IVFH.
 * A view maps IVEC and IIDS and points every list into them, so opening reads only the
 * centroids and offsets; list pages are faulted in when a query probes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/ivf.h"

#define TAG_META VS_TAG('M', 'E', 'T', 'A')
#define TAG_IVFH VS_TAG('I', 'V', 'F', 'H')
#define TAG_ICEN VS_TAG('I', 'C', 'E', 'N')
#define TAG_ILOF VS_TAG('I', 'L', 'O', 'F')
#define TAG_IVEC VS_TAG('I', 'V', 'E', 'C')
#define TAG_IIDS VS_TAG('I', 'I', 'D', 'S')
#define TAG_IQNT VS_TAG('I', 'Q', 'N', 'T')

static void head_of(const vs_ivf *v, uint8_t head[16])
{
    const vs_ivf_codec *c = &v->codec;
    uint32_t code = (uint32_t)c->kind;
    uint16_t m = c->kind == VS_CODE_PQ ? (uint16_t)c->pq.m : 0;
    memset(head, 0, 16);
    memcpy(head, &v->nlist, 4);
    memcpy(head + 4, &code, 4);
    memcpy(head + 8, &m, 2);
    head[10] = c->kind == VS_CODE_PQ ? (uint8_t)c->pq.nbits : 0;
    head[11] = (uint8_t)c->fastscan;
    head[12] = (uint8_t)c->by_residual;
}

static size_t quantizer_bytes(const vs_index *ix)
{
    const vs_ivf_codec *c = &((const vs_ivf *)ix->impl)->codec;
    if (c->kind == VS_CODE_PQ) return (size_t)c->pq.m * c->pq.ksub * c->pq.dsub * sizeof(float);
    if (c->kind == VS_CODE_SQ8 || c->kind == VS_CODE_SQ4) return 2 * (size_t)ix->dim * sizeof(float);
    return 0;
}

int vs_ivf_save(const vs_index *ix, vs_container_writer *w)
{
    const vs_ivf *v = ix->impl;
    const vs_ivf_codec *cd = &v->codec;
    uint8_t head[16];
    head_of(v, head);
    int rc = vs_container_add(w, TAG_IVFH, 0, head, sizeof head);
    if (rc || !ix->trained) return rc; /* an untrained index has no centroids or lists */
    rc = vs_container_add(w, TAG_ICEN, 0, v->centroids, (uint64_t)v->nlist * ix->dim * sizeof(float));
    if (rc) return rc;
    if (cd->kind == VS_CODE_PQ) {
        rc = vs_container_add(w, TAG_IQNT, 0, cd->pq.centroids, quantizer_bytes(ix));
    } else if (quantizer_bytes(ix)) {
        const void *qp[2] = {cd->sq.vmin, cd->sq.vdiff};
        uint64_t ql[2] = {(uint64_t)ix->dim * sizeof(float), (uint64_t)ix->dim * sizeof(float)};
        rc = vs_container_add_parts(w, TAG_IQNT, 0, qp, ql, 2);
    }
    if (rc) return rc;
    uint64_t *off = malloc((v->nlist + 1) * sizeof *off);
    const void **parts = malloc(v->nlist * sizeof *parts);
    uint64_t *lens = malloc(v->nlist * sizeof *lens);
    if (!off || !parts || !lens) {
        rc = vs_fail(VS_ERR_NOMEM, "out of memory saving %u lists", v->nlist);
        goto done;
    }
    off[0] = 0;
    for (uint32_t l = 0; l < v->nlist; l++) off[l + 1] = off[l] + v->lists[l].n;
    rc = vs_container_add(w, TAG_ILOF, 0, off, (v->nlist + 1) * sizeof *off);
    for (uint32_t l = 0; l < v->nlist; l++) {
        parts[l] = v->lists[l].codes;
        lens[l] = vs_ivf_list_bytes(cd, v->lists[l].n);
    }
    if (!rc) rc = vs_container_add_parts(w, TAG_IVEC, VS_SECTION_BULK, parts, lens, v->nlist);
    for (uint32_t l = 0; l < v->nlist; l++) {
        parts[l] = v->lists[l].ids;
        lens[l] = (uint64_t)v->lists[l].n * sizeof(int64_t);
    }
    if (!rc) rc = vs_container_add_parts(w, TAG_IIDS, VS_SECTION_BULK, parts, lens, v->nlist);
done:
    free(off);
    free(parts);
    free(lens);
    return rc;
}

int vs_ivf_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin)
{
    vs_ivf *v = ix->impl;
    int rc = VS_OK;
    const uint8_t *head = vs_container_require(c, TAG_IVFH, 16, origin, &rc);
    if (rc) return rc;
    uint8_t want[16];
    head_of(v, want);
    /* PQ codes either the residual or the vector itself, as training chose (ivf_codec.c): the
     * factory string does not say which. Readers before that choice refuse a 0 here. */
    if (v->codec.kind == VS_CODE_PQ && (head[12] == 0 || head[12] == 1)) want[12] = head[12];
    if (memcmp(head, want, 16) != 0) {
        uint32_t nlist, code;
        memcpy(&nlist, head, 4);
        memcpy(&code, head + 4, 4);
        return vs_fail(VS_ERR_CORRUPT, "%s: IVF header (nlist %u, code %u) disagrees with the factory string \"%s\"",
                       origin, nlist, code, ix->factory);
    }
    const uint32_t nlist = v->nlist;
    v->codec.by_residual = want[12];
    /* META's trained flag is applied by the caller after load; it must agree with whether
     * centroids are present, or a "trained" index would search without centroids. */
    uint64_t mlen;
    const uint8_t *meta = vs_container_find(c, TAG_META, &mlen);
    uint32_t trained = 0;
    if (meta && mlen >= 28) memcpy(&trained, meta + 24, 4);
    uint64_t clen;
    const float *cent = vs_container_find(c, TAG_ICEN, &clen);
    if (!trained) {
        if (cent || ntotal)
            return vs_fail(VS_ERR_CORRUPT, "%s: an untrained IVF index cannot hold centroids or vectors", origin);
        return VS_OK;
    }
    if (ntotal > SIZE_MAX / ((uint64_t)ix->dim * sizeof(float) + 16))
        return vs_fail(VS_ERR_CORRUPT, "%s: vector count %llu is impossible", origin, (unsigned long long)ntotal);
    cent = vs_container_require(c, TAG_ICEN, (uint64_t)nlist * ix->dim * sizeof(float), origin, &rc);
    if (rc) return rc;
    const uint64_t *off = vs_container_require(c, TAG_ILOF, ((uint64_t)nlist + 1) * 8, origin, &rc);
    if (rc) return rc;
    if (off[0] != 0 || off[nlist] != ntotal)
        return vs_fail(VS_ERR_CORRUPT, "%s: list offsets do not cover the %llu vectors", origin, (unsigned long long)ntotal);
    for (uint32_t l = 0; l < nlist; l++)
        if (off[l + 1] < off[l]) return vs_fail(VS_ERR_CORRUPT, "%s: list offsets decrease at list %u", origin, l);
    uint64_t code_bytes = 0;
    for (uint32_t l = 0; l < nlist; l++) code_bytes += vs_ivf_list_bytes(&v->codec, (size_t)(off[l + 1] - off[l]));
    uint8_t *codes = (uint8_t *)vs_container_require(c, TAG_IVEC, code_bytes, origin, &rc);
    if (rc) return rc;
    size_t qbytes = quantizer_bytes(ix);
    const float *qnt = qbytes ? vs_container_require(c, TAG_IQNT, qbytes, origin, &rc) : NULL;
    if (rc) return rc;
    int64_t *ids = (int64_t *)vs_container_require(c, TAG_IIDS, ntotal * sizeof(int64_t), origin, &rc);
    if (rc) return rc;
    for (size_t i = 0; i < (size_t)nlist * ix->dim; i++)
        if (!isfinite(cent[i])) return vs_fail(VS_ERR_CORRUPT, "%s: centroid %zu is not finite", origin, i / ix->dim);
    float *copy = malloc((size_t)nlist * ix->dim * sizeof *copy);
    if (!copy) return vs_fail(VS_ERR_NOMEM, "out of memory for centroids");
    memcpy(copy, cent, (size_t)nlist * ix->dim * sizeof *copy); /* small; keeps them writable */
    free(v->centroids);
    v->centroids = copy;
    rc = vs_ivf_prepare_lists(ix);
    if (!rc && v->codec.kind == VS_CODE_PQ) rc = vs_pq_set_centroids(&v->codec.pq, qnt);
    if (!rc && qnt && v->codec.kind != VS_CODE_PQ) rc = vs_sq_set_ranges(&v->codec.sq, qnt, qnt + ix->dim);
    if (!rc) rc = vs_ivf_codec_prepare(ix);
    if (rc) return rc;
    /* The lists point into the image (read-only when viewed): the first write copies them. */
    v->owned = 0;
    uint64_t at = 0;
    for (uint32_t l = 0; l < nlist; l++) {
        v->lists[l].codes = codes + at;
        at += vs_ivf_list_bytes(&v->codec, (size_t)(off[l + 1] - off[l]));
        v->lists[l].ids = ids + off[l];
        v->lists[l].n = (size_t)(off[l + 1] - off[l]);
        v->lists[l].cap = 0;
    }
    v->ntotal = (size_t)ntotal;
    v->map_ready = 0;
    v->max_known = 0;
    ix->trained = 1;
    return VS_OK;
}
