/* `vecscale build`: vectors in, index directory out. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/build_stream.h"
#include "cli/cli.h"
#include "cli/docs_input.h"

static const char *HELP =
    "usage: vecscale build --input FILE --output DIR [--index SPEC] [--metric l2|ip|cosine]\n"
    "                      [--max-rows N] [--threads N] [--resume] [--chunk ROWS]\n"
    "                      [--train-size ROWS] [--checkpoint-rows ROWS]\n\n"
    "Builds an index of the vectors in FILE (.fvecs, .bvecs, .npy, idx3-ubyte) and saves it as\n"
    "DIR/index.vsi. Row i gets ID i. SPEC is a factory string (default \"Flat\"). --threads N\n"
    "lets training and adding use N threads (default 1).\n"
    ".fvecs, .bvecs and .npy inputs are streamed: read --chunk rows at a time (default 65536),\n"
    "trained on --train-size rows at an even stride (default min(N, max(65536, 64 * nlist))).\n"
    "SPEC ending in \",Ru8\" (uint8 input) keeps the vectors for re-ranking in DIR/rerank.vsr,\n"
    "on disk, read in batches at search time. Inputs of more than --checkpoint-rows rows\n"
    "(default 1000000; 0 = never) are checkpointed that often in DIR; --resume continues an\n"
    "interrupted build from its last checkpoint, giving the same files as an uninterrupted one.\n"
    "With --shards N --output s3://BUCKET/PREFIX: the distributed build (vecscale build --shards 1\n"
    "--help).\n"
    "With --input DOCS.json|DOCS.jsonl it embeds documents instead: see build --input x.jsonl --help.\n";

enum { ADD_CHUNK = 16384 };

int cmd_build(int argc, char **argv)
{
    /* The distributed build (cmd_build_shards.c) has its own options. */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--shards") || !strncmp(argv[i], "--shards=", 9)) {
#ifdef VS_WITH_CLUSTER
            return cmd_build_shards(argc, argv);
#else
            return cli_usage_error("build", "--shards: this vecscale was built without VS_WITH_CLUSTER");
#endif
        }
    if (cli_wants_documents(argc, argv)) return cmd_build_docs(argc, argv);
    const char *input = NULL, *output = NULL, *spec = "Flat", *metric_name = "l2";
    uint32_t max_rows = 0, threads = 1, chunk = 65536, train_rows = 0, ckpt_rows = 1000000;
    int resume = 0;
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'}, {"output", required_argument, 0, 'o'},
        {"index", required_argument, 0, 'x'}, {"metric", required_argument, 0, 'm'},
        {"max-rows", required_argument, 0, 'n'}, {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
        {"resume", no_argument, 0, 'R'}, {"chunk", required_argument, 0, 'C'}, {"train-size", required_argument, 0, 'T'},
        {"checkpoint-rows", required_argument, 0, 'K'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "i:o:x:m:n:t:hRC:T:K:", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 'x': spec = optarg; break;
        case 'm': metric_name = optarg; break;
        case 'n':
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &max_rows)) return cli_usage_error("build", "bad --max-rows '%s'", optarg);
            break;
        case 't':
            if (cli_parse_u32(optarg, 1, 1024, &threads)) return cli_usage_error("build", "bad --threads '%s'", optarg);
            break;
        case 'R': resume = 1; break;
        case 'C':
            if (cli_parse_u32(optarg, 1, 1u << 26, &chunk)) return cli_usage_error("build", "bad --chunk '%s'", optarg);
            break;
        case 'T':
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &train_rows)) return cli_usage_error("build", "bad --train-size '%s'", optarg);
            break;
        case 'K':
            if (cli_parse_u32(optarg, 0, UINT32_MAX, &ckpt_rows)) return cli_usage_error("build", "bad --checkpoint-rows '%s'", optarg);
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("build", "unknown option");
        }
    }
    if (!input || !output) return cli_usage_error("build", "--input and --output are required");
    vs_metric metric;
    int rc = vs_metric_parse(metric_name, &metric);
    if (rc) return cli_fail("--metric", rc);
    if (cli_stream_input(input)) {
        cli_stream_build b = {.input = input, .output = output, .spec = spec, .metric = metric, .max_rows = max_rows,
                              .threads = threads, .chunk = chunk, .train_rows = train_rows,
                              .checkpoint_rows = ckpt_rows, .resume = resume};
        return cli_build_stream(&b);
    }
    if (resume) return cli_usage_error("build", "--resume needs a .fvecs, .bvecs or .npy input");

    double t0 = cli_now();
    vs_matrix *m;
    rc = vs_matrix_read(input, max_rows, &m);
    if (!rc) rc = vs_matrix_to_f32(m);
    if (rc) return cli_fail(input, rc);
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = m->dim, .metric = metric, .factory = spec, .n_threads = threads};
    vs_index *ix;
    rc = vs_index_create(&o, &ix);
    if (rc) {
        vs_matrix_free(m);
        return cli_fail("create index", rc);
    }
    const float *x = m->data;
    if (!vs_index_is_trained(ix)) {
        rc = vs_index_train(ix, m->n, x);
        if (rc) goto out;
    }
    cli_progress bar;
    cli_progress_start(&bar, "adding", m->n);
    for (size_t i = 0; i < m->n && !rc; i += ADD_CHUNK) {
        size_t n = m->n - i < ADD_CHUNK ? m->n - i : ADD_CHUNK;
        rc = vs_index_add(ix, n, x + i * m->dim, NULL);
        cli_progress_update(&bar, i + n);
    }
    cli_progress_finish(&bar);
    if (rc) goto out;
    if (cli_mkdirs(output) != 0) {
        fprintf(stderr, "vecscale: cannot create directory %s\n", output);
        vs_index_free(ix);
        vs_matrix_free(m);
        return 1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/index.vsi", output);
    rc = vs_index_save(ix, path);
    if (rc) goto out;
    struct stat st;
    stat(path, &st);
    printf("built %s (%s, %s): %zu vectors of dimension %u in %.2f s, %.1f MiB on disk\n", path,
           vs_index_factory(ix), vs_metric_name(metric), vs_index_size(ix), vs_index_dim(ix), cli_now() - t0,
           (double)st.st_size / (1 << 20));
out:
    vs_index_free(ix);
    vs_matrix_free(m);
    return rc ? cli_fail("build", rc) : 0;
}
