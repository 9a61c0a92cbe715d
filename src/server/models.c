/* Text models for the server. Filled in when the embedding API (src/embed) is available. */
#include "server/registry.h"

#include "core/error.h"

int models_open(const char *name, vs_model **out)
{
    *out = NULL;
    return vs_fail(VS_ERR_UNSUPPORTED, "text model '%s': this build has no text embedding", name);
}

void models_close_all(void) {}

size_t models_dim(const vs_model *m)
{
    (void)m;
    return 0;
}

const char *models_name(const vs_model *m)
{
    (void)m;
    return "";
}

int models_embed(vs_model *m, const char *const *texts, size_t n, float *out)
{
    (void)m; (void)texts; (void)n; (void)out;
    return vs_fail(VS_ERR_UNSUPPORTED, "this build has no text embedding");
}
