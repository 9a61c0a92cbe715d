/* Where a model name points: a path, or NAME.vsm / NAME/ in the model directories (the
 * caller's, $VECSCALE_MODEL_DIR, the installed share/vecscale/models; never the source tree:
 * a library must not depend on where it was built). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "embed/model.h"

#ifndef VS_MODEL_INSTALL_DIR
#define VS_MODEL_INSTALL_DIR ""
#endif

static int exists(const char *p, int *is_dir)
{
    struct stat st;
    if (stat(p, &st) != 0) return 0;
    *is_dir = S_ISDIR(st.st_mode);
    return S_ISDIR(st.st_mode) || S_ISREG(st.st_mode);
}

int vs_model_resolve(const char *name, const char *model_dir, char *path, size_t cap, int *is_dir)
{
    if (!name || !*name) return vs_fail(VS_ERR_INVALID_ARG, "model name is empty");
    if (strlen(name) >= cap - 16) return vs_fail(VS_ERR_INVALID_ARG, "model name is too long");
    if (exists(name, is_dir)) {
        snprintf(path, cap, "%s", name);
        return VS_OK;
    }
    const char *env = getenv("VECSCALE_MODEL_DIR");
    const char *dirs[3] = {model_dir, env && *env ? env : NULL, VS_MODEL_INSTALL_DIR};
    char searched[2048] = "";
    for (int i = 0; i < 3; i++) {
        if (!dirs[i] || !*dirs[i]) continue;
        static const char *const forms[2] = {"%s/%s.vsm", "%s/%s"};
        for (int f = 0; f < 2; f++) {
            int w = snprintf(path, cap, forms[f], dirs[i], name);
            if (w < 0 || (size_t)w >= cap) continue;
            if (exists(path, is_dir)) return VS_OK;
        }
        size_t l = strlen(searched);
        snprintf(searched + l, sizeof searched - l, "%s%s", l ? ", " : "", dirs[i]);
    }
    return vs_fail(VS_ERR_NOT_FOUND,
                   "model '%s' not found: not a path, and no %s.vsm or %s/ in %s%s (run scripts/fetch_models.sh, "
                   "and set VECSCALE_MODEL_DIR or pass a model directory)",
                   name, name, name, searched[0] ? searched : "(no model directory)",
                   env && *env ? "" : " ($VECSCALE_MODEL_DIR unset)");
}
