/* vs_data_publish / vs_data_restore (snapshot_data.h): a server's collections as snapshot
 * generations, staged by hard links so a running server keeps writing meanwhile. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "storage/snapshot_data.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

#define COLLECTION_FILE "collection.vsc" /* a collection's commit point (collection_impl.h) */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* dir/name into out; paths that do not fit are refused rather than cut. */
static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "snapshot: path %s/%s is too long", dir, name);
    return VS_OK;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Files that are not part of a committed state: the process lock, logs (replayed locally,
 * growing during the push), temporary files of an atomic write in progress. */
static int skipped(const char *name)
{
    return name[0] == '.' || !strcmp(name, "LOCK") || !strncmp(name, "wal-", 4) || strstr(name, ".tmp.") ||
           !strcmp(name, COLLECTION_FILE);
}

/* Links one collection's committed files into `to`. A snapshot writes its index file, renames
 * collection.vsc into place (the commit), and only then removes the older index; so when
 * collection.vsc is the same inode before and after the other files were linked, the index it
 * names was among them. Otherwise a snapshot committed meanwhile: start again. */
int vs_data_stage_collection(const char *from, const char *to)
{
    char src[8400], dst[8400];
    for (int attempt = 0; attempt < 20; attempt++) {
        rm_tree(to);
        if (mkdir(to, 0755)) return vs_fail(VS_ERR_IO, "mkdir %s: %s", to, strerror(errno));
        struct stat before, after;
        if (join(src, sizeof src, from, COLLECTION_FILE) || join(dst, sizeof dst, to, COLLECTION_FILE))
            return VS_ERR_INVALID_ARG;
        if (stat(src, &before)) {
            if (errno == ENOENT) { /* dropped meanwhile, or not a collection */
                rm_tree(to);
                return VS_ERR_NOT_FOUND;
            }
            return vs_fail(VS_ERR_IO, "stat %s: %s", src, strerror(errno));
        }
        if (link(src, dst)) {
            if (errno == ENOENT) continue;
            return vs_fail(VS_ERR_IO, "link %s to %s: %s", src, dst, strerror(errno));
        }
        DIR *d = opendir(from);
        if (!d) return vs_fail(VS_ERR_IO, "open directory %s: %s", from, strerror(errno));
        int rc = VS_OK;
        struct dirent *e;
        while (rc == VS_OK && (e = readdir(d))) {
            if (skipped(e->d_name)) continue;
            if ((rc = join(src, sizeof src, from, e->d_name)) || (rc = join(dst, sizeof dst, to, e->d_name))) break;
            struct stat st;
            if (stat(src, &st) || !S_ISREG(st.st_mode)) continue; /* vanished, or not ours */
            if (link(src, dst) && errno != ENOENT)
                rc = vs_fail(VS_ERR_IO, "link %s to %s: %s", src, dst, strerror(errno));
        }
        closedir(d);
        if (rc) return rc;
        join(src, sizeof src, from, COLLECTION_FILE);
        if (stat(src, &after) == 0 && after.st_ino == before.st_ino && after.st_dev == before.st_dev) return VS_OK;
    }
    return vs_fail(VS_ERR_CONFLICT, "snapshot: %s kept changing while it was staged for publishing", from);
}

int vs_data_publish(vs_s3 *s3, const char *data_dir, const char *uri, vs_snapshot_stats *stats)
{
    if (!s3 || !data_dir || !uri) return vs_fail(VS_ERR_INVALID_ARG, "vs_data_publish: NULL argument");
    char root[4200], staging[4300], sub[4400];
    snprintf(root, sizeof root, "%s/collections", data_dir);
    snprintf(staging, sizeof staging, "%s/.publish-XXXXXX", data_dir);
    if (!mkdtemp(staging)) return vs_fail(VS_ERR_IO, "mkdtemp %s: %s", staging, strerror(errno));
    snprintf(sub, sizeof sub, "%s/collections", staging);
    int rc = mkdir(sub, 0755) ? vs_fail(VS_ERR_IO, "mkdir %s: %s", sub, strerror(errno)) : VS_OK;
    DIR *d = rc ? NULL : opendir(root);
    if (!rc && !d) rc = vs_fail(VS_ERR_NOT_FOUND, "snapshot: %s: %s", root, strerror(errno));
    size_t staged = 0;
    struct dirent *e;
    while (rc == VS_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp.")) continue;
        char from[4600], to[4600];
        if ((rc = join(from, sizeof from, root, e->d_name)) || (rc = join(to, sizeof to, sub, e->d_name))) break;
        if (!is_dir(from)) continue;
        rc = vs_data_stage_collection(from, to);
        if (rc == VS_ERR_NOT_FOUND) {
            vs_clear_error();
            rc = VS_OK;
        } else if (rc == VS_OK) {
            staged++;
        }
    }
    if (d) closedir(d);
    if (rc == VS_OK && !staged) rc = vs_fail(VS_ERR_EMPTY, "snapshot: %s holds no collection to publish", data_dir);
    if (rc == VS_OK) rc = vs_snapshot_push(s3, staging, uri, stats);
    rm_tree(staging);
    return rc;
}

/* Whether data_dir/collections holds at least one collection. */
static int has_collections(const char *root)
{
    DIR *d = opendir(root);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[8400];
        int n = snprintf(p, sizeof p, "%s/%s/%s", root, e->d_name, COLLECTION_FILE);
        found = n > 0 && (size_t)n < sizeof p && access(p, F_OK) == 0;
    }
    closedir(d);
    return found;
}

typedef struct {
    char **names;
    size_t n;
} name_list;

static int names_add(name_list *l, const char *name)
{
    char **p = realloc(l->names, (l->n + 1) * sizeof *p);
    if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory");
    l->names = p;
    if (!(p[l->n] = strdup(name))) return vs_fail(VS_ERR_NOMEM, "out of memory");
    l->n++;
    return VS_OK;
}

/* Moves every pulled collection into place; the pull verified all of them already. */
static int install(const char *pulled, const char *root)
{
    char from_root[4400];
    snprintf(from_root, sizeof from_root, "%s/collections", pulled);
    DIR *d = opendir(from_root);
    if (!d) return vs_fail(VS_ERR_CORRUPT, "snapshot: the generation holds no collections/ directory");
    if (mkdir(root, 0755) && errno != EEXIST) {
        closedir(d);
        return vs_fail(VS_ERR_IO, "mkdir %s: %s", root, strerror(errno));
    }
    int rc = VS_OK;
    name_list moved = {0};
    struct dirent *e;
    while (rc == VS_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char from[4700], to[4700];
        if ((rc = join(from, sizeof from, from_root, e->d_name)) || (rc = join(to, sizeof to, root, e->d_name))) break;
        rmdir(to); /* an empty leftover directory may give way; anything else may not */
        if (rename(from, to)) rc = vs_fail(VS_ERR_IO, "rename %s to %s: %s", from, to, strerror(errno));
        else rc = names_add(&moved, e->d_name);
    }
    closedir(d);
    /* All or nothing: what was moved in goes back to the staging directory (removed later). */
    for (size_t i = 0; rc != VS_OK && i < moved.n; i++) {
        char from[4700], to[4700];
        if (join(from, sizeof from, from_root, moved.names[i]) == VS_OK && join(to, sizeof to, root, moved.names[i]) == VS_OK)
            rename(to, from);
    }
    for (size_t i = 0; i < moved.n; i++) free(moved.names[i]);
    free(moved.names);
    return rc;
}

int vs_data_restore(vs_s3 *s3, const char *data_dir, const char *uri, uint64_t generation,
                    vs_snapshot_stats *stats, int *restored)
{
    if (!s3 || !data_dir || !uri || !restored) return vs_fail(VS_ERR_INVALID_ARG, "vs_data_restore: NULL argument");
    *restored = 0;
    char root[4200], staging[4300];
    snprintf(root, sizeof root, "%s/collections", data_dir);
    if (has_collections(root)) return VS_OK;
    if (!generation) {
        int rc = vs_snapshot_latest(s3, uri, &generation);
        if (rc == VS_ERR_NOT_FOUND) {
            *restored = -1;
            return VS_OK;
        }
        if (rc) return rc;
    }
    snprintf(staging, sizeof staging, "%s/.restore-XXXXXX", data_dir);
    if (!mkdtemp(staging)) return vs_fail(VS_ERR_IO, "mkdtemp %s: %s", staging, strerror(errno));
    int rc = vs_snapshot_pull(s3, uri, generation, staging, stats);
    if (rc == VS_OK) rc = install(staging, root);
    rm_tree(staging);
    if (rc == VS_OK) *restored = 1;
    return rc;
}
