/* vs_snapshot_gc: keep the newest generations of a snapshot prefix and the segments they name;
 * delete older manifests, then segments no kept manifest names. Segments younger than the grace
 * period stay: a publish in flight uploads its segments before its manifest exists. */
#define _XOPEN_SOURCE 700 /* strptime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/snapshot.h"
#include "core/error.h"
#include "core/options.h"

typedef struct {
    uint64_t *gens;
    size_t n, cap;
    size_t skip;
} gen_list;

typedef struct {
    char **names;
    size_t n, cap;
} name_set;

static int gen_cb(const vs_s3_object *o, void *ctx)
{
    gen_list *l = ctx;
    const char *name = o->key + l->skip;
    char *end = NULL;
    unsigned long long g = strtoull(name, &end, 10);
    if (end != name + 20 || strcmp(end, ".vsm") || !g) return 0; /* not one of ours */
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        uint64_t *p = realloc(l->gens, cap * sizeof *p);
        if (!p) return vs_fail(VS_ERR_NOMEM, "snapshot gc: out of memory");
        l->gens = p;
        l->cap = cap;
    }
    l->gens[l->n++] = g; /* listings come in key order: ascending generations */
    return 0;
}

static int set_add(name_set *s, const char *name)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        char **p = realloc(s->names, cap * sizeof *p);
        if (!p) return vs_fail(VS_ERR_NOMEM, "snapshot gc: out of memory");
        s->names = p;
        s->cap = cap;
    }
    if (!(s->names[s->n] = strdup(name))) return vs_fail(VS_ERR_NOMEM, "snapshot gc: out of memory");
    s->n++;
    return VS_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int set_has(const name_set *s, const char *name)
{
    return bsearch(&name, s->names, s->n, sizeof *s->names, cmp_str) != NULL;
}

static int list_generations(vs_s3 *s3, const vs_snap_uri *u, gen_list *l)
{
    char prefix[2048];
    vs_snap_key(u, "manifests/", "", prefix, sizeof prefix);
    l->n = 0;
    l->skip = strlen(prefix);
    return vs_s3_list(s3, u->bucket, prefix, gen_cb, l);
}

/* Adds the segment names of generation g to keep. */
static int keep_manifest(vs_s3 *s3, const vs_snap_uri *u, uint64_t g, name_set *keep)
{
    char name[64], key[2048];
    vs_snap_manifest_name(g, name, sizeof name);
    vs_snap_key(u, "manifests/", name, key, sizeof key);
    void *buf = NULL;
    size_t len = 0;
    int rc = vs_s3_get(s3, u->bucket, key, 0, 0, &buf, &len);
    if (rc) return rc;
    vs_snap_manifest m;
    rc = vs_manifest_decode(buf, len, key, &m);
    free(buf);
    if (rc) return rc;
    for (size_t i = 0; rc == VS_OK && i < m.n_files; i++) {
        char seg[128];
        vs_manifest_segment_name(&m.files[i], seg, sizeof seg);
        rc = set_add(keep, seg);
    }
    vs_manifest_clear(&m);
    return rc;
}

typedef struct {
    vs_s3 *s3;
    const vs_snap_uri *u;
    const name_set *keep;
    size_t skip;
    time_t cutoff; /* segments modified after this stay */
    name_set doomed;
    uint64_t *sizes; /* of doomed, same order */
    size_t sizes_cap;
    uint64_t kept_young;
} seg_scan;

/* S3 writes LastModified as ISO 8601 in UTC ("2026-11-26T07:10:00.000Z"). */
static int parse_time(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end) return -1;
    *out = timegm(&tm);
    return 0;
}

static int seg_cb(const vs_s3_object *o, void *ctx)
{
    seg_scan *sc = ctx;
    const char *name = o->key + sc->skip;
    if (set_has(sc->keep, name)) return 0;
    time_t t;
    /* Without a readable date, assume it is new: never delete what might be in flight. */
    if (parse_time(o->last_modified, &t) || t > sc->cutoff) {
        sc->kept_young++;
        return 0;
    }
    if (sc->doomed.n == sc->sizes_cap) {
        size_t cap = sc->sizes_cap ? 2 * sc->sizes_cap : 256;
        uint64_t *p = realloc(sc->sizes, cap * sizeof *p);
        if (!p) return vs_fail(VS_ERR_NOMEM, "snapshot gc: out of memory");
        sc->sizes = p;
        sc->sizes_cap = cap;
    }
    sc->sizes[sc->doomed.n] = o->size;
    return set_add(&sc->doomed, o->key);
}

static void set_free(name_set *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->names[i]);
    free(s->names);
    memset(s, 0, sizeof *s);
}

static int gc(vs_s3 *s3, const char *uri, uint32_t keep, uint32_t grace_s, int dry_run, vs_snapshot_gc_stats *st)
{
    if (!s3 || !uri) return vs_fail(VS_ERR_INVALID_ARG, "vs_snapshot_gc: NULL argument");
    if (!keep) return vs_fail(VS_ERR_INVALID_ARG, "snapshot gc: keep at least one generation");
    vs_snap_uri u;
    int rc = vs_snap_parse_uri(uri, &u);
    if (rc) return rc;
    gen_list gens = {0};
    name_set kept = {0};
    seg_scan sc = {.s3 = s3, .u = &u, .keep = &kept};
    if ((rc = list_generations(s3, &u, &gens))) goto out;
    if (!gens.n) {
        rc = vs_fail(VS_ERR_NOT_FOUND, "snapshot gc: no snapshot published at %s (nothing to keep)", uri);
        goto out;
    }
    size_t first_kept = gens.n > keep ? gens.n - keep : 0;
    uint64_t newest_seen = gens.gens[gens.n - 1];
    for (size_t i = first_kept; rc == VS_OK && i < gens.n; i++) rc = keep_manifest(s3, &u, gens.gens[i], &kept);
    if (rc) goto out;
    st->generations_kept = gens.n - first_kept;
    st->oldest_kept = gens.gens[first_kept];
    /* Older manifests go first, so no reader ever finds a manifest whose segments are gone
     * (one pulling an old generation right now may fail; it names the missing segment). */
    for (size_t i = 0; rc == VS_OK && i < first_kept; i++) {
        char name[64], key[2048];
        vs_snap_manifest_name(gens.gens[i], name, sizeof name);
        vs_snap_key(&u, "manifests/", name, key, sizeof key);
        if (!dry_run) rc = vs_s3_delete(s3, u.bucket, key);
        if (rc == VS_OK) st->manifests_deleted++;
    }
    if (rc) goto out;

    char prefix[2048];
    vs_snap_key(&u, "segments/", "", prefix, sizeof prefix);
    sc.skip = strlen(prefix);
    sc.cutoff = time(NULL) - (time_t)grace_s;
    qsort(kept.names, kept.n, sizeof *kept.names, cmp_str);
    if ((rc = vs_s3_list(s3, u.bucket, prefix, seg_cb, &sc))) goto out;
    /* A publish may have committed a generation since we listed them: keep its segments too. */
    if ((rc = list_generations(s3, &u, &gens))) goto out;
    size_t before = kept.n;
    for (size_t i = 0; rc == VS_OK && i < gens.n; i++)
        if (gens.gens[i] > newest_seen) rc = keep_manifest(s3, &u, gens.gens[i], &kept);
    if (rc) goto out;
    if (kept.n != before) qsort(kept.names, kept.n, sizeof *kept.names, cmp_str);
    st->segments_kept_young = sc.kept_young;
    for (size_t i = 0; rc == VS_OK && i < sc.doomed.n; i++) {
        if (set_has(&kept, sc.doomed.names[i] + sc.skip)) continue;
        if (!dry_run) rc = vs_s3_delete(s3, u.bucket, sc.doomed.names[i]);
        if (rc == VS_OK) {
            st->segments_deleted++;
            st->bytes_freed += sc.sizes[i];
        }
    }
out:
    free(sc.sizes);
    free(gens.gens);
    set_free(&kept);
    set_free(&sc.doomed);
    return rc;
}

/* The caller's struct may be shorter than this library's (vecscale.h, "Options and result
 * structs"): its size is checked before any work, and only its bytes are written after. */
int vs_snapshot_gc(vs_s3 *s3, const char *uri, uint32_t keep, uint32_t grace_s, int dry_run, vs_snapshot_gc_stats *st)
{
    size_t n = 0;
    if (st) {
        int rc = vs_result_size(st, sizeof *st, VS_SNAPSHOT_GC_STATS_V1, "vs_snapshot_gc_stats", &n);
        if (rc) return rc;
    }
    vs_snapshot_gc_stats full = {.struct_size = sizeof full};
    int rc = gc(s3, uri, keep, grace_s, dry_run, &full);
    if (st) vs_result_write(st, &full, n);
    return rc;
}
