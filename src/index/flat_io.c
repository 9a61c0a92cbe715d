/* Flat index sections: FVEC (vectors), FIDS (user IDs), FNRM (squared norms, L2 only).
 * All three are bulk: a view maps them without reading. */
#include <string.h>

#include "core/error.h"
#include "index/flat.h"
#include "kernels/kernels.h"

#define TAG_FVEC VS_TAG('F', 'V', 'E', 'C')
#define TAG_FIDS VS_TAG('F', 'I', 'D', 'S')
#define TAG_FNRM VS_TAG('F', 'N', 'R', 'M')

int vs_flat_save(const vs_index *ix, vs_container_writer *w)
{
    const vs_flat *f = ix->impl;
    int rc = vs_container_add(w, TAG_FVEC, VS_SECTION_BULK, f->vecs, (uint64_t)f->n * ix->dim * sizeof(float));
    if (!rc) rc = vs_container_add(w, TAG_FIDS, VS_SECTION_BULK, f->ids, (uint64_t)f->n * sizeof(int64_t));
    if (!rc && f->norms) rc = vs_container_add(w, TAG_FNRM, VS_SECTION_BULK, f->norms, (uint64_t)f->n * sizeof(float));
    return rc;
}

int vs_flat_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin)
{
    vs_flat *f = ix->impl;
    if (ntotal > SIZE_MAX / ((uint64_t)ix->dim * sizeof(float) + 16))
        return vs_fail(VS_ERR_CORRUPT, "%s: vector count %llu is impossible", origin, (unsigned long long)ntotal);
    int rc = VS_OK;
    const float *vecs = vs_container_require(c, TAG_FVEC, ntotal * ix->dim * sizeof(float), origin, &rc);
    if (rc) return rc;
    const int64_t *ids = vs_container_require(c, TAG_FIDS, ntotal * sizeof(int64_t), origin, &rc);
    if (rc) return rc;
    const float *norms = NULL;
    if (ix->metric == VS_METRIC_L2 && ntotal > 0) { /* an empty index has no norms to save */
        norms = vs_container_require(c, TAG_FNRM, ntotal * sizeof(float), origin, &rc);
        if (rc) return rc;
    }
    vs_idmap_destroy(&f->map);
    f->vecs = vecs;
    f->ids = ids;
    f->norms = norms;
    f->n = (size_t)ntotal;
    f->cap = 0;
    f->owned = 0;
    f->map_ready = 0;
    f->ids_are_rows = 0; /* unknown until the first write builds the map */
    return VS_OK;
}
