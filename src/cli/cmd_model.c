/* `vecscale model`: import GloVe text into a model file, describe a model. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "embed/bert.h"
#include "embed/glove.h"
#include "embed/model.h"
#include "embed/utf8.h"

static const char *HELP =
    "usage: vecscale model import-glove --input FILE|- --output FILE.vsm [--f32]\n"
    "       vecscale model sif --input NAME|PATH --corpus FILE|- --output FILE.vsm [--a 0.001]\n"
    "       vecscale model info NAME|PATH\n"
    "       vecscale model tokenize --model DIR [--input FILE]\n"
    "       vecscale model pull OWNER/NAME [--endpoint URL] [--dir DIR] [--revision REV] [--timeout S]\n\n"
    "import-glove converts GloVe text (\"word v1 ... vD\" per line) into a vecscale model file\n"
    "(float16 vectors unless --f32). sif makes a smooth-inverse-frequency model (format 2) from a\n"
    "GloVe model whose words are stored most frequent first: word weights a / (a + p(w)), p(w)\n"
    "from the rank (Zipf-Mandelbrot, 1 / (rank + 2.7)), and the first principal component of the\n"
    "corpus's weighted lines (one text per line), removed from every embedding.\n"
    "info opens a model and prints its name and dimension.\n"
    "tokenize prints the token IDs a BERT model directory gives each input line ([CLS] ... [SEP],\n"
    "truncated to its max_seq_length), space-separated, one line per input line.\n"
    "pull downloads a sentence-transformers model from the Hugging Face hub (or --endpoint, a\n"
    "server with the hub's layout; also $HF_ENDPOINT, $HF_TOKEN) into DIR/OWNER/NAME (default\n"
    "$VECSCALE_MODEL_DIR or models/), resuming interrupted files and checking size and SHA-256;\n"
    "then `--model OWNER/NAME` finds it.\n";

static int import_glove(int argc, char **argv)
{
    const char *input = NULL, *output = NULL;
    int f32 = 0;
    static const struct option opts[] = {{"input", required_argument, 0, 'i'}, {"output", required_argument, 0, 'o'},
                                         {"f32", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "i:o:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 'f': f32 = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("model import-glove", "unknown option");
        }
    }
    if (!input || !output) return cli_usage_error("model import-glove", "--input and --output are required");
    double t0 = cli_now();
    int rc = vs_model_import_glove(input, output, f32);
    if (rc) return cli_fail(input, rc);
    vs_model *m;
    rc = vs_model_open(output, &m);
    if (rc) return cli_fail(output, rc);
    printf("wrote %s: model %s, dimension %u, in %.1f s\n", output, vs_model_name(m), vs_model_dim(m), cli_now() - t0);
    vs_model_free(m);
    return 0;
}

static int sif(int argc, char **argv)
{
    const char *input = NULL, *corpus = NULL, *output = NULL;
    double a = 1e-3;
    static const struct option opts[] = {{"input", required_argument, 0, 'i'}, {"corpus", required_argument, 0, 'c'},
                                         {"output", required_argument, 0, 'o'}, {"a", required_argument, 0, 'a'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "i:c:o:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'c': corpus = optarg; break;
        case 'o': output = optarg; break;
        case 'a': {
            char *end;
            a = strtod(optarg, &end);
            if (*end || !(a > 0 && a <= 1)) return cli_usage_error("model sif", "bad --a '%s' (0 < a <= 1)", optarg);
            break;
        }
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("model sif", "unknown option");
        }
    }
    if (!input || !corpus || !output) return cli_usage_error("model sif", "--input, --corpus and --output are required");
    char path[4096];
    int is_dir = 0, rc = vs_model_resolve(input, NULL, path, sizeof path, &is_dir);
    if (rc) return cli_fail(input, rc);
    if (is_dir) {
        fprintf(stderr, "vecscale: model sif: %s is a directory, not a GloVe model file\n", path);
        return 1;
    }
    /* Named after the output file, as import-glove does. */
    const char *base = strrchr(output, '/');
    char name[VS_GLOVE_NAME_LEN + 1];
    snprintf(name, sizeof name, "%s", base ? base + 1 : output);
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = 0;
    double t0 = cli_now();
    size_t lines;
    rc = vs_glove_make_sif(path, corpus, output, name, (float)a, &lines);
    if (rc) return cli_fail(output, rc);
    vs_model *m;
    rc = vs_model_open(output, &m);
    if (rc) return cli_fail(output, rc);
    printf("wrote %s: model %s, dimension %u, SIF a = %g, common component of %zu corpus lines, in %.1f s\n", output,
           vs_model_name(m), vs_model_dim(m), a, lines, cli_now() - t0);
    vs_model_free(m);
    return 0;
}

static int info(int argc, char **argv)
{
    if (argc != 2) return cli_usage_error("model info", "expected one model name or path");
    vs_model *m;
    int rc = vs_model_open(argv[1], &m);
    if (rc) return cli_fail(argv[1], rc);
    printf("model: %s\ndimension: %u\nnormalised: %s\n", vs_model_name(m), vs_model_dim(m),
           vs_model_normalizes(m) ? "yes" : "no");
    vs_model_free(m);
    return 0;
}

static int tokenize(int argc, char **argv)
{
    const char *model = NULL, *input = NULL;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"input", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "m:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': input = optarg; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("model tokenize", "unknown option");
        }
    }
    if (!model) return cli_usage_error("model tokenize", "--model is required");
    vs_model *m;
    int rc = vs_model_open(model, &m);
    if (rc) return cli_fail(model, rc);
    if (strcmp(m->ops->kind, "bert")) {
        vs_model_free(m);
        fprintf(stderr, "vecscale: model tokenize: %s is not a BERT model\n", model);
        return 1;
    }
    const vs_bert *b = m->impl;
    FILE *in = input ? fopen(input, "r") : stdin;
    int32_t *ids = malloc(b->max_seq * sizeof *ids);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int status = !in || !ids;
    if (status) fprintf(stderr, "vecscale: model tokenize: cannot open %s\n", input ? input : "the input");
    while (!status && (got = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)got, n;
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (vs_utf8_invalid_at(line, len) != len || memchr(line, 0, len)) {
            fprintf(stderr, "vecscale: model tokenize: line %zu is not valid UTF-8 text\n", lineno);
            status = 1;
            break;
        }
        if ((rc = vs_tokenizer_encode(b->tok, line, len, b->max_seq, ids, &n))) {
            status = cli_fail("tokenize", rc);
            break;
        }
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    free(line);
    free(ids);
    if (in && input) fclose(in);
    vs_model_free(m);
    return status;
}

#ifdef VS_WITH_HUB
static void pull_progress(const char *file, uint64_t done, uint64_t total, void *ctx)
{
    cli_progress *bar = ctx;
    if (bar->label != file) {
        if (bar->label) cli_progress_finish(bar);
        cli_progress_start(bar, file, total ? total : 1);
    }
    cli_progress_update(bar, total ? done : 0);
}

static int pull(int argc, char **argv)
{
    vs_model_pull_options o = {.struct_size = sizeof(vs_model_pull_options)};
    static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'}, {"dir", required_argument, 0, 'd'},
                                         {"revision", required_argument, 0, 'r'}, {"timeout", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    uint32_t timeout = 30;
    int c;
    while ((c = getopt_long(argc, argv, "e:d:r:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': o.endpoint = optarg; break;
        case 'd': o.dest_dir = optarg; break;
        case 'r': o.revision = optarg; break;
        case 't':
            if (cli_parse_u32(optarg, 1, 3600, &timeout)) return cli_usage_error("model pull", "bad --timeout '%s'", optarg);
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("model pull", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage_error("model pull", "expected one model name, e.g. sentence-transformers/all-MiniLM-L6-v2");
    o.timeout_s = (long)timeout;
    cli_progress bar = {0};
    o.progress = pull_progress;
    o.ctx = &bar;
    char dir[4200];
    double t0 = cli_now();
    int rc = vs_model_pull(argv[optind], &o, dir, sizeof dir);
    if (bar.label) cli_progress_finish(&bar);
    if (rc) return cli_fail(argv[optind], rc);
    vs_model *m;
    rc = vs_model_open(dir, &m);
    if (rc) return cli_fail(dir, rc);
    printf("pulled %s into %s in %.1f s: dimension %u%s\n", argv[optind], dir, cli_now() - t0, vs_model_dim(m),
           vs_model_normalizes(m) ? ", normalised" : "");
    vs_model_free(m);
    return 0;
}
#endif

int cmd_model(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("model", "expected a subcommand: import-glove, sif, info, tokenize, pull");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(HELP, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "import-glove")) return import_glove(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sif")) return sif(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info")) return info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tokenize")) return tokenize(argc - 1, argv + 1);
#ifdef VS_WITH_HUB
    if (!strcmp(argv[1], "pull")) return pull(argc - 1, argv + 1);
#else
    if (!strcmp(argv[1], "pull")) return cli_usage_error("model", "pull: this vecscale was built without VS_WITH_HUB");
#endif
    return cli_usage_error("model", "unknown subcommand '%s'", argv[1]);
}
