/* vs_model_import_glove: the GloVe text format ("word v1 ... vD" per line) into a model file.
 * Words are stored as given; GloVe 6B (and the wink package converted from it) is lower-case. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/glove.h"
#include "embed/utf8.h"

typedef struct {
    char **words;
    float *vecs;
    size_t n, cap;
    uint32_t dim;
} glove_rows;

static void rows_free(glove_rows *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->words[i]);
    free(r->words);
    free(r->vecs);
}

static int parse_line(glove_rows *r, char *line, size_t len, size_t lineno, const char *path)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    if (len == 0) return VS_OK; /* blank lines are allowed (a trailing newline) */
    if (vs_utf8_invalid_at(line, len) != len)
        return vs_fail(VS_ERR_CORRUPT, "%s:%zu: invalid UTF-8", path, lineno);
    char *sp = strchr(line, ' ');
    if (!sp || sp == line) return vs_fail(VS_ERR_CORRUPT, "%s:%zu: expected 'word v1 ... vD'", path, lineno);
    *sp = 0;
    if (r->n == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 1024;
        char **w = realloc(r->words, nc * sizeof *w);
        if (!w) return vs_fail(VS_ERR_NOMEM, "out of memory");
        r->words = w;
        if (r->dim) {
            float *v = realloc(r->vecs, nc * r->dim * sizeof *v);
            if (!v) return vs_fail(VS_ERR_NOMEM, "out of memory");
            r->vecs = v;
        }
        r->cap = nc;
    }
    if (r->dim == 0) { /* the first line fixes the dimension */
        uint32_t d = 0;
        for (char *p = sp + 1; *p;) {
            while (*p == ' ') p++;
            if (!*p) break;
            d++;
            while (*p && *p != ' ') p++;
        }
        if (d == 0 || d > 65536) return vs_fail(VS_ERR_CORRUPT, "%s:%zu: %u values (1..65536 allowed)", path, lineno, d);
        r->dim = d;
        r->vecs = malloc(r->cap * d * sizeof(float));
        if (!r->vecs) return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    float *v = r->vecs + r->n * r->dim;
    char *p = sp + 1;
    uint32_t d = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (!*p) break;
        if (d == r->dim) return vs_fail(VS_ERR_CORRUPT, "%s:%zu: more than %u values", path, lineno, r->dim);
        char *end;
        errno = 0;
        float x = strtof(p, &end);
        if (end == p || (*end && *end != ' ') || !isfinite(x))
            return vs_fail(VS_ERR_CORRUPT, "%s:%zu: value %u is not a finite number", path, lineno, d + 1);
        v[d++] = x;
        p = end;
    }
    if (d != r->dim) return vs_fail(VS_ERR_CORRUPT, "%s:%zu: %u values, expected %u", path, lineno, d, r->dim);
    r->words[r->n] = strdup(line);
    if (!r->words[r->n]) return vs_fail(VS_ERR_NOMEM, "out of memory");
    r->n++;
    return VS_OK;
}

int vs_model_import_glove(const char *text_path, const char *out_path, int f32)
{
    if (!text_path || !out_path) return vs_fail(VS_ERR_INVALID_ARG, "text_path and out_path are required");
    int is_stdin = !strcmp(text_path, "-");
    FILE *f = is_stdin ? stdin : fopen(text_path, "r");
    if (!f) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "open %s: %s", text_path, strerror(errno));
    glove_rows r = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = VS_OK;
    while (!rc && (got = getline(&line, &cap, f)) >= 0) rc = parse_line(&r, line, (size_t)got, ++lineno, text_path);
    if (!rc && ferror(f)) rc = vs_fail(VS_ERR_IO, "read %s: %s", text_path, strerror(errno));
    if (!rc && r.n == 0) rc = vs_fail(VS_ERR_EMPTY, "%s: no word vectors", text_path);
    free(line);
    if (!is_stdin) fclose(f);
    if (!rc) {
        /* The model is named after the output file: ".../glove-100.vsm" is "glove-100". */
        const char *base = strrchr(out_path, '/');
        base = base ? base + 1 : out_path;
        char name[VS_GLOVE_NAME_LEN + 1];
        snprintf(name, sizeof name, "%s", base);
        char *dot = strrchr(name, '.');
        if (dot && dot != name) *dot = 0;
        rc = vs_glove_write(out_path, name, r.words, r.n, r.dim, r.vecs, f32, NULL);
    }
    rows_free(&r);
    return rc;
}
