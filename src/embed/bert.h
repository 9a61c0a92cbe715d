/* BERT encoders in the sentence-transformers layout (all-MiniLM-L6-v2 and its kin):
 * config.json, model.safetensors (F32/F16/BF16, converted to float32 at load), a tokenizer
 * (tokenizer.h), sentence_bert_config.json (max_seq_length), modules.json (a Normalize module
 * turns on L2 normalisation) and 1_Pooling/config.json (mean or CLS pooling).
 *
 * Forward pass (Devlin et al. 2019; HF BertModel, eval mode): word + position + token-type
 * embeddings, LayerNorm; per layer fused QKV projection, softmax(QK^T / sqrt(d_head)) V per
 * head, output projection + residual + LayerNorm, GELU (erf) feed-forward + residual +
 * LayerNorm; pooling over the tokens; optional L2 normalisation.
 * Batches are packed, not padded: the sequences of a chunk are stacked row-wise for every
 * projection and attention runs per sequence, so no padding is ever computed (and the result
 * equals masked attention over a padded batch). Chunks hold texts of similar length (sorted)
 * up to a token budget; threads take whole chunks, so results do not depend on n_threads. */
#ifndef VS_EMBED_BERT_H
#define VS_EMBED_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "embed/qgemm.h"
#include "embed/tokenizer.h"

typedef struct {
    uint32_t hidden, layers, heads, inter, vocab, max_pos, type_vocab;
    float ln_eps;
} vs_bert_config;

typedef struct {
    float *qkv_w, *qkv_b; /* [3H, H], [3H]: query, key, value stacked */
    float *ao_w, *ao_b;   /* attention output [H, H] */
    float *ln1_g, *ln1_b;
    float *in_w, *in_b;   /* intermediate [I, H] */
    float *out_w, *out_b; /* output [H, I] */
    float *ln2_g, *ln2_b;
    vs_qlinear q[4]; /* qkv, ao, in, out in low precision (unused in fp32) */
} vs_bert_layer;

typedef enum { VS_POOL_MEAN = 0, VS_POOL_CLS = 1 } vs_bert_pooling;

typedef struct {
    vs_bert_config cfg;
    float *word, *pos, *type, *emb_ln_g, *emb_ln_b;
    vs_bert_layer *layer;
    size_t max_seq;
    int normalize;
    vs_bert_pooling pooling;
    vs_precision precision; /* of the Linear layers: FP32, BF16 or INT8 (vs_bert_set_precision) */
    vs_tokenizer *tok;
} vs_bert;

int vs_bert_load(const char *dir, vs_bert **out);
void vs_bert_free(vs_bert *b);
/* Prepares the Linear layers for p (FP32, BF16, INT8); once, before any encode. BF16 without
 * the kernels at the active SIMD level is VS_ERR_UNSUPPORTED. */
int vs_bert_set_precision(vs_bert *b, vs_precision p);
/* Encodes n token sequences (ids[i][0..len[i]), each 1..max_pos) into out (n x hidden). */
int vs_bert_encode_ids(const vs_bert *b, size_t n, const int32_t *const *ids, const size_t *len, int n_threads,
                       float *out);
/* Tokenizes and encodes n valid UTF-8 texts; known (NULL = not wanted) receives per text the
 * number of its word pieces other than [CLS], [SEP] and [UNK]. */
int vs_bert_embed(const vs_bert *b, size_t n, const char *const *texts, int n_threads, float *out, uint32_t *known);

#endif
