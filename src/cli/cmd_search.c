/* `vecscale search`: query vectors in, neighbours out (text or JSON). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/docs_input.h"
#include "index/rerank_u8.h"

static const char *HELP =
    "usage: vecscale search --index DIR --queries FILE [-k 10] [--json] [--threads N]\n"
    "                       [--groundtruth FILE] [--load] [--max-queries N] [--nprobe N] [--ef N]\n"
    "                       [--k-factor F] [--rerank-io auto|uring|pread|mmap] [--rerank-batch N]\n\n"
    "Searches the index in DIR (or an index file) with every vector of FILE. Prints one line per\n"
    "query (\"query: id:score ...\"), or one JSON document with --json. --groundtruth reports\n"
    "recall@k against an .ivecs file. The index is memory-mapped unless --load is given.\n"
    "--nprobe (IVF lists to visit) and --ef (HNSW candidate list) tune approximate indexes;\n"
    "--k-factor F re-ranks k * F candidates on \",RFlat\" indexes (default 4) and on \",Ru8\"\n"
    "indexes (default 10), whose uint8 vectors (DIR/rerank.vsr) are read from disk, not mapped:\n"
    "the reads of --rerank-batch queries (default 64) are issued together and stay in flight while\n"
    "the next batch is scanned. --rerank-io picks how: io_uring, or pread after readahead hints\n"
    "(auto: io_uring when built with it and allowed), or mmap: the file is mapped and rows are\n"
    "read as memory loads, no system call per row (for a store that fits the page cache, e.g. a\n"
    "warm server; readahead hints only when a batch's pages are not resident). None changes\n"
    "the answers.\n"
    "With --query TEXT it searches a document collection instead: see search --query x --help.\n";

enum { SEARCH_CHUNK = 1024 };

static void print_json(const float *d, const int64_t *ids, size_t nq, uint32_t k, double ms)
{
    printf("{\"latency_ms\":%.3f,\"results\":[", ms);
    for (size_t i = 0; i < nq; i++) {
        printf("%s{\"query\":%zu,\"ids\":[", i ? "," : "", i);
        int first = 1;
        for (uint32_t j = 0; j < k; j++)
            if (ids[i * k + j] >= 0) { printf("%s%lld", first ? "" : ",", (long long)ids[i * k + j]); first = 0; }
        printf("],\"scores\":[");
        first = 1;
        for (uint32_t j = 0; j < k; j++)
            if (ids[i * k + j] >= 0) { printf("%s%.9g", first ? "" : ",", d[i * k + j]); first = 0; }
        printf("]}");
    }
    printf("]}\n");
}

typedef struct {
    cli_progress *bar;
    uint32_t batch;
} ru8_progress;

static void on_ru8_progress(void *ctx, size_t done, const char *kind)
{
    ru8_progress *P = ctx;
    if (kind) fprintf(stderr, "re-ranking reads: %s, %u queries per batch\n", kind, P->batch);
    else cli_progress_update(P->bar, done);
}

/* ",Ru8": the index's own search (vs_refine_u8_search_io: two batches pipelined, a batch's
 * store reads in flight while the next batch is scanned), with the batch size and the read
 * path of the command line; the same answers as vs_index_search. */
static int search_ru8(const vs_index *ix, const vs_search_params *p, const float *q, size_t nq, uint32_t k,
                      uint32_t batch, vs_bread_mode io, float *d, int64_t *ids, cli_progress *bar)
{
    ru8_progress P = {.bar = bar, .batch = batch};
    int rc = vs_refine_u8_search_io(ix, nq, q, k, p, batch, io, on_ru8_progress, &P, d, ids);
    /* Keys to the scores vs_index_search reports: IP scores are inner products. */
    if (!rc && vs_index_metric(ix) == VS_METRIC_IP)
        for (size_t j = 0; j < nq * k; j++) d[j] = -d[j];
    return rc;
}

int cmd_search(int argc, char **argv)
{
    const char *dir = NULL, *queries = NULL, *gt_path = NULL;
    uint32_t k = 10, threads = 1, max_q = 0, nprobe = 0, ef = 0;
    float k_factor = 0;
    int json = 0, load = 0;
    uint32_t ru8_batch = VS_RU8_BATCH;
    vs_bread_mode ru8_io = VS_BREAD_AUTO;
    static const struct option opts[] = {
        {"index", required_argument, 0, 'x'}, {"queries", required_argument, 0, 'q'},
        {"json", no_argument, 0, 'j'}, {"threads", required_argument, 0, 't'},
        {"groundtruth", required_argument, 0, 'g'}, {"load", no_argument, 0, 'l'},
        {"max-queries", required_argument, 0, 'n'}, {"nprobe", required_argument, 0, 'P'},
        {"ef", required_argument, 0, 'E'}, {"k-factor", required_argument, 0, 'F'},
        {"rerank-io", required_argument, 0, 'I'}, {"rerank-batch", required_argument, 0, 'B'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    if (cli_wants_text_query(argc, argv)) return cmd_search_docs(argc, argv);
    int c;
    while ((c = getopt_long(argc, argv, "x:q:k:jt:g:ln:P:E:F:h", opts, NULL)) != -1) {
        switch (c) {
        case 'x': dir = optarg; break;
        case 'q': queries = optarg; break;
        case 'k':
            if (cli_parse_u32(optarg, 1, 100000, &k)) return cli_usage_error("search", "-k must be 1..100000, got '%s'", optarg);
            break;
        case 'j': json = 1; break;
        case 't':
            if (cli_parse_u32(optarg, 1, 256, &threads)) return cli_usage_error("search", "bad --threads '%s'", optarg);
            break;
        case 'g': gt_path = optarg; break;
        case 'l': load = 1; break;
        case 'n':
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &max_q)) return cli_usage_error("search", "bad --max-queries '%s'", optarg);
            break;
        case 'P':
            if (cli_parse_u32(optarg, 1, 1u << 24, &nprobe)) return cli_usage_error("search", "bad --nprobe '%s'", optarg);
            break;
        case 'E':
            if (cli_parse_u32(optarg, 1, 1u << 20, &ef)) return cli_usage_error("search", "bad --ef '%s'", optarg);
            break;
        case 'F': {
            char *end;
            k_factor = strtof(optarg, &end);
            if (end == optarg || *end || !(k_factor >= 1 && k_factor <= 1000))
                return cli_usage_error("search", "bad --k-factor '%s' (1..1000)", optarg);
            break;
        }
        case 'I':
            if (!strcmp(optarg, "auto")) ru8_io = VS_BREAD_AUTO;
            else if (!strcmp(optarg, "uring")) ru8_io = VS_BREAD_URING;
            else if (!strcmp(optarg, "pread")) ru8_io = VS_BREAD_PREAD;
            else if (!strcmp(optarg, "mmap")) ru8_io = VS_BREAD_MMAP;
            else return cli_usage_error("search", "--rerank-io must be auto, uring, pread or mmap, got '%s'", optarg);
            break;
        case 'B':
            if (cli_parse_u32(optarg, 1, 4096, &ru8_batch)) return cli_usage_error("search", "bad --rerank-batch '%s' (1..4096)", optarg);
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("search", "unknown option");
        }
    }
    if (!dir || !queries) return cli_usage_error("search", "--index and --queries are required");
    char path[4200];
    vs_index *ix;
    int rc = cli_open_index(dir, load, path, sizeof path, &ix);
    if (rc) return cli_fail(path, rc);
    vs_matrix *q;
    rc = vs_matrix_read(queries, max_q, &q);
    if (!rc) rc = vs_matrix_to_f32(q);
    if (rc) {
        vs_index_free(ix);
        return cli_fail(queries, rc);
    }
    float *d = malloc(q->n * k * sizeof *d);
    int64_t *ids = malloc(q->n * k * sizeof *ids);
    if (!d || !ids) {
        fprintf(stderr, "vecscale: out of memory\n");
        rc = VS_ERR_NOMEM;
        goto out;
    }
    if (q->dim != vs_index_dim(ix)) {
        fprintf(stderr, "vecscale: %s has dimension %u but the index has %u\n", queries, q->dim, vs_index_dim(ix));
        rc = VS_ERR_DIMENSION;
        goto out;
    }
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads, .nprobe = nprobe, .ef_search = ef, .k_factor = k_factor};
    cli_progress bar;
    cli_progress_start(&bar, "searching", q->n);
    double t0 = cli_search_clock();
    int ru8 = vs_refine_u8_store(ix) != NULL;
    if (ru8) rc = search_ru8(ix, &p, q->data, q->n, k, ru8_batch, ru8_io, d, ids, &bar);
    for (size_t i = 0; i < q->n && !rc && !ru8; i += SEARCH_CHUNK) {
        size_t n = q->n - i < SEARCH_CHUNK ? q->n - i : SEARCH_CHUNK;
        const float *qi = (const float *)q->data + i * q->dim;
        rc = vs_index_search(ix, n, qi, k, &p, d + i * k, ids + i * k);
        cli_progress_update(&bar, i + n);
    }
    double ms = (cli_search_clock() - t0) * 1e3;
    cli_progress_finish(&bar);
    if (rc) {
        cli_fail("search", rc);
        goto out;
    }
    if (json) {
        print_json(d, ids, q->n, k, ms);
    } else {
        for (size_t i = 0; i < q->n; i++) {
            printf("%zu:", i);
            for (uint32_t j = 0; j < k; j++)
                if (ids[i * k + j] >= 0) printf(" %lld:%.6g", (long long)ids[i * k + j], d[i * k + j]);
            printf("\n");
        }
    }
    fprintf(stderr, "%zu queries, k=%u, %.1f ms (%.1f queries/s, %u thread%s)\n", q->n, k, ms,
            q->n / (ms / 1e3), threads, threads > 1 ? "s" : "");
    if (gt_path) {
        vs_matrix *gt;
        rc = vs_matrix_read(gt_path, q->n, &gt);
        if (rc) {
            cli_fail(gt_path, rc);
        } else if (gt->dtype != VS_DTYPE_I32 || gt->n < q->n) {
            fprintf(stderr, "vecscale: %s must be an .ivecs with a row per query\n", gt_path);
            rc = VS_ERR_INVALID_ARG;
        } else {
            fprintf(stderr, "recall@%u: %.4f\n", k, cli_recall(ids, q->n, k, gt->data, gt->dim));
        }
        vs_matrix_free(gt);
    }
out:
    free(d);
    free(ids);
    vs_matrix_free(q);
    vs_index_free(ix);
    return rc ? 1 : 0;
}
