/* The BERT forward pass over packed chunks of sequences (see bert.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "embed/bert.h"
#include "embed/bert_kernels.h"
#include "embed/gemm.h"

/* Token budget of one chunk: large enough for efficient GEMMs, small enough for the cache-
 * friendly scratch (about 24 KB per token at MiniLM size). */
#define CHUNK_TOKENS 2048
#define FFN_ROWS 128 /* rows per pass through the feed-forward block at int8 / bf16 (below) */

typedef struct {
    float *x, *qkv, *ctx, *tmp, *ffn, *scores;
    void *q; /* quantized activations (int8, bf16) */
} scratch;

static int scratch_alloc(scratch *s, const vs_bert_config *c, size_t tokens, size_t max_len)
{
    memset(s, 0, sizeof *s);
    s->x = malloc(tokens * c->hidden * sizeof(float));
    s->qkv = malloc(tokens * 3 * c->hidden * sizeof(float));
    s->ctx = malloc(tokens * c->hidden * sizeof(float));
    s->tmp = malloc(tokens * c->hidden * sizeof(float));
    s->ffn = malloc(tokens * c->inter * sizeof(float));
    s->scores = malloc(max_len * max_len * sizeof(float));
    size_t k = c->inter > c->hidden ? c->inter : c->hidden, n = c->inter > 3 * c->hidden ? c->inter : 3 * c->hidden;
    size_t qb = vs_qlinear_scratch_bytes(tokens, k, n);
    s->q = aligned_alloc(64, (qb + 63) / 64 * 64);
    return s->x && s->qkv && s->ctx && s->tmp && s->ffn && s->scores && s->q ? 0 : -1;
}

static void scratch_free(scratch *s)
{
    free(s->x);
    free(s->qkv);
    free(s->ctx);
    free(s->tmp);
    free(s->ffn);
    free(s->scores);
    free(s->q);
}

/* C = A W^T + bias for Linear layer `which` of L (0 qkv, 1 attention output, 2 intermediate,
 * 3 output) in the model's precision. */
static int linear(const vs_bert *b, const vs_bert_layer *L, int which, scratch *sc, size_t m, const float *a,
                  float *c)
{
    const size_t H = b->cfg.hidden, I = b->cfg.inter;
    static const int out_h[4] = {3, 1, 0, 1}; /* output width in units of H (0: I) */
    size_t n = out_h[which] ? out_h[which] * H : I, k = which == 3 ? I : H;
    if (b->precision != VS_PRECISION_FP32) return vs_qlinear_forward(&L->q[which], b->precision, m, a, k, c, n, sc->q);
    const float *w[4] = {L->qkv_w, L->ao_w, L->in_w, L->out_w}, *bias[4] = {L->qkv_b, L->ao_b, L->in_b, L->out_b};
    vs_gemm_linear(m, n, k, a, k, w[which], bias[which], c, n);
    return VS_OK;
}

/* Encodes sequences order[lo..hi) (total `tokens`), writing pooled rows into out. */
static int encode_chunk(const vs_bert *b, scratch *sw, const int32_t *const *ids, const size_t *len,
                        const size_t *order, size_t lo, size_t hi, float *out)
{
    const vs_bert_kernels *k = vs_bert_kernels_get();
    const vs_bert_config *c = &b->cfg;
    const size_t H = c->hidden, I = c->inter, nh = c->heads, dh = H / nh;
    size_t tokens = 0, max_len = 0;
    for (size_t s = lo; s < hi; s++) {
        tokens += len[order[s]];
        if (len[order[s]] > max_len) max_len = len[order[s]];
    }
    scratch sc = *sw; /* the worker's buffers, sized for the largest chunk of the call */
    size_t t = 0;
    for (size_t s = lo; s < hi; s++) /* embeddings: word + position + token type 0 */
        for (size_t p = 0; p < len[order[s]]; p++, t++) {
            const float *w = b->word + (size_t)ids[order[s]][p] * H, *ps = b->pos + p * H;
            for (size_t i = 0; i < H; i++) sc.x[t * H + i] = w[i] + ps[i] + b->type[i];
        }
    k->layer_norm(sc.x, tokens, H, b->emb_ln_g, b->emb_ln_b, c->ln_eps);
    const float scale = 1.0f / sqrtf((float)dh);
    for (uint32_t l = 0; l < c->layers; l++) {
        const vs_bert_layer *L = &b->layer[l];
        int rc = linear(b, L, 0, &sc, tokens, sc.x, sc.qkv);
        if (rc) return rc;
        size_t t0 = 0;
        for (size_t s = lo; s < hi; s++) { /* attention within each sequence: no padding, no mask */
            size_t n = len[order[s]];
            const float *q = sc.qkv + t0 * 3 * H;
            for (size_t h = 0; h < nh; h++) {
                vs_gemm_abt(n, n, dh, scale, q + h * dh, 3 * H, q + H + h * dh, 3 * H, sc.scores, n);
                k->softmax_rows(sc.scores, n, n);
                vs_gemm_ab(n, dh, n, sc.scores, n, q + 2 * H + h * dh, 3 * H, sc.ctx + t0 * H + h * dh, H);
            }
            t0 += n;
        }
        if ((rc = linear(b, L, 1, &sc, tokens, sc.ctx, sc.tmp))) return rc;
        k->add(sc.x, sc.tmp, tokens * H);
        k->layer_norm(sc.x, tokens, H, L->ln1_g, L->ln1_b, c->ln_eps);
        /* int8 / bf16: the feed-forward block FFN_ROWS rows at a time, so its I-wide activations
         * (6 KB a row at MiniLM size) stay in L2 between the GEMM that writes them, the GELU and
         * the GEMM that reads them (all rows at once they were 4 MB for 640 tokens, and the GELU
         * ran at memory speed: 13% of the int8 profile). Row by row the result is the same: the
         * low-precision GEMMs quantize and compute each row on its own. fp32 keeps one call. */
        size_t fr = b->precision == VS_PRECISION_FP32 ? tokens : FFN_ROWS;
        for (size_t r0 = 0; r0 < tokens; r0 += fr) {
            size_t rows = tokens - r0 < fr ? tokens - r0 : fr;
            if ((rc = linear(b, L, 2, &sc, rows, sc.x + r0 * H, sc.ffn))) return rc;
            k->gelu(sc.ffn, rows * I); /* erf form (HF "gelu") */
            if ((rc = linear(b, L, 3, &sc, rows, sc.ffn, sc.tmp + r0 * H))) return rc;
        }
        k->add(sc.x, sc.tmp, tokens * H);
        k->layer_norm(sc.x, tokens, H, L->ln2_g, L->ln2_b, c->ln_eps);
    }
    t = 0;
    for (size_t s = lo; s < hi; s++) {
        size_t n = len[order[s]];
        float *o = out + order[s] * H;
        if (b->pooling == VS_POOL_CLS) memcpy(o, sc.x + t * H, H * sizeof(float));
        else {
            for (size_t i = 0; i < H; i++) o[i] = 0;
            for (size_t p = 0; p < n; p++)
                for (size_t i = 0; i < H; i++) o[i] += sc.x[(t + p) * H + i];
            for (size_t i = 0; i < H; i++) o[i] /= (float)n;
        }
        if (b->normalize) { /* as torch.nn.functional.normalize: divide by max(norm, 1e-12) */
            double ss = 0;
            for (size_t i = 0; i < H; i++) ss += (double)o[i] * o[i];
            float inv = 1.0f / (float)fmax(sqrt(ss), 1e-12);
            for (size_t i = 0; i < H; i++) o[i] *= inv;
        }
        t += n;
    }
    return VS_OK;
}

typedef struct {
    const vs_bert *b;
    const int32_t *const *ids;
    const size_t *len, *order, *chunk_start;
    float *out;
    scratch *scratch; /* one per worker, allocated on its first chunk */
    size_t max_tokens, max_len;
    _Atomic int rc;
} encode_job;

static void encode_task(size_t task, unsigned worker, void *ctx)
{
    (void)worker;
    encode_job *j = ctx;
    if (j->rc) return;
    scratch *sw = &j->scratch[worker];
    if (!sw->x && scratch_alloc(sw, &j->b->cfg, j->max_tokens, j->max_len)) {
        j->rc = vs_fail(VS_ERR_NOMEM, "out of memory for a chunk of %zu tokens", j->max_tokens);
        return;
    }
    int rc = encode_chunk(j->b, sw, j->ids, j->len, j->order, j->chunk_start[task], j->chunk_start[task + 1], j->out);
    if (rc) j->rc = rc;
}

static void sort_by_length(size_t *order, size_t n, const size_t *len)
{ /* (length << 40 | index) keys sort by length with ties in input order: deterministic */
    _Static_assert(sizeof(size_t) == sizeof(uint64_t), "order doubles as the key array");
    uint64_t *keys = (uint64_t *)order;
    for (size_t i = 0; i < n; i++) keys[i] = (uint64_t)len[i] << 40 | i;
    for (size_t gap = n / 2; gap > 0; gap /= 2) /* Shell sort: no allocation, O(n^1.3) */
        for (size_t i = gap; i < n; i++) {
            uint64_t v = keys[i];
            size_t k = i;
            for (; k >= gap && keys[k - gap] > v; k -= gap) keys[k] = keys[k - gap];
            keys[k] = v;
        }
    for (size_t i = 0; i < n; i++) order[i] = (size_t)(keys[i] & (((uint64_t)1 << 40) - 1));
}

int vs_bert_encode_ids(const vs_bert *b, size_t n, const int32_t *const *ids, const size_t *len, int n_threads,
                       float *out)
{
    for (size_t i = 0; i < n; i++) {
        if (len[i] < 1 || len[i] > b->cfg.max_pos)
            return vs_fail(VS_ERR_INVALID_ARG, "sequence %zu has %zu tokens (1..%u allowed)", i, len[i], b->cfg.max_pos);
        for (size_t p = 0; p < len[i]; p++)
            if (ids[i][p] < 0 || (uint32_t)ids[i][p] >= b->cfg.vocab)
                return vs_fail(VS_ERR_INVALID_ARG, "sequence %zu token %zu: id %d outside the vocabulary", i, p, ids[i][p]);
    }
    size_t *order = malloc((n + 1) * sizeof *order), *starts = malloc((n + 1) * sizeof *starts);
    if (!order || !starts) {
        free(order);
        free(starts);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    sort_by_length(order, n, len);
    /* A call smaller than threads x CHUNK_TOKENS is cut finer so every thread gets a chunk, in
     * int8 / bf16 only: there every row's result is independent of the chunk's other rows
     * (per-row quantization, fixed summation order), so results still do not depend on
     * n_threads; OpenBLAS's fp32 sgemm may pick another kernel for another row count. */
    size_t budget = CHUNK_TOKENS, total = 0;
    for (size_t s = 0; s < n; s++) total += len[s];
    if (b->precision != VS_PRECISION_FP32 && n_threads > 1 && total / (size_t)n_threads < budget)
        budget = total / (size_t)n_threads > 64 ? total / (size_t)n_threads : 64;
    size_t chunks = 0, tok = 0, max_tokens = 0, max_len = 0;
    for (size_t s = 0; s < n; s++) {
        if (s == 0 || tok + len[order[s]] > budget) {
            starts[chunks++] = s;
            tok = 0;
        }
        tok += len[order[s]];
        if (tok > max_tokens) max_tokens = tok;
        if (len[order[s]] > max_len) max_len = len[order[s]];
    }
    starts[chunks] = n;
    unsigned workers = n_threads > 1 ? (unsigned)n_threads : 1;
    if (workers > chunks) workers = (unsigned)chunks;
    scratch *sc = calloc(workers ? workers : 1, sizeof *sc);
    if (!sc) {
        free(order);
        free(starts);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    encode_job j = {b, ids, len, order, starts, out, sc, max_tokens, max_len, 0};
    vs_parallel_for(chunks, workers, encode_task, &j);
    for (unsigned w = 0; w < workers; w++) scratch_free(&sc[w]);
    free(sc);
    free(order);
    free(starts);
    return j.rc;
}

typedef struct {
    const vs_bert *b;
    const char *const *texts;
    int32_t **ids;
    size_t *len, n;
    _Atomic int rc;
} tok_job;

#define TOK_CHUNK 64

static void tok_task(size_t task, unsigned worker, void *ctx)
{
    (void)worker;
    tok_job *j = ctx;
    for (size_t i = task * TOK_CHUNK; i < j->n && i < (task + 1) * TOK_CHUNK && !j->rc; i++) {
        int32_t *buf = malloc(j->b->max_seq * sizeof *buf);
        int rc = buf ? vs_tokenizer_encode(j->b->tok, j->texts[i], strlen(j->texts[i]), j->b->max_seq, buf, &j->len[i])
                     : vs_fail(VS_ERR_NOMEM, "out of memory");
        if (rc) {
            free(buf);
            j->rc = rc;
            return;
        }
        j->ids[i] = buf;
    }
}

/* Word pieces of an encoded text ([CLS] ... [SEP]) that the vocabulary knows. */
static uint32_t known_pieces(const vs_bert *b, const int32_t *ids, size_t len)
{
    int32_t unk = vs_tokenizer_unk_id(b->tok);
    uint32_t k = 0;
    for (size_t t = 1; t + 1 < len; t++) k += ids[t] != unk;
    return k;
}

int vs_bert_embed(const vs_bert *b, size_t n, const char *const *texts, int n_threads, float *out, uint32_t *known)
{
    int32_t **ids = calloc(n, sizeof *ids);
    size_t *len = calloc(n, sizeof *len);
    int rc;
    if (!ids || !len) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    else {
        tok_job j = {b, texts, ids, len, n, 0};
        vs_parallel_for((n + TOK_CHUNK - 1) / TOK_CHUNK, n_threads > 1 ? (unsigned)n_threads : 1, tok_task, &j);
        rc = j.rc;
        if (!rc) rc = vs_bert_encode_ids(b, n, (const int32_t *const *)ids, len, n_threads, out);
        for (size_t i = 0; !rc && known && i < n; i++) known[i] = known_pieces(b, ids[i], len[i]);
    }
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(len);
    return rc;
}
