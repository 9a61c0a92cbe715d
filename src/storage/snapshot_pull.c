/* vs_snapshot_pull and vs_snapshot_latest: find a generation, read and verify its manifest,
 * download every segment next to the target while hashing it, and move the whole directory
 * into place only when every file matched its size and checksum. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/snapshot.h"
#include "core/error.h"
#include "core/options.h"

int vs_snap_parse_uri(const char *uri, vs_snap_uri *out)
{
    return vs_s3_parse_uri(uri, out->bucket, sizeof out->bucket, out->prefix, sizeof out->prefix);
}

void vs_snap_key(const vs_snap_uri *u, const char *sub, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s%s", u->prefix, *u->prefix ? "/" : "", sub, name);
}

void vs_snap_manifest_name(uint64_t generation, char *out, size_t cap)
{
    snprintf(out, cap, "%020llu.vsm", (unsigned long long)generation);
}

typedef struct {
    uint64_t latest;
    size_t skip; /* length of "prefix/manifests/" */
} latest_state;

static int latest_cb(const vs_s3_object *o, void *ctx)
{
    latest_state *st = ctx;
    const char *name = o->key + st->skip;
    char *end = NULL;
    unsigned long long g = strtoull(name, &end, 10);
    /* Only our own names count: 20 digits then ".vsm". */
    if (end == name + 20 && !strcmp(end, ".vsm") && g > st->latest) st->latest = g;
    return 0;
}

int vs_snapshot_latest(vs_s3 *s3, const char *uri, uint64_t *generation)
{
    if (!s3 || !uri || !generation) return vs_fail(VS_ERR_INVALID_ARG, "vs_snapshot_latest: NULL argument");
    vs_snap_uri u;
    int rc = vs_snap_parse_uri(uri, &u);
    if (rc) return rc;
    char prefix[2048];
    vs_snap_key(&u, "manifests/", "", prefix, sizeof prefix);
    latest_state st = {0, strlen(prefix)};
    if ((rc = vs_s3_list(s3, u.bucket, prefix, latest_cb, &st))) return rc;
    if (!st.latest) return vs_fail(VS_ERR_NOT_FOUND, "snapshot: no snapshot published at %s", uri);
    *generation = st.latest;
    return VS_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int mkdirs_for(const char *root, const char *rel)
{
    char path[8192];
    int n = snprintf(path, sizeof path, "%s/%s", root, rel);
    for (int i = (int)strlen(root) + 1; i < n; i++) {
        if (path[i] != '/') continue;
        path[i] = '\0';
        if (mkdir(path, 0755) && errno != EEXIST) return vs_fail(VS_ERR_IO, "mkdir %s: %s", path, strerror(errno));
        path[i] = '/';
    }
    return VS_OK;
}

static void hash_piece(const void *p, size_t n, void *ctx) { XXH3_128bits_update(ctx, p, n); }

static int fetch_file(vs_s3 *s3, const vs_snap_uri *u, const char *uri, uint64_t gen, const vs_snap_file *f,
                      const char *staging, XXH3_state_t *hs)
{
    char seg[128], key[2048], path[8192];
    vs_manifest_segment_name(f, seg, sizeof seg);
    vs_snap_key(u, "segments/", seg, key, sizeof key);
    int rc = mkdirs_for(staging, f->path);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s", staging, f->path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return vs_fail(VS_ERR_IO, "create %s: %s", path, strerror(errno));
    XXH3_128bits_reset(hs);
    rc = vs_s3_get_fd(s3, u->bucket, key, fd, hash_piece, hs);
    if (rc == VS_ERR_NOT_FOUND)
        rc = vs_fail(VS_ERR_CORRUPT, "snapshot %s generation %llu: segment %s of '%s' is missing from the store",
                     uri, (unsigned long long)gen, key, f->path);
    struct stat st;
    if (rc == VS_OK && fstat(fd, &st)) rc = vs_fail(VS_ERR_IO, "stat %s: %s", path, strerror(errno));
    if (rc == VS_OK && (uint64_t)st.st_size != f->size)
        rc = vs_fail(VS_ERR_CORRUPT,
                     "snapshot %s generation %llu: '%s' is corrupt: segment %s holds %llu bytes, the manifest says %llu",
                     uri, (unsigned long long)gen, f->path, key, (unsigned long long)st.st_size,
                     (unsigned long long)f->size);
    if (rc == VS_OK) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(hs));
        if (memcmp(c.digest, f->xxh128, 16)) {
            char want[33], got[33];
            vs_hex(f->xxh128, 16, want);
            vs_hex(c.digest, 16, got);
            rc = vs_fail(VS_ERR_CORRUPT,
                         "snapshot %s generation %llu: '%s' is corrupt: segment %s has XXH3-128 %s, the manifest "
                         "says %s",
                         uri, (unsigned long long)gen, f->path, key, got, want);
        }
    }
    if (rc == VS_OK && fsync(fd)) rc = vs_fail(VS_ERR_IO, "fsync %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* The target must be absent or an empty directory; remove_empty clears the way for rename. */
static int dir_usable(const char *dir, int remove_empty)
{
    struct stat st;
    if (stat(dir, &st)) {
        if (errno == ENOENT) return VS_OK;
        return vs_fail(VS_ERR_IO, "snapshot: %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return vs_fail(VS_ERR_INVALID_ARG, "snapshot: %s exists and is not a directory", dir);
    DIR *d = opendir(dir);
    int empty = 1;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    if (d) closedir(d);
    if (empty && (!remove_empty || rmdir(dir) == 0)) return VS_OK;
    return vs_fail(VS_ERR_INVALID_ARG, "snapshot: %s is not empty; pull into a new directory (nothing was changed)",
                   dir);
}

static int pull(vs_s3 *s3, const char *uri, uint64_t generation, const char *dir, vs_snapshot_stats *stats)
{
    if (!s3 || !uri || !dir || !*dir) return vs_fail(VS_ERR_INVALID_ARG, "vs_snapshot_pull: NULL argument");
    vs_snap_uri u;
    int rc = vs_snap_parse_uri(uri, &u);
    if (rc) return rc;
    if (!generation && (rc = vs_snapshot_latest(s3, uri, &generation))) return rc;
    char name[64], key[2048], origin[2200];
    vs_snap_manifest_name(generation, name, sizeof name);
    vs_snap_key(&u, "manifests/", name, key, sizeof key);
    snprintf(origin, sizeof origin, "s3://%s/%s", u.bucket, key);
    void *buf = NULL;
    size_t len = 0;
    rc = vs_s3_get(s3, u.bucket, key, 0, 0, &buf, &len);
    if (rc == VS_ERR_NOT_FOUND)
        return vs_fail(VS_ERR_NOT_FOUND, "snapshot: %s has no generation %llu", uri, (unsigned long long)generation);
    if (rc) return rc;
    vs_snap_manifest m;
    rc = vs_manifest_decode(buf, len, origin, &m);
    free(buf);
    if (rc) return rc;
    if (m.generation != generation) {
        vs_manifest_clear(&m);
        return vs_fail(VS_ERR_CORRUPT, "%s: names generation %llu", origin, (unsigned long long)m.generation);
    }

    /* Stage next to the target (same file system, so the final rename is atomic). */
    char staging[4300], parent_buf[4200];
    if (strlen(dir) >= sizeof parent_buf) {
        vs_manifest_clear(&m);
        return vs_fail(VS_ERR_INVALID_ARG, "snapshot: directory name too long");
    }
    snprintf(parent_buf, sizeof parent_buf, "%s", dir);
    size_t dl = strlen(parent_buf);
    while (dl > 1 && parent_buf[dl - 1] == '/') parent_buf[--dl] = '\0';
    snprintf(staging, sizeof staging, "%s.pull-XXXXXX", parent_buf);
    rc = dir_usable(parent_buf, 0);
    if (rc == VS_OK && !mkdtemp(staging)) rc = vs_fail(VS_ERR_IO, "mkdtemp %s: %s", staging, strerror(errno));
    int staged = rc == VS_OK;
    XXH3_state_t *hs = XXH3_createState();
    if (rc == VS_OK && !hs) rc = vs_fail(VS_ERR_NOMEM, "snapshot: out of memory");
    for (size_t i = 0; rc == VS_OK && i < m.n_files; i++) {
        rc = fetch_file(s3, &u, uri, generation, &m.files[i], staging, hs);
        stats->bytes += m.files[i].size;
    }
    XXH3_freeState(hs);
    if (rc == VS_OK) {
        int dfd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        rc = dir_usable(parent_buf, 1);
        if (rc == VS_OK && rename(staging, parent_buf))
            rc = vs_fail(VS_ERR_IO, "rename %s to %s: %s", staging, parent_buf, strerror(errno));
        if (rc == VS_OK) {
            staged = 0;
            char pb[4200];
            snprintf(pb, sizeof pb, "%s", parent_buf);
            int pfd = open(dirname(pb), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (pfd >= 0) {
                fsync(pfd);
                close(pfd);
            }
        }
    }
    if (staged) rm_tree(staging);
    if (rc == VS_OK) {
        stats->generation = generation;
        stats->files = m.n_files;
        stats->bytes_transferred = stats->bytes;
    }
    vs_manifest_clear(&m);
    return rc;
}

/* The caller's struct may be shorter than this library's (vecscale.h, "Options and result
 * structs"): its size is checked before any work, and only its bytes are written after. */
int vs_snapshot_pull(vs_s3 *s3, const char *uri, uint64_t generation, const char *dir, vs_snapshot_stats *stats)
{
    size_t n = 0;
    if (stats) {
        int rc = vs_result_size(stats, sizeof *stats, VS_SNAPSHOT_STATS_V1, "vs_snapshot_stats", &n);
        if (rc) return rc;
    }
    vs_snapshot_stats full = {.struct_size = sizeof full};
    int rc = pull(s3, uri, generation, dir, &full);
    if (stats) vs_result_write(stats, &full, n);
    return rc;
}
