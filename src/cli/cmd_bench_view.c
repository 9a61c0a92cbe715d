/* `vecscale bench-view`: opening a large index with vs_index_view must be O(metadata): time
 * the call and the resident-set growth it causes, then one search that touches every page. */
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: vecscale bench-view --path FILE [--vectors N] [--dim D]\n\n"
    "Creates FILE (if missing) as a Flat L2 index of N random vectors (default 2,700,000 x 100,\n"
    "about 1.1 GB), then times vs_index_view and reports resident memory before and after it\n"
    "and after one search that reads the whole file through the mapping.\n";

static int create(const char *path, uint32_t n, uint32_t d)
{
    vs_index *ix;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = d, .metric = VS_METRIC_L2, .factory = "Flat"};
    int rc = vs_index_create(&o, &ix);
    if (rc) return rc;
    enum { CHUNK = 65536 };
    float *x = malloc((size_t)CHUNK * d * sizeof *x);
    uint64_t s = 42;
    cli_progress bar;
    cli_progress_start(&bar, "creating", n);
    for (uint32_t i = 0; i < n && !rc && x; i += CHUNK) {
        uint32_t c = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < (size_t)c * d; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[j] = (float)(s >> 40) / (float)(1 << 24);
        }
        rc = vs_index_add(ix, c, x, NULL);
        cli_progress_update(&bar, i + c);
    }
    cli_progress_finish(&bar);
    if (!x) rc = VS_ERR_NOMEM;
    if (!rc) rc = vs_index_save(ix, path);
    free(x);
    vs_index_free(ix);
    return rc;
}

int cmd_bench_view(int argc, char **argv)
{
    const char *path = NULL;
    uint32_t n = 2700000, d = 100;
    static const struct option opts[] = {
        {"path", required_argument, 0, 'p'}, {"vectors", required_argument, 0, 'n'},
        {"dim", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "p:n:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': path = optarg; break;
        case 'n':
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &n)) return cli_usage_error("bench-view", "bad --vectors");
            break;
        case 'd':
            if (cli_parse_u32(optarg, 1, 65536, &d)) return cli_usage_error("bench-view", "bad --dim");
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("bench-view", "unknown option");
        }
    }
    if (!path) return cli_usage_error("bench-view", "--path is required");
    struct stat st;
    int rc;
    if (stat(path, &st) != 0) {
        if ((rc = create(path, n, d))) return cli_fail("create", rc);
        stat(path, &st);
    }
    size_t rss0 = cli_rss_bytes();
    double t0 = cli_now();
    vs_index *ix;
    rc = vs_index_view(path, &ix);
    double ms = (cli_now() - t0) * 1e3;
    if (rc) return cli_fail(path, rc);
    size_t rss1 = cli_rss_bytes();
    printf("file %s: %.2f GB, %zu vectors x %u\n", path, (double)st.st_size / 1e9, vs_index_size(ix), vs_index_dim(ix));
    printf("vs_index_view: %.3f ms; resident set %.1f MiB -> %.1f MiB (+%.1f MiB)\n", ms, rss0 / 1048576.0,
           rss1 / 1048576.0, ((double)rss1 - (double)rss0) / 1048576.0);
    float *q = calloc(vs_index_dim(ix), sizeof *q), dist[10];
    int64_t ids[10];
    t0 = cli_now();
    rc = q ? vs_index_search(ix, 1, q, 10, NULL, dist, ids) : VS_ERR_NOMEM;
    if (!rc)
        printf("first search through the mapping: %.1f ms; resident set now %.1f MiB (file pages, reclaimable)\n",
               (cli_now() - t0) * 1e3, cli_rss_bytes() / 1048576.0);
    free(q);
    vs_index_free(ix);
    return rc ? cli_fail("search", rc) : 0;
}
