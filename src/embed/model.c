/* Public vs_model API: name resolution, argument and text checks, dispatch to the kind. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/options.h"
#include "embed/model.h"
#include "embed/utf8.h"

int vs_precision_parse(const char *name, vs_precision *out)
{
    static const char *const names[] = {"default", "fp32", "bf16", "int8"};
    if (!name || !out) return vs_fail(VS_ERR_INVALID_ARG, "name and out must not be NULL");
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (vs_precision)i;
            return VS_OK;
        }
    return vs_fail(VS_ERR_INVALID_ARG, "unknown precision '%s' (fp32, bf16 or int8)", name);
}

const char *vs_precision_name(vs_precision p)
{
    switch (p) {
    case VS_PRECISION_DEFAULT: return "default";
    case VS_PRECISION_FP32: return "fp32";
    case VS_PRECISION_BF16: return "bf16";
    case VS_PRECISION_INT8: return "int8";
    default: return "unknown";
    }
}

int vs_model_open(const char *name_or_path, vs_model **out) { return vs_model_open_with(name_or_path, NULL, out); }

void vs_model_options_init(vs_model_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

int vs_model_open_with(const char *name_or_path, const vs_model_options *caller_opts, vs_model **out)
{
    VS_READ_OPTIONS(vs_model_options, opts, caller_opts, VS_MODEL_OPTIONS_V1);
    vs_precision prec = opts.precision;
    if ((int)prec < VS_PRECISION_DEFAULT || (int)prec > VS_PRECISION_INT8)
        return vs_fail(VS_ERR_INVALID_ARG, "invalid precision %d", (int)prec);
    if (prec == VS_PRECISION_DEFAULT) prec = VS_PRECISION_FP32;
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    char path[4096];
    int is_dir = 0;
    int rc = vs_model_resolve(name_or_path, opts.model_dir, path, sizeof path, &is_dir);
    if (rc) return rc;
    vs_model *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_NOMEM, "out of memory");
    /* Default name: the last path component without ".vsm"; a model file may carry its own. */
    size_t l = strlen(path);
    while (l > 1 && path[l - 1] == '/') path[--l] = 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strnlen(base, sizeof m->name - 1); /* long names are cut, not an error */
    memcpy(m->name, base, bl);
    m->name[bl] = 0;
    char *dot = strrchr(m->name, '.');
    if (dot && !strcmp(dot, ".vsm")) *dot = 0;
    /* GloVe averages have no matrix products to lower: fp32 whatever is asked (callers that
     * care compare vs_model_precision with their request; the CLI refuses the mismatch). */
    rc = is_dir ? vs_bert_open_model(path, prec, m) : vs_glove_open_model(path, m);
    m->precision = VS_PRECISION_FP32;
    if (!rc && is_dir) m->precision = prec;
    if (rc) {
        free(m);
        return rc;
    }
    *out = m;
    return VS_OK;
}

void vs_model_free(vs_model *m)
{
    if (!m) return;
    if (m->ops) m->ops->close(m);
    free(m);
}

void vs_model_close(vs_model *m) { vs_model_free(m); }

uint32_t vs_model_dim(const vs_model *m) { return m ? (uint32_t)m->dim : 0; }
const char *vs_model_name(const vs_model *m) { return m ? m->name : ""; }
int vs_model_normalizes(const vs_model *m) { return m ? m->normalizes : 0; }
vs_precision vs_model_precision(const vs_model *m) { return m ? m->precision : VS_PRECISION_DEFAULT; }

/* The checks every text gets before a model sees it. */
static int check_text(const char *text, size_t i)
{
    if (!text) return vs_fail(VS_ERR_INVALID_ARG, "text %zu is NULL", i);
    size_t len = strnlen(text, (size_t)VS_MODEL_MAX_TEXT_BYTES + 1);
    if (len == 0) return vs_fail(VS_ERR_INVALID_ARG, "text %zu is empty", i);
    if (len > VS_MODEL_MAX_TEXT_BYTES)
        return vs_fail(VS_ERR_INVALID_ARG, "text %zu is longer than %u bytes", i, VS_MODEL_MAX_TEXT_BYTES);
    size_t bad = vs_utf8_invalid_at(text, len);
    if (bad != len)
        return vs_fail(VS_ERR_INVALID_ARG, "text %zu is not valid UTF-8 (byte %zu: 0x%02x)", i, bad,
                       (unsigned char)text[bad]);
    return VS_OK;
}

int vs_model_tokenize(const vs_model *m, const char *text, int32_t *ids, size_t cap, size_t *n_tokens)
{
    if (!m || !n_tokens) return vs_fail(VS_ERR_INVALID_ARG, "model and n_tokens must not be NULL");
    *n_tokens = 0;
    if (cap && !ids) return vs_fail(VS_ERR_INVALID_ARG, "ids is NULL but cap is %zu", cap);
    int rc = check_text(text, 0);
    if (rc) return rc;
    return m->ops->tokenize(m, text, strlen(text), ids, cap, n_tokens);
}

int vs_model_embed(vs_model *m, const char *const *texts, size_t n, uint32_t n_threads, float *out)
{
    return vs_model_embed_known(m, texts, n, n_threads, out, NULL);
}

int vs_model_embed_known(vs_model *m, const char *const *texts, size_t n, uint32_t n_threads, float *out,
                         uint32_t *known)
{
    if (!m) return vs_fail(VS_ERR_INVALID_ARG, "model is NULL");
    if (n == 0) return VS_OK;
    if (!texts || !out) return vs_fail(VS_ERR_INVALID_ARG, "texts and out must not be NULL");
    /* Check the whole batch first, so a bad text leaves out untouched. */
    for (size_t i = 0; i < n; i++) {
        int rc = check_text(texts[i], i);
        if (rc) return rc;
    }
    /* Thread counts are uint32_t in the API (as everywhere else); the models' workers take an int. */
    return m->ops->embed(m, texts, n, n_threads > INT_MAX ? INT_MAX : (int)n_threads, out, known);
}
