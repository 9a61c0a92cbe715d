/* Named collections under DATA/collections (see registry.h). */
#define _XOPEN_SOURCE 700
#include "server/open_collections.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

int registry_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static int push(registry *r, coll_ref *ref)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        coll_ref **it = realloc(r->items, cap * sizeof *it);
        if (!it) return -1;
        r->items = it;
        r->cap = cap;
    }
    r->items[r->n++] = ref;
    return 0;
}

static coll_ref *new_ref(registry *r, const char *name)
{
    coll_ref *ref = calloc(1, sizeof *ref);
    if (!ref) return NULL;
    snprintf(ref->name, sizeof ref->name, "%s", name);
    snprintf(ref->dir, sizeof ref->dir, "%s/%s", r->root, name);
    atomic_store(&ref->refs, 1); /* the registry's own reference */
    return ref;
}

/* Attaches the collection's text model, if it names one. A missing model leaves the
 * collection usable with vectors; text requests then get a clear error. */
static void attach_model(coll_ref *ref)
{
    vs_collection_info info = {.struct_size = sizeof info};
    if (vs_collection_info_get(ref->c, &info) || !info.model[0]) return;
    if (models_open(info.model, &ref->model))
        fprintf(stderr, "vecscale serve: collection %s: model %s unavailable: %s\n", ref->name, info.model,
                vs_last_error());
}

/* Training and snapshots run there, never inside a request that adds. */
static int start_maintenance(registry *r, coll_ref *ref)
{
    int rc = vs_collection_start_maintenance(ref->c, &r->maint);
    if (rc) fprintf(stderr, "vecscale serve: collection %s: %s\n", ref->name, vs_last_error());
    return rc;
}

int registry_open(registry *r, const char *data_dir, const vs_maintenance_policy *maint, char *err, size_t errcap)
{
    memset(r, 0, sizeof *r);
    r->maint = *maint;
    pthread_rwlock_init(&r->mu, NULL);
    snprintf(r->root, sizeof r->root, "%s/collections", data_dir);
    if (mkdir_p(r->root)) {
        snprintf(err, errcap, "cannot create %s: %s", r->root, strerror(errno));
        return -1;
    }
    DIR *d = opendir(r->root);
    if (!d) {
        snprintf(err, errcap, "cannot read %s: %s", r->root, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !registry_valid_name(e->d_name)) continue;
        coll_ref *ref = new_ref(r, e->d_name);
        if (!ref) {
            rc = -1;
            snprintf(err, errcap, "out of memory");
            break;
        }
        char conf[4300];
        snprintf(conf, sizeof conf, "%s/collection.vsc", ref->dir);
        if (access(conf, F_OK)) {
            /* Left by a crash during create: there never was an acknowledged write in it. */
            fprintf(stderr, "vecscale serve: skipping %s: no collection.vsc (an interrupted create)\n", ref->dir);
            free(ref);
            continue;
        }
        if (vs_collection_open(ref->dir, &ref->c)) {
            snprintf(err, errcap, "collection %s: %s", e->d_name, vs_last_error());
            free(ref);
            rc = -1;
            break;
        }
        attach_model(ref);
        if (start_maintenance(r, ref) || push(r, ref)) {
            snprintf(err, errcap, "collection %s: %s", e->d_name, vs_last_error());
            vs_collection_close(ref->c);
            free(ref);
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void release(coll_ref *ref)
{
    int rc = vs_collection_close(ref->c);
    if (rc) fprintf(stderr, "vecscale serve: closing %s: %s\n", ref->name, vs_last_error());
    if (atomic_load(&ref->dropped)) nftw(ref->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(ref);
}

int registry_close(registry *r)
{
    pthread_rwlock_wrlock(&r->mu);
    for (size_t i = 0; i < r->n; i++) registry_put(r->items[i]);
    free(r->items);
    r->items = NULL;
    r->n = r->cap = 0;
    pthread_rwlock_unlock(&r->mu);
    pthread_rwlock_destroy(&r->mu);
    return 0;
}

coll_ref *registry_get(registry *r, const char *name)
{
    coll_ref *found = NULL;
    pthread_rwlock_rdlock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->items[i]->name, name)) {
            found = r->items[i];
            atomic_fetch_add(&found->refs, 1);
            break;
        }
    pthread_rwlock_unlock(&r->mu);
    return found;
}

void registry_put(coll_ref *ref)
{
    if (ref && atomic_fetch_sub(&ref->refs, 1) == 1) release(ref);
}

int registry_create(registry *r, const char *name, const vs_collection_options *o, coll_ref **out)
{
    pthread_rwlock_wrlock(&r->mu);
    int rc = VS_OK;
    for (size_t i = 0; i < r->n && !rc; i++)
        if (!strcmp(r->items[i]->name, name)) rc = VS_ERR_DUPLICATE_ID;
    coll_ref *ref = rc ? NULL : new_ref(r, name);
    if (!rc && !ref) rc = VS_ERR_NOMEM;
    if (!rc) {
        /* A directory left by a crash during create or drop is not a collection: start over. */
        nftw(ref->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        rc = vs_collection_create(ref->dir, o, &ref->c);
    }
    if (!rc) {
        attach_model(ref);
        if ((rc = start_maintenance(r, ref)) || push(r, ref)) {
            vs_collection_close(ref->c);
            if (!rc) rc = VS_ERR_NOMEM;
        }
    }
    if (rc) {
        if (ref) nftw(ref->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(ref);
        pthread_rwlock_unlock(&r->mu);
        return rc;
    }
    atomic_fetch_add(&ref->refs, 1);
    pthread_rwlock_unlock(&r->mu);
    *out = ref;
    return VS_OK;
}

int registry_drop(registry *r, const char *name)
{
    pthread_rwlock_wrlock(&r->mu);
    coll_ref *ref = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->items[i]->name, name)) {
            ref = r->items[i];
            r->items[i] = r->items[--r->n];
            break;
        }
    pthread_rwlock_unlock(&r->mu);
    if (!ref) return VS_ERR_NOT_FOUND;
    atomic_store(&ref->dropped, 1);
    registry_put(ref);
    return VS_OK;
}

size_t registry_names(registry *r, char ***out)
{
    pthread_rwlock_rdlock(&r->mu);
    char **names = calloc(r->n + 1, sizeof *names);
    size_t n = 0;
    for (size_t i = 0; names && i < r->n; i++)
        if ((names[n] = strdup(r->items[i]->name))) n++;
    pthread_rwlock_unlock(&r->mu);
    *out = names;
    return n;
}
