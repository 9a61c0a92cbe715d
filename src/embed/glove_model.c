/* The GloVe kind of vs_model: batches spread over the caller's threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "embed/glove.h"
#include "embed/model.h"

typedef struct {
    const vs_glove *g;
    const char *const *texts;
    float *out;
    uint32_t *known; /* NULL = not wanted */
    size_t n;
} glove_job;

#define GLOVE_CHUNK 64

static void embed_chunk(size_t task, unsigned worker, void *ctx)
{
    (void)worker;
    glove_job *j = ctx;
    size_t lo = task * GLOVE_CHUNK, hi = lo + GLOVE_CHUNK < j->n ? lo + GLOVE_CHUNK : j->n;
    uint32_t d = vs_glove_dim(j->g);
    for (size_t i = lo; i < hi; i++) {
        size_t found = vs_glove_embed_text(j->g, j->texts[i], strlen(j->texts[i]), j->out + i * d);
        if (j->known) j->known[i] = found > UINT32_MAX ? UINT32_MAX : (uint32_t)found;
    }
}

static int glove_embed(vs_model *m, const char *const *texts, size_t n, int n_threads, float *out, uint32_t *known)
{
    glove_job j = {m->impl, texts, out, known, n};
    vs_parallel_for((n + GLOVE_CHUNK - 1) / GLOVE_CHUNK, n_threads > 1 ? (unsigned)n_threads : 1, embed_chunk, &j);
    return VS_OK;
}

static int glove_tokenize(const vs_model *m, const char *text, size_t len, int32_t *ids, size_t cap, size_t *n)
{
    *n = vs_glove_tokenize(m->impl, text, len, ids, cap);
    return VS_OK;
}

static void glove_close(vs_model *m) { vs_glove_free(m->impl); }

static const vs_model_ops glove_ops = {"glove", glove_embed, glove_tokenize, glove_close};

int vs_glove_open_model(const char *path, vs_model *m)
{
    vs_glove *g;
    int rc = vs_glove_load(path, &g);
    if (rc) return rc;
    m->ops = &glove_ops;
    m->impl = g;
    m->dim = vs_glove_dim(g);
    m->normalizes = 1;
    if (vs_glove_name(g)[0]) snprintf(m->name, sizeof m->name, "%s", vs_glove_name(g));
    return VS_OK;
}
