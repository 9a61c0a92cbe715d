/* `vecscale embed`: one text per line in, one vector per line out (.fvecs or .npy). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "embed/qgemm_kernels.h"
#include "embed/utf8.h"
#include "io/npy.h"

static const char *HELP =
    "usage: vecscale embed [--model NAME|PATH] [--input FILE] [--output FILE.fvecs|FILE.npy]\n"
    "                      [--format fvecs|npy] [--threads N] [--batch-size N]\n"
    "                      [--precision fp32|bf16|int8]\n\n"
    "Embeds each line of FILE (default: standard input) with the model (default \"" VS_MODEL_DEFAULT "\",\n"
    "or a sentence-transformers directory) and writes one vector per line, in order, to FILE\n"
    "(format from its extension) or to standard output (--format, default fvecs). Lines must be\n"
    "non-empty valid UTF-8; a trailing \\r is dropped. Timing goes to standard error.\n"
    "--precision: arithmetic of a BERT model's Linear layers (default fp32; bf16 needs AVX512-BF16).\n";

typedef struct {
    char **lines;
    size_t n, cap;
} line_list;

static int read_lines(FILE *f, line_list *l)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&buf, &cap, f)) >= 0) {
        size_t len = (size_t)got;
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
        if (l->n == l->cap) {
            size_t nc = l->cap ? 2 * l->cap : 1024;
            char **p = realloc(l->lines, nc * sizeof *p);
            if (!p) break;
            l->lines = p;
            l->cap = nc;
        }
        /* Checked here too so the message names the line, not the text's place in a batch. */
        const char *why = memchr(buf, 0, len) ? "contains a NUL byte"
                          : len == 0 ? "is empty"
                          : len > VS_MODEL_MAX_TEXT_BYTES ? "is longer than the model's text limit"
                          : vs_utf8_invalid_at(buf, len) != len ? "is not valid UTF-8" : NULL;
        if (why) {
            fprintf(stderr, "vecscale: embed: line %zu %s\n", l->n + 1, why);
            free(buf);
            return 1;
        }
        if (!(l->lines[l->n] = strdup(buf))) break;
        l->n++;
    }
    int bad = ferror(f) || !feof(f);
    free(buf);
    if (bad) fprintf(stderr, "vecscale: embed: cannot read the input (or out of memory)\n");
    return bad;
}

static int write_stdout(const float *v, size_t n, uint32_t dim, int npy)
{
    if (npy) {
        uint8_t hdr[256];
        size_t hl;
        if (vs_npy_format_header(VS_DTYPE_F32, n, dim, hdr, sizeof hdr, &hl)) return 1;
        if (fwrite(hdr, 1, hl, stdout) != hl) return 1;
        if (n && fwrite(v, sizeof(float) * dim, n, stdout) != n) return 1;
    } else {
        int32_t d = (int32_t)dim;
        for (size_t i = 0; i < n; i++)
            if (fwrite(&d, 4, 1, stdout) != 1 || fwrite(v + i * dim, sizeof(float), dim, stdout) != dim) return 1;
    }
    return fflush(stdout) != 0;
}

int cli_model_open(const char *cmd, const char *name, vs_precision p, vs_model **out)
{
    vs_model_options o = {.struct_size = sizeof(vs_model_options), .precision = p};
    int rc = vs_model_open_with(name, &o, out);
    if (rc) return cli_fail(name, rc);
    if (p != VS_PRECISION_DEFAULT && vs_model_precision(*out) != p) {
        fprintf(stderr, "vecscale: %s: model %s computes in %s only (--precision %s is for BERT models)\n", cmd, name,
                vs_precision_name(vs_model_precision(*out)), vs_precision_name(p));
        vs_model_free(*out);
        *out = NULL;
        return 2;
    }
    return 0;
}

int cmd_embed(int argc, char **argv)
{
    const char *model_name = VS_MODEL_DEFAULT, *input = NULL, *output = NULL, *format = "fvecs";
    uint32_t threads = 1, batch = 1024;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'}, {"format", required_argument, 0, 'f'},
        {"threads", required_argument, 0, 't'}, {"batch-size", required_argument, 0, 'b'},
        {"precision", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    vs_model_options mopt = {.struct_size = sizeof(vs_model_options)};
    int c;
    while ((c = getopt_long(argc, argv, "m:i:o:f:t:b:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_name = optarg; break;
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 'f': format = optarg; break;
        case 't':
            if (cli_parse_u32(optarg, 1, 256, &threads)) return cli_usage_error("embed", "bad --threads '%s'", optarg);
            break;
        case 'b':
            if (cli_parse_u32(optarg, 1, 1u << 20, &batch)) return cli_usage_error("embed", "bad --batch-size '%s'", optarg);
            break;
        case 'p':
            if (vs_precision_parse(optarg, &mopt.precision)) return cli_usage_error("embed", "%s", vs_last_error());
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("embed", "unknown option");
        }
    }
    if (optind != argc) return cli_usage_error("embed", "unexpected argument '%s'", argv[optind]);
    if (strcmp(format, "fvecs") && strcmp(format, "npy"))
        return cli_usage_error("embed", "--format must be fvecs or npy, not '%s'", format);
    vs_model *m;
    int rc = cli_model_open("embed", model_name, mopt.precision, &m);
    if (rc) return rc;
    FILE *in = input ? fopen(input, "r") : stdin;
    if (!in) {
        fprintf(stderr, "vecscale: embed: cannot open %s\n", input);
        vs_model_free(m);
        return 1;
    }
    line_list l = {0};
    int status = read_lines(in, &l);
    if (input) fclose(in);
    size_t dim = vs_model_dim(m);
    float *v = NULL;
    if (!status && l.n == 0) {
        fprintf(stderr, "vecscale: embed: no input lines\n");
        status = 1;
    }
    if (!status && !(v = malloc(l.n * dim * sizeof(float)))) {
        fprintf(stderr, "vecscale: embed: out of memory for %zu vectors\n", l.n);
        status = 1;
    }
    double t0 = cli_now();
    cli_progress bar;
    cli_progress_start(&bar, "embedding", l.n);
    for (size_t i = 0; !status && i < l.n; i += batch) {
        size_t nb = l.n - i < batch ? l.n - i : batch;
        rc = vs_model_embed(m, (const char *const *)l.lines + i, nb, threads, v + i * dim);
        if (rc) {
            fprintf(stderr, "vecscale: embed: lines %zu-%zu: %s\n", i + 1, i + nb, vs_last_error());
            status = 1;
        }
        cli_progress_update(&bar, i + nb);
    }
    cli_progress_finish(&bar);
    double dt = cli_now() - t0;
    if (!status) {
        if (output) {
            vs_matrix mat = {.n = l.n, .dim = (uint32_t)dim, .dtype = VS_DTYPE_F32, .data = v};
            rc = vs_matrix_write(output, &mat);
            if (rc) status = cli_fail(output, rc);
        } else if (write_stdout(v, l.n, (uint32_t)dim, !strcmp(format, "npy"))) {
            fprintf(stderr, "vecscale: embed: cannot write to standard output\n");
            status = 1;
        }
    }
    if (!status) {
        char how[96] = ""; /* which low-precision kernels ran */
        if (vs_model_precision(m) != VS_PRECISION_FP32)
            snprintf(how, sizeof how, " (%s on %s)", vs_precision_name(vs_model_precision(m)),
                     vs_qgemm_kernels_get()->name);
        fprintf(stderr, "embedded %zu texts with %s (dimension %zu) in %.3f s: %.0f sentences/s, %u thread%s%s\n", l.n,
                vs_model_name(m), dim, dt, dt > 0 ? (double)l.n / dt : 0.0, threads, threads > 1 ? "s" : "", how);
    }
    for (size_t i = 0; i < l.n; i++) free(l.lines[i]);
    free(l.lines);
    free(v);
    vs_model_free(m);
    return status;
}
