/* The BERT kind of vs_model. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/bert.h"
#include "embed/model.h"

static int bert_embed(vs_model *m, const char *const *texts, size_t n, int n_threads, float *out, uint32_t *known)
{
    return vs_bert_embed(m->impl, n, texts, n_threads, out, known);
}

/* The sequence the encoder sees: [CLS] ... [SEP], cut to max_seq_length. */
static int bert_tokenize(const vs_model *m, const char *text, size_t len, int32_t *ids, size_t cap, size_t *n)
{
    const vs_bert *b = m->impl;
    int32_t *buf = malloc(b->max_seq * sizeof *buf);
    if (!buf) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = vs_tokenizer_encode(b->tok, text, len, b->max_seq, buf, n);
    if (!rc) memcpy(ids, buf, (*n < cap ? *n : cap) * sizeof *buf);
    free(buf);
    return rc;
}

static void bert_close(vs_model *m) { vs_bert_free(m->impl); }

static const vs_model_ops bert_ops = {"bert", bert_embed, bert_tokenize, bert_close};

int vs_bert_open_model(const char *dir, vs_precision p, vs_model *m)
{
    vs_bert *b;
    int rc = vs_bert_load(dir, &b);
    if (!rc) rc = vs_bert_set_precision(b, p);
    if (rc) {
        vs_bert_free(b);
        return rc;
    }
    m->ops = &bert_ops;
    m->impl = b;
    m->dim = b->cfg.hidden;
    m->normalizes = b->normalize;
    return VS_OK;
}
