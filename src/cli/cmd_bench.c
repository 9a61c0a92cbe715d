/* `vecscale bench`: ann-benchmarks-style rows (recall@10, queries/s, build seconds, memory)
 * in the same format as the reference-library comparators in bench/compare. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: vecscale bench --base FILE --queries FILE --groundtruth FILE.ivecs --index SPEC\n"
    "                      [--metric l2|ip|cosine] [--param name=v1,v2,...] [--threads N]\n"
    "                      [--single] [--runs R] [--no-header] [--build-threads N] [--efc N]\n"
    "                      [--set name=value]... [--save FILE | --load FILE]\n\n"
    "Builds SPEC over the base, then for each parameter value searches all queries in one batch\n"
    "(k=10) and prints: library, index, params, recall@10, queries/s, build_s, memory_mb.\n"
    "memory_mb is the growth of the resident set across the build. Parameters: nprobe,\n"
    "ef (ef_search), k_factor. --single adds a row with one query per call. --runs R repeats\n"
    "each search R times and reports the best queries/s (default 1). --build-threads N lets\n"
    "the build (train and add) use N threads (default 1); --efc N sets HNSW ef_construction\n"
    "(default 200). --set name=value fixes a parameter for every row (e.g. --set k_factor=8\n"
    "--param nprobe=8,16). Before the rows, a '#' line gives the code size per vector and the\n"
    "index memory (vs_index_memory_bytes) against the float32 vectors. --save FILE keeps the built\n"
    "index; --load FILE searches a saved one instead of building (its build_s is then 0 and\n"
    "memory_mb the growth across the load), so search changes can be measured on one graph.\n";

enum { K = 10, MAX_VALUES = 64 };

static int set_param(vs_search_params *p, const char *name, const char *value)
{
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end || v < 0) return -1;
    if (!strcmp(name, "nprobe")) p->nprobe = (uint32_t)v;
    else if (!strcmp(name, "ef") || !strcmp(name, "ef_search") || !strcmp(name, "efSearch")) p->ef_search = (uint32_t)v;
    else if (!strcmp(name, "k_factor")) p->k_factor = (float)v;
    else return -1;
    return 0;
}

static int run_row(vs_index *ix, const vs_matrix *q, const vs_matrix *gt, const vs_search_params *p, int single,
                   unsigned runs, const char *label, const char *spec, double build_s, double mem_mb)
{
    float *d = malloc(q->n * K * sizeof *d);
    int64_t *ids = malloc(q->n * K * sizeof *ids);
    if (!d || !ids) {
        free(d);
        free(ids);
        return VS_ERR_NOMEM;
    }
    int rc = VS_OK;
    double t = 1e300;
    for (unsigned r = 0; r < runs && !rc; r++) {
        double t0 = cli_search_clock();
        if (single) {
            for (size_t i = 0; i < q->n && !rc; i++)
                rc = vs_index_search(ix, 1, (const float *)q->data + i * q->dim, K, p, d + i * K, ids + i * K);
        } else {
            rc = vs_index_search(ix, q->n, q->data, K, p, d, ids);
        }
        double el = cli_search_clock() - t0;
        if (el < t) t = el;
    }
    if (!rc)
        printf(CLI_BENCH_ROW, "vecscale", spec, label, cli_recall(ids, q->n, K, gt->data, gt->dim), q->n / t, build_s, mem_mb);
    fflush(stdout);
    free(d);
    free(ids);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    const char *base = NULL, *queries = NULL, *gt_path = NULL, *spec = NULL, *metric_name = "l2", *param = NULL;
    const char *fixed[8], *save_path = NULL, *load_path = NULL;
    size_t nfixed = 0;
    uint32_t threads = 1, runs = 1, build_threads = 1, efc = 0;
    int single = 0, header = 1;
    static const struct option opts[] = {
        {"base", required_argument, 0, 'b'}, {"queries", required_argument, 0, 'q'},
        {"groundtruth", required_argument, 0, 'g'}, {"index", required_argument, 0, 'x'},
        {"metric", required_argument, 0, 'm'}, {"param", required_argument, 0, 'p'},
        {"threads", required_argument, 0, 't'}, {"single", no_argument, 0, 's'},
        {"no-header", no_argument, 0, 'H'}, {"runs", required_argument, 0, 'r'},
        {"build-threads", required_argument, 0, 'B'}, {"efc", required_argument, 0, 'E'},
        {"set", required_argument, 0, 'S'}, {"save", required_argument, 0, 'o'},
        {"load", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:q:g:x:m:p:t:sHr:B:E:S:o:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': base = optarg; break;
        case 'q': queries = optarg; break;
        case 'g': gt_path = optarg; break;
        case 'x': spec = optarg; break;
        case 'm': metric_name = optarg; break;
        case 'p': param = optarg; break;
        case 't':
            if (cli_parse_u32(optarg, 1, 256, &threads)) return cli_usage_error("bench", "bad --threads");
            break;
        case 's': single = 1; break;
        case 'r':
            if (cli_parse_u32(optarg, 1, 100, &runs)) return cli_usage_error("bench", "bad --runs");
            break;
        case 'H': header = 0; break;
        case 'B':
            if (cli_parse_u32(optarg, 1, 256, &build_threads)) return cli_usage_error("bench", "bad --build-threads");
            break;
        case 'E':
            if (cli_parse_u32(optarg, 1, 100000, &efc)) return cli_usage_error("bench", "bad --efc");
            break;
        case 'S':
            if (nfixed == sizeof fixed / sizeof *fixed) return cli_usage_error("bench", "too many --set");
            fixed[nfixed++] = optarg;
            break;
        case 'o': save_path = optarg; break;
        case 'l': load_path = optarg; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("bench", "unknown option");
        }
    }
    if (!base || !queries || !gt_path || !spec)
        return cli_usage_error("bench", "--base, --queries, --groundtruth and --index are required");
    if (save_path && load_path) return cli_usage_error("bench", "--save and --load exclude each other");
    vs_metric metric;
    int rc = vs_metric_parse(metric_name, &metric);
    if (rc) return cli_fail("--metric", rc);

    char pname[64] = "";
    char *values[MAX_VALUES];
    size_t nvalues = 0;
    char *plist = NULL;
    if (param) {
        const char *eq = strchr(param, '=');
        if (!eq || eq == param || (size_t)(eq - param) >= sizeof pname)
            return cli_usage_error("bench", "--param must look like name=v1,v2,...");
        memcpy(pname, param, (size_t)(eq - param));
        plist = strdup(eq + 1);
        for (char *save = NULL, *tok = strtok_r(plist, ",", &save); tok && nvalues < MAX_VALUES; tok = strtok_r(NULL, ",", &save))
            values[nvalues++] = tok;
        vs_search_params probe = {.struct_size = sizeof(vs_search_params)};
        for (size_t i = 0; i < nvalues; i++)
            if (set_param(&probe, pname, values[i])) {
                free(plist);
                return cli_usage_error("bench", "unknown parameter or bad value '%s=%s' (nprobe, ef, k_factor)", pname, values[i]);
            }
    }

    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = threads};
    char fixed_label[128] = "";
    for (size_t i = 0; i < nfixed; i++) {
        char name[32];
        const char *eq = strchr(fixed[i], '=');
        if (!eq || eq == fixed[i] || (size_t)(eq - fixed[i]) >= sizeof name || (memcpy(name, fixed[i], (size_t)(eq - fixed[i])),
                                                                              name[eq - fixed[i]] = '\0', set_param(&p, name, eq + 1))) {
            free(plist);
            return cli_usage_error("bench", "--set needs name=value with a known parameter (nprobe, ef, k_factor): '%s'", fixed[i]);
        }
        size_t at = strlen(fixed_label);
        snprintf(fixed_label + at, sizeof fixed_label - at, ",%s", fixed[i]);
    }

    vs_matrix *b = NULL, *q = NULL, *gt = NULL;
    vs_index *ix = NULL;
    if ((rc = cli_read_f32(base, &b)) || (rc = cli_read_f32(queries, &q)) || (rc = vs_matrix_read(gt_path, 0, &gt))) {
        cli_fail("reading data", rc);
        goto out;
    }
    if (gt->dtype != VS_DTYPE_I32 || gt->n < q->n || gt->dim < K) {
        fprintf(stderr, "vecscale: %s must be an .ivecs with at least %d neighbours per query\n", gt_path, K);
        rc = VS_ERR_INVALID_ARG;
        goto out;
    }
    size_t rss0 = cli_rss_bytes();
    double t0 = cli_now();
    if (load_path) {
        if ((rc = vs_index_load(load_path, &ix))) goto fail;
        if (vs_index_dim(ix) != b->dim || vs_index_size(ix) != b->n) {
            fprintf(stderr, "vecscale: %s holds %zu vectors of dimension %u, the base %zu of %u\n", load_path,
                    vs_index_size(ix), (unsigned)vs_index_dim(ix), b->n, b->dim);
            rc = VS_ERR_INVALID_ARG;
            goto out;
        }
    } else {
        vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = b->dim, .metric = metric, .factory = spec, .n_threads = build_threads,
                              .ef_construction = efc};
        if ((rc = vs_index_create(&o, &ix))) goto fail;
        if (!vs_index_is_trained(ix) && (rc = vs_index_train(ix, b->n, b->data))) goto fail;
        if ((rc = vs_index_add(ix, b->n, b->data, NULL))) goto fail;
    }
    double build_s = load_path ? 0.0 : cli_now() - t0;
    double mem_mb = ((double)cli_rss_bytes() - (double)rss0) / (1 << 20);

    if (save_path && (rc = vs_index_save(ix, save_path))) goto fail;
    if (header) printf(CLI_BENCH_HEADER, "library", "index", "params", "recall@10", "qps", "build_s", "memory_mb");
    /* Code size and memory reduction, measured on the built index (not estimated). */
    size_t code = vs_index_code_size(ix), raw = (size_t)b->dim * sizeof(float);
    double index_mb = (double)vs_index_memory_bytes(ix) / (1 << 20), raw_mb = (double)b->n * raw / (1 << 20);
    printf("# %s: code %zu B/vector (float32 %zu B: %.1fx smaller); index memory %.1f MiB for %.1f MiB of vectors "
           "(%.2fx)\n", spec, code, raw, code ? (double)raw / (double)code : 0.0, index_mb, raw_mb,
           index_mb > 0 ? raw_mb / index_mb : 0.0);
    char label[352];
    if (nvalues == 0) {
        snprintf(label, sizeof label, "batch,t=%u%s", threads, fixed_label);
        if ((rc = run_row(ix, q, gt, &p, 0, runs, label, spec, build_s, mem_mb))) goto fail;
        if (single) {
            snprintf(label, sizeof label, "single,t=%u%s", threads, fixed_label);
            if ((rc = run_row(ix, q, gt, &p, 1, runs, label, spec, build_s, mem_mb))) goto fail;
        }
    }
    for (size_t i = 0; i < nvalues; i++) {
        set_param(&p, pname, values[i]);
        snprintf(label, sizeof label, "%s=%s%s", pname, values[i], fixed_label);
        if ((rc = run_row(ix, q, gt, &p, single, runs, label, spec, build_s, mem_mb))) goto fail;
    }
    goto out;
fail:
    cli_fail(spec, rc);
out:
    free(plist);
    vs_index_free(ix);
    vs_matrix_free(b);
    vs_matrix_free(q);
    vs_matrix_free(gt);
    return rc ? 1 : 0;
}
