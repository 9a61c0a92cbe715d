/* Helpers shared by the subcommands: errors, files, clocks, memory, recall. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "index/index_impl.h"
#include "index/rerank_u8.h"

int cli_fail(const char *what, int rc)
{
    fprintf(stderr, "vecscale: %s: %s (%s)\n", what, vs_last_error(), vs_strerror(rc));
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vecscale %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'vecscale %s --help'.\n", cmd);
    return 2;
}

int cli_read_f32(const char *path, vs_matrix **out)
{
    int rc = vs_matrix_read(path, 0, out);
    if (!rc) rc = vs_matrix_to_f32(*out);
    return rc;
}

void cli_index_file(const char *p, char *buf, size_t cap)
{
    struct stat st;
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(buf, cap, "%s/index.vsi", p);
    else snprintf(buf, cap, "%s", p);
}

int cli_open_index(const char *dir_or_file, int load, char *path, size_t cap, vs_index **out)
{
    cli_index_file(dir_or_file, path, cap);
    vs_index *ix;
    int rc = load ? vs_index_load(path, &ix) : vs_index_view(path, &ix);
    if (rc) return rc;
    /* A directory `vecscale build` wrote with ",Ru8" before the store moved into the library:
     * index.vsi holds the base index alone and the store sits beside it. */
    char spath[4300];
    snprintf(spath, sizeof spath, "%s/" VS_RU8_FILE, dir_or_file);
    if (strcmp(path, dir_or_file) != 0 && !vs_refine_u8_store(ix) && access(spath, F_OK) == 0) {
        vs_index *wrapped;
        rc = vs_refine_u8_attach(ix, spath, &wrapped);
        if (rc) {
            vs_index_free(ix);
            return rc;
        }
        ix = wrapped;
    }
    *out = ix;
    return VS_OK;
}

int cli_mkdirs(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

double cli_search_clock(void)
{
    /* BENCH_CLOCK=cpu times searches by process CPU time: on a shared, oversubscribed machine
     * wall time mostly measures waiting for a core (bench/README.md). */
    static int cpu = -1;
    if (cpu < 0) {
        const char *e = getenv("BENCH_CLOCK");
        cpu = e && strcmp(e, "cpu") == 0;
    }
    if (!cpu) return cli_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_parse_u32(const char *s, unsigned long lo, unsigned long hi, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi || s[0] == '-') return -1;
    *out = (uint32_t)v;
    return 0;
}

size_t cli_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtoull(line + 6, NULL, 10);
    fclose(f);
    return kb * 1024;
}

double cli_recall(const int64_t *ids, size_t nq, uint32_t k, const int32_t *gt, uint32_t gt_k)
{
    if (nq == 0 || k == 0) return 0;
    uint32_t kk = k < gt_k ? k : gt_k;
    size_t hit = 0;
    for (size_t i = 0; i < nq; i++)
        for (uint32_t a = 0; a < kk; a++)
            for (uint32_t b = 0; b < kk; b++)
                if (ids[i * k + a] >= 0 && ids[i * k + a] == gt[i * gt_k + b]) {
                    hit++;
                    break;
                }
    return (double)hit / ((double)nq * kk);
}
