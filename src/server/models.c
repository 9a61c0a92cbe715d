/* Text models for the server: each name is opened once (vs_model_open) and shared by every
 * collection that names it; vs_model_embed is safe to call concurrently on one model. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "server/open_collections.h"

typedef struct {
    char *name;
    vs_model *model;
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static entry *entries;
static size_t n_entries;
static vs_precision precision; /* set once before serving */

void models_set_precision(vs_precision p) { precision = p; }

int models_open(const char *name, vs_model **out)
{
    *out = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_entries; i++)
        if (!strcmp(entries[i].name, name)) {
            *out = entries[i].model;
            pthread_mutex_unlock(&mu);
            return VS_OK;
        }
    vs_model *m = NULL;
    vs_model_options o = {.struct_size = sizeof(vs_model_options), .precision = precision};
    int rc = vs_model_open_with(name, &o, &m);
    entry *e = rc ? NULL : realloc(entries, (n_entries + 1) * sizeof *e);
    char *copy = e ? strdup(name) : NULL;
    if (!rc && (!e || !copy)) {
        free(copy);
        vs_model_free(m);
        rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    if (e) entries = e;
    if (!rc) {
        entries[n_entries++] = (entry){copy, m};
        *out = m;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void models_close_all(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_entries; i++) {
        vs_model_free(entries[i].model);
        free(entries[i].name);
    }
    free(entries);
    entries = NULL;
    n_entries = 0;
    pthread_mutex_unlock(&mu);
}

size_t models_dim(const vs_model *m) { return vs_model_dim(m); }

const char *models_name(const vs_model *m) { return vs_model_name(m); }

int models_embed(vs_model *m, const char *const *texts, size_t n, float *out, uint32_t *known)
{
    return vs_model_embed_known(m, texts, n, 1, out, known);
}
