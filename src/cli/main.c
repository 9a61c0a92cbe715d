/* `vecscale`: build, search, inspect and benchmark indexes from the command line. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"build", cmd_build, "build an index from a vector file"},
    {"search", cmd_search, "search an index with a file of query vectors"},
    {"info", cmd_info, "describe an index directory or file"},
    {"convert", cmd_convert, "convert between .fvecs/.ivecs/.bvecs/.npy/idx-ubyte"},
    {"groundtruth", cmd_groundtruth, "exact top-k neighbours of queries (an .ivecs file)"},
    {"bench", cmd_bench, "recall / queries per second / build time / memory rows"},
    {"bench-flat", cmd_bench_flat, "exact search GFLOP/s against OpenBLAS sgemm alone"},
    {"bench-view", cmd_bench_view, "time vs_index_view of a large index and its memory"},
#ifdef VS_WITH_S3
    {"snapshot", cmd_snapshot, "push / pull index directories to S3-compatible storage"},
#endif
#ifdef VS_WITH_CLUSTER
    {"cluster", cmd_cluster, "shard map in etcd, node registration, cluster status"},
    {"route", cmd_route, "HTTP router over a sharded cluster (fan-out, retries, merge)"},
#endif
    {"embed", cmd_embed, "embed lines of text into vectors (.fvecs/.npy)"},
    {"model", cmd_model, "pull, import, describe a model; token IDs of texts"},
#ifdef VS_WITH_SERVER
    {"serve", cmd_serve, "HTTP search service over collections (write-ahead logged)"},
#endif
};

static int usage(FILE *out)
{
    fprintf(out, "usage: vecscale <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'vecscale <command> --help' describes each command. Library %s, kernels: %s.\n",
            vs_version_string(), vs_simd_name(vs_simd_active()));
    return out == stdout ? 0 : 2;
}

/* The library looks for model names only where it is told (options, $VECSCALE_MODEL_DIR, the
 * installed share/vecscale/models). The command keeps the checkout's convenience: with
 * $VECSCALE_MODEL_DIR unset, a models/ directory beside the directory holding this binary
 * (build/vecscale -> models/, where scripts/fetch_models.sh writes) becomes the default. */
static void default_model_dir(const char *argv0)
{
    const char *env = getenv("VECSCALE_MODEL_DIR");
    if (env && *env) return;
    char exe[PATH_MAX];
    if (!realpath("/proc/self/exe", exe) && !realpath(argv0, exe)) return;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0;
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/../models", exe);
    char real[PATH_MAX];
    struct stat st;
    if (realpath(dir, real) && stat(real, &st) == 0 && S_ISDIR(st.st_mode)) setenv("VECSCALE_MODEL_DIR", real, 1);
}

int main(int argc, char **argv)
{
    default_model_dir(argv[0]);
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) return usage(stdout);
    if (!strcmp(argv[1], "--version")) {
        printf("vecscale %s\n", vs_version_string());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "vecscale: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
