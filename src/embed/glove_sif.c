/* vs_glove_make_sif: a plain GloVe model plus a corpus into a SIF model (format version 2).
 *
 * Why word probabilities from the rank: GloVe stores its vocabulary in the frequency order of
 * the corpus it was trained on (6B tokens of Wikipedia 2014 + Gigaword 5), so the rank is the
 * one frequency statistic that matches the vectors. SIF's weight a / (a + p) only departs
 * from 1 where p is near a (1e-3: the ~100 most frequent words; 0.9 still at rank ~800), and
 * for those Zipf-Mandelbrot's 1 / (rank + 2.7) is within a small factor of counted English
 * frequencies; any corpus installable here would be orders of magnitude smaller and of one
 * domain. The common component is a corpus statistic: the direction every sentence of the
 * corpus shares, removed so that it stops dominating cosine similarity. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/glove.h"
#include "embed/utf8.h"

#define ZIPF_SHIFT 2.7 /* Mandelbrot's offset: flattens the head (the, of, and) as counts do */
#define POWER_ITERS 2000

/* Top eigenvector of the symmetric positive semi-definite dim x dim matrix c by power
 * iteration from start (the corpus sum, close to it for uncentred data). */
static void top_eigenvector(const double *c, uint32_t dim, double *v, double *work)
{
    for (int it = 0; it < POWER_ITERS; it++) {
        double ss = 0, change = 0;
        for (uint32_t i = 0; i < dim; i++) {
            double x = 0;
            for (uint32_t j = 0; j < dim; j++) x += c[(size_t)i * dim + j] * v[j];
            work[i] = x;
            ss += x * x;
        }
        if (!(ss > 0)) return;
        double inv = 1 / sqrt(ss);
        for (uint32_t i = 0; i < dim; i++) {
            double x = work[i] * inv;
            change += (x - v[i]) * (x - v[i]);
            v[i] = x;
        }
        if (change < 1e-24) break;
    }
}

static int read_corpus(const vs_glove *g, const float *weights, const char *path, double *cov, double *sum,
                       size_t *lines)
{
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "r");
    if (!f) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "open %s: %s", path, strerror(errno));
    uint32_t dim = vs_glove_dim(g);
    size_t cap = 1024, got_lines = 0, lineno = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    float *v = malloc(dim * sizeof *v);
    double *s = malloc(dim * sizeof *s);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    int rc = ids && v && s ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    while (!rc && (len = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (vs_utf8_invalid_at(line, (size_t)len) != (size_t)len) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s:%zu: invalid UTF-8", path, lineno);
            break;
        }
        size_t n = vs_glove_tokenize(g, line, (size_t)len, ids, cap);
        if (n > cap) {
            int32_t *more = realloc(ids, n * sizeof *ids);
            if (!more) {
                rc = vs_fail(VS_ERR_NOMEM, "out of memory");
                break;
            }
            ids = more;
            cap = n;
            vs_glove_tokenize(g, line, (size_t)len, ids, cap);
        }
        size_t known = 0;
        memset(s, 0, dim * sizeof *s);
        for (size_t i = 0; i < n; i++) {
            if (ids[i] < 0) continue;
            vs_glove_vector(g, (size_t)ids[i], v);
            for (uint32_t d = 0; d < dim; d++) s[d] += (double)weights[ids[i]] * v[d];
            known++;
        }
        if (!known) continue;
        /* The paper's sentence vector: the weighted mean over the known words. */
        for (uint32_t d = 0; d < dim; d++) s[d] /= (double)known, sum[d] += s[d];
        for (uint32_t i = 0; i < dim; i++)
            for (uint32_t j = 0; j <= i; j++) cov[(size_t)i * dim + j] += s[i] * s[j];
        got_lines++;
    }
    if (!rc && ferror(f)) rc = vs_fail(VS_ERR_IO, "read %s: %s", path, strerror(errno));
    if (!rc && got_lines == 0) rc = vs_fail(VS_ERR_EMPTY, "%s: no line with a known word", path);
    for (uint32_t i = 0; i < dim; i++)
        for (uint32_t j = 0; j < i; j++) cov[(size_t)j * dim + i] = cov[(size_t)i * dim + j];
    free(line);
    free(ids);
    free(v);
    free(s);
    if (!is_stdin) fclose(f);
    *lines = got_lines;
    return rc;
}

int vs_glove_make_sif(const char *model_path, const char *corpus_path, const char *out_path, const char *name,
                      float a, size_t *lines)
{
    if (!model_path || !corpus_path || !out_path || !lines)
        return vs_fail(VS_ERR_INVALID_ARG, "model, corpus, output and lines are required");
    *lines = 0;
    if (!(a > 0) || !isfinite(a)) return vs_fail(VS_ERR_INVALID_ARG, "SIF parameter a must be > 0 (got %g)", (double)a);
    vs_glove *g;
    int rc = vs_glove_load(model_path, &g);
    if (rc) return rc;
    if (vs_glove_sif_of(g).weights) {
        vs_glove_free(g);
        return vs_fail(VS_ERR_INVALID_ARG, "%s is already a SIF model", model_path);
    }
    size_t n = vs_glove_count(g);
    uint32_t dim = vs_glove_dim(g);
    float *weights = malloc(n * sizeof *weights), *vecs = malloc(n * dim * sizeof *vecs), *comp = malloc(dim * sizeof *comp);
    char **words = malloc(n * sizeof *words);
    double *cov = calloc((size_t)dim * dim, sizeof *cov), *u = calloc(dim, sizeof *u), *work = malloc(dim * sizeof *work);
    if (!weights || !vecs || !comp || !words || !cov || !u || !work) {
        rc = vs_fail(VS_ERR_NOMEM, "out of memory for a %zu-word model", n);
        goto out;
    }
    double h = 0;
    for (size_t r = 0; r < n; r++) h += 1 / ((double)r + ZIPF_SHIFT);
    for (size_t r = 0; r < n; r++) weights[r] = (float)(a / (a + 1 / (((double)r + ZIPF_SHIFT) * h)));
    if ((rc = read_corpus(g, weights, corpus_path, cov, u, lines))) goto out;
    top_eigenvector(cov, dim, u, work);
    /* A fixed sign (largest coordinate positive), so the same input writes the same bytes. */
    uint32_t big = 0;
    for (uint32_t d = 1; d < dim; d++)
        if (fabs(u[d]) > fabs(u[big])) big = d;
    double ss = 0;
    for (uint32_t d = 0; d < dim; d++) ss += u[d] * u[d];
    if (!(ss > 0)) {
        rc = vs_fail(VS_ERR_INVALID_ARG, "%s: the corpus sentences sum to zero: no common component", corpus_path);
        goto out;
    }
    for (uint32_t d = 0; d < dim; d++) comp[d] = (float)((u[big] < 0 ? -u[d] : u[d]) / sqrt(ss));
    for (size_t r = 0; r < n; r++) {
        words[r] = (char *)vs_glove_word(g, r); /* read only: vs_glove_write copies them */
        vs_glove_vector(g, r, vecs + r * dim);
    }
    vs_glove_sif sif = {a, weights, 1, comp};
    rc = vs_glove_write(out_path, name, words, n, dim, vecs, vs_glove_is_f32(g), &sif);
out:
    free(weights);
    free(vecs);
    free(comp);
    free(words);
    free(cov);
    free(u);
    free(work);
    vs_glove_free(g);
    return rc;
}
