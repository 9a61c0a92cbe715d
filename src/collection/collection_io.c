/* Collection snapshots: "index-<generation>.vsi" (an ordinary index file) and
 * "collection.vsc" (configuration + documents, container kind 2), written in that order;
 * replacing collection.vsc atomically is the commit point of a snapshot. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collection/collection_impl.h"
#include "core/error.h"
#include "io/container.h"

#define TAG_CONF VS_TAG('C', 'O', 'N', 'F')
#define TAG_DIDS VS_TAG('D', 'I', 'D', 'S')
#define TAG_DOFF VS_TAG('D', 'O', 'F', 'F')
#define TAG_DBLB VS_TAG('D', 'B', 'L', 'B')
#define TAG_KEYS VS_TAG('K', 'E', 'Y', 'S') /* string ids (collection_impl.h); absent before them */
#define TAG_LPOS VS_TAG('L', 'P', 'O', 'S') /* u64 replicated-log position; absent before it = 0 */
#define CONF_FIXED 64
#define ABSENT UINT64_MAX

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* CONF: u32 dim | u32 metric | u32 train_min | u32 n_threads | u64 generation | i64 next_id |
 * u64 documents | u64 snapshot_log_bytes | u32 staging | u32 factory length | u32 model length |
 * u32 index_empty (no index file was written) | factory | model.
 * DIDS: i64 per document. DOFF: per document u64 text length, u64 metadata length (ABSENT =
 * none). DBLB: the strings back to back. */
/* An empty but trained index of a kind that needs training (create_with_index's shared
 * quantizer, or a trained IVF index emptied by removals) is written: a fresh one would not be
 * trained, and replaying the log into it would lose the quantizer. */
static int keeps_quantizer(const vs_collection *c)
{
    if (c->staging || !vs_index_is_trained(c->index)) return 0;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = c->dim, .metric = c->metric, .factory = c->factory};
    vs_index *fresh = NULL;
    int untrained = vs_index_create(&o, &fresh) == VS_OK && !vs_index_is_trained(fresh);
    vs_index_free(fresh);
    vs_clear_error();
    return untrained;
}

int vs_collection_write_snapshot(vs_collection *c, uint64_t generation)
{
    char path[4200];
    /* An empty index is not written (an empty L2 Flat file cannot be loaded back: it lacks
     * its norms section); open creates a fresh one instead. */
    uint32_t empty = vs_index_size(c->index) == 0 && !keeps_quantizer(c);
    int rc = VS_OK;
    vs_collection_path(c, path, sizeof path, "index", generation);
    if (!empty) rc = vs_index_save(c->index, path);
    if (rc) return rc;
    /* Payload indexes next; like the index file, it counts only once collection.vsc names
     * this generation. */
    vs_collection_path(c, path, sizeof path, "payload", generation);
    pthread_rwlock_rdlock(&c->payload_rw);
    rc = vs_payload_write(&c->payload, path);
    pthread_rwlock_unlock(&c->payload_rw);
    if (rc) return rc;

    size_t n = c->docs.count;
    uint32_t flen = (uint32_t)strlen(c->factory), mlen = (uint32_t)strlen(c->model);
    uint8_t conf[CONF_FIXED + 64 + 256];
    memset(conf, 0, sizeof conf);
    put32(conf, c->dim);
    put32(conf + 4, (uint32_t)c->metric);
    put32(conf + 8, c->train_min);
    put32(conf + 12, c->n_threads);
    put64(conf + 16, generation);
    put64(conf + 24, (uint64_t)c->next_id);
    put64(conf + 32, n);
    put64(conf + 40, c->snapshot_log_bytes);
    put32(conf + 48, (uint32_t)c->staging);
    put32(conf + 52, flen);
    put32(conf + 56, mlen);
    put32(conf + 60, empty);
    memcpy(conf + CONF_FIXED, c->factory, flen);
    memcpy(conf + CONF_FIXED + flen, c->model, mlen);

    int64_t *ids = malloc(n * 8 + 1);
    uint64_t *lens = malloc(n * 16 + 1);
    const void **parts = malloc(2 * n * sizeof *parts + 1);
    uint64_t *plens = malloc(2 * n * sizeof *plens + 1);
    if (!ids || !lens || !parts || !plens) rc = vs_fail(VS_ERR_NOMEM, "out of memory writing a snapshot");
    size_t np = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const vs_doc *d = &c->docs.docs[i];
        ids[i] = d->id;
        lens[2 * i] = d->text ? strlen(d->text) : ABSENT;
        lens[2 * i + 1] = d->metadata ? strlen(d->metadata) : ABSENT;
        if (d->text && lens[2 * i]) { parts[np] = d->text; plens[np++] = lens[2 * i]; }
        if (d->metadata && lens[2 * i + 1]) { parts[np] = d->metadata; plens[np++] = lens[2 * i + 1]; }
    }
    vs_container_writer *w = NULL;
    vs_collection_path(c, path, sizeof path, "conf", 0);
    if (!rc) rc = vs_container_create(path, VS_FILE_KIND_COLLECTION, &w);
    if (!rc) rc = vs_container_add(w, TAG_CONF, 0, conf, CONF_FIXED + flen + mlen);
    if (!rc) rc = vs_container_add(w, TAG_DIDS, VS_SECTION_BULK, ids, n * 8);
    if (!rc) rc = vs_container_add(w, TAG_DOFF, VS_SECTION_BULK, lens, n * 16);
    if (!rc) rc = vs_container_add_parts(w, TAG_DBLB, VS_SECTION_BULK, parts, plens, np);
    uint8_t *keys = NULL;
    size_t keys_len = 0;
    if (!rc) rc = vs_keys_encode(c, &keys, &keys_len);
    if (!rc) rc = vs_container_add(w, TAG_KEYS, VS_SECTION_BULK, keys, keys_len);
    free(keys);
    /* Only collections fed by the cluster's log have a position: the others' files stay as
     * they were, byte for byte (an older build ignores the unknown section). */
    uint8_t lpos[8];
    put64(lpos, c->log_pos);
    if (!rc && c->log_pos) rc = vs_container_add(w, TAG_LPOS, 0, lpos, sizeof lpos);
    if (!rc) {
        rc = vs_container_commit(w);
    } else {
        vs_container_abort(w);
    }
    free(ids);
    free(lens);
    free(parts);
    free(plens);
    return rc;
}

static int read_whole(const char *path, uint8_t **out, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return vs_fail(VS_ERR_IO, "stat %s: %s", path, strerror(errno));
    }
    uint8_t *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!b) return vs_fail(VS_ERR_NOMEM, "out of memory reading %s", path);
    if (got != (size_t)st.st_size) {
        free(b);
        return vs_fail(VS_ERR_IO, "read %s: short read", path);
    }
    *out = b;
    *size = got;
    return VS_OK;
}

/* The index file against the documents. Checksums prove only that a file is as written, not
 * that what wrote it was vecscale (a forged file recomputes them): the index must hold exactly
 * the documents' ids (distinct and non-negative, checked in DIDS), once each, with finite
 * vectors, or searches would return ids without documents, twice, or NaN scores. With as many
 * vectors as documents, every document found means the same id set. The removal of an id
 * that cannot exist builds the index's id map, which refuses duplicates (the first write
 * would build it anyway). */
static int check_index(vs_collection *c, const char *path)
{
    int64_t none = -1;
    int rc = vs_index_remove(c->index, 1, &none, NULL);
    if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", vs_last_error());
        return vs_fail(VS_ERR_CORRUPT, "%s: %s", path, why);
    }
    float *v = malloc(c->dim * sizeof *v);
    if (!v) return vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < c->docs.count; i++) {
        int64_t id = c->docs.docs[i].id;
        if (vs_index_get(c->index, id, v)) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s holds no vector for document %lld", path, (long long)id);
            break;
        }
        for (uint32_t j = 0; j < c->dim; j++)
            if (!isfinite(v[j])) {
                rc = vs_fail(VS_ERR_CORRUPT, "%s: the vector of document %lld is not finite (component %u)", path,
                             (long long)id, j);
                break;
            }
    }
    free(v);
    return rc;
}

int vs_collection_read_snapshot(vs_collection *c)
{
    char path[4200];
    vs_collection_path(c, path, sizeof path, "conf", 0);
    uint8_t *b = NULL;
    size_t size = 0;
    int rc = read_whole(path, &b, &size);
    if (rc == VS_ERR_NOT_FOUND) return vs_fail(VS_ERR_NOT_FOUND, "%s holds no collection (no %s)", c->dir, VS_COLLECTION_FILE);
    if (rc) return rc;
    vs_container *ct = malloc(sizeof *ct);
    if (!ct) {
        free(b);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    rc = vs_container_open(ct, b, size, 0, path);
    if (!rc && ct->kind != VS_FILE_KIND_COLLECTION)
        rc = vs_fail(VS_ERR_CORRUPT, "%s: this vecscale file holds kind %u, not a collection", path, ct->kind);
    uint64_t clen = 0, ilen = 0, olen = 0, blen = 0;
    const uint8_t *conf = rc ? NULL : vs_container_find(ct, TAG_CONF, &clen);
    if (!rc && (!conf || clen < CONF_FIXED)) rc = vs_fail(VS_ERR_CORRUPT, "%s: missing or short CONF section", path);
    uint64_t n = 0;
    uint32_t empty = 0;
    if (!rc) {
        empty = get32(conf + 60);
        c->dim = get32(conf);
        c->metric = (vs_metric)get32(conf + 4);
        c->train_min = get32(conf + 8);
        c->n_threads = get32(conf + 12);
        c->generation = get64(conf + 16);
        c->next_id = (int64_t)get64(conf + 24);
        n = get64(conf + 32);
        c->snapshot_log_bytes = get64(conf + 40);
        c->staging = (int)get32(conf + 48);
        uint32_t flen = get32(conf + 52), mlen = get32(conf + 56);
        if (flen >= 64 || mlen >= 256 || CONF_FIXED + (uint64_t)flen + mlen != clen)
            rc = vs_fail(VS_ERR_CORRUPT, "%s: bad CONF section", path);
        else {
            memcpy(c->factory, conf + CONF_FIXED, flen);
            c->factory[flen] = 0;
            memcpy(c->model, conf + CONF_FIXED + flen, mlen);
            c->model[mlen] = 0;
        }
    }
    const uint8_t *ids = NULL, *lens = NULL, *blob = NULL;
    if (!rc) {
        ids = vs_container_find(ct, TAG_DIDS, &ilen);
        lens = vs_container_find(ct, TAG_DOFF, &olen);
        blob = vs_container_find(ct, TAG_DBLB, &blen);
        if (ilen != n * 8 || olen != n * 16 || (n && (!ids || !lens)))
            rc = vs_fail(VS_ERR_CORRUPT, "%s: document sections do not match %llu documents", path,
                         (unsigned long long)n);
    }
    if (!rc) rc = vs_docstore_reserve(&c->docs, n);
    uint64_t off = 0;
    for (uint64_t i = 0; !rc && i < n; i++) {
        uint64_t tl = get64(lens + 16 * i), ml = get64(lens + 16 * i + 8);
        uint64_t a = tl == ABSENT ? 0 : tl, m = ml == ABSENT ? 0 : ml;
        int64_t id = (int64_t)get64(ids + 8 * i);
        if (a > blen - off || m > blen - off - a || id < 0 || vs_docstore_get(&c->docs, id)) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: document %llu %s", path, (unsigned long long)i,
                         id < 0 ? "has a negative id" : vs_docstore_get(&c->docs, id) ? "repeats an id" : "overruns the text section");
            break;
        }
        char *t = NULL, *md = NULL;
        if (tl != ABSENT && (t = malloc(a + 1))) { memcpy(t, blob + off, a); t[a] = 0; }
        if (ml != ABSENT && (md = malloc(m + 1))) { memcpy(md, blob + off + a, m); md[m] = 0; }
        if ((tl != ABSENT && !t) || (ml != ABSENT && !md)) {
            free(t);
            free(md);
            rc = vs_fail(VS_ERR_NOMEM, "out of memory");
            break;
        }
        vs_docstore_put(&c->docs, id, t, md);
        off += a + m;
    }
    if (!rc) {
        uint64_t klen = 0;
        const uint8_t *keys = vs_container_find(ct, TAG_KEYS, &klen);
        rc = vs_keys_decode(c, keys, klen, path);
    }
    if (!rc) {
        uint64_t plen = 0;
        const uint8_t *lpos = vs_container_find(ct, TAG_LPOS, &plen);
        if (lpos && plen != 8) rc = vs_fail(VS_ERR_CORRUPT, "%s: bad LPOS section", path);
        c->log_pos = lpos && plen == 8 ? get64(lpos) : 0;
    }
    free(ct);
    free(b);
    if (rc) return rc;
    if (empty && n == 0) {
        vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = c->dim, .metric = c->metric, .factory = c->factory, .n_threads = c->n_threads};
        rc = vs_index_create(&o, &c->index);
        if (!rc && !vs_index_is_trained(c->index)) {
            vs_index_free(c->index);
            c->index = NULL;
            c->staging = 1;
            o.factory = "Flat";
            rc = vs_index_create(&o, &c->index);
        }
        return rc;
    }
    vs_collection_path(c, path, sizeof path, "index", c->generation);
    rc = vs_index_load(path, &c->index);
    if (rc) return rc;
    if (vs_index_dim(c->index) != c->dim || vs_index_size(c->index) != n)
        return vs_fail(VS_ERR_CORRUPT, "%s holds %zu vectors of dimension %u; the collection expects %llu of %u", path,
                       vs_index_size(c->index), vs_index_dim(c->index), (unsigned long long)n, c->dim);
    rc = check_index(c, path);
    if (rc) return rc;
    atomic_store(&c->count, (size_t)n);
    return VS_OK;
}
