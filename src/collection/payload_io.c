/* The payload file of a snapshot, "payload-<generation>.vsp": a container (kind 4; magic,
 * checksums and the atomic temp + fsync + rename write come from io/container.c) with
 *
 *   PHDR  u32 payload version (1) | u32 fields | u32 indexes | u32 wide_ids
 *   PFLD  per field: u32 name length | name | u64 docs | u64 count[5] (string, integer,
 *         other number, bool, other)
 *   PALL  the live document IDs (CRoaring portable serialisation)
 *   PIDX  per index: u32 type | u32 ready | u32 automatic | u32 name length | name | bitmap
 *         present; then keyword: u64 values, per value (sorted) u32 length | bytes | bitmap;
 *         bool: bitmap false | bitmap true; integer / float: u64 entries, then entries sorted
 *         by (value, id) as f64 value | u32 id (removed IDs already dropped).
 *   A bitmap is u64 length | portable serialisation. An index still building is written
 *   with ready 0 and no data; open builds it again.
 * Keyword values are sorted and the numeric entries merged so equal contents give equal bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collection/payload.h"
#include "core/error.h"
#include "io/container.h"

#define TAG_PHDR VS_TAG('P', 'H', 'D', 'R')
#define TAG_PFLD VS_TAG('P', 'F', 'L', 'D')
#define TAG_PALL VS_TAG('P', 'A', 'L', 'L')
#define TAG_PIDX VS_TAG('P', 'I', 'D', 'X')

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int failed;
} buf;

static int reserve(buf *b, size_t n)
{
    if (b->failed) return 0;
    if (b->len + n <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) {
        b->failed = 1;
        return 0;
    }
    b->p = q;
    b->cap = cap;
    return 1;
}

static void put(buf *b, const void *d, size_t n)
{
    if (!reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put64(buf *b, uint64_t v) { put(b, &v, 8); }

static void put_bitmap(buf *b, const roaring_bitmap_t *r)
{
    size_t n = roaring_bitmap_portable_size_in_bytes(r);
    put64(b, n);
    if (reserve(b, n)) b->len += roaring_bitmap_portable_serialize(r, (char *)b->p + b->len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry(const void *a, const void *b)
{
    const vs_num_entry *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void put_index(buf *b, const vs_pindex *x)
{
    int ready = x->state == VS_PIX_READY;
    put32(b, (uint32_t)x->type);
    put32(b, (uint32_t)ready);
    put32(b, (uint32_t)x->automatic);
    put32(b, (uint32_t)strlen(x->field));
    put(b, x->field, strlen(x->field));
    if (!ready) return;
    put_bitmap(b, x->present);
    if (x->type == VS_PAYLOAD_KEYWORD) {
        char **keys = malloc((x->kw.count + 1) * sizeof *keys);
        if (!keys) {
            b->failed = 1;
            return;
        }
        size_t n = 0;
        for (size_t i = 0; i < x->kw.cap; i++)
            if (x->kw.keys[i]) keys[n++] = x->kw.keys[i];
        qsort(keys, n, sizeof *keys, cmp_str);
        put64(b, n);
        for (size_t i = 0; i < n; i++) {
            put32(b, (uint32_t)strlen(keys[i]));
            put(b, keys[i], strlen(keys[i]));
            /* kw_find is private to payload.c; vs_pindex_equal_str copies the set. */
            roaring_bitmap_t *s = vs_pindex_equal_str(x, keys[i]);
            if (!s) b->failed = 1;
            else {
                put_bitmap(b, s);
                roaring_bitmap_free(s);
            }
        }
        free(keys);
    } else if (x->type == VS_PAYLOAD_BOOL) {
        put_bitmap(b, x->b[0]);
        put_bitmap(b, x->b[1]);
    } else {
        size_t n = 0, total = x->n_sorted + x->n_tail;
        vs_num_entry *e = malloc((total + 1) * sizeof *e);
        if (!e) {
            b->failed = 1;
            return;
        }
        int any_dead = !roaring_bitmap_is_empty(x->dead);
        for (size_t i = 0; i < total; i++) {
            const vs_num_entry *s = i < x->n_sorted ? &x->sorted[i] : &x->tail[i - x->n_sorted];
            if (!any_dead || !roaring_bitmap_contains(x->dead, s->id)) e[n++] = *s;
        }
        qsort(e, n, sizeof *e, cmp_entry);
        put64(b, n);
        for (size_t i = 0; i < n; i++) {
            put(b, &e[i].v, 8);
            put32(b, e[i].id);
        }
        free(e);
    }
}

int vs_payload_write(const vs_payload *p, const char *path)
{
    buf hdr = {0}, fld = {0}, all = {0}, idx = {0};
    put32(&hdr, VS_PAYLOAD_VERSION);
    put32(&hdr, (uint32_t)p->n_fields);
    put32(&hdr, (uint32_t)p->n_ix);
    put32(&hdr, (uint32_t)p->wide_ids);
    for (size_t i = 0; i < p->n_fields; i++) {
        const vs_field_stat *f = &p->fields[i];
        put32(&fld, (uint32_t)strlen(f->name));
        put(&fld, f->name, strlen(f->name));
        put64(&fld, f->docs);
        for (int k = 0; k < VS_JT_N; k++) put64(&fld, f->count[k]);
    }
    put_bitmap(&all, p->all);
    for (size_t i = 0; i < p->n_ix; i++) put_index(&idx, p->ix[i]);
    int rc = hdr.failed || fld.failed || all.failed || idx.failed ? vs_fail(VS_ERR_NOMEM, "out of memory writing %s", path) : VS_OK;
    vs_container_writer *w = NULL;
    if (!rc) rc = vs_container_create(path, VS_FILE_KIND_PAYLOAD, &w);
    if (!rc) rc = vs_container_add(w, TAG_PHDR, 0, hdr.p, hdr.len);
    if (!rc) rc = vs_container_add(w, TAG_PFLD, 0, fld.p ? fld.p : (uint8_t *)"", fld.len);
    if (!rc) rc = vs_container_add(w, TAG_PALL, VS_SECTION_BULK, all.p, all.len);
    if (!rc) rc = vs_container_add(w, TAG_PIDX, VS_SECTION_BULK, idx.p ? idx.p : (uint8_t *)"", idx.len);
    if (!rc) rc = vs_container_commit(w);
    else vs_container_abort(w);
    free(hdr.p);
    free(fld.p);
    free(all.p);
    free(idx.p);
    return rc;
}

/* --- reading ------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    uint64_t left;
    int bad;
} rd;

static int take(rd *r, void *out, uint64_t n)
{
    if (r->bad || n > r->left) {
        r->bad = 1;
        return 0;
    }
    if (out) memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 1;
}

static uint32_t get32(rd *r) { uint32_t v = 0; take(r, &v, 4); return v; }
static uint64_t get64(rd *r) { uint64_t v = 0; take(r, &v, 8); return v; }

static roaring_bitmap_t *get_bitmap(rd *r)
{
    uint64_t n = get64(r);
    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    roaring_bitmap_t *b = roaring_bitmap_portable_deserialize_safe((const char *)r->p, n);
    if (!b || roaring_bitmap_portable_size_in_bytes(b) != n) {
        if (b) roaring_bitmap_free(b);
        r->bad = 1;
        return NULL;
    }
    take(r, NULL, n);
    return b;
}

static int read_name(rd *r, char *out)
{
    uint32_t n = get32(r);
    if (n == 0 || n >= VS_PAYLOAD_FIELD_MAX || !take(r, out, n)) {
        r->bad = 1;
        return 0;
    }
    out[n] = 0;
    return 1;
}

/* Replaces the bitmap *dst (created empty by the declaration) with src. */
static void swap_in(roaring_bitmap_t **dst, roaring_bitmap_t *src)
{
    roaring_bitmap_free(*dst);
    *dst = src;
}

static int read_index(vs_payload *p, rd *r, const char *path)
{
    vs_payload_type type = (vs_payload_type)get32(r);
    uint32_t ready = get32(r), automatic = get32(r);
    char name[VS_PAYLOAD_FIELD_MAX];
    if (!read_name(r, name) || ready > 1 || automatic > 1)
        return vs_fail(VS_ERR_CORRUPT, "%s: payload index entry is damaged", path);
    vs_pindex *x = NULL;
    int rc = vs_payload_declare(p, name, type, (int)automatic, &x);
    if (rc) return vs_fail(VS_ERR_CORRUPT, "%s: %s", path, vs_last_error());
    if (!ready) return VS_OK;
    roaring_bitmap_t *present = get_bitmap(r);
    if (!present) return vs_fail(VS_ERR_CORRUPT, "%s: index '%s': damaged bitmap", path, name);
    swap_in(&x->present, present);
    if (type == VS_PAYLOAD_KEYWORD) {
        uint64_t n = get64(r);
        char *val = malloc(r->left + 1);
        if (!val) return vs_fail(VS_ERR_NOMEM, "out of memory");
        for (uint64_t i = 0; i < n && !r->bad; i++) {
            uint32_t len = get32(r);
            if (!take(r, val, len)) break;
            val[len] = 0;
            roaring_bitmap_t *s = get_bitmap(r);
            if (!s) break;
            roaring_bitmap_t *dst = vs_pindex_equal_str(x, val); /* probe: must be new */
            int fresh = dst && roaring_bitmap_is_empty(dst);
            if (dst) roaring_bitmap_free(dst);
            /* Feed the set through the public add path: the table owns its bitmaps. */
            uint64_t card = roaring_bitmap_get_cardinality(s);
            uint32_t *ids = malloc((card + 1) * sizeof *ids);
            if (!fresh || !ids) {
                free(ids);
                roaring_bitmap_free(s);
                r->bad = 1;
                break;
            }
            roaring_bitmap_to_uint32_array(s, ids);
            roaring_bitmap_free(s);
            rc = vs_pindex_add_keyword(x, val, ids, card);
            free(ids);
            if (rc) {
                free(val);
                return rc;
            }
        }
        free(val);
    } else if (type == VS_PAYLOAD_BOOL) {
        roaring_bitmap_t *f = get_bitmap(r), *t = f ? get_bitmap(r) : NULL;
        if (!t) {
            if (f) roaring_bitmap_free(f);
            r->bad = 1;
        } else {
            swap_in(&x->b[0], f);
            swap_in(&x->b[1], t);
        }
    } else {
        uint64_t n = get64(r);
        if (r->bad || n > r->left / 12) return vs_fail(VS_ERR_CORRUPT, "%s: index '%s': damaged entries", path, name);
        x->sorted = malloc((n + 1) * sizeof *x->sorted);
        if (!x->sorted) return vs_fail(VS_ERR_NOMEM, "out of memory");
        x->cap_sorted = n + 1;
        for (uint64_t i = 0; i < n; i++) {
            take(r, &x->sorted[i].v, 8);
            x->sorted[i].id = get32(r);
            if (i && cmp_entry(&x->sorted[i - 1], &x->sorted[i]) > 0) r->bad = 1;
        }
        x->n_sorted = n;
    }
    if (r->bad) return vs_fail(VS_ERR_CORRUPT, "%s: index '%s' is damaged", path, name);
    x->state = VS_PIX_READY;
    return VS_OK;
}

static int read_file(const char *path, uint8_t **out, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? VS_ERR_NOT_FOUND : vs_fail(VS_ERR_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    uint8_t *b = NULL;
    size_t got = 0;
    if (!fstat(fd, &st) && (b = malloc((size_t)st.st_size + 1)))
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
    close(fd);
    if (!b || got != (size_t)st.st_size) {
        free(b);
        return vs_fail(VS_ERR_IO, "read %s: failed", path);
    }
    *out = b;
    *size = got;
    return VS_OK;
}

int vs_payload_read(vs_payload *p, const char *path)
{
    uint8_t *b = NULL;
    size_t size = 0;
    int rc = read_file(path, &b, &size);
    if (rc) return rc;
    vs_container *ct = malloc(sizeof *ct);
    if (!ct) {
        free(b);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    rc = vs_container_open(ct, b, size, 0, path);
    if (!rc && ct->kind != VS_FILE_KIND_PAYLOAD)
        rc = vs_fail(VS_ERR_CORRUPT, "%s: this vecscale file holds kind %u, not payload indexes", path, ct->kind);
    uint64_t hl = 0, fl = 0, al = 0, il = 0;
    const uint8_t *h = rc ? NULL : vs_container_find(ct, TAG_PHDR, &hl);
    if (!rc && (!h || hl != 16)) rc = vs_fail(VS_ERR_CORRUPT, "%s: missing or short PHDR section", path);
    uint32_t version = 0, n_fields = 0, n_ix = 0, wide = 0;
    if (!rc) {
        memcpy(&version, h, 4);
        memcpy(&n_fields, h + 4, 4);
        memcpy(&n_ix, h + 8, 4);
        memcpy(&wide, h + 12, 4);
        if (version > VS_PAYLOAD_VERSION)
            rc = vs_fail(VS_ERR_VERSION, "%s: payload format %u is newer than this build reads (%u): upgrade vecscale",
                         path, version, VS_PAYLOAD_VERSION);
        else if (version == 0 || wide > 1)
            rc = vs_fail(VS_ERR_CORRUPT, "%s: bad PHDR section", path);
    }
    if (!rc) {
        p->wide_ids = (int)wide;
        rd r = {vs_container_find(ct, TAG_PFLD, &fl), fl, 0};
        for (uint32_t i = 0; i < n_fields && !r.bad && !rc; i++) {
            char name[VS_PAYLOAD_FIELD_MAX];
            if (!read_name(&r, name)) break;
            uint64_t docs = get64(&r), count[VS_JT_N];
            for (int k = 0; k < VS_JT_N; k++) count[k] = get64(&r);
            rc = vs_payload_set_field(p, name, docs, count);
        }
        if (!rc && (r.bad || r.left)) rc = vs_fail(VS_ERR_CORRUPT, "%s: damaged PFLD section", path);
    }
    if (!rc) {
        rd r = {vs_container_find(ct, TAG_PALL, &al), al, 0};
        roaring_bitmap_t *all = get_bitmap(&r);
        if (!all || r.left) {
            if (all) roaring_bitmap_free(all);
            rc = vs_fail(VS_ERR_CORRUPT, "%s: damaged PALL section", path);
        } else {
            swap_in(&p->all, all);
        }
    }
    if (!rc) {
        rd r = {vs_container_find(ct, TAG_PIDX, &il), il, 0};
        for (uint32_t i = 0; i < n_ix && !rc; i++) rc = read_index(p, &r, path);
        if (!rc && r.left) rc = vs_fail(VS_ERR_CORRUPT, "%s: trailing bytes in PIDX", path);
    }
    free(ct);
    free(b);
    return rc;
}
