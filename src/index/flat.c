/* Flat index lifecycle: create, add with duplicate checks, remove by swap, get. */
#include "index/flat.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"

static vs_flat *flat_of(const vs_index *ix) { return ix->impl; }

static int flat_init(vs_index *ix)
{
    vs_flat *f = calloc(1, sizeof *f);
    if (!f) return vs_fail(VS_ERR_NOMEM, "out of memory");
    f->owned = 1;
    f->ids_are_rows = 1;
    ix->impl = f;
    ix->trained = 1;
    return VS_OK;
}

static void flat_destroy(vs_index *ix)
{
    vs_flat *f = flat_of(ix);
    if (!f) return;
    if (f->owned) {
        free((void *)f->vecs);
        free((void *)f->ids);
        free((void *)f->norms);
    }
    vs_idmap_destroy(&f->map);
    free(f);
}

static int flat_train(vs_index *ix, size_t n, const float *x)
{
    (void)ix; (void)n; (void)x;
    return VS_OK; /* exact search needs no training */
}

int64_t vs_flat_find(const vs_flat *f, int64_t id)
{
    if (f->map_ready) {
        uint64_t pos;
        return vs_idmap_get(&f->map, id, &pos) ? (int64_t)pos : -1;
    }
    if (f->ids_are_rows) return id >= 0 && (uint64_t)id < f->n ? id : -1;
    for (size_t i = 0; i < f->n; i++)
        if (f->ids[i] == id) return (int64_t)i;
    return -1;
}

int vs_flat_build_map(vs_flat *f)
{
    vs_idmap_destroy(&f->map);
    if (vs_idmap_init(&f->map, f->n)) return vs_fail(VS_ERR_NOMEM, "out of memory building the ID map");
    for (size_t i = 0; i < f->n; i++) {
        if (vs_idmap_get(&f->map, f->ids[i], NULL)) {
            vs_idmap_destroy(&f->map);
            return vs_fail(VS_ERR_CORRUPT, "duplicate id %lld in stored index", (long long)f->ids[i]);
        }
        vs_idmap_put(&f->map, f->ids[i], i);
    }
    f->map_ready = 1;
    f->ids_are_rows = 0;
    return VS_OK;
}

static int ensure_map(vs_flat *f) { return f->map_ready ? VS_OK : vs_flat_build_map(f); }

/* Grows the owned arrays to hold `need` rows; copies mapped data on the first write. */
static int ensure_capacity(vs_index *ix, size_t need)
{
    vs_flat *f = flat_of(ix);
    if (f->owned && need <= f->cap) return VS_OK;
    size_t cap = f->owned && f->cap ? f->cap : 1024;
    while (cap < need) cap *= 2;
    size_t d = ix->dim;
    if (cap > SIZE_MAX / (d * sizeof(float))) return vs_fail(VS_ERR_NOMEM, "index too large");
    float *v = f->owned ? realloc((void *)f->vecs, cap * d * sizeof *v) : malloc(cap * d * sizeof *v);
    if (!v) return vs_fail(VS_ERR_NOMEM, "out of memory growing the index to %zu vectors", cap);
    if (f->owned) f->vecs = v;
    int64_t *ids = f->owned ? realloc((void *)f->ids, cap * sizeof *ids) : malloc(cap * sizeof *ids);
    if (!ids) {
        if (!f->owned) free(v);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    if (f->owned) f->ids = ids;
    float *norms = NULL;
    if (ix->metric == VS_METRIC_L2) {
        norms = f->owned ? realloc((void *)f->norms, cap * sizeof *norms) : malloc(cap * sizeof *norms);
        if (!norms) {
            if (!f->owned) { free(v); free(ids); }
            return vs_fail(VS_ERR_NOMEM, "out of memory");
        }
        if (f->owned) f->norms = norms;
    }
    if (!f->owned) {
        /* First write to a loaded or viewed index: take a private copy, drop the file image. */
        if (f->n) { /* an empty file has no sections to copy from (memcpy from NULL is UB) */
            memcpy(v, f->vecs, f->n * d * sizeof *v);
            memcpy(ids, f->ids, f->n * sizeof *ids);
            if (norms) memcpy(norms, f->norms, f->n * sizeof *norms);
        }
        f->vecs = v;
        f->ids = ids;
        f->norms = norms;
        f->owned = 1;
        vs_index_release_backing(ix);
    }
    f->cap = cap;
    return VS_OK;
}

static int append_rows(vs_index *ix, size_t n, const float *x, const int64_t *ids);

static int flat_add(vs_index *ix, size_t n, const float *x, const int64_t *ids)
{
    vs_flat *f = flat_of(ix);
    int sequential = f->ids_are_rows && !f->map_ready;
    for (size_t i = 0; sequential && i < n; i++) sequential = ids[i] == (int64_t)(f->n + i);
    if (sequential) return append_rows(ix, n, x, ids); /* IDs continue the rows: no duplicate possible */
    int rc = ensure_map(f);
    if (rc) return rc;
    if (vs_idmap_reserve(&f->map, n)) return vs_fail(VS_ERR_NOMEM, "out of memory");
    /* Check the whole batch first (against the index and itself) so a failure adds nothing. */
    size_t i;
    for (i = 0; i < n; i++) {
        if (vs_idmap_get(&f->map, ids[i], NULL)) break;
        vs_idmap_put(&f->map, ids[i], f->n + i);
    }
    if (i < n) {
        int64_t dup = ids[i];
        for (size_t j = 0; j < i; j++) vs_idmap_erase(&f->map, ids[j]);
        return vs_fail(VS_ERR_DUPLICATE_ID, "id %lld (row %zu) is already in the index or repeated in the batch; "
                       "nothing was added", (long long)dup, i);
    }
    rc = append_rows(ix, n, x, ids);
    if (rc)
        for (size_t j = 0; j < n; j++) vs_idmap_erase(&f->map, ids[j]);
    return rc;
}

static int append_rows(vs_index *ix, size_t n, const float *x, const int64_t *ids)
{
    vs_flat *f = flat_of(ix);
    int rc = ensure_capacity(ix, f->n + n);
    if (rc) return rc;
    size_t d = ix->dim;
    float *vecs = (float *)f->vecs;
    memcpy(vecs + f->n * d, x, n * d * sizeof *x);
    memcpy((int64_t *)f->ids + f->n, ids, n * sizeof *ids);
    if (f->norms) {
        const vs_kernel_table *kt = vs_kernels();
        for (size_t j = 0; j < n; j++) ((float *)f->norms)[f->n + j] = kt->norm_sq(x + j * d, d);
    }
    f->n += n;
    return VS_OK;
}

static int flat_remove(vs_index *ix, size_t n, const int64_t *ids, size_t *n_removed)
{
    vs_flat *f = flat_of(ix);
    int rc = ensure_capacity(ix, f->n);
    if (!rc) rc = ensure_map(f);
    if (rc) return rc;
    size_t d = ix->dim, removed = 0;
    float *vecs = (float *)f->vecs, *norms = (float *)f->norms;
    int64_t *rows = (int64_t *)f->ids;
    for (size_t i = 0; i < n; i++) {
        uint64_t pos;
        if (!vs_idmap_get(&f->map, ids[i], &pos)) continue;
        vs_idmap_erase(&f->map, ids[i]);
        size_t last = f->n - 1;
        if (pos != last) {
            /* Swap-remove keeps the rows dense, so the scan never skips tombstones. */
            memcpy(vecs + pos * d, vecs + last * d, d * sizeof *vecs);
            rows[pos] = rows[last];
            if (norms) norms[pos] = norms[last];
            vs_idmap_put(&f->map, rows[pos], pos);
        }
        f->n--;
        removed++;
    }
    *n_removed = removed;
    return VS_OK;
}

static int flat_get(const vs_index *ix, int64_t id, float *out)
{
    const vs_flat *f = flat_of(ix);
    int64_t pos = vs_flat_find(f, id);
    if (pos < 0) return vs_fail(VS_ERR_NOT_FOUND, "id %lld is not in the index", (long long)id);
    memcpy(out, f->vecs + (size_t)pos * ix->dim, ix->dim * sizeof *out);
    return VS_OK;
}

static size_t flat_size(const vs_index *ix) { return flat_of(ix)->n; }

static size_t flat_memory(const vs_index *ix)
{
    const vs_flat *f = flat_of(ix);
    size_t b = sizeof *f + (f->map_ready ? vs_idmap_memory(&f->map) : 0);
    if (f->owned) b += f->cap * (ix->dim * sizeof(float) + sizeof(int64_t) + (f->norms ? sizeof(float) : 0));
    return b;
}

static size_t flat_code_size(const vs_index *ix) { return (size_t)ix->dim * sizeof(float); }

const vs_index_ops vs_flat_ops = {
    .name = "Flat",
    .init = flat_init,
    .destroy = flat_destroy,
    .train = flat_train,
    .add = flat_add,
    .remove = flat_remove,
    .get = flat_get,
    .search = vs_flat_search,
    .range_search = vs_flat_range_search,
    .size = flat_size,
    .memory_bytes = flat_memory,
    .code_size = flat_code_size,
    .save = vs_flat_save,
    .load = vs_flat_load,
};
