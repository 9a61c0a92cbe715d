/* `vecscale groundtruth`: exact top-k neighbours with the Flat index, as .ivecs. */
#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: vecscale groundtruth --base FILE --queries FILE --output FILE.ivecs\n"
    "                            [--metric l2|ip|cosine] [-k 100] [--threads N]\n\n"
    "Exact neighbours (row numbers of the base) of every query, best first.\n";

int cmd_groundtruth(int argc, char **argv)
{
    const char *base = NULL, *queries = NULL, *out = NULL, *metric_name = "l2";
    uint32_t k = 100, threads = 1;
    static const struct option opts[] = {
        {"base", required_argument, 0, 'b'}, {"queries", required_argument, 0, 'q'},
        {"output", required_argument, 0, 'o'}, {"metric", required_argument, 0, 'm'},
        {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:q:o:m:k:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': base = optarg; break;
        case 'q': queries = optarg; break;
        case 'o': out = optarg; break;
        case 'm': metric_name = optarg; break;
        case 'k':
            if (cli_parse_u32(optarg, 1, 100000, &k)) return cli_usage_error("groundtruth", "bad -k");
            break;
        case 't':
            if (cli_parse_u32(optarg, 1, 256, &threads)) return cli_usage_error("groundtruth", "bad --threads");
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("groundtruth", "unknown option");
        }
    }
    if (!base || !queries || !out) return cli_usage_error("groundtruth", "--base, --queries and --output are required");
    vs_metric metric;
    int rc = vs_metric_parse(metric_name, &metric);
    if (rc) return cli_fail("--metric", rc);
    vs_matrix *b = NULL, *q = NULL;
    vs_index *ix = NULL;
    float *d = NULL;
    int64_t *ids = NULL;
    int32_t *gt = NULL;
    if ((rc = cli_read_f32(base, &b))) return cli_fail(base, rc);
    if ((rc = cli_read_f32(queries, &q))) {
        vs_matrix_free(b);
        return cli_fail(queries, rc);
    }
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = b->dim, .metric = metric, .factory = "Flat"};
    rc = vs_index_create(&o, &ix);
    if (!rc) rc = vs_index_add(ix, b->n, b->data, NULL);
    d = malloc(q->n * k * sizeof *d);
    ids = malloc(q->n * k * sizeof *ids);
    gt = malloc(q->n * k * sizeof *gt);
    if (!rc && (!d || !ids || !gt)) rc = VS_ERR_NOMEM;
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads};
    cli_progress bar;
    cli_progress_start(&bar, "exact k-NN", q->n);
    for (size_t i = 0; i < q->n && !rc; i += 1024) {
        size_t n = q->n - i < 1024 ? q->n - i : 1024;
        rc = vs_index_search(ix, n, (const float *)q->data + i * q->dim, k, &p, d + i * k, ids + i * k);
        cli_progress_update(&bar, i + n);
    }
    cli_progress_finish(&bar);
    if (!rc) {
        for (size_t i = 0; i < q->n * k; i++) gt[i] = (int32_t)ids[i];
        vs_matrix m = {.n = q->n, .dim = k, .dtype = VS_DTYPE_I32, .data = gt};
        rc = vs_matrix_write(out, &m);
    }
    if (!rc) printf("wrote %s: top-%u of %zu queries over %zu base vectors (%s)\n", out, k, q->n, b->n, vs_metric_name(metric));
    else cli_fail("groundtruth", rc);
    free(d);
    free(ids);
    free(gt);
    vs_index_free(ix);
    vs_matrix_free(b);
    vs_matrix_free(q);
    return rc ? 1 : 0;
}
