/* Named saves (POST /save with "path": NAME): after the snapshot, the collection's committed
 * state is exported to DATA/exports/NAME/collections/<collection>/, a data directory of its own
 * that `vecscale serve --data DATA/exports/NAME` serves and `vecscale search --index
 * DATA/exports/NAME/collections/<collection>` opens. The files are hard links of the snapshot's
 * (no copy, no extra disk): a collection never changes a committed file in place (a snapshot
 * writes new files and renames), so the export keeps exactly the state it was made from while
 * the server writes on. The log is not exported: an export is a snapshot, not a replica. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/snapshot_data.h"
#include "core/error.h"
#include "server/server_impl.h"

/* One export at a time per server: two named saves of one NAME must not interleave their
 * renames, and stale staging directories can only be a crashed process's. */
static pthread_mutex_t export_mu = PTHREAD_MUTEX_INITIALIZER;

const char *export_name_problem(const char *name)
{
    if (!*name) return "is empty";
    if (name[0] == '/') return "is an absolute path";
    if (strstr(name, "..")) return "contains '..'";
    if (strchr(name, '/') || strchr(name, '\\')) return "contains a path separator";
    if (name[0] == '.') return "starts with '.'";
    if (strlen(name) > EXPORT_NAME_MAX) return "is longer than 64 characters";
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.'))
            return "holds a character other than A-Z a-z 0-9 _ - .";
    return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) && errno != EEXIST) return vs_fail(VS_ERR_IO, "mkdir %s: %s", path, strerror(errno));
    return VS_OK;
}

static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    int rc = fd < 0 || fsync(fd) ? vs_fail(VS_ERR_IO, "fsync directory %s: %s", path, strerror(errno)) : VS_OK;
    if (fd >= 0) close(fd);
    return rc;
}

/* Staging directories left by a process that crashed during an export. */
static void remove_stale_staging(const char *exports)
{
    DIR *d = opendir(exports);
    if (!d) return;
    struct dirent *e;
    char path[PATH_MAX + 300];
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, ".staging-", 9)) {
            snprintf(path, sizeof path, "%s/%s", exports, e->d_name);
            rm_tree(path);
        }
    closedir(d);
}

static int fits(char *out, size_t cap, const char *fmt, const char *a, const char *b)
{
    int n = snprintf(out, cap, fmt, a, b);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "export path under %s is too long", a);
    return VS_OK;
}

int export_collection(const char *data_dir, const coll_ref *ref, const char *name, int *replaced, char *root_out,
                      size_t root_cap)
{
    char exports[PATH_MAX], root[PATH_MAX], colls[PATH_MAX], target[PATH_MAX], staging[PATH_MAX];
    char staged[PATH_MAX + 8], old[PATH_MAX + 8];
    *replaced = 0;
    int lock_fd = -1;
    int rc = fits(exports, sizeof exports, "%s/%s", data_dir, "exports");
    if (!rc) rc = fits(root, sizeof root, "%s/%s", exports, name);
    if (!rc) rc = fits(colls, sizeof colls, "%s/%s", root, "collections");
    if (!rc) rc = fits(target, sizeof target, "%s/%s", colls, ref->name);
    if (!rc) rc = fits(staging, sizeof staging, "%s/%s", exports, ".staging-XXXXXX");
    if (rc) return rc;
    pthread_mutex_lock(&export_mu);
    if ((rc = make_dir(exports))) goto out;
    remove_stale_staging(exports);
    if ((rc = make_dir(root)) || (rc = make_dir(colls))) goto out;
    if (!mkdtemp(staging)) {
        rc = vs_fail(VS_ERR_IO, "mkdtemp %s: %s", staging, strerror(errno));
        goto out;
    }
    snprintf(staged, sizeof staged, "%s/new", staging);
    snprintf(old, sizeof old, "%s/old", staging);
    if ((rc = vs_data_stage_collection(ref->dir, staged)) || (rc = sync_dir(staged))) goto clean;
    /* An earlier export of this collection under NAME is replaced, unless a process has it open
     * (serve --data / search --index on the export hold its LOCK): its files must not vanish
     * under it. Our lock on it is held until the old export is gone. Others under NAME stay. */
    snprintf(old, sizeof old, "%s/LOCK", target);
    lock_fd = open(old, O_RDWR | O_CLOEXEC);
    if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB)) {
        rc = vs_fail(VS_ERR_CONFLICT, "DATA/exports/%s/collections/%s is open in another process (a vecscale serve or "
                                      "search on the export): stop it or save under another name", name, ref->name);
        goto clean;
    }
    snprintf(old, sizeof old, "%s/old", staging);
    if (rename(target, old) == 0) *replaced = 1;
    else if (errno != ENOENT) {
        rc = vs_fail(VS_ERR_IO, "rename %s: %s", target, strerror(errno));
        goto clean;
    }
    if (rename(staged, target)) {
        rc = vs_fail(VS_ERR_IO, "rename %s to %s: %s", staged, target, strerror(errno));
        if (*replaced && rename(old, target) == 0) *replaced = 0; /* put the earlier export back */
        goto clean;
    }
    if ((rc = sync_dir(colls)) || (rc = sync_dir(root)) || (rc = sync_dir(exports))) goto clean;
    char abs[PATH_MAX];
    if (!realpath(root, abs)) snprintf(abs, sizeof abs, "%s", root);
    snprintf(root_out, root_cap, "%s", abs);
clean:
    rm_tree(staging);
    if (lock_fd >= 0) close(lock_fd);
out:
    pthread_mutex_unlock(&export_mu);
    return rc;
}
