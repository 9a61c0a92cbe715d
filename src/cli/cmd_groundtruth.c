/* `vecscale groundtruth`: exact top-k neighbours with the Flat index, as .ivecs.
 * A .fvecs / .bvecs / .npy base is read in chunks (io/vecstream.h), never whole: each chunk
 * becomes a Flat index that answers every query (blocked OpenBLAS sgemm, exact re-scoring of
 * its top k), and a per-query heap of k keeps the best over all chunks. Memory is two copies
 * of one chunk (the rows and the Flat index's) whatever the base's size. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/build_stream.h"
#include "cli/cli.h"
#include "io/vecstream.h"
#include "kernels/topk.h"

enum { GT_CHUNK = 262144 };

static int gt_chunked(const char *base, const vs_matrix *q, vs_metric metric, uint32_t k, uint32_t threads,
                      int64_t *best_ids, size_t *nbase)
{
    vs_vecstream in;
    int rc = vs_vecstream_open(base, 0, &in);
    if (rc) return rc;
    if (in.dim != q->dim) {
        vs_vecstream_close(&in);
        fprintf(stderr, "vecscale: the base has dimension %u, the queries %u\n", in.dim, q->dim);
        return VS_ERR_DIMENSION;
    }
    const size_t nq = q->n;
    float *x = malloc((size_t)GT_CHUNK * in.dim * sizeof *x);
    float *hk = malloc(nq * k * sizeof *hk), *ck = malloc(nq * k * sizeof *ck);
    int64_t *ci = malloc(nq * k * sizeof *ci);
    if (!x || !hk || !ck || !ci) rc = VS_ERR_NOMEM;
    for (size_t i = 0; !rc && i < nq; i++) vs_heap_reset(hk + i * k, best_ids + i * k, k);
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads};
    cli_progress bar;
    cli_progress_start(&bar, "exact k-NN", in.n);
    for (size_t at = 0; at < in.n && !rc; at += GT_CHUNK) {
        size_t n = in.n - at < GT_CHUNK ? in.n - at : GT_CHUNK;
        rc = vs_vecstream_read(&in, at, n, NULL, x);
        vs_index *ix = NULL;
        vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = in.dim, .metric = metric, .factory = "Flat"};
        if (!rc) rc = vs_index_create(&o, &ix);
        if (!rc) rc = vs_index_add(ix, n, x, NULL);
        if (!rc) rc = vs_index_search(ix, nq, q->data, k, &p, ck, ci);
        vs_index_free(ix);
        /* Scores to keys (smaller is better) and chunk rows to base rows. */
        for (size_t i = 0; !rc && i < nq; i++)
            for (uint32_t j = 0; j < k; j++) {
                int64_t id = ci[i * k + j];
                if (id < 0) continue;
                float key = metric == VS_METRIC_L2 ? ck[i * k + j] : -ck[i * k + j];
                vs_heap_push(hk + i * k, best_ids + i * k, k, key, id + (int64_t)at);
            }
        cli_progress_update(&bar, at + n);
    }
    cli_progress_finish(&bar);
    for (size_t i = 0; !rc && i < nq; i++) vs_heap_sort(hk + i * k, best_ids + i * k, k);
    *nbase = in.n;
    free(x);
    free(hk);
    free(ck);
    free(ci);
    vs_vecstream_close(&in);
    return rc;
}

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
    if ((rc = cli_read_f32(queries, &q))) return cli_fail(queries, rc);
    if (cli_stream_input(base)) {
        size_t nbase = 0;
        ids = malloc(q->n * k * sizeof *ids);
        gt = malloc(q->n * k * sizeof *gt);
        rc = ids && gt ? gt_chunked(base, q, metric, k, threads, ids, &nbase) : VS_ERR_NOMEM;
        if (!rc) {
            for (size_t i = 0; i < q->n * k; i++) gt[i] = (int32_t)ids[i];
            vs_matrix m = {.n = q->n, .dim = k, .dtype = VS_DTYPE_I32, .data = gt};
            rc = vs_matrix_write(out, &m);
        }
        if (!rc) printf("wrote %s: top-%u of %zu queries over %zu base vectors (%s, streamed)\n", out, k, q->n, nbase,
                        vs_metric_name(metric));
        else cli_fail(base, rc);
        free(ids);
        free(gt);
        vs_matrix_free(q);
        return rc ? 1 : 0;
    }
    if ((rc = cli_read_f32(base, &b))) {
        vs_matrix_free(q);
        return cli_fail(base, rc);
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
