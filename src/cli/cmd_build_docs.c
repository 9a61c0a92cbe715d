/* `vecscale build --input docs.json|docs.jsonl`: documents in, an embedded and indexed
 * collection out (src/collection: index + documents + write-ahead log in one directory, the
 * format `vecscale serve` serves). Built in a temporary sibling directory and renamed into
 * place, so a failed or interrupted build leaves no DIR behind. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/docs_input.h"

static const char *HELP =
    "usage: vecscale build --input DOCS.json|DOCS.jsonl --output DIR [--model NAME|PATH]\n"
    "                      [--index SPEC] [--nlist N] [--batch-size N] [--threads N]\n"
    "                      [--precision fp32|bf16|int8]\n\n"
    "Reads documents ({\"id\": 7, \"text\": \"...\", other fields...}: one JSON object per line\n"
    "in .jsonl, or a JSON array in .json), embeds their text with the model (default " VS_MODEL_DEFAULT "),\n"
    "indexes the vectors with the cosine metric and stores text and the other fields beside them\n"
    "in the new collection DIR (which must not exist; `vecscale serve` serves it).\n"
    "IDs: an integer \"id\" (0 <= id < 2^53) or a string \"id\" (1 to 256 bytes of UTF-8; \"17\"\n"
    "is the integer 17) is the document's id, as in the server's API; documents without one\n"
    "are numbered after the largest integer id (from 0). Duplicate ids are an error.\n"
    "SPEC is a factory string (default Flat; e.g. HNSW32, IVF100,Flat); --nlist N turns \"IVF\"\n"
    "into \"IVF<N>,Flat\". An IVF index is trained on all the documents.\n"
    "`vecscale search --index DIR --query TEXT` searches it with the same model.\n"
    "--precision: arithmetic of a BERT model's Linear layers (default fp32; bf16 needs AVX512-BF16).\n";

/* "IVF" / "IVF100,PQ8" + --nlist N -> "IVF<N>,..." */
static int apply_nlist(const char *spec, uint32_t nlist, char *out, size_t cap)
{
    if (!nlist) return snprintf(out, cap, "%s", spec) >= (int)cap;
    if (strncmp(spec, "IVF", 3)) return -1;
    const char *rest = strchr(spec, ',');
    return snprintf(out, cap, "IVF%u%s", nlist, rest ? rest : ",Flat") >= (int)cap;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

/* The rename is the commit point: make it durable. */
static void sync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A model given as a path is recorded absolute, so searching from elsewhere finds it. */
static void model_to_record(const char *name, char *out, size_t cap)
{
    char abs[PATH_MAX];
    struct stat st;
    if (stat(name, &st) == 0 && realpath(name, abs)) snprintf(out, cap, "%s", abs);
    else snprintf(out, cap, "%s", name);
}

/* On failure, embeds the batch's documents one by one to name the one the model refused. */
static void report_embed_error(vs_model *m, const cli_docs *d, size_t first, size_t nb, const char *input,
                               float *scratch)
{
    char why[512], where[64];
    snprintf(why, sizeof why, "%s", vs_last_error());
    for (size_t i = first; i < first + nb; i++)
        if (vs_model_embed(m, (const char *const *)d->text + i, 1, 1, scratch)) {
            fprintf(stderr, "vecscale: %s %s: cannot embed \"text\": %s\n", input,
                    cli_docs_where(d, i, where, sizeof where), vs_last_error());
            return;
        }
    fprintf(stderr, "vecscale: %s: embedding documents %zu-%zu failed: %s\n", input, first + 1, first + nb, why);
}

typedef struct {
    const char *input, *output, *model_name, *spec;
    uint32_t nlist, batch, threads;
    vs_precision precision;
} build_args;

/* Embeds and adds batch by batch into the collection being built in `tmp`. */
static int build(const build_args *a, const char *factory, const cli_docs *d, vs_model *m, const char *tmp,
                 double *embed_s)
{
    char recorded[PATH_MAX];
    model_to_record(a->model_name, recorded, sizeof recorded);
    size_t dim = vs_model_dim(m);
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = (uint32_t)dim, .metric = VS_METRIC_COSINE, .factory = factory,
                               .model = recorded, .n_threads = a->threads,
                               .train_min = d->n > UINT32_MAX ? UINT32_MAX : (uint32_t)d->n};
    vs_collection *col;
    int rc = vs_collection_create(tmp, &o, &col);
    if (rc) return cli_fail(a->output, rc);
    float *v = malloc((size_t)a->batch * dim * sizeof *v);
    int status = v ? 0 : (fprintf(stderr, "vecscale: out of memory\n"), 1);
    cli_progress bar;
    cli_progress_start(&bar, "embedding", d->n);
    *embed_s = 0;
    for (size_t i = 0; !status && i < d->n; i += a->batch) {
        size_t nb = d->n - i < a->batch ? d->n - i : a->batch;
        double t = cli_now();
        rc = vs_model_embed(m, (const char *const *)d->text + i, nb, a->threads, v);
        *embed_s += cli_now() - t;
        if (rc) {
            report_embed_error(m, d, i, nb, a->input, v);
            status = 1;
            break;
        }
        rc = vs_collection_add_keyed(col, nb, v, (const char *const *)d->keys + i, (const char *const *)d->text + i,
                               (const char *const *)d->metadata + i, NULL);
        if (rc) status = cli_fail(a->output, rc);
        cli_progress_update(&bar, i + nb);
    }
    cli_progress_finish(&bar);
    vs_collection_info info = {.struct_size = sizeof info};
    /* Adds never train: the training (train_min = every document) runs here. */
    if (!status) (void)vs_collection_maintain(col); /* a failure shows as untrained below */
    if (!status && (rc = vs_collection_info_get(col, &info))) status = cli_fail(a->output, rc);
    if (!status && !info.trained) {
        fprintf(stderr, "vecscale: %s: training %s on %zu documents failed (an IVF index needs at least nlist "
                "documents; use fewer lists with --nlist or --index Flat)\n", a->output, factory, d->n);
        status = 1;
    }
    if (!status && (rc = vs_collection_snapshot(col))) status = cli_fail(a->output, rc);
    rc = vs_collection_close(col);
    if (rc && !status) status = cli_fail(a->output, rc);
    free(v);
    return status;
}

static int parse_args(int argc, char **argv, build_args *a)
{
    *a = (build_args){.model_name = VS_MODEL_DEFAULT, .spec = "Flat", .batch = 1024, .threads = 1};
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'}, {"output", required_argument, 0, 'o'},
        {"model", required_argument, 0, 'm'}, {"index", required_argument, 0, 'x'},
        {"nlist", required_argument, 0, 'n'}, {"batch-size", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"precision", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:o:m:x:n:b:t:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': a->input = optarg; break;
        case 'o': a->output = optarg; break;
        case 'm': a->model_name = optarg; break;
        case 'x': a->spec = optarg; break;
        case 'n':
            if (cli_parse_u32(optarg, 1, 1u << 24, &a->nlist)) return cli_usage_error("build", "bad --nlist '%s'", optarg);
            break;
        case 'b':
            if (cli_parse_u32(optarg, 1, 1u << 20, &a->batch))
                return cli_usage_error("build", "bad --batch-size '%s'", optarg);
            break;
        case 't':
            if (cli_parse_u32(optarg, 1, 256, &a->threads)) return cli_usage_error("build", "bad --threads '%s'", optarg);
            break;
        case 'p':
            if (vs_precision_parse(optarg, &a->precision)) return cli_usage_error("build", "%s", vs_last_error());
            break;
        case 'h': fputs(HELP, stdout); return -1;
        default: return cli_usage_error("build", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("build", "unexpected argument '%s'", argv[optind]);
    if (!a->input || !a->output || !*a->output) return cli_usage_error("build", "--input and --output are required");
    return 0;
}

int cmd_build_docs(int argc, char **argv)
{
    build_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    char factory[256];
    if (apply_nlist(a.spec, a.nlist, factory, sizeof factory))
        return cli_usage_error("build", "--nlist needs an IVF index (--index IVF), not '%s'", a.spec);
    vs_factory_spec spec = {.struct_size = sizeof spec};
    if ((rc = vs_factory_parse(factory, &spec))) return cli_fail("--index", rc);
    char out[PATH_MAX - 64];
    snprintf(out, sizeof out, "%s", a.output);
    for (size_t l = strlen(out); l > 1 && out[l - 1] == '/'; l--) out[l - 1] = '\0';
    struct stat st;
    if (lstat(out, &st) == 0) {
        fprintf(stderr, "vecscale: %s already exists: build writes a new collection (remove it or choose another "
                "--output)\n", out);
        return 1;
    }
    double t0 = cli_now();
    cli_docs d;
    if (cli_docs_read(a.input, &d)) return 1;
    vs_model *m;
    rc = cli_model_open("build", a.model_name, a.precision, &m);
    if (rc) {
        cli_docs_free(&d);
        return rc;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.building-%ld", out, (long)getpid());
    double embed_s = 0;
    int status = build(&a, factory, &d, m, tmp, &embed_s);
    if (!status && rename(tmp, out)) {
        fprintf(stderr, "vecscale: rename %s -> %s: %s\n", tmp, out, strerror(errno));
        status = 1;
    }
    if (status) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else sync_parent(out);
    double total = cli_now() - t0;
    if (!status) {
        if (d.n_auto)
            printf("note: %zu of %zu documents have no \"id\": they were numbered after the largest integer id\n",
                   d.n_auto, d.n);
        printf("built %s: %zu documents, model %s (dimension %u), index %s, cosine; embedding %.2f s "
               "(%.0f documents/s), total %.2f s (%.0f documents/s)\n",
               out, d.n, vs_model_name(m), vs_model_dim(m), factory, embed_s, embed_s > 0 ? (double)d.n / embed_s : 0.0,
               total, total > 0 ? (double)d.n / total : 0.0);
    }
    vs_model_free(m);
    cli_docs_free(&d);
    return status;
}
