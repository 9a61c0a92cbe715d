/* The inside of a vs_model: one vtable per kind (GloVe, BERT), shared argument checks in model.c. */
#ifndef VS_EMBED_MODEL_H
#define VS_EMBED_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

/* What a model file holds in the container header's "kind" field (indexes are 1). */
#define VS_FILE_KIND_EMBED_MODEL 3u

typedef struct {
    const char *kind; /* "glove", "bert" */
    /* Embeds texts[0..n) (already checked: non-empty valid UTF-8) into out rows; known (NULL =
     * not wanted) receives per text the count of words / word pieces the model knows. */
    int (*embed)(vs_model *m, const char *const *texts, size_t n, int n_threads, float *out, uint32_t *known);
    /* Token ids of one checked text (see vs_model_tokenize): at most cap written, count in *n. */
    int (*tokenize)(const vs_model *m, const char *text, size_t len, int32_t *ids, size_t cap, size_t *n);
    void (*close)(vs_model *m);
} vs_model_ops;

struct vs_model {
    const vs_model_ops *ops;
    size_t dim;
    int normalizes;
    vs_precision precision;
    char name[256];
    void *impl;
};

/* Opens a GloVe model file / a sentence-transformers directory into m->impl and sets dim. */
int vs_glove_open_model(const char *path, vs_model *m);
int vs_bert_open_model(const char *dir, vs_precision p, vs_model *m);

/* Resolves a model name to an existing path (file or directory) following the order documented
 * in vecscale.h: model_dir (may be NULL) first; *is_dir tells which. VS_ERR_NOT_FOUND lists the
 * places searched. */
int vs_model_resolve(const char *name_or_path, const char *model_dir, char *path, size_t cap, int *is_dir);

#endif
