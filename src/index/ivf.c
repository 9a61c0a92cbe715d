/* IVF lifecycle: create, train (k-means, then the codec), add (nearest centroid through BLAS,
 * encode, append to that list), remove (swap with the list's last row), get. */
#include "index/ivf.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"
#include "quant/fastscan.h"
#include "quant/kmeans.h"

static vs_ivf *ivf_of(const vs_index *ix) { return ix->impl; }

static uint64_t pack(size_t list, size_t pos) { return (uint64_t)list << VS_IVF_POS_BITS | (uint64_t)pos; }
static size_t pack_list(uint64_t v) { return (size_t)(v >> VS_IVF_POS_BITS); }
static size_t pack_pos(uint64_t v) { return (size_t)(v & ((1ull << VS_IVF_POS_BITS) - 1)); }

static int ivf_init(vs_index *ix)
{
    /* Standalone SQ / PQ indexes are one list (its centroid is the mean). */
    uint32_t nlist = ix->spec.coarse == VS_COARSE_IVF ? ix->spec.nlist : 1;
    if (nlist == 0 || nlist > VS_IVF_MAX_NLIST)
        return vs_fail(VS_ERR_INVALID_ARG, "IVF needs 1..%u lists, got %u", VS_IVF_MAX_NLIST, nlist);
    vs_ivf *v = calloc(1, sizeof *v);
    if (!v) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = vs_ivf_codec_init(&v->codec, ix);
    if (rc) {
        vs_ivf_codec_destroy(&v->codec);
        free(v);
        return rc;
    }
    v->nlist = nlist;
    v->owned = 1;
    ix->impl = v;
    ix->trained = 0; /* centroids come from vs_index_train or a file */
    return VS_OK;
}

static void free_lists(vs_ivf *v)
{
    if (v->lists && v->owned)
        for (uint32_t l = 0; l < v->nlist; l++) {
            free(v->lists[l].codes);
            free(v->lists[l].ids);
        }
    free(v->lists);
    v->lists = NULL;
}

static void ivf_destroy(vs_index *ix)
{
    vs_ivf *v = ivf_of(ix);
    if (!v) return;
    free_lists(v);
    free(v->centroids);
    free(v->cnorms);
    vs_ivf_scratch_drop(v);
    vs_ivf_codec_destroy(&v->codec);
    vs_idmap_destroy(&v->map);
    free(v);
}

int vs_ivf_prepare_lists(vs_index *ix)
{
    vs_ivf *v = ivf_of(ix);
    free_lists(v);
    vs_ivf_scratch_drop(v);
    free(v->cnorms);
    v->cnorms = NULL;
    v->owned = 1;
    v->lists = calloc(v->nlist, sizeof *v->lists);
    if (!v->lists) return vs_fail(VS_ERR_NOMEM, "out of memory for %u inverted lists", v->nlist);
    if (vs_ivf_is_l2(ix)) {
        v->cnorms = malloc(v->nlist * sizeof *v->cnorms);
        if (!v->cnorms) return vs_fail(VS_ERR_NOMEM, "out of memory");
        const vs_kernel_table *kt = vs_kernels();
        for (uint32_t l = 0; l < v->nlist; l++) v->cnorms[l] = kt->norm_sq(v->centroids + (size_t)l * ix->dim, ix->dim);
    }
    return VS_OK;
}

static int ivf_train(vs_index *ix, size_t n, const float *x)
{
    vs_ivf *v = ivf_of(ix);
    if (v->ntotal > 0)
        return vs_fail(VS_ERR_INVALID_ARG, "index \"%s\" already holds %zu vectors; retraining would misplace them "
                       "(create a new index)", ix->factory, v->ntotal);
    if (n < v->nlist)
        return vs_fail(VS_ERR_INVALID_ARG, "training \"%s\" needs at least %u vectors (one per list), got %zu",
                       ix->factory, v->nlist, n);
    /* FAISS trains IVF quantizers with 10 iterations, spherical k-means for inner product. */
    vs_kmeans_params kp = {.struct_size = sizeof(vs_kmeans_params),
        .n_iter = VS_IVF_KMEANS_ITER,
        .seed = ix->seed,
        .n_threads = ix->n_threads,
        .inner_product = !vs_ivf_is_l2(ix),
        .spherical = !vs_ivf_is_l2(ix),
    };
    float *c = malloc((size_t)v->nlist * ix->dim * sizeof *c);
    if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory for %u centroids", v->nlist);
    int rc = vs_kmeans(n, ix->dim, x, v->nlist, &kp, c, NULL);
    if (rc) {
        free(c);
        return rc;
    }
    free(v->centroids);
    v->centroids = c;
    rc = vs_ivf_prepare_lists(ix);
    if (rc) return rc;
    if (v->codec.kind != VS_CODE_FLAT) {
        /* Residual codecs train on each vector's offset from its own list's centroid. */
        float *keys = malloc(n * sizeof *keys);
        int64_t *assign = malloc(n * sizeof *assign);
        rc = keys && assign ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory assigning training vectors");
        if (!rc && v->codec.kind == VS_CODE_PQ) /* residual training, whatever form wins */
            rc = vs_nearest_centroids(n, ix->dim, x, v->nlist, v->centroids, v->cnorms, 1,
                                      ix->n_threads > 1 ? ix->n_threads : 1, keys, assign);
        if (!rc) rc = vs_ivf_codec_train(ix, n, x, assign);
        free(keys);
        free(assign);
        if (rc) return rc;
    }
    vs_idmap_destroy(&v->map);
    v->map_ready = 0;
    ix->trained = 1;
    return VS_OK;
}

static int build_map(vs_ivf *v)
{
    vs_idmap_destroy(&v->map);
    if (vs_idmap_init(&v->map, v->ntotal)) return vs_fail(VS_ERR_NOMEM, "out of memory building the ID map");
    for (uint32_t l = 0; l < v->nlist; l++) {
        const vs_ivf_list *L = &v->lists[l];
        for (size_t i = 0; i < L->n; i++) {
            if (vs_idmap_get(&v->map, L->ids[i], NULL)) {
                vs_idmap_destroy(&v->map);
                return vs_fail(VS_ERR_CORRUPT, "duplicate id %lld in stored index", (long long)L->ids[i]);
            }
            vs_idmap_put(&v->map, L->ids[i], pack(l, i));
        }
    }
    v->map_ready = 1;
    return VS_OK;
}

/* First write to a loaded or viewed index: private copies of every list, then the file
 * image is released. All-or-nothing, so a failed copy leaves the index readable. */
static int ensure_owned(vs_index *ix)
{
    vs_ivf *v = ivf_of(ix);
    if (v->owned) return VS_OK;
    vs_ivf_list *copy = calloc(v->nlist, sizeof *copy);
    int ok = copy != NULL;
    for (uint32_t l = 0; ok && l < v->nlist; l++) {
        size_t n = v->lists[l].n, cap = n, bytes = vs_ivf_list_bytes(&v->codec, n);
        if (!cap) continue;
        if (v->codec.fastscan) cap = vs_fs_blocks(n) * VS_FS_BLOCK;
        copy[l].codes = malloc(bytes);
        copy[l].ids = malloc(cap * sizeof(int64_t));
        ok = copy[l].codes && copy[l].ids;
        if (ok) {
            memcpy(copy[l].codes, v->lists[l].codes, bytes);
            memcpy(copy[l].ids, v->lists[l].ids, n * sizeof(int64_t));
            copy[l].n = n;
            copy[l].cap = cap;
        }
    }
    if (!ok) {
        for (uint32_t l = 0; copy && l < v->nlist; l++) {
            free(copy[l].codes);
            free(copy[l].ids);
        }
        free(copy);
        return vs_fail(VS_ERR_NOMEM, "out of memory copying the mapped index into memory");
    }
    free(v->lists);
    v->lists = copy;
    v->owned = 1;
    vs_index_release_backing(ix);
    return VS_OK;
}

static int grow_list(const vs_ivf_codec *c, vs_ivf_list *L, size_t need)
{
    if (need <= L->cap) return VS_OK;
    /* Grow by an eighth, not double: a bulk add grows nearly every list at once, so doubling
     * held up to 2x the codes and IDs at the peak (a streamed 5M build: 53 B/vector of RSS
     * growth for 24 B of codes + IDs); the shrink after each add undid it anyway. Large
     * reallocs are page remaps, so the extra reallocs cost little. */
    size_t cap = L->cap + L->cap / 8;
    if (cap < need) cap = need;
    cap = (cap + 31) / 32 * 32; /* a multiple of the fast-scan block */
    if (cap > SIZE_MAX / (c->code_size + 1)) return vs_fail(VS_ERR_NOMEM, "inverted list too large");
    size_t old = vs_ivf_list_bytes(c, L->cap), bytes = vs_ivf_list_bytes(c, cap);
    uint8_t *cc = realloc(L->codes, bytes);
    if (!cc) return vs_fail(VS_ERR_NOMEM, "out of memory growing an inverted list to %zu vectors", cap);
    memset(cc + old, 0, bytes - old); /* block padding is saved: keep files deterministic */
    L->codes = cc;
    int64_t *ii = realloc(L->ids, cap * sizeof *ii);
    if (!ii) return vs_fail(VS_ERR_NOMEM, "out of memory growing an inverted list");
    L->ids = ii;
    L->cap = cap;
    return VS_OK;
}

static void shrink_list(const vs_ivf_codec *c, vs_ivf_list *L)
{
    size_t cap = (L->n + 31) / 32 * 32; /* whole fast-scan blocks */
    uint8_t *cc = realloc(L->codes, vs_ivf_list_bytes(c, cap) ? vs_ivf_list_bytes(c, cap) : 1);
    if (cc) L->codes = cc;
    int64_t *ii = realloc(L->ids, (cap ? cap : 1) * sizeof *ii);
    if (ii) L->ids = ii;
    if (cc || ii) L->cap = cap; /* whichever did not shrink is larger still: safe */
}

static int ivf_add(vs_index *ix, size_t n, const float *x, const int64_t *ids)
{
    vs_ivf *v = ivf_of(ix);
    const size_t cs = v->codec.code_size;
    int rc = ensure_owned(ix);
    if (rc) return rc;
    /* IDs above every stored one and increasing (automatic IDs, bulk loads) cannot collide:
     * such adds need no ID map, which would cost 16+ bytes per vector — as much as a
     * fast-scan code. The map is built at the first other add or the first remove; until
     * then vs_index_get scans the ID arrays. */
    if (!v->map_ready) {
        if (!v->max_known) {
            v->max_id = -1;
            for (uint32_t l = 0; l < v->nlist; l++)
                for (size_t j = 0; j < v->lists[l].n; j++)
                    if (v->lists[l].ids[j] > v->max_id) v->max_id = v->lists[l].ids[j];
            v->max_known = 1;
        }
        int64_t prev = v->max_id;
        for (size_t i = 0; i < n && !rc; i++) {
            if (ids[i] <= prev) rc = build_map(v);
            prev = ids[i];
        }
        if (rc) return rc;
    }
    float *keys = malloc(n * sizeof *keys);
    int64_t *assign = malloc(n * sizeof *assign);
    size_t *fill = calloc(v->nlist, sizeof *fill);
    uint8_t *codes = malloc(n * cs);
    if (!keys || !assign || !fill || !codes) {
        rc = vs_fail(VS_ERR_NOMEM, "out of memory assigning %zu vectors", n);
        goto done;
    }
    rc = vs_nearest_centroids(n, ix->dim, x, v->nlist, v->centroids, v->cnorms, 1,
                              ix->n_threads > 1 ? ix->n_threads : 1, keys, assign);
    if (!rc) rc = vs_ivf_codec_encode(ix, n, x, assign, codes);
    if (rc) goto done;
    for (size_t i = 0; i < n; i++) fill[assign[i]]++;
    /* Capacity first: growing may fail, and then nothing has been added. */
    for (uint32_t l = 0; l < v->nlist && !rc; l++)
        if (fill[l]) rc = grow_list(&v->codec, &v->lists[l], v->lists[l].n + fill[l]);
    if (!rc && v->map_ready && vs_idmap_reserve(&v->map, n)) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    if (rc) goto done;
    /* Duplicates (against the index and inside the batch) before anything changes. */
    memset(fill, 0, v->nlist * sizeof *fill);
    size_t i = v->map_ready ? 0 : n; /* without a map the IDs were checked above */
    for (; i < n; i++) {
        if (vs_idmap_get(&v->map, ids[i], NULL)) break;
        size_t l = (size_t)assign[i];
        vs_idmap_put(&v->map, ids[i], pack(l, v->lists[l].n + fill[l]++));
    }
    if (i < n) {
        for (size_t j = 0; j < i; j++) vs_idmap_erase(&v->map, ids[j]);
        rc = vs_fail(VS_ERR_DUPLICATE_ID, "id %lld (row %zu) is already in the index or repeated in the batch; "
                     "nothing was added", (long long)ids[i], i);
        goto done;
    }
    for (i = 0; i < n; i++) {
        vs_ivf_list *L = &v->lists[assign[i]];
        vs_ivf_code_put(&v->codec, L, L->n, codes + i * cs);
        L->ids[L->n++] = ids[i];
        if (ids[i] > v->max_id) v->max_id = ids[i];
    }
    v->ntotal += n;
    /* Doubling leaves up to half of a list unused after a bulk add: give it back. */
    for (uint32_t l = 0; l < v->nlist; l++) {
        vs_ivf_list *L = &v->lists[l];
        if (L->cap > L->n + L->n / 8 + 64) shrink_list(&v->codec, L);
    }
done:
    free(codes);
    free(keys);
    free(assign);
    free(fill);
    return rc;
}

static int ivf_remove(vs_index *ix, size_t n, const int64_t *ids, size_t *n_removed)
{
    vs_ivf *v = ivf_of(ix);
    if (!ix->trained || v->ntotal == 0) {
        *n_removed = 0;
        return VS_OK;
    }
    int rc = ensure_owned(ix);
    if (!rc && !v->map_ready) rc = build_map(v);
    if (rc) return rc;
    size_t removed = 0;
    uint8_t stack[512], *code = v->codec.code_size <= sizeof stack ? stack : malloc(v->codec.code_size);
    if (!code) return vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t at;
        if (!vs_idmap_get(&v->map, ids[i], &at)) continue;
        vs_idmap_erase(&v->map, ids[i]);
        vs_ivf_list *L = &v->lists[pack_list(at)];
        size_t pos = pack_pos(at), last = L->n - 1;
        if (pos != last) {
            /* Swap-remove keeps lists dense, so scans never meet tombstones. */
            vs_ivf_code_get(&v->codec, L, last, code);
            vs_ivf_code_put(&v->codec, L, pos, code);
            L->ids[pos] = L->ids[last];
            vs_idmap_put(&v->map, L->ids[pos], pack(pack_list(at), pos));
        }
        L->n--;
        v->ntotal--;
        removed++;
    }
    if (code != stack) free(code);
    *n_removed = removed;
    return VS_OK;
}

static int ivf_get(const vs_index *ix, int64_t id, float *out)
{
    const vs_ivf *v = ivf_of(ix);
    if (v->lists) {
        if (v->map_ready) {
            uint64_t at;
            if (vs_idmap_get(&v->map, id, &at)) {
                vs_ivf_codec_decode(ix, pack_list(at), pack_pos(at), out);
                return VS_OK;
            }
        } else {
            /* A loaded file before its first write has no map: scan the ID arrays. */
            for (uint32_t l = 0; l < v->nlist; l++)
                for (size_t i = 0; i < v->lists[l].n; i++)
                    if (v->lists[l].ids[i] == id) {
                        vs_ivf_codec_decode(ix, l, i, out);
                        return VS_OK;
                    }
        }
    }
    return vs_fail(VS_ERR_NOT_FOUND, "id %lld is not in the index", (long long)id);
}

static size_t ivf_size(const vs_index *ix) { return ivf_of(ix)->ntotal; }

static size_t ivf_memory(const vs_index *ix)
{
    const vs_ivf *v = ivf_of(ix);
    size_t b = sizeof *v + (v->map_ready ? vs_idmap_memory(&v->map) : 0);
    if (v->centroids) b += (size_t)v->nlist * ix->dim * sizeof(float);
    if (v->cnorms) b += v->nlist * sizeof(float);
    if (v->lists) {
        b += v->nlist * sizeof *v->lists;
        if (v->owned)
            for (uint32_t l = 0; l < v->nlist; l++)
                b += vs_ivf_list_bytes(&v->codec, v->lists[l].cap) + v->lists[l].cap * sizeof(int64_t);
    }
    const vs_ivf_codec *c = &v->codec;
    if (c->kind == VS_CODE_PQ) b += (size_t)c->pq.m * c->pq.ksub * c->pq.dsub * sizeof(float);
    if (c->term2) b += (size_t)v->nlist * c->pq.m * c->pq.ksub * sizeof(float);
    if (c->ct) b += (size_t)c->pq.m * c->pq.dsub * 16 * sizeof(float);
    if (c->pnorm) b += (size_t)c->pq.m * c->pq.ksub * sizeof(float);
    if (c->sq.vmin) b += 2 * (size_t)ix->dim * sizeof(float);
    return b;
}

static size_t ivf_code_size(const vs_index *ix) { return ivf_of(ix)->codec.code_size; }

const vs_index_ops vs_ivf_ops = {
    .name = "IVF",
    .init = ivf_init,
    .destroy = ivf_destroy,
    .train = ivf_train,
    .add = ivf_add,
    .remove = ivf_remove,
    .get = ivf_get,
    .search = vs_ivf_search,
    .search_candidates = vs_ivf_search_candidates,
    .range_search = vs_ivf_range_search,
    .size = ivf_size,
    .memory_bytes = ivf_memory,
    .code_size = ivf_code_size,
    .save = vs_ivf_save,
    .load = vs_ivf_load,
};
