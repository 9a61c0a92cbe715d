/* `vecscale info`: what an index file holds, optionally verifying every checksum. */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "index/rerank_u8.h"
#include "io/container.h"

static const char *HELP =
    "usage: vecscale info DIR|FILE [--verify] [--json]\n\n"
    "Describes an index: format version, factory string, metric, dimension, vectors, memory and\n"
    "the file's sections. --verify also checks the checksums of the bulk sections (and of a\n"
    "uint8 re-ranking store, DIR/rerank.vsr). \"RAM to serve\" is what a search needs resident:\n"
    "the whole index file (codes, IDs, centroids); the re-ranking store stays on disk.\n";

static void print_sections(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        return;
    }
    void *a = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (a == MAP_FAILED) return;
    vs_container *c = malloc(sizeof *c);
    if (c && vs_container_open(c, a, (uint64_t)st.st_size, 1, path) == VS_OK) {
        printf("format version: %u\nsections:\n", c->version);
        for (uint32_t i = 0; i < c->count; i++)
            printf("  %.4s  offset %-12llu %14llu bytes  xxh3 %016llx%s\n", (const char *)&c->sections[i].tag,
                   (unsigned long long)c->sections[i].offset, (unsigned long long)c->sections[i].length,
                   (unsigned long long)c->sections[i].checksum, c->sections[i].flags & VS_SECTION_BULK ? "  bulk" : "");
    }
    free(c);
    munmap(a, (size_t)st.st_size);
}

int cmd_info(int argc, char **argv)
{
    int verify = 0, json = 0;
    static const struct option opts[] = {
        {"verify", no_argument, 0, 'v'}, {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "vjh", opts, NULL)) != -1) {
        switch (c) {
        case 'v': verify = 1; break;
        case 'j': json = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("info", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage_error("info", "expected one index directory or file");
    char path[4200];
    cli_index_file(argv[optind], path, sizeof path);
    int rc = verify ? vs_index_verify_file(path) : VS_OK;
    if (rc) return cli_fail(path, rc);
    vs_index *ix;
    rc = cli_open_index(argv[optind], 0, path, sizeof path, &ix);
    if (rc) return cli_fail(path, rc);
    struct stat st;
    stat(path, &st);
    const vs_ru8_store *store = vs_refine_u8_store(ix);
    int ru8 = store != NULL;
    if (ru8 && verify && (rc = vs_ru8_verify(store)) != VS_OK) {
        cli_fail(store->path, rc); /* before the free: the path is the store's */
        vs_index_free(ix);
        return 1;
    }
    size_t nvec = vs_index_size(ix);
    double ram_per = nvec ? (double)st.st_size / (double)nvec : 0;
    double disk_per = ru8 && nvec ? (double)store->rows * store->dim / (double)nvec : 0;
    if (json) {
        printf("{\"path\":\"%s\",\"factory\":\"%s\",\"metric\":\"%s\",\"dimension\":%u,\"vectors\":%zu,"
               "\"file_bytes\":%lld,\"code_bytes_per_vector\":%zu,\"ram_bytes_per_vector\":%.2f,"
               "\"rerank_disk_bytes_per_vector\":%.2f,\"verified\":%s}\n",
               path, vs_index_factory(ix), vs_metric_name(vs_index_metric(ix)), vs_index_dim(ix), vs_index_size(ix),
               (long long)st.st_size, vs_index_code_size(ix), ram_per, disk_per, verify ? "true" : "false");
    } else {
        printf("index: %s\nfactory: %s\nmetric: %s\ndimension: %u\nvectors: %zu\nfile size: %.1f MiB\n"
               "code size: %zu bytes per vector\nchecksums: %s\n",
               path, vs_index_factory(ix), vs_metric_name(vs_index_metric(ix)), vs_index_dim(ix), vs_index_size(ix),
               (double)st.st_size / (1 << 20), vs_index_code_size(ix),
               verify ? "all verified" : "metadata verified (use --verify for bulk data)");
        printf("RAM to serve: %.2f bytes per vector (the index file: codes, IDs, centroids)\n", ram_per);
        if (ru8)
            printf("re-ranking store: %s, %llu uint8 vectors, %.2f bytes per vector on disk (read in batches: io_uring "
                   "or pread; not in RAM)%s\n", store->path, (unsigned long long)store->rows, disk_per,
                   verify ? ", checksum verified" : "");
        print_sections(path);
    }
    vs_index_free(ix);
    return 0;
}
