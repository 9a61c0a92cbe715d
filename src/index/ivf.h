/* IVF index internals shared by its phase files: ivf.c (lifecycle, train, add, remove, get),
 * ivf_codec.c (what a list stores per vector), ivf_scan.c (keys of a list for one query),
 * ivf_search.c (k-NN), ivf_range.c (radius search), ivf_io.c (sections).
 *
 * A flat coarse quantizer of nlist centroids (k-means, L2 or spherical inner product as
 * FAISS) partitions the vectors; list l holds the codes of the vectors whose nearest centroid
 * is l with a parallel array of user IDs. Codes are float32 rows (IVF-Flat), scalar-quantised
 * rows (IVF-SQ), PQ codes of the residual to the centroid or of the vector itself (IVF-PQ,
 * whichever training measured the more accurate), or such 4-bit PQ codes in fast-scan blocks
 * of 32 (IVF-PQ fast-scan). Standalone SQ and PQ indexes are
 * this index with one list. */
#ifndef VS_INDEX_IVF_H
#define VS_INDEX_IVF_H

#include <stdatomic.h>

#include "core/idmap.h"
#include "index/index_impl.h"
#include "quant/fastscan.h"
#include "quant/pq.h"
#include "quant/sq.h"

/* The ID map packs (list, position) into one value: 24 bits of list, 40 of position. */
#define VS_IVF_MAX_NLIST (1u << 24)
#define VS_IVF_POS_BITS 40

typedef struct {
    uint8_t *codes; /* n codes (flat layout) or ceil(n/32) blocks (fast-scan); owned when the
                       index is, else inside ix->backing */
    int64_t *ids;   /* n */
    size_t n, cap;
} vs_ivf_list;

typedef struct {
    vs_code_kind kind;
    int fastscan;     /* 4-bit PQ codes in blocks of 32 */
    /* PQ codes the residual x - centroid (FAISS's IVFPQ, and its fast-scan "fsr"), or the
     * vector itself (FAISS's fast-scan "fs" default). Chosen at training by distortion
     * (vs_ivf_codec_train) and stored in the file. */
    int by_residual;
    size_t code_size; /* bytes per vector in the flat layout (and half a byte per sub-code
                         in fast-scan blocks) */
    vs_sq sq;
    vs_pq pq;
    /* L2 residual PQ: term2[l][j][c] = ||p_jc||^2 + 2 <centroid_l (sub-space j), p_jc>, so a
     * list's table is term2[l] - 2 <q_j, p_jc> (FAISS's precomputed tables); NULL when it
     * would exceed VS_IVF_PRECOMPUTED_MAX bytes, and the table is computed per list. */
    float *term2;
    /* Fast-scan: the PQ centroids transposed for vs_fs_table (m x dsub x 16). */
    float *ct;
    /* L2 PQ of the vectors themselves: ||p_jc||^2 (m x ksub), so a query's table is
     * pnorm - 2 <q_j, p_jc> (the ||q||^2 term goes to the bias). */
    float *pnorm;
} vs_ivf_codec;

#define VS_IVF_PRECOMPUTED_MAX ((size_t)512 << 20)

typedef struct {
    uint32_t nlist;
    float *centroids;    /* nlist x dim, always heap (small) */
    float *cnorms;       /* nlist squared norms (L2 coarse quantizer), else NULL */
    vs_ivf_list *lists;  /* nlist, allocated at train / load */
    vs_ivf_codec codec;
    size_t ntotal;
    int owned;           /* lists own their arrays (0: they point into a loaded or viewed file) */
    int map_ready;       /* the ID map is built lazily: at the first add of an ID not above every
                            stored one or the first remove (get scans until then) */
    int max_known;       /* max_id is valid (a loaded file computes it at its first add) */
    int64_t max_id;      /* largest stored ID, -1 when empty */
    vs_idmap map;        /* user ID -> (list << 40 | position) */
    /* A one-thread search's scratch kept for the next one (ivf_search.c): a query per call
     * spent ~25 allocations on it. Taken and returned by atomic exchange, so concurrent
     * searches each get their own (the loser allocates); not part of the index's state. */
    _Atomic(struct vs_ivf_scratch *) scratch;
} vs_ivf;

/* Frees the kept search scratch (ivf_search.c), at destroy and when lists change shape. */
void vs_ivf_scratch_drop(vs_ivf *v);

/* Default nprobe when vs_search_params.nprobe is 0: 1, as FAISS, so the same factory string
 * and parameters give the same recall in both libraries. */
#define VS_IVF_DEFAULT_NPROBE 1

int vs_ivf_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                  float *keys, int64_t *ids);
/* vs_ivf_search whose k results per query may be in any order (ops.search_candidates). */
int vs_ivf_search_candidates(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                             float *keys, int64_t *ids);
int vs_ivf_range_search(const vs_index *ix, size_t nq, const float *q, float key_radius,
                        const vs_search_params *p, vs_range_result **out);
int vs_ivf_save(const vs_index *ix, vs_container_writer *w);
int vs_ivf_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin);

/* Allocates the centroid norms (L2) and the nlist empty lists after centroids are set. */
int vs_ivf_prepare_lists(vs_index *ix);
/* L2 indexes key by squared distance and assign by L2 centroids; IP and cosine key by -<q,x>
 * and use spherical centroids assigned by largest inner product (as FAISS). Of the two
 * equivalent forms of cosine (inner product, or L2 on the normalised vectors), the inner
 * product is the faster at equal results, by measurement (bench/RESULTS.md, issue 21): on
 * GloVe-100 IVF2048,PQ50x4fs,RFlat it reaches recall 0.95 at nprobe 80 where the L2 form
 * needs 96, with 1.6x the q/s at equal nprobe (one fast-scan table per query, shared by
 * every list, against one per probed list). test_ivf_codes cosine_is_ip_on_normalised. */
static inline int vs_ivf_is_l2(const vs_index *ix) { return ix->metric == VS_METRIC_L2; }
/* A PQ index whose lookup table depends on the query only, so one (quantised) table serves
 * every probed list: inner product, or L2 codes of the vectors themselves. L2 residual codes
 * need a table per probed list (term2[l] + the query's part). */
static inline int vs_ivf_shared_table(const vs_index *ix)
{
    return !vs_ivf_is_l2(ix) || !((const vs_ivf *)ix->impl)->codec.by_residual;
}

/* Codec (ivf_codec.c). */
int vs_ivf_codec_init(vs_ivf_codec *c, const vs_index *ix);
void vs_ivf_codec_destroy(vs_ivf_codec *c);
/* Trains the quantizer on x, whose nearest lists are assign (for residuals). */
int vs_ivf_codec_train(vs_index *ix, size_t n, const float *x, const int64_t *assign);
/* Recomputes what is derived from the quantizer and centroids (precomputed tables). */
int vs_ivf_codec_prepare(vs_index *ix);
/* Encodes n vectors bound for lists assign[i] into n flat-layout codes. */
int vs_ivf_codec_encode(const vs_index *ix, size_t n, const float *x, const int64_t *assign, uint8_t *codes);
/* Reconstructs vector pos of list l (exact for Flat). */
void vs_ivf_codec_decode(const vs_index *ix, size_t l, size_t pos, float *out);
/* Bytes a list of n vectors occupies, and the flat-layout code of vector pos (copied out;
 * fast-scan lists unpack it). */
size_t vs_ivf_list_bytes(const vs_ivf_codec *c, size_t n);
void vs_ivf_code_get(const vs_ivf_codec *c, const vs_ivf_list *L, size_t pos, uint8_t *code);
void vs_ivf_code_put(const vs_ivf_codec *c, vs_ivf_list *L, size_t pos, const uint8_t *code);

/* Per-worker scanner (ivf_scan.c): the keys (smaller is better) of one list's vectors for
 * one query. */
typedef struct {
    float *tab;    /* m x ksub: the query's table (PQ), list-independent part */
    float *ltab;   /* m x ksub: one list's table */
    const float *cur; /* the table the current list scans with (tab or ltab) */
    uint8_t *lut;  /* quantised table (fast-scan) */
    float *resid;  /* dim: query minus centroid */
    uint32_t sums[32];
    vs_fs_lut_fn lutk; /* the active level's table builder (fast-scan) */
    vs_fs_table_fn tabk;
    float lut_bias, lut_scale; /* of lut when it depends on the query only (inner product) */
    vs_sq_query sqq;
    int has_sqq;
    float qnorm;   /* ||q||^2 */
} vs_ivf_scanner;

int vs_ivf_scanner_init(vs_ivf_scanner *s, const vs_index *ix);
void vs_ivf_scanner_destroy(vs_ivf_scanner *s);
void vs_ivf_scanner_set_query(vs_ivf_scanner *s, const vs_index *ix, const float *q);
/* Prepares list l for the current query; returns the additive key term of the list. coarse:
 * the list's key from vs_nearest_centroids for this query (fast-scan takes the centroid term
 * from it instead of an O(dim) distance), or NULL to compute that term. */
float vs_ivf_scanner_set_list(vs_ivf_scanner *s, const vs_index *ix, const float *q, size_t l,
                              const float *coarse, float *fs_scale);
/* keys[j] for vectors j0..j0+bn-1 of list l (flat-layout codes; j0 a multiple of 32 for
 * fast-scan), after vs_ivf_scanner_set_list. */
void vs_ivf_scanner_keys(vs_ivf_scanner *s, const vs_index *ix, const float *q, size_t l, float list_bias,
                         float fs_scale, size_t j0, size_t bn, float *keys);

#endif
