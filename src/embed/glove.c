/* GloVe model files: open (mmap + full verification), word lookup, sentence averaging. */
#include "embed/glove.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "core/error.h"
#include "embed/half.h"
#include "embed/model.h"
#include "embed/utf8.h"
#include "io/container.h"

struct vs_glove {
    void *map; /* ours to unmap; NULL when base is a caller's buffer */
    const void *base;
    size_t map_size;
    uint32_t dim, dtype, max_word;
    uint64_t n, slots, str_len;
    const char *strs;
    const uint32_t *offs, *hash;
    const void *vecs;
    const float *unk; /* GUNK: the vector of a text with no known word (NULL: zeros) */
    uint32_t version;
    vs_glove_sif sif; /* version 2: GSIF (weights NULL in version 1) */
    char name[VS_GLOVE_NAME_LEN + 1];
};

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

#define GMET_SIZE (4 * 4 + 3 * 8 + VS_GLOVE_NAME_LEN)
#define GSIF_HEAD 16

/* GSIF (version 2). The bounds keep every weighted sum finite: weights in [0, 1] leave the
 * float32 sum below 2^(100 + 19), as for plain averages, and unit components keep the
 * projection no larger than the sum. */
static int parse_sif(vs_glove *g, const vs_container *c, const char *path)
{
    uint64_t len;
    const uint8_t *s = vs_container_find(c, VS_TAG('G', 'S', 'I', 'F'), &len);
    if (!s) return vs_fail(VS_ERR_CORRUPT, "%s: format version 2 without its GSIF section", path);
    if (len < GSIF_HEAD) return vs_fail(VS_ERR_CORRUPT, "%s: GSIF has %llu bytes", path, (unsigned long long)len);
    uint32_t k = get32(s);
    float a;
    memcpy(&a, s + 4, 4);
    uint64_t words = get64(s + 8);
    if (k > VS_GLOVE_MAX_COMPONENTS || words != g->n || !(a > 0) || !isfinite(a) ||
        len != GSIF_HEAD + 4 * (g->n + (uint64_t)k * g->dim))
        return vs_fail(VS_ERR_CORRUPT, "%s: GSIF (%u components, a %g, %llu words, %llu bytes) does not fit the "
                       "model (%llu words of dimension %u)", path, k, (double)a, (unsigned long long)words,
                       (unsigned long long)len, (unsigned long long)g->n, g->dim);
    const float *w = (const float *)(s + GSIF_HEAD), *u = w + g->n;
    for (uint64_t i = 0; i < g->n; i++)
        if (!(w[i] >= 0 && w[i] <= 1)) /* NaN fails too */
            return vs_fail(VS_ERR_CORRUPT, "%s: SIF weight of word %llu is not in [0, 1]", path, (unsigned long long)i);
    for (uint32_t j = 0; j < k; j++) {
        double ss = 0;
        for (uint32_t d = 0; d < g->dim; d++) {
            if (!isfinite(u[(size_t)j * g->dim + d])) ss = NAN;
            ss += (double)u[(size_t)j * g->dim + d] * u[(size_t)j * g->dim + d];
        }
        if (!(fabs(ss - 1) <= 1e-3))
            return vs_fail(VS_ERR_CORRUPT, "%s: SIF component %u is not of unit length", path, j);
    }
    g->sif = (vs_glove_sif){a, w, k, u};
    return VS_OK;
}

static int parse(vs_glove *g, const char *path)
{
    vs_container *c = malloc(sizeof *c);
    if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = vs_container_open(c, g->base, g->map_size, 0, path);
    if (rc) goto out;
    if (c->kind != VS_FILE_KIND_EMBED_MODEL) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: not a model file (file kind %u)", path, c->kind);
        goto out;
    }
    const uint8_t *m = vs_container_require(c, VS_TAG('G', 'M', 'E', 'T'), GMET_SIZE, path, &rc);
    if (!m) goto out;
    g->version = get32(m);
    if (g->version == 0 || g->version > VS_GLOVE_FORMAT_VERSION) {
        rc = g->version ? vs_fail(VS_ERR_VERSION, "%s: model format version %u is newer than this build reads (%u); "
                                  "upgrade vecscale to read it", path, g->version, VS_GLOVE_FORMAT_VERSION)
                        : vs_fail(VS_ERR_CORRUPT, "%s: model format version 0 is invalid", path);
        goto out;
    }
    g->dim = get32(m + 4);
    g->dtype = get32(m + 8);
    g->max_word = get32(m + 12);
    g->n = get64(m + 16);
    g->slots = get64(m + 24);
    g->str_len = get64(m + 32);
    memcpy(g->name, m + 40, VS_GLOVE_NAME_LEN);
    g->name[VS_GLOVE_NAME_LEN] = 0;
    if (g->dim == 0 || g->dim > 65536 || g->dtype > 1 || g->n == 0 || g->n > UINT32_MAX - 1 || g->slots < g->n ||
        (g->slots & (g->slots - 1)) || g->slots > ((uint64_t)1 << 32) || g->str_len == 0) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: inconsistent model header (dim %u, dtype %u, %llu words, %llu slots)", path,
                     g->dim, g->dtype, (unsigned long long)g->n, (unsigned long long)g->slots);
        goto out;
    }
    g->strs = vs_container_require(c, VS_TAG('G', 'S', 'T', 'R'), g->str_len, path, &rc);
    if (!g->strs) goto out;
    g->offs = vs_container_require(c, VS_TAG('G', 'O', 'F', 'F'), g->n * 4, path, &rc);
    if (!g->offs) goto out;
    g->hash = vs_container_require(c, VS_TAG('G', 'H', 'S', 'H'), g->slots * 4, path, &rc);
    if (!g->hash) goto out;
    g->vecs = vs_container_require(c, VS_TAG('G', 'V', 'E', 'C'), g->n * g->dim * (g->dtype ? 2 : 4), path, &rc);
    if (!g->vecs) goto out;
    uint64_t unk_len;
    g->unk = vs_container_find(c, VS_TAG('G', 'U', 'N', 'K'), &unk_len); /* optional: absent in older files */
    if (g->unk && unk_len != (uint64_t)g->dim * 4) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: GUNK has %llu bytes, expected %u", path, (unsigned long long)unk_len, g->dim * 4);
        goto out;
    }
    if (g->version >= VS_GLOVE_TYPE_SIF && (rc = parse_sif(g, c, path))) goto out;
    /* Every pointer a lookup follows must stay inside the file, even for a forged checksum. */
    if (g->strs[g->str_len - 1] != 0) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: word table is not NUL-terminated", path);
        goto out;
    }
    for (uint64_t i = 0; i < g->n; i++)
        if (g->offs[i] >= g->str_len) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: word %llu points outside the word table", path, (unsigned long long)i);
            goto out;
        }
    /* A non-finite component would make every text containing the word NaN (all-ones exponent).
     * float32 components must also stay below 2^100, so that the float sum of the at most 2^19
     * words of a VS_MODEL_MAX_TEXT_BYTES text cannot overflow (GloVe values are below 10). */
    size_t nv = (size_t)(g->n * g->dim), bad = nv;
    if (g->dtype == 0) {
        const uint32_t *w = g->vecs;
        for (size_t i = 0; i < nv && bad == nv; i++)
            if (((w[i] >> 23) & 0xffu) >= 127u + VS_GLOVE_MAX_EXP) bad = i;
    } else {
        const uint16_t *h = g->vecs;
        for (size_t i = 0; i < nv && bad == nv; i++)
            if ((h[i] & 0x7c00u) == 0x7c00u) bad = i;
    }
    for (uint32_t d = 0; g->unk && d < g->dim; d++)
        if (!isfinite(g->unk[d])) bad = nv + 1;
    if (bad != nv) {
        rc = bad > nv ? vs_fail(VS_ERR_CORRUPT, "%s: the fallback vector GUNK is not finite", path)
                      : vs_fail(VS_ERR_CORRUPT, "%s: word %zu's vector is not finite (or above 2^100)", path,
                                   bad / g->dim);
        goto out;
    }
    for (uint64_t i = 0; i < g->slots; i++)
        if (g->hash[i] > g->n) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: hash slot %llu points past the last word", path, (unsigned long long)i);
            goto out;
        }
out:
    free(c);
    return rc;
}

int vs_glove_load(const char *path, vs_glove **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return vs_fail(VS_ERR_IO, "stat %s: %s", path, strerror(e));
    }
    if (st.st_size < VS_CONTAINER_HEADER_SIZE) {
        close(fd);
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated: %lld bytes, smaller than the 64-byte header", path,
                       (long long)st.st_size);
    }
    vs_glove *g = calloc(1, sizeof *g);
    if (!g) {
        close(fd);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    g->map_size = (size_t)st.st_size;
    g->map = mmap(NULL, g->map_size, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (g->map == MAP_FAILED) {
        free(g);
        return vs_fail(VS_ERR_IO, "mmap %s: %s", path, strerror(e));
    }
    g->base = g->map;
    int rc = parse(g, path);
    if (rc) {
        vs_glove_free(g);
        return rc;
    }
    *out = g;
    return VS_OK;
}

int vs_glove_load_buffer(const void *data, size_t size, const char *origin, vs_glove **out)
{
    *out = NULL;
    if (size < VS_CONTAINER_HEADER_SIZE)
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated: %zu bytes, smaller than the 64-byte header", origin, size);
    vs_glove *g = calloc(1, sizeof *g);
    if (!g) return vs_fail(VS_ERR_NOMEM, "out of memory");
    g->base = data;
    g->map_size = size;
    int rc = parse(g, origin);
    if (rc) {
        vs_glove_free(g);
        return rc;
    }
    *out = g;
    return VS_OK;
}

void vs_glove_free(vs_glove *g)
{
    if (!g) return;
    if (g->map) munmap(g->map, g->map_size);
    free(g);
}

uint32_t vs_glove_dim(const vs_glove *g) { return g->dim; }
size_t vs_glove_count(const vs_glove *g) { return (size_t)g->n; }
const char *vs_glove_name(const vs_glove *g) { return g->name; }
int vs_glove_is_f32(const vs_glove *g) { return g->dtype == 0; }
const char *vs_glove_word(const vs_glove *g, size_t row) { return g->strs + g->offs[row]; }

int64_t vs_glove_lookup(const vs_glove *g, const char *word, size_t len)
{
    if (len == 0 || len > g->max_word) return -1;
    uint64_t mask = g->slots - 1, h = XXH3_64bits(word, len) & mask;
    for (uint64_t probe = 0; probe < g->slots; probe++, h = (h + 1) & mask) {
        uint32_t v = g->hash[h];
        if (v == 0) return -1;
        const char *w = g->strs + g->offs[v - 1];
        if (strncmp(w, word, len) == 0 && w[len] == 0) return (int64_t)(v - 1);
    }
    return -1;
}

void vs_glove_vector(const vs_glove *g, size_t row, float *out)
{
    if (g->dtype == 0) {
        memcpy(out, (const float *)g->vecs + row * g->dim, g->dim * sizeof(float));
        return;
    }
    const uint16_t *h = (const uint16_t *)g->vecs + row * g->dim;
    for (uint32_t d = 0; d < g->dim; d++) out[d] = vs_f16_to_f32(h[d]);
}

vs_glove_sif vs_glove_sif_of(const vs_glove *g) { return g->sif; }

static void add_row(const vs_glove *g, size_t row, float *acc)
{
    float w = g->sif.weights ? g->sif.weights[row] : 1.0f;
    if (g->dtype == 0) {
        const float *v = (const float *)g->vecs + row * g->dim;
        for (uint32_t d = 0; d < g->dim; d++) acc[d] += w * v[d];
        return;
    }
    const uint16_t *h = (const uint16_t *)g->vecs + row * g->dim;
    for (uint32_t d = 0; d < g->dim; d++) acc[d] += w * vs_f16_to_f32(h[d]);
}

static int is_word_char(int32_t cp)
{
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: return 1;
    default: return 0;
    }
}

/* Calls on_word with the row of each word of text (-1 for an unknown or over-long word), in
 * order: the one definition of a "word" for embedding and tokenizing. */
static void scan_words(const vs_glove *g, const char *text, size_t len, void (*on_word)(int64_t row, void *ctx),
                       void *ctx)
{
    char word[512];
    size_t wl = 0;
    int overflow = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i <= len;) {
        int32_t cp = -1;
        int step = 1;
        if (i < len) step = vs_utf8_decode(s + i, &cp);
        if (cp >= 0 && is_word_char(cp)) {
            if (wl + 4 <= sizeof word) wl += (size_t)vs_utf8_encode(utf8proc_tolower(cp), word + wl);
            else overflow = 1;
        } else if (wl) {
            on_word(overflow ? -1 : vs_glove_lookup(g, word, wl), ctx);
            wl = 0;
            overflow = 0;
        }
        i += (size_t)step;
    }
}

typedef struct {
    const vs_glove *g;
    float *acc;
    size_t found;
} embed_acc;

static void add_word(int64_t row, void *ctx)
{
    embed_acc *a = ctx;
    if (row < 0) return;
    add_row(a->g, (size_t)row, a->acc);
    a->found++;
}

typedef struct {
    int32_t *ids;
    size_t cap, n;
} token_acc;

static void put_token(int64_t row, void *ctx)
{
    token_acc *t = ctx;
    if (t->n < t->cap) t->ids[t->n] = (int32_t)row;
    t->n++;
}

size_t vs_glove_tokenize(const vs_glove *g, const char *text, size_t len, int32_t *ids, size_t cap)
{
    token_acc t = {ids, cap, 0};
    scan_words(g, text, len, put_token, &t);
    return t.n;
}

size_t vs_glove_embed_text(const vs_glove *g, const char *text, size_t len, float *out)
{
    memset(out, 0, g->dim * sizeof(float));
    embed_acc a = {g, out, 0};
    scan_words(g, text, len, add_word, &a);
    size_t found = a.found;
    if (found == 0 && g->unk) memcpy(out, g->unk, g->dim * sizeof(float));
    /* SIF: the common components carry what every text shares (frequent-word directions);
     * removed from the sum, whose scale does not matter before the normalisation below. */
    double before = 0;
    for (uint32_t d = 0; g->sif.n_components && d < g->dim; d++) before += (double)out[d] * out[d];
    for (uint32_t j = 0; j < g->sif.n_components; j++) {
        const float *u = g->sif.components + (size_t)j * g->dim;
        /* Divided by u.u (stored unit length only to 1e-3) and in double, so that what is left
         * is orthogonal to u to rounding of the result, not of the sum (whose direction a text
         * along u would otherwise inherit from noise). */
        double dot = 0, uu = 0;
        for (uint32_t d = 0; d < g->dim; d++) dot += (double)out[d] * u[d], uu += (double)u[d] * u[d];
        dot /= uu;
        for (uint32_t d = 0; d < g->dim; d++) out[d] = (float)(out[d] - dot * u[d]);
    }
    double ss = 0;
    for (uint32_t d = 0; d < g->dim; d++) ss += (double)out[d] * out[d];
    /* What is left of a text lying along the common components, below 1e-6 of its length, is
     * the float sum's rounding (a direction of noise): such a text has no content of its own. */
    if (g->sif.n_components && ss <= 1e-12 * before) ss = 0, memset(out, 0, g->dim * sizeof(float));
    if (ss > 0) {
        /* The mean's direction: dividing by `found` first changes nothing. In double: for a sum of
         * subnormal floats 1 / norm does not fit a float. */
        double norm = sqrt(ss);
        for (uint32_t d = 0; d < g->dim; d++) out[d] = (float)(out[d] / norm);
    }
    return found;
}
