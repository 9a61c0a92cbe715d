/* 4-bit PQ fast-scan: codes of 32 vectors are interleaved in a block so that one SIMD
 * shuffle (vpshufb) looks up a sub-quantizer's table for 16 vectors at once, with the table
 * quantised to 8 bits and sums accumulated in 16 bits (the idea of André et al., "Cache
 * locality is not enough", and FAISS's IndexPQFastScan; the layout here is our own).
 *
 * Block layout (m sub-quantizers, padded to an even mp): for each pair p of sub-quantizers,
 * 32 bytes; bytes 0..15 hold sub-quantizer 2p, bytes 16..31 sub-quantizer 2p+1; byte b of a
 * half holds vector b's sub-code in the low nibble and vector b+16's in the high nibble.
 * A block is mp * 16 bytes: the same half byte per sub-code as the packed PQ code.
 *
 * Quantised table layout: the same pairing, 32 bytes per pair, entry c of sub-quantizer j
 * at byte (j & 1) * 16 + c of pair j / 2. */
#ifndef VS_QUANT_FASTSCAN_H
#define VS_QUANT_FASTSCAN_H

#include <stddef.h>
#include <stdint.h>

#define VS_FS_BLOCK 32
/* Sums are accumulated in 16 bits over chunks of at most VS_FS_CHUNK_PAIRS pairs (256
 * sub-quantizers: 256 entries of 255 fit), then added in 32 bits, so m is not bounded by the
 * 16-bit range; the bound below only keeps the per-table scratch small. */
#define VS_FS_CHUNK_PAIRS 128u
#define VS_FS_MAX_M 2048

static inline uint32_t vs_fs_pairs(uint32_t m) { return (m + 1) / 2; }
static inline size_t vs_fs_block_bytes(uint32_t m) { return (size_t)vs_fs_pairs(m) * 32; }
static inline size_t vs_fs_blocks(size_t n) { return (n + VS_FS_BLOCK - 1) / VS_FS_BLOCK; }

/* Writes / reads vector i's code (packed 4-bit PQ code, quant/pq.h layout) in blocked codes. */
void vs_fs_put(uint8_t *blocks, uint32_t m, size_t i, const uint8_t *code);
void vs_fs_get(const uint8_t *blocks, uint32_t m, size_t i, uint8_t *code);

/* Builds the 8-bit table of the float table t = a + b (m x 16, smaller is better; b NULL: t =
 * a) in one pass over it: entry = round((t - min_j) * scale), so key ~= bias + sum / scale.
 * work holds m x 16 floats (t when b is given); lut holds vs_fs_block_bytes(m) bytes. Every
 * level gives the scalar reference's bytes, bias and scale exactly (no fused multiply-add).
 * A per-probe L2 table (term2 of the list + the query's -2<q, p>) costs O(m) this way. */
typedef void (*vs_fs_lut_fn)(const float *a, const float *b, uint32_t m, float *work, uint8_t *lut, float *bias,
                             float *scale);
void vs_fs_lut_scalar(const float *a, const float *b, uint32_t m, float *work, uint8_t *lut, float *bias, float *scale);
void vs_fs_lut_avx2(const float *a, const float *b, uint32_t m, float *work, uint8_t *lut, float *bias, float *scale);
void vs_fs_lut_avx512(const float *a, const float *b, uint32_t m, float *work, uint8_t *lut, float *bias, float *scale);
vs_fs_lut_fn vs_fs_lut_kernel(void);
/* vs_fs_lut_scalar of tab alone. */
void vs_fs_quantize(const float *tab, uint32_t m, uint8_t *lut, float *bias, float *scale);

/* A query's float table from transposed 4-bit PQ centroids ct (m x dsub x 16: entry c of
 * sub-quantizer j, dimension t at (j * dsub + t) * 16 + c): tab[j * 16 + c] = mul * <q_j,
 * p_jc>, summed over t in order without fused multiply-add, the same at every level. One
 * vector of 16 lanes per sub-quantizer, where a dot product per centroid of dsub (often 2
 * to 8) floats spends most of its time outside the arithmetic. */
typedef void (*vs_fs_table_fn)(const float *ct, const float *q, uint32_t m, uint32_t dsub, float mul, float *tab);
void vs_fs_table_scalar(const float *ct, const float *q, uint32_t m, uint32_t dsub, float mul, float *tab);
void vs_fs_table_avx2(const float *ct, const float *q, uint32_t m, uint32_t dsub, float mul, float *tab);
void vs_fs_table_avx512(const float *ct, const float *q, uint32_t m, uint32_t dsub, float mul, float *tab);
vs_fs_table_fn vs_fs_table_kernel(void);
/* ct from PQ centroids laid out m x 16 x dsub. */
void vs_fs_transpose_centroids(const float *centroids, uint32_t m, uint32_t dsub, float *ct);

/* Sums of one block: out[v] = sum_j lut[j][code_v[j]] for the 32 vectors. Returns a mask with
 * bit v set when out[v] < thr. */
typedef uint32_t (*vs_fs_block_fn)(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint32_t thr,
                                   uint32_t *out);
uint32_t vs_fs_block_scalar(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint32_t thr, uint32_t *out);
uint32_t vs_fs_block_avx2(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint32_t thr, uint32_t *out);
uint32_t vs_fs_block_avx512(const uint8_t *block, const uint8_t *lut, uint32_t pairs, uint32_t thr, uint32_t *out);
/* The kernel for the active SIMD level. */
vs_fs_block_fn vs_fs_block_kernel(void);

/* The candidates of one scanned block: for each set bit u of mask, in increasing u, key =
 * bias + (float)sums[u] * inv; those with key <= thr are appended to keys / labels (label
 * ids[u]), and their count is returned. The AVX-512 form compresses 16 lanes at a time and
 * writes whole vectors: keys and labels need VS_FS_COLLECT_SLACK entries of room past the
 * last one kept. ids[u] is read only where mask has bit u (a list's last block is short). */
#define VS_FS_COLLECT_SLACK 16
typedef size_t (*vs_fs_collect_fn)(const uint32_t *sums, uint32_t mask, float bias, float inv, float thr,
                                   const int64_t *ids, float *keys, int64_t *labels);
size_t vs_fs_collect_scalar(const uint32_t *sums, uint32_t mask, float bias, float inv, float thr, const int64_t *ids,
                            float *keys, int64_t *labels);
size_t vs_fs_collect_avx512(const uint32_t *sums, uint32_t mask, float bias, float inv, float thr, const int64_t *ids,
                            float *keys, int64_t *labels);
vs_fs_collect_fn vs_fs_collect_kernel(void);

/* Query-block form: the same block scanned with nq tables (one per query, lut[i] with
 * threshold thr[i], sums to out[i * 32 ..]); masks[i] as the one-table kernel returns. Codes
 * are loaded and split into nibbles once for all the tables. nq <= VS_FS_QB. */
#define VS_FS_QB 4
typedef void (*vs_fs_block_qb_fn)(const uint8_t *block, const uint8_t *const *lut, unsigned nq, uint32_t pairs,
                                  const uint32_t *thr, uint32_t *out, uint32_t *masks);
void vs_fs_block_qb_generic(const uint8_t *block, const uint8_t *const *lut, unsigned nq, uint32_t pairs,
                            const uint32_t *thr, uint32_t *out, uint32_t *masks);
void vs_fs_block_qb_avx512(const uint8_t *block, const uint8_t *const *lut, unsigned nq, uint32_t pairs,
                           const uint32_t *thr, uint32_t *out, uint32_t *masks);
vs_fs_block_qb_fn vs_fs_block_qb_kernel(void);

#endif
