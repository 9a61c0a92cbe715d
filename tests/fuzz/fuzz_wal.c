/* Fuzzes write-ahead log replay (src/collection/wal.c + vs_collection_replay): the input,
 * after a valid log header, is the record stream of an empty 4-dimensional collection's log.
 * Opening must succeed or fail with a message, never crash or leak; after a successful open
 * the collection must answer a search consistently. A violated check calls
 * abort(). Each input is written to a temporary directory removed at exit. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "vecscale.h"

static char dir[64];

static void check(int ok)
{
    if (!ok) abort();
}

static void cleanup(void)
{
    char p[128];
    static const char *const files[] = {"collection.vsc", "wal-1.log", "index-1.vsi", "LOCK"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0]) return;
    atexit(cleanup);
    snprintf(dir, sizeof dir, "/tmp/vecscale-fuzz-wal-XXXXXX");
    check(mkdtemp(dir) != NULL);
    vs_collection *c;
    vs_collection_options o = {.dim = 4, .metric = VS_METRIC_L2};
    check(vs_collection_create(dir, &o, &c) == VS_OK);
    check(vs_collection_close(c) == VS_OK);
}

int vs_fuzz_wal(const uint8_t *data, size_t size)
{
    setup();
    char path[128];
    snprintf(path, sizeof path, "%s/wal-1.log", dir);
    uint8_t h[32] = {'V', 'S', 'W', 'A', 'L', 0, 0, 0, 1, 0, 0, 0, 32, 0, 0, 0, 1};
    uint64_t sum = XXH3_64bits(h, 24);
    memcpy(h + 24, &sum, 8);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0);
    check(write(fd, h, sizeof h) == (ssize_t)sizeof h);
    check(size == 0 || write(fd, data, size) == (ssize_t)size);
    close(fd);
    vs_collection *c = NULL;
    int rc = vs_collection_open(dir, &c);
    if (rc != VS_OK) {
        check(c == NULL && vs_last_error()[0] != 0);
        return 0;
    }
    size_t n = vs_collection_size(c);
    float q[4] = {0.5f, 0.25f, 0, 1}, d[3];
    int64_t ids[3];
    check(vs_collection_search(c, 1, q, 3, NULL, d, ids) == VS_OK);
    /* Found IDs come first, at most n of them, no repeats (finite vectors whose distances
     * overflow to infinity may be left out, so exactly min(n, 3) is not promised). */
    for (int i = 0; i < 3; i++) {
        check(ids[i] < 0 || (size_t)i < n);
        check(i == 0 || ids[i] < 0 || (ids[i - 1] >= 0 && ids[i] != ids[i - 1]));
    }
    check(vs_collection_close(c) == VS_OK);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_wal(data, size); }
#endif
