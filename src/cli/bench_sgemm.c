/* `vecscale bench-flat`: how close exact Flat search gets to the GEMM it is built on.
 * Times OpenBLAS sgemm alone (through the same single-threaded wrapper) over the same query x base product (in the same tiles the
 * search uses, and in large tiles), then vecscale's batch Flat search, and prints both
 * GFLOP/s (2 * nq * n * d flops) and their ratio, plus single-query latency. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "index/flat.h"
#include "kernels/blas.h"

static const char *HELP =
    "usage: vecscale bench-flat --base FILE --queries FILE [--metric l2|ip|cosine] [--threads N]\n"
    "                           [--max-queries N] [--single N] [--repeat R] [--verify N]\n\n"
    "Compares exact batch search (k=10) with OpenBLAS sgemm alone on the same product; each\n"
    "timing is the best of R runs (default 3). --single N reports latency percentiles of N\n"
    "one-query searches (default 1000). --verify N checks the first N queries against a\n"
    "double-precision brute force (IDs modulo exact ties, distances within 1e-5 relative).\n";

static double time_tiles(const float *q, size_t nq, const float *x, size_t n, size_t d, size_t qb, size_t bb, float *c)
{
    double t0 = cli_now();
    for (size_t i = 0; i < nq; i += qb) {
        size_t qn = nq - i < qb ? nq - i : qb;
        for (size_t j = 0; j < n; j += bb) {
            size_t bn = n - j < bb ? n - j : bb;
            vs_sgemm_abt(qn, bn, d, -2.0f, q + i * d, d, x + j * d, d, c, bn);
        }
    }
    return cli_now() - t0;
}

/* Double-precision brute force for one query; returns how many of the k results agree and
 * updates the largest relative score error. Ties at the reference score count as agreement. */
static size_t verify_query(vs_metric m, const float *x, size_t n, size_t d, const float *q, const int64_t *ids,
                           const float *got, size_t k, double *max_rel)
{
    double *best = malloc(k * sizeof *best);
    for (size_t j = 0; j < k; j++) best[j] = m == VS_METRIC_L2 ? INFINITY : -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const float *v = x + i * d;
        double s = 0;
        for (size_t t = 0; t < d; t++) s += m == VS_METRIC_L2 ? ((double)q[t] - v[t]) * ((double)q[t] - v[t]) : (double)q[t] * v[t];
        /* Insertion into the sorted k best (k is small). */
        size_t j = k;
        while (j > 0 && (m == VS_METRIC_L2 ? s < best[j - 1] : s > best[j - 1])) j--;
        if (j == k) continue;
        memmove(best + j + 1, best + j, (k - j - 1) * sizeof *best);
        best[j] = s;
    }
    size_t agree = 0;
    for (size_t j = 0; j < k; j++) {
        const float *v = x + (size_t)ids[j] * d;
        double s = 0;
        for (size_t t = 0; t < d; t++) s += m == VS_METRIC_L2 ? ((double)q[t] - v[t]) * ((double)q[t] - v[t]) : (double)q[t] * v[t];
        double scale = fabs(best[j]) > 1e-12 ? fabs(best[j]) : 1.0;
        if (fabs(s - best[j]) <= 1e-6 * scale) agree++; /* the returned row really has the j-th best score */
        double rel = fabs((double)got[j] - best[j]) / scale;
        if (rel > *max_rel) *max_rel = rel;
    }
    free(best);
    return agree;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench_flat(int argc, char **argv)
{
    const char *base = NULL, *queries = NULL, *metric_name = "l2";
    uint32_t threads = 1, max_q = 0, single = 1000, repeat = 3, verify = 0;
    static const struct option opts[] = {
        {"base", required_argument, 0, 'b'}, {"queries", required_argument, 0, 'q'},
        {"metric", required_argument, 0, 'm'}, {"threads", required_argument, 0, 't'},
        {"max-queries", required_argument, 0, 'n'}, {"single", required_argument, 0, 's'},
        {"repeat", required_argument, 0, 'r'}, {"verify", required_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:q:m:t:n:s:r:v:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': base = optarg; break;
        case 'q': queries = optarg; break;
        case 'm': metric_name = optarg; break;
        case 't':
            if (cli_parse_u32(optarg, 1, 256, &threads)) return cli_usage_error("bench-flat", "bad --threads");
            break;
        case 'n':
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &max_q)) return cli_usage_error("bench-flat", "bad --max-queries");
            break;
        case 's':
            if (cli_parse_u32(optarg, 0, 1000000, &single)) return cli_usage_error("bench-flat", "bad --single");
            break;
        case 'r':
            if (cli_parse_u32(optarg, 1, 100, &repeat)) return cli_usage_error("bench-flat", "bad --repeat");
            break;
        case 'v':
            if (cli_parse_u32(optarg, 0, 1000000, &verify)) return cli_usage_error("bench-flat", "bad --verify");
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("bench-flat", "unknown option");
        }
    }
    if (!base || !queries) return cli_usage_error("bench-flat", "--base and --queries are required");
    vs_metric metric;
    int rc = vs_metric_parse(metric_name, &metric);
    if (rc) return cli_fail("--metric", rc);
    vs_matrix *b = NULL, *q = NULL;
    if ((rc = cli_read_f32(base, &b))) return cli_fail(base, rc);
    if ((rc = vs_matrix_read(queries, max_q, &q)) || (rc = vs_matrix_to_f32(q))) {
        vs_matrix_free(b);
        return cli_fail(queries, rc);
    }
    const size_t n = b->n, nq = q->n, d = b->dim, k = 10;
    const double gflop = 2.0 * (double)nq * (double)n * (double)d / 1e9;

    vs_index *ix = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = (uint32_t)d, .metric = metric, .factory = "Flat"};
    if ((rc = vs_index_create(&o, &ix)) || (rc = vs_index_add(ix, n, b->data, NULL))) {
        cli_fail("build", rc);
        goto out;
    }
    /* sgemm alone, on the vectors as the index stores them (normalised for cosine). */
    float *x = malloc(n * d * sizeof *x);
    float *cbuf = malloc((size_t)4096 * 1024 * sizeof *cbuf);
    float *dist = malloc(nq * k * sizeof *dist);
    int64_t *ids = malloc(nq * k * sizeof *ids);
    if (!x || !cbuf || !dist || !ids) {
        rc = VS_ERR_NOMEM;
        fprintf(stderr, "vecscale: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++) vs_index_get(ix, (int64_t)i, x + i * d);
    /* Interleaved repeats, best of each, so drift on a noisy machine hits all three alike. */
    double t_tiles = INFINITY, t_large = INFINITY, t_search = INFINITY;
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads};
    for (uint32_t r = 0; r < repeat; r++) {
        double t = time_tiles(q->data, nq, x, n, d, VS_FLAT_QUERY_BLOCK, vs_flat_base_block(d), cbuf);
        if (t < t_tiles) t_tiles = t;
        t = time_tiles(q->data, nq, x, n, d, 4096, 1024, cbuf); /* FAISS IndexFlat's blocking */
        if (t < t_large) t_large = t;
        double t0 = cli_now();
        rc = vs_index_search(ix, nq, q->data, (uint32_t)k, &p, dist, ids);
        t = cli_now() - t0;
        if (rc) {
            cli_fail("search", rc);
            goto done;
        }
        if (t < t_search) t_search = t;
    }
    double best_sgemm = gflop / (t_tiles < t_large ? t_tiles : t_large);
    printf("exact Flat, %zu queries x %zu base x %u dims (%s), k=%zu, %.1f GFLOP per pass, kernels=%s\n", nq, n,
           (unsigned)d, vs_metric_name(metric), k, gflop, vs_simd_name(vs_simd_active()));
    printf("  openblas sgemm alone, %dx%zu tiles (1 thread):  %8.2f s  %7.1f GFLOP/s\n", VS_FLAT_QUERY_BLOCK,
           vs_flat_base_block(d), t_tiles, gflop / t_tiles);
    printf("  openblas sgemm alone, 4096x1024 tiles (1 thread): %8.2f s  %7.1f GFLOP/s\n", t_large, gflop / t_large);
    printf("  vecscale Flat batch search (%u thread%s):       %8.2f s  %7.1f GFLOP/s  %8.1f queries/s\n", threads,
           threads > 1 ? "s" : " ", t_search, gflop / t_search, nq / t_search);
    printf("  ratio to the best sgemm-alone figure:           %8.3f\n", gflop / t_search / best_sgemm);
    if (verify > 0) {
        size_t nv = verify < nq ? verify : nq, agree = 0;
        double max_rel = 0;
        vs_matrix qn = *q;
        float *qnorm = NULL;
        if (metric == VS_METRIC_COSINE) { /* compare in the space the index searches */
            qnorm = malloc(nv * d * sizeof *qnorm);
            for (size_t i = 0; i < nv && qnorm; i++) {
                double s = 0;
                const float *src = (const float *)q->data + i * d;
                for (size_t t = 0; t < d; t++) s += (double)src[t] * src[t];
                for (size_t t = 0; t < d; t++) qnorm[i * d + t] = (float)(src[t] / sqrt(s));
            }
            qn.data = qnorm;
        }
        for (size_t i = 0; i < nv; i++)
            agree += verify_query(metric, x, n, d, (const float *)qn.data + i * d, ids + i * k, dist + i * k, k, &max_rel);
        printf("  brute-force check (double precision), %zu queries: %zu/%zu results agree, "
               "max relative score error %.2e\n", nv, agree, nv * k, max_rel);
        free(qnorm);
    }

    if (single > 0) {
        size_t ns = single < nq ? single : nq;
        double *lat = malloc(ns * sizeof *lat);
        if (lat) {
            vs_search_params p1 = {.struct_size = sizeof(vs_search_params), .n_threads = 1};
            for (size_t i = 0; i < ns && !rc; i++) {
                double s0 = cli_now();
                rc = vs_index_search(ix, 1, (const float *)q->data + i * d, (uint32_t)k, &p1, dist, ids);
                lat[i] = (cli_now() - s0) * 1e3;
            }
            qsort(lat, ns, sizeof *lat, cmp_double);
            printf("  single-query latency (1 thread, %zu queries):  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", ns,
                   lat[ns / 2], lat[(size_t)(ns * 0.99)], lat[ns - 1]);
            free(lat);
        }
    }
done:
    free(x);
    free(cbuf);
    free(dist);
    free(ids);
out:
    vs_index_free(ix);
    vs_matrix_free(b);
    vs_matrix_free(q);
    return rc ? 1 : 0;
}
