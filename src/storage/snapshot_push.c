/* vs_snapshot_push: hash every file of a directory, upload the segments the store lacks, then
 * claim the next generation with a conditional PUT of the manifest (snapshot_manifest.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/snapshot.h"
#include "core/error.h"
#include "core/options.h"

/* The manifest's file list, plus each file's mtime to notice a change during the push. */
typedef struct {
    vs_snap_file *files;
    struct timespec *mtimes;
    size_t n, cap;
} file_list;

static int list_add(file_list *l, const char *rel, const struct stat *st)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        vs_snap_file *f = realloc(l->files, cap * sizeof *f);
        if (!f) return vs_fail(VS_ERR_NOMEM, "snapshot: out of memory");
        l->files = f;
        struct timespec *t = realloc(l->mtimes, cap * sizeof *t);
        if (!t) return vs_fail(VS_ERR_NOMEM, "snapshot: out of memory");
        l->mtimes = t;
        l->cap = cap;
    }
    vs_snap_file *f = &l->files[l->n];
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(rel))) return vs_fail(VS_ERR_NOMEM, "snapshot: out of memory");
    f->size = (uint64_t)st->st_size;
    l->n++;
    return VS_OK;
}

/* Regular files under root/rel, recursively; symlinks are followed, other kinds refused. */
static int walk(const char *root, const char *rel, file_list *l, int depth)
{
    if (depth > 32) return vs_fail(VS_ERR_INVALID_ARG, "snapshot: %s/%s: directories nested too deep", root, rel);
    char dpath[4096];
    snprintf(dpath, sizeof dpath, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dpath);
    if (!d) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "snapshot: open directory %s: %s",
                           dpath, strerror(errno));
    int rc = VS_OK;
    struct dirent *e;
    while (rc == VS_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        /* Temporary files of an atomic write in progress are not part of any state. */
        if (strstr(e->d_name, ".tmp.")) continue;
        char r[4096], full[8192];
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, r);
        struct stat st;
        if (stat(full, &st)) rc = vs_fail(VS_ERR_IO, "snapshot: stat %s: %s", full, strerror(errno));
        else if (S_ISDIR(st.st_mode)) rc = walk(root, r, l, depth + 1);
        else if (!S_ISREG(st.st_mode)) rc = vs_fail(VS_ERR_INVALID_ARG, "snapshot: %s is not a regular file", full);
        else if (!vs_manifest_path_ok(r)) rc = vs_fail(VS_ERR_INVALID_ARG, "snapshot: unsupported file name %s", r);
        else rc = list_add(l, r, &st);
    }
    closedir(d);
    return rc;
}

int vs_snap_hash_file(const char *path, uint8_t out[16])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vs_fail(VS_ERR_IO, "open %s: %s", path, strerror(errno));
    XXH3_state_t *st = XXH3_createState();
    char *buf = malloc(1 << 20);
    int rc = st && buf ? VS_OK : vs_fail(VS_ERR_NOMEM, "snapshot: out of memory");
    if (rc == VS_OK) XXH3_128bits_reset(st);
    while (rc == VS_OK) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = vs_fail(VS_ERR_IO, "read %s: %s", path, strerror(errno));
        if (n <= 0) break;
        XXH3_128bits_update(st, buf, (size_t)n);
    }
    if (rc == VS_OK) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
        memcpy(out, c.digest, 16);
    }
    free(buf);
    XXH3_freeState(st);
    close(fd);
    return rc;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const vs_snap_file *)a)->path, ((const vs_snap_file *)b)->path);
}

/* Sorted paths make manifests of equal directories identical; mtimes are read after the sort. */
static int sort_and_stat(const char *dir, file_list *l)
{
    qsort(l->files, l->n, sizeof *l->files, cmp_file);
    for (size_t i = 0; i < l->n; i++) {
        char full[8192];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", dir, l->files[i].path);
        if (stat(full, &st)) return vs_fail(VS_ERR_IO, "snapshot: stat %s: %s", full, strerror(errno));
        l->files[i].size = (uint64_t)st.st_size;
        l->mtimes[i] = st.st_mtim;
    }
    return VS_OK;
}

static int upload_missing(vs_s3 *s3, const vs_snap_uri *u, const char *dir, file_list *l, vs_snapshot_stats *stats)
{
    for (size_t i = 0; i < l->n; i++) {
        vs_snap_file *f = &l->files[i];
        char full[8192], seg[128], key[2048];
        snprintf(full, sizeof full, "%s/%s", dir, f->path);
        int rc = vs_snap_hash_file(full, f->xxh128);
        if (rc) return rc;
        vs_manifest_segment_name(f, seg, sizeof seg);
        vs_snap_key(u, "segments/", seg, key, sizeof key);
        uint64_t have = 0;
        rc = vs_s3_head(s3, u->bucket, key, &have, NULL, 0);
        if (rc == VS_OK && have == f->size) continue; /* content-addressed: already stored */
        if (rc && rc != VS_ERR_NOT_FOUND) return rc;
        vs_clear_error();
        if ((rc = vs_s3_put_file(s3, u->bucket, key, full))) return rc;
        stats->bytes_transferred += f->size;
        /* A file rewritten while it was hashed or sent would give a segment whose content
         * does not match its name; refuse rather than publish it. */
        struct stat st;
        if (stat(full, &st) || (uint64_t)st.st_size != f->size || st.st_mtim.tv_sec != l->mtimes[i].tv_sec ||
            st.st_mtim.tv_nsec != l->mtimes[i].tv_nsec) {
            vs_s3_delete(s3, u->bucket, key);
            return vs_fail(VS_ERR_CONFLICT, "snapshot: %s changed while it was being pushed; push again", full);
        }
    }
    return VS_OK;
}

static int push(vs_s3 *s3, const char *dir, const char *uri, vs_snapshot_stats *stats)
{
    if (!s3 || !dir || !uri) return vs_fail(VS_ERR_INVALID_ARG, "vs_snapshot_push: NULL argument");
    vs_snap_uri u;
    int rc = vs_snap_parse_uri(uri, &u);
    if (rc) return rc;
    file_list l = {0};
    rc = walk(dir, "", &l, 0);
    if (rc == VS_OK && l.n == 0) rc = vs_fail(VS_ERR_EMPTY, "snapshot: %s holds no files", dir);
    if (rc == VS_OK) rc = sort_and_stat(dir, &l);
    if (rc == VS_OK) rc = upload_missing(s3, &u, dir, &l, stats);
    vs_snap_manifest m = {.created_unix = (int64_t)time(NULL), .n_files = l.n, .files = l.files};
    for (size_t i = 0; rc == VS_OK && i < l.n; i++) stats->bytes += l.files[i].size;
    stats->files = l.n;
    /* Claim the next generation; a concurrent publisher that took it first makes us move on. */
    for (int attempt = 0; rc == VS_OK; attempt++) {
        uint64_t latest = 0;
        rc = vs_snapshot_latest(s3, uri, &latest);
        if (rc == VS_ERR_NOT_FOUND) {
            vs_clear_error();
            latest = 0;
            rc = VS_OK;
        }
        if (rc) break;
        m.generation = latest + 1;
        char *buf = NULL, key[2048], name[64];
        size_t len = 0;
        if ((rc = vs_manifest_encode(&m, &buf, &len))) break;
        vs_snap_manifest_name(m.generation, name, sizeof name);
        vs_snap_key(&u, "manifests/", name, key, sizeof key);
        rc = vs_s3_put(s3, u.bucket, key, buf, len, 1);
        free(buf);
        if (rc == VS_ERR_CONFLICT && attempt < 20) {
            vs_clear_error();
            rc = VS_OK;
            continue;
        }
        if (rc == VS_OK) stats->generation = m.generation;
        break;
    }
    for (size_t i = 0; i < l.n; i++) free(l.files[i].path);
    free(l.files);
    free(l.mtimes);
    return rc;
}

/* The caller's struct may be shorter than this library's (vecscale.h, "Options and result
 * structs"): its size is checked before any work, and only its bytes are written after. */
int vs_snapshot_push(vs_s3 *s3, const char *dir, const char *uri, vs_snapshot_stats *stats)
{
    size_t n = 0;
    if (stats) {
        int rc = vs_result_size(stats, sizeof *stats, VS_SNAPSHOT_STATS_V1, "vs_snapshot_stats", &n);
        if (rc) return rc;
    }
    vs_snapshot_stats full = {.struct_size = sizeof full};
    int rc = push(s3, dir, uri, &full);
    if (stats) vs_result_write(stats, &full, n);
    return rc;
}
