/* Writes a GloVe model file (layout in glove.h): words, their hash table and the vectors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "embed/glove.h"
#include "embed/half.h"
#include "embed/model.h"
#include "io/container.h"

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

int vs_glove_write(const char *path, const char *name, char *const *words, size_t n, uint32_t dim,
                   const float *vectors, int f32, const vs_glove_sif *sif)
{
    if (n == 0 || n > UINT32_MAX - 1 || dim == 0 || dim > 65536)
        return vs_fail(VS_ERR_INVALID_ARG, "model needs 1..%u words of dimension 1..65536 (got %zu x %u)",
                       UINT32_MAX - 1, n, dim);
    uint64_t str_len = 0, slots = 16;
    uint32_t max_word = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(words[i]);
        if (l == 0 || l > 500) return vs_fail(VS_ERR_INVALID_ARG, "word %zu has %zu bytes (1..500 allowed)", i, l);
        if (l > max_word) max_word = (uint32_t)l;
        str_len += l + 1;
    }
    if (str_len > UINT32_MAX) return vs_fail(VS_ERR_INVALID_ARG, "word table over 4 GiB");
    if (sif) {
        if (!sif->weights || !(sif->a > 0) || !isfinite(sif->a) || sif->n_components > VS_GLOVE_MAX_COMPONENTS ||
            (sif->n_components && !sif->components))
            return vs_fail(VS_ERR_INVALID_ARG, "SIF part needs a > 0, weights and at most %u components",
                           VS_GLOVE_MAX_COMPONENTS);
        for (size_t i = 0; i < n; i++)
            if (!(sif->weights[i] >= 0 && sif->weights[i] <= 1))
                return vs_fail(VS_ERR_INVALID_ARG, "SIF weight of '%s' (%g) is not in [0, 1]", words[i],
                               (double)sif->weights[i]);
        for (uint32_t j = 0; j < sif->n_components; j++) {
            double ss = 0;
            for (uint32_t d = 0; d < dim; d++) ss += (double)sif->components[(size_t)j * dim + d] * sif->components[(size_t)j * dim + d];
            if (!(fabs(ss - 1) <= 1e-4))
                return vs_fail(VS_ERR_INVALID_ARG, "SIF component %u is not of unit length (%g)", j, sqrt(ss));
        }
    }
    while (slots < 2 * (uint64_t)n) slots <<= 1;
    int rc = VS_ERR_NOMEM;
    char *strs = malloc(str_len);
    uint32_t *offs = malloc(n * sizeof *offs), *hash = calloc(slots, sizeof *hash);
    void *vec = malloc(n * dim * (size_t)(f32 ? 4 : 2));
    float *unk = NULL;
    uint8_t *gsif = NULL;
    uint64_t gsif_len = sif ? 16 + 4 * (n + (uint64_t)sif->n_components * dim) : 0;
    if (sif && (gsif = malloc(gsif_len))) {
        put32(gsif, sif->n_components);
        memcpy(gsif + 4, &sif->a, 4);
        put64(gsif + 8, n);
        memcpy(gsif + 16, sif->weights, n * 4);
        if (sif->n_components) memcpy(gsif + 16 + n * 4, sif->components, (size_t)sif->n_components * dim * 4);
    }
    if (!strs || !offs || !hash || !vec || (sif && !gsif)) {
        rc = vs_fail(VS_ERR_NOMEM, "out of memory for a %zu-word model", n);
        goto out;
    }
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(words[i]);
        memcpy(strs + at, words[i], l + 1);
        offs[i] = (uint32_t)at;
        at += l + 1;
        uint64_t h = XXH3_64bits(words[i], l) & (slots - 1);
        for (;; h = (h + 1) & (slots - 1)) {
            if (hash[h] == 0) {
                hash[h] = (uint32_t)i + 1;
                break;
            }
            if (!strcmp(strs + offs[hash[h] - 1], words[i])) {
                rc = vs_fail(VS_ERR_INVALID_ARG, "word '%s' appears twice", words[i]);
                goto out;
            }
        }
    }
    for (size_t i = 0; i < n * dim; i++)
        if (!isfinite(vectors[i]) || fabsf(vectors[i]) >= ldexpf(1.0f, VS_GLOVE_MAX_EXP) ||
            (!f32 && fabsf(vectors[i]) > 65504.0f)) { /* float16's largest finite */
            rc = vs_fail(VS_ERR_INVALID_ARG, "word '%s' value %u (%g) is not a finite %s", words[i / dim],
                         (unsigned)(i % dim) + 1, (double)vectors[i], f32 ? "number below 2^100" : "float16 (import with --f32)");
            goto out;
        }
    if (f32) memcpy(vec, vectors, n * dim * sizeof(float));
    else
        for (size_t i = 0; i < n * dim; i++) ((uint16_t *)vec)[i] = vs_f32_to_f16(vectors[i]);
    /* The fallback for texts with no known word: the mean word vector (summed in double). */
    double *acc = calloc(dim, sizeof *acc);
    unk = malloc(dim * sizeof *unk);
    if (!acc || !unk) {
        free(acc);
        rc = vs_fail(VS_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (uint32_t d = 0; d < dim; d++) acc[d] += vectors[i * dim + d];
    for (uint32_t d = 0; d < dim; d++) unk[d] = (float)(acc[d] / (double)n);
    free(acc);
    uint8_t meta[4 * 4 + 3 * 8 + VS_GLOVE_NAME_LEN] = {0};
    put32(meta, sif ? VS_GLOVE_TYPE_SIF : VS_GLOVE_TYPE_AVG); /* plain models stay readable by older builds */
    put32(meta + 4, dim);
    put32(meta + 8, f32 ? 0 : 1);
    put32(meta + 12, max_word);
    put64(meta + 16, n);
    put64(meta + 24, slots);
    put64(meta + 32, str_len);
    strncpy((char *)meta + 40, name ? name : "", VS_GLOVE_NAME_LEN);
    vs_container_writer *w;
    rc = vs_container_create(path, VS_FILE_KIND_EMBED_MODEL, &w);
    if (rc) goto out;
    if ((rc = vs_container_add(w, VS_TAG('G', 'M', 'E', 'T'), 0, meta, sizeof meta)) ||
        (rc = vs_container_add(w, VS_TAG('G', 'S', 'T', 'R'), VS_SECTION_BULK, strs, str_len)) ||
        (rc = vs_container_add(w, VS_TAG('G', 'O', 'F', 'F'), VS_SECTION_BULK, offs, n * 4)) ||
        (rc = vs_container_add(w, VS_TAG('G', 'H', 'S', 'H'), VS_SECTION_BULK, hash, slots * 4)) ||
        (rc = vs_container_add(w, VS_TAG('G', 'V', 'E', 'C'), VS_SECTION_BULK, vec, n * dim * (uint64_t)(f32 ? 4 : 2))) ||
        (rc = vs_container_add(w, VS_TAG('G', 'U', 'N', 'K'), 0, unk, dim * sizeof(float))) ||
        (sif && (rc = vs_container_add(w, VS_TAG('G', 'S', 'I', 'F'), 0, gsif, gsif_len)))) {
        vs_container_abort(w);
        goto out;
    }
    rc = vs_container_commit(w);
out:
    free(gsif);
    free(unk);
    free(strs);
    free(offs);
    free(hash);
    free(vec);
    return rc;
}
