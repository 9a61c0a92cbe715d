/* The BERT kind of vs_model. */
#include "core/error.h"
#include "embed/bert.h"
#include "embed/model.h"

static int bert_embed(vs_model *m, const char *const *texts, size_t n, int n_threads, float *out, uint32_t *known)
{
    return vs_bert_embed(m->impl, n, texts, n_threads, out, known);
}

static void bert_close(vs_model *m) { vs_bert_free(m->impl); }

static const vs_model_ops bert_ops = {"bert", bert_embed, bert_close};

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
