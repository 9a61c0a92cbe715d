/* Loading a sentence-transformers BERT directory: configs, weights, tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/bert.h"
#include "embed/json_file.h"
#include "embed/qgemm_kernels.h"
#include "embed/safetensors.h"

static int read_config(const char *dir, vs_bert_config *c)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *j;
    int rc = vs_json_load(path, &j);
    if (rc) return rc;
    int ok = 1;
    const char *mt = vs_json_str(j, "model_type", "bert", &ok);
    const char *act = vs_json_str(j, "hidden_act", "gelu", &ok);
    const char *pe = vs_json_str(j, "position_embedding_type", "absolute", &ok);
    long h = vs_json_int(j, "hidden_size", -1, &ok), l = vs_json_int(j, "num_hidden_layers", -1, &ok);
    long nh = vs_json_int(j, "num_attention_heads", -1, &ok), in = vs_json_int(j, "intermediate_size", -1, &ok);
    long v = vs_json_int(j, "vocab_size", -1, &ok), mp = vs_json_int(j, "max_position_embeddings", 512, &ok);
    long tv = vs_json_int(j, "type_vocab_size", 2, &ok);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(j, "layer_norm_eps");
    c->ln_eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-12f;
    if (!ok) rc = vs_fail(VS_ERR_CORRUPT, "%s: a field has the wrong type", path);
    else if (strcmp(mt, "bert"))
        rc = vs_fail(VS_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (bert is)", path, mt);
    else if (strcmp(act, "gelu"))
        rc = vs_fail(VS_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported (gelu is)", path, act);
    else if (strcmp(pe, "absolute"))
        rc = vs_fail(VS_ERR_UNSUPPORTED, "%s: position_embedding_type '%s' is not supported", path, pe);
    else if (h < 1 || h > 16384 || l < 1 || l > 256 || nh < 1 || h % nh || in < 1 || in > 65536 || v < 1 ||
             v > 10000000 || mp < 2 || mp > 65536 || tv < 1 || tv > 1024 || !(c->ln_eps > 0))
        rc = vs_fail(VS_ERR_CORRUPT,
                     "%s: inconsistent sizes (hidden %ld, layers %ld, heads %ld, intermediate %ld, vocab %ld, "
                     "positions %ld)",
                     path, h, l, nh, in, v, mp);
    else
        *c = (vs_bert_config){(uint32_t)h, (uint32_t)l, (uint32_t)nh, (uint32_t)in, (uint32_t)v, (uint32_t)mp,
                              (uint32_t)tv, c->ln_eps};
    cJSON_Delete(j);
    return rc;
}

/* sentence_bert_config.json, modules.json and 1_Pooling/config.json are optional. */
static int read_st_configs(const char *dir, vs_bert *b)
{
    char path[4200];
    cJSON *j = NULL;
    int ok = 1, rc;
    b->max_seq = b->cfg.max_pos < 512 ? b->cfg.max_pos : 512;
    snprintf(path, sizeof path, "%s/sentence_bert_config.json", dir);
    if ((rc = vs_json_load(path, &j)) == VS_OK) {
        long ms = vs_json_int(j, "max_seq_length", (long)b->max_seq, &ok);
        cJSON_Delete(j);
        if (!ok || ms < 2 || ms > (long)b->cfg.max_pos)
            return vs_fail(VS_ERR_CORRUPT, "%s: max_seq_length must be 2..%u", path, b->cfg.max_pos);
        b->max_seq = (size_t)ms;
    } else if (rc != VS_ERR_NOT_FOUND)
        return rc;
    snprintf(path, sizeof path, "%s/modules.json", dir);
    if ((rc = vs_json_load(path, &j)) == VS_OK) {
        const cJSON *m;
        cJSON_ArrayForEach(m, j)
        {
            const char *type = vs_json_str(m, "type", "", &ok);
            if (strstr(type, "Normalize")) b->normalize = 1;
        }
        cJSON_Delete(j);
    } else if (rc != VS_ERR_NOT_FOUND)
        return rc;
    snprintf(path, sizeof path, "%s/1_Pooling/config.json", dir);
    if ((rc = vs_json_load(path, &j)) == VS_OK) {
        int mean = vs_json_bool(j, "pooling_mode_mean_tokens", 0, &ok);
        int cls = vs_json_bool(j, "pooling_mode_cls_token", 0, &ok);
        int other = vs_json_bool(j, "pooling_mode_max_tokens", 0, &ok) |
                    vs_json_bool(j, "pooling_mode_mean_sqrt_len_tokens", 0, &ok) |
                    vs_json_bool(j, "pooling_mode_weightedmean_tokens", 0, &ok) |
                    vs_json_bool(j, "pooling_mode_lasttoken", 0, &ok);
        cJSON_Delete(j);
        if (!ok) return vs_fail(VS_ERR_CORRUPT, "%s: a field has the wrong type", path);
        if (other || mean + cls != 1)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: only one of mean or CLS pooling is supported", path);
        b->pooling = cls ? VS_POOL_CLS : VS_POOL_MEAN;
    } else if (rc != VS_ERR_NOT_FOUND)
        return rc;
    return VS_OK;
}

static float *tensor(const vs_safetensors *st, const char *prefix, const char *name, uint64_t d0, uint64_t d1, int *rc)
{
    if (*rc) return NULL;
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    uint64_t dims[2] = {d0, d1};
    float *p = malloc(d0 * (d1 ? d1 : 1) * sizeof(float));
    if (!p) {
        *rc = vs_fail(VS_ERR_NOMEM, "out of memory for tensor '%s'", full);
        return NULL;
    }
    *rc = vs_safetensors_read_f32(st, full, d1 ? 2 : 1, dims, p);
    if (*rc) {
        free(p);
        return NULL;
    }
    return p;
}

static int read_weights(const char *dir, vs_bert *b)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vs_safetensors *st;
    int rc = vs_safetensors_open(path, &st);
    if (rc == VS_ERR_NOT_FOUND) {
        snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
        FILE *f = fopen(path, "rb");
        if (f) fclose(f);
        return vs_fail(VS_ERR_NOT_FOUND, "%s: no model.safetensors%s", dir,
                       f ? " (pytorch_model.bin, a pickle, is not read: convert it to safetensors)" : "");
    }
    if (rc) return rc;
    const char *pre = vs_safetensors_find(st, "bert.embeddings.word_embeddings.weight") ? "bert." : "";
    const vs_bert_config *c = &b->cfg;
    uint64_t H = c->hidden, I = c->inter;
    b->word = tensor(st, pre, "embeddings.word_embeddings.weight", c->vocab, H, &rc);
    b->pos = tensor(st, pre, "embeddings.position_embeddings.weight", c->max_pos, H, &rc);
    b->type = tensor(st, pre, "embeddings.token_type_embeddings.weight", c->type_vocab, H, &rc);
    b->emb_ln_g = tensor(st, pre, "embeddings.LayerNorm.weight", H, 0, &rc);
    b->emb_ln_b = tensor(st, pre, "embeddings.LayerNorm.bias", H, 0, &rc);
    b->layer = rc ? NULL : calloc(c->layers, sizeof *b->layer);
    if (!rc && !b->layer) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    for (uint32_t l = 0; l < c->layers && !rc; l++) {
        vs_bert_layer *L = &b->layer[l];
        char p[96];
        snprintf(p, sizeof p, "%sencoder.layer.%u.", pre, l);
        L->qkv_w = malloc(3 * H * H * sizeof(float));
        L->qkv_b = malloc(3 * H * sizeof(float));
        if (!L->qkv_w || !L->qkv_b) {
            rc = vs_fail(VS_ERR_NOMEM, "out of memory");
            break;
        }
        static const char *const qkv[3] = {"query", "key", "value"};
        for (int k = 0; k < 3 && !rc; k++) {
            char name[160];
            uint64_t dw[2] = {H, H}, db[1] = {H};
            snprintf(name, sizeof name, "%sattention.self.%s.weight", p, qkv[k]);
            rc = vs_safetensors_read_f32(st, name, 2, dw, L->qkv_w + k * H * H);
            snprintf(name, sizeof name, "%sattention.self.%s.bias", p, qkv[k]);
            if (!rc) rc = vs_safetensors_read_f32(st, name, 1, db, L->qkv_b + k * H);
        }
        L->ao_w = tensor(st, p, "attention.output.dense.weight", H, H, &rc);
        L->ao_b = tensor(st, p, "attention.output.dense.bias", H, 0, &rc);
        L->ln1_g = tensor(st, p, "attention.output.LayerNorm.weight", H, 0, &rc);
        L->ln1_b = tensor(st, p, "attention.output.LayerNorm.bias", H, 0, &rc);
        L->in_w = tensor(st, p, "intermediate.dense.weight", I, H, &rc);
        L->in_b = tensor(st, p, "intermediate.dense.bias", I, 0, &rc);
        L->out_w = tensor(st, p, "output.dense.weight", H, I, &rc);
        L->out_b = tensor(st, p, "output.dense.bias", H, 0, &rc);
        L->ln2_g = tensor(st, p, "output.LayerNorm.weight", H, 0, &rc);
        L->ln2_b = tensor(st, p, "output.LayerNorm.bias", H, 0, &rc);
    }
    vs_safetensors_close(st);
    return rc;
}

int vs_bert_load(const char *dir, vs_bert **out)
{
    *out = NULL;
    vs_bert *b = calloc(1, sizeof *b);
    if (!b) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = read_config(dir, &b->cfg);
    if (!rc) rc = read_st_configs(dir, b);
    if (!rc) rc = vs_tokenizer_load(dir, &b->tok);
    if (!rc && vs_tokenizer_vocab_size(b->tok) > b->cfg.vocab)
        rc = vs_fail(VS_ERR_CORRUPT, "%s: the tokenizer has %zu tokens but the model's vocab_size is %u", dir,
                     vs_tokenizer_vocab_size(b->tok), b->cfg.vocab);
    if (!rc) rc = read_weights(dir, b);
    if (rc) {
        vs_bert_free(b);
        return rc;
    }
    *out = b;
    return VS_OK;
}

int vs_bert_set_precision(vs_bert *b, vs_precision p)
{
    if (p == VS_PRECISION_DEFAULT) p = VS_PRECISION_FP32;
    const vs_qgemm_kernels *k = vs_qgemm_kernels_get();
    if (p == VS_PRECISION_BF16 && !k->linear_bf16)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "precision bf16 needs AVX512-BF16 (vdpbf16ps): %s (use fp32 or int8)",
                       vs_qgemm_bf16_supported() ? "VECSCALE_SIMD / vs_simd_force is below avx512"
                                                 : "this CPU does not have it");
    if (p == VS_PRECISION_BF16 && !vs_qgemm_bf16_offered(k))
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "precision bf16 is offered with AMX-BF16 only: this CPU's AVX512-BF16 kernel (%s) is "
                       "slower than fp32 (use fp32 or int8)", k->name);
    b->precision = p;
    if (p == VS_PRECISION_FP32) return VS_OK;
    const size_t H = b->cfg.hidden, I = b->cfg.inter;
    /* AVX2 without VNNI: int8 runs as int16 (qgemm.h: as fast per product there, and accurate
     * enough without split layers) */
    const int wide = p == VS_PRECISION_INT8 && k->wide;
    for (uint32_t l = 0; wide && l < b->cfg.layers; l++) {
        vs_bert_layer *L = &b->layer[l];
        int rc = vs_qlinear_init_s16(&L->q[0], L->qkv_w, L->qkv_b, 3 * H, H);
        if (!rc) rc = vs_qlinear_init_s16(&L->q[1], L->ao_w, L->ao_b, H, H);
        if (!rc) rc = vs_qlinear_init_s16(&L->q[2], L->in_w, L->in_b, I, H);
        if (!rc) rc = vs_qlinear_init_s16(&L->q[3], L->out_w, L->out_b, H, I);
        if (rc) return rc;
    }
    for (uint32_t l = 0; !wide && l < b->cfg.layers; l++) {
        vs_bert_layer *L = &b->layer[l];
        int rc = vs_qlinear_init(&L->q[0], p, L->qkv_w, L->qkv_b, 3 * H, H);
        if (!rc) rc = vs_qlinear_init(&L->q[1], p, L->ao_w, L->ao_b, H, H);
        if (!rc) rc = vs_qlinear_init(&L->q[2], p, L->in_w, L->in_b, I, H);
        if (!rc) rc = vs_qlinear_init(&L->q[3], p, L->out_w, L->out_b, H, I);
        /* int8: the attention block's projections (a quarter and a twelfth of the work) carry
         * most of the error (queries and keys through the softmax): split, ~16-bit operands
         * (qgemm.h). Measured on the MiniLM shape: recall@10 0.941 -> 0.96x, RESULTS_embeddings. */
        if (!rc && p == VS_PRECISION_INT8) rc = vs_qlinear_split(&L->q[0], L->qkv_w);
        if (!rc && p == VS_PRECISION_INT8) rc = vs_qlinear_split(&L->q[1], L->ao_w);
        if (rc) return rc;
    }
    return VS_OK;
}

void vs_bert_free(vs_bert *b)
{
    if (!b) return;
    free(b->word);
    free(b->pos);
    free(b->type);
    free(b->emb_ln_g);
    free(b->emb_ln_b);
    for (uint32_t l = 0; b->layer && l < b->cfg.layers; l++) {
        vs_bert_layer *L = &b->layer[l];
        float *p[] = {L->qkv_w, L->qkv_b, L->ao_w, L->ao_b, L->ln1_g, L->ln1_b, L->in_w, L->in_b, L->out_w, L->out_b, L->ln2_g, L->ln2_b};
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
        for (int i = 0; i < 4; i++) vs_qlinear_free(&L->q[i]);
    }
    free(b->layer);
    vs_tokenizer_free(b->tok);
    free(b);
}
