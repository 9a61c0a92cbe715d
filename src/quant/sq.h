/* Scalar quantizer: every dimension coded on its own, as 8-bit or 4-bit integers over a
 * per-dimension [min, max] range learnt in training (FAISS's RS_minmax), or as fp16 / bf16
 * floats (no training). Used by IVF-SQ, standalone SQ and HNSW's quantised traversal.
 *
 * Distances are computed on codes without decoding: a query is first "prepared" into a few
 * per-dimension arrays so that the inner loop is one multiply-add per dimension (see
 * vs_sq_query). */
#ifndef VS_QUANT_SQ_H
#define VS_QUANT_SQ_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct {
    vs_code_kind kind; /* VS_CODE_SQ8, VS_CODE_SQ4, VS_CODE_SQFP16 or VS_CODE_SQBF16 */
    uint32_t d;
    int trained;
    float *vmin;  /* d: per-dimension minimum (SQ8, SQ4); NULL for the float codes */
    float *vdiff; /* d: per-dimension range max - min (0 for a constant dimension) */
} vs_sq;

/* The code kinds this quantizer implements. */
int vs_sq_kind_ok(vs_code_kind kind);
int vs_sq_init(vs_sq *sq, vs_code_kind kind, uint32_t d);
void vs_sq_destroy(vs_sq *sq);
/* Learns the ranges (a no-op for fp16/bf16, which are always trained). */
int vs_sq_train(vs_sq *sq, size_t n, const float *x);
/* Sets trained ranges directly (loading): vmin and vdiff hold d floats each, copied. */
int vs_sq_set_ranges(vs_sq *sq, const float *vmin, const float *vdiff);
size_t vs_sq_code_size(const vs_sq *sq);
/* Values outside the trained range are clamped to it. */
void vs_sq_encode(const vs_sq *sq, size_t n, const float *x, uint8_t *codes);
void vs_sq_decode(const vs_sq *sq, size_t n, const uint8_t *codes, float *x);

/* A query prepared against one quantizer. For L2 the key is sum_i (a_i - c_i * s_i)^2 with
 * a = q - min - s/2 (the code's bucket centre); for inner product it is the negated dot
 * product, -(b + sum_i w_i c_i) with w = q * s. For the float codes a = q (L2) or w = q. */
typedef struct vs_sq_query vs_sq_query;
typedef float (*vs_sq_key_fn)(const vs_sq_query *pq, const uint8_t *code);
struct vs_sq_query {
    const vs_sq *sq;
    vs_sq_key_fn fn; /* the kernel for this kind, metric and CPU, picked once */
    int l2;
    float bias; /* inner product: sum_i q_i (min_i + s_i / 2) */
    float *a;   /* d: L2 offsets, or inner-product weights */
    float *s;   /* d: L2 step per code unit (SQ8/SQ4) */
};

int vs_sq_query_init(vs_sq_query *pq, const vs_sq *sq, int l2);
void vs_sq_query_set(vs_sq_query *pq, const float *q);
void vs_sq_query_destroy(vs_sq_query *pq);
/* keys[i] for the n codes stored back to back (smaller is better). */
void vs_sq_keys(const vs_sq_query *pq, const uint8_t *codes, size_t n, float *keys);
/* The same, one code (HNSW's traversal calls this per neighbour). */
static inline float vs_sq_key(const vs_sq_query *pq, const uint8_t *code) { return pq->fn(pq, code); }

/* Scalar reference and the AVX2 kernels, for tests comparing them; vs_sq_keys picks one. */
vs_sq_key_fn vs_sq_key_scalar_for(vs_code_kind kind, int l2);
vs_sq_key_fn vs_sq_key_avx2_for(vs_code_kind kind, int l2); /* NULL if not built */
/* Decodes one fp16 or bf16 code with AVX2/F16C (exact, as the scalar code); 0 when the kind
 * has no such path (the caller decodes it itself). */
int vs_sq_decode_avx2(const vs_sq *sq, const uint8_t *code, float *x);

#endif
