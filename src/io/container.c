/* Writer and validating reader of the section container (format documented in container.h). */
#include "io/container.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "vecscale.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vecscale files are little-endian; a big-endian port needs byte swapping here"
#endif

/* The bytes go to an atomically replaced file, or (file NULL) to a growing heap buffer. */
struct vs_container_writer {
    vs_atomic_file *file;
    uint8_t *mem;
    size_t mem_len, mem_cap;
    uint32_t kind, count;
    vs_section sections[VS_CONTAINER_MAX_SECTIONS];
    XXH3_state_t *open; /* the section between vs_container_begin and _end */
    char target[4200];  /* the file's final path ("" for a memory writer) */
};

static uint64_t sink_size(const vs_container_writer *w) { return w->file ? vs_atomic_size(w->file) : w->mem_len; }

static int sink_pwrite(vs_container_writer *w, const void *data, size_t len, uint64_t offset)
{
    if (w->file) return vs_atomic_pwrite(w->file, data, len, offset);
    if (offset + len > w->mem_cap) {
        size_t cap = w->mem_cap ? w->mem_cap : 4096;
        while (cap < offset + len) {
            if (cap > SIZE_MAX / 2) return vs_fail(VS_ERR_NOMEM, "index image too large for memory");
            cap *= 2;
        }
        uint8_t *m = realloc(w->mem, cap);
        if (!m) return vs_fail(VS_ERR_NOMEM, "out of memory for a %zu-byte image", cap);
        w->mem = m;
        w->mem_cap = cap;
    }
    if (len) memcpy(w->mem + offset, data, len);
    if (offset + len > w->mem_len) w->mem_len = (size_t)(offset + len);
    return VS_OK;
}

static int sink_write(vs_container_writer *w, const void *data, size_t len)
{
    return w->file ? vs_atomic_write(w->file, data, len) : sink_pwrite(w, data, len, w->mem_len);
}

static int pad_to_alignment(vs_container_writer *w)
{
    static const uint8_t zeros[VS_CONTAINER_ALIGN];
    uint64_t rem = sink_size(w) % VS_CONTAINER_ALIGN;
    return rem ? sink_write(w, zeros, VS_CONTAINER_ALIGN - rem) : VS_OK;
}

static int start(const char *path, uint32_t kind, vs_container_writer **out)
{
    vs_container_writer *w = calloc(1, sizeof *w);
    if (!w) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = path ? vs_atomic_open(path, &w->file) : VS_OK;
    if (rc) {
        free(w);
        return rc;
    }
    w->kind = kind;
    if (path) snprintf(w->target, sizeof w->target, "%s", path);
    uint8_t placeholder[VS_CONTAINER_HEADER_SIZE] = {0};
    rc = sink_write(w, placeholder, sizeof placeholder);
    if (rc) {
        vs_container_abort(w);
        return rc;
    }
    *out = w;
    return VS_OK;
}

int vs_container_create(const char *path, uint32_t kind, vs_container_writer **out)
{
    return start(path, kind, out);
}

int vs_container_create_memory(uint32_t kind, vs_container_writer **out) { return start(NULL, kind, out); }

const char *vs_container_target(const vs_container_writer *w) { return w->target[0] ? w->target : NULL; }

int vs_container_add(vs_container_writer *w, uint32_t tag, uint32_t flags, const void *data, uint64_t len)
{
    if (w->open) return vs_fail(VS_ERR_INVALID_ARG, "a section is still open");
    if (w->count == VS_CONTAINER_MAX_SECTIONS) return vs_fail(VS_ERR_INVALID_ARG, "too many sections");
    int rc = pad_to_alignment(w);
    if (rc) return rc;
    vs_section *s = &w->sections[w->count];
    s->tag = tag;
    s->flags = flags;
    s->offset = sink_size(w);
    s->length = len;
    s->checksum = XXH3_64bits(data, (size_t)len);
    rc = sink_write(w, data, (size_t)len);
    if (rc) return rc;
    w->count++;
    return VS_OK;
}

int vs_container_add_parts(vs_container_writer *w, uint32_t tag, uint32_t flags, const void *const *parts,
                           const uint64_t *lens, size_t n_parts)
{
    if (w->open) return vs_fail(VS_ERR_INVALID_ARG, "a section is still open");
    if (w->count == VS_CONTAINER_MAX_SECTIONS) return vs_fail(VS_ERR_INVALID_ARG, "too many sections");
    int rc = pad_to_alignment(w);
    if (rc) return rc;
    XXH3_state_t *st = XXH3_createState();
    if (!st || XXH3_64bits_reset(st) != XXH_OK) {
        XXH3_freeState(st);
        return vs_fail(VS_ERR_NOMEM, "out of memory for a checksum state");
    }
    vs_section *s = &w->sections[w->count];
    s->tag = tag;
    s->flags = flags;
    s->offset = sink_size(w);
    s->length = 0;
    for (size_t i = 0; i < n_parts && !rc; i++) {
        if (!lens[i]) continue;
        XXH3_64bits_update(st, parts[i], (size_t)lens[i]);
        rc = sink_write(w, parts[i], (size_t)lens[i]);
        s->length += lens[i];
    }
    s->checksum = XXH3_64bits_digest(st); /* equals the one-shot XXH3_64bits of the whole */
    XXH3_freeState(st);
    if (rc) return rc;
    w->count++;
    return VS_OK;
}

int vs_container_begin(vs_container_writer *w, uint32_t tag, uint32_t flags)
{
    if (w->open) return vs_fail(VS_ERR_INVALID_ARG, "a section is already open");
    if (w->count == VS_CONTAINER_MAX_SECTIONS) return vs_fail(VS_ERR_INVALID_ARG, "too many sections");
    int rc = pad_to_alignment(w);
    if (rc) return rc;
    XXH3_state_t *st = XXH3_createState();
    if (!st || XXH3_64bits_reset(st) != XXH_OK) {
        XXH3_freeState(st);
        return vs_fail(VS_ERR_NOMEM, "out of memory for a checksum state");
    }
    vs_section *s = &w->sections[w->count];
    s->tag = tag;
    s->flags = flags;
    s->offset = sink_size(w);
    s->length = 0;
    w->open = st;
    return VS_OK;
}

int vs_container_write(vs_container_writer *w, const void *data, uint64_t len)
{
    if (!w->open) return vs_fail(VS_ERR_INVALID_ARG, "no section is open");
    if (!len) return VS_OK;
    XXH3_64bits_update(w->open, data, (size_t)len);
    w->sections[w->count].length += len;
    return sink_write(w, data, (size_t)len);
}

int vs_container_end(vs_container_writer *w)
{
    if (!w->open) return vs_fail(VS_ERR_INVALID_ARG, "no section is open");
    w->sections[w->count].checksum = XXH3_64bits_digest(w->open);
    XXH3_freeState(w->open);
    w->open = NULL;
    w->count++;
    return VS_OK;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Writes the table and the header: the file or buffer is complete afterwards. */
static int finish(vs_container_writer *w)
{
    /* the callers abort w on failure */
    if (w->open) return vs_fail(VS_ERR_INVALID_ARG, "a section is still open");
    int rc = pad_to_alignment(w);
    uint64_t table_offset = sink_size(w);
    uint8_t *table = malloc((size_t)w->count * 32 + 1);
    if (!rc && !table) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    if (!rc) {
        for (uint32_t i = 0; i < w->count; i++) {
            uint8_t *e = table + (size_t)i * 32;
            put32(e, w->sections[i].tag);
            put32(e + 4, w->sections[i].flags);
            put64(e + 8, w->sections[i].offset);
            put64(e + 16, w->sections[i].length);
            put64(e + 24, w->sections[i].checksum);
        }
        rc = sink_write(w, table, (size_t)w->count * 32);
    }
    if (!rc) {
        uint8_t h[VS_CONTAINER_HEADER_SIZE] = {0};
        memcpy(h, VS_CONTAINER_MAGIC, 8);
        put32(h + 8, VS_FORMAT_VERSION);
        put32(h + 12, VS_CONTAINER_HEADER_SIZE);
        put64(h + 16, sink_size(w));
        put64(h + 24, table_offset);
        put32(h + 32, w->count);
        put32(h + 36, w->kind);
        put64(h + 40, XXH3_64bits(table, (size_t)w->count * 32));
        put64(h + 56, XXH3_64bits(h, 56));
        rc = sink_pwrite(w, h, sizeof h, 0);
    }
    free(table);
    return rc;
}

int vs_container_commit(vs_container_writer *w)
{
    int rc = finish(w);
    if (rc) {
        vs_container_abort(w);
        return rc;
    }
    rc = vs_atomic_commit(w->file);
    free(w);
    return rc;
}

int vs_container_commit_memory(vs_container_writer *w, void **buf, size_t *len)
{
    int rc = finish(w);
    if (rc) {
        vs_container_abort(w);
        return rc;
    }
    *buf = w->mem;
    *len = w->mem_len;
    free(w);
    return VS_OK;
}

void vs_container_abort(vs_container_writer *w)
{
    if (!w) return;
    XXH3_freeState(w->open);
    if (w->file) vs_atomic_abort(w->file);
    free(w->mem);
    free(w);
}

/* Fuzzing builds accept bad checksums so the fuzzer can reach the parsers behind them. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CHECKSUM_MISMATCH(a, b) ((a) != (b) && 0)
#else
#define CHECKSUM_MISMATCH(a, b) ((a) != (b))
#endif

static int verify_section(const vs_container *c, const vs_section *s, const char *origin)
{
    if (CHECKSUM_MISMATCH(XXH3_64bits(c->base + s->offset, (size_t)s->length), s->checksum))
        return vs_fail(VS_ERR_CORRUPT, "%s: checksum mismatch in section '%.4s' (file is corrupt)",
                       origin, (const char *)&s->tag);
    return VS_OK;
}

int vs_container_open(vs_container *c, const void *base, uint64_t size, int skip_bulk, const char *origin)
{
    const uint8_t *b = base;
    memset(c, 0, offsetof(vs_container, sections));
    if (size < VS_CONTAINER_HEADER_SIZE) {
        if (size >= 8 && memcmp(b, VS_CONTAINER_MAGIC, 8) != 0)
            return vs_fail(VS_ERR_CORRUPT, "%s: not a vecscale file (bad magic)", origin);
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated: %llu bytes, smaller than the %d-byte header",
                       origin, (unsigned long long)size, VS_CONTAINER_HEADER_SIZE);
    }
    if (memcmp(b, VS_CONTAINER_MAGIC, 8) != 0)
        return vs_fail(VS_ERR_CORRUPT, "%s: not a vecscale file (bad magic)", origin);
    uint32_t version = get32(b + 8);
    /* Version is checked before the checksum so a newer file gets the helpful message. */
    if (version > VS_FORMAT_VERSION)
        return vs_fail(VS_ERR_VERSION, "%s: format version %u is newer than this library supports (%u); "
                       "upgrade vecscale to read it", origin, version, VS_FORMAT_VERSION);
    if (version == 0) return vs_fail(VS_ERR_CORRUPT, "%s: format version 0 is invalid", origin);
    if (CHECKSUM_MISMATCH(get64(b + 56), XXH3_64bits(b, 56)))
        return vs_fail(VS_ERR_CORRUPT, "%s: header checksum mismatch (file is corrupt)", origin);
    uint64_t file_size = get64(b + 16), table_offset = get64(b + 24);
    uint32_t count = get32(b + 32);
    if (get32(b + 12) != VS_CONTAINER_HEADER_SIZE)
        return vs_fail(VS_ERR_CORRUPT, "%s: unexpected header size %u", origin, get32(b + 12));
    if (file_size != size)
        return vs_fail(VS_ERR_CORRUPT, "%s: %s: header says %llu bytes, file has %llu", origin,
                       size < file_size ? "truncated" : "trailing data", (unsigned long long)file_size,
                       (unsigned long long)size);
    if (count > VS_CONTAINER_MAX_SECTIONS)
        return vs_fail(VS_ERR_CORRUPT, "%s: %u sections exceeds the limit %d", origin, count, VS_CONTAINER_MAX_SECTIONS);
    if (table_offset < VS_CONTAINER_HEADER_SIZE || table_offset > size || (size - table_offset) / 32 < count)
        return vs_fail(VS_ERR_CORRUPT, "%s: section table lies outside the file", origin);
    const uint8_t *table = b + table_offset;
    if (CHECKSUM_MISMATCH(XXH3_64bits(table, (size_t)count * 32), get64(b + 40)))
        return vs_fail(VS_ERR_CORRUPT, "%s: section table checksum mismatch (file is corrupt)", origin);
    c->base = b;
    c->size = size;
    c->version = version;
    c->kind = get32(b + 36);
    c->count = count;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = table + (size_t)i * 32;
        vs_section *s = &c->sections[i];
        s->tag = get32(e);
        s->flags = get32(e + 4);
        s->offset = get64(e + 8);
        s->length = get64(e + 16);
        s->checksum = get64(e + 24);
        if (s->offset < VS_CONTAINER_HEADER_SIZE || s->offset > table_offset ||
            s->length > table_offset - s->offset || s->offset % VS_CONTAINER_ALIGN)
            return vs_fail(VS_ERR_CORRUPT, "%s: section '%.4s' lies outside the data area", origin,
                           (const char *)&s->tag);
        if (!(skip_bulk && (s->flags & VS_SECTION_BULK))) {
            int rc = verify_section(c, s, origin);
            if (rc) return rc;
        }
    }
    return VS_OK;
}

const void *vs_container_find(const vs_container *c, uint32_t tag, uint64_t *len)
{
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->sections[i].tag == tag) {
            *len = c->sections[i].length;
            return c->base + c->sections[i].offset;
        }
    }
    *len = 0;
    return NULL;
}

const void *vs_container_require(const vs_container *c, uint32_t tag, uint64_t expect, const char *origin, int *rc)
{
    uint64_t len;
    const void *p = vs_container_find(c, tag, &len);
    if (!p) *rc = vs_fail(VS_ERR_CORRUPT, "%s: missing section '%.4s'", origin, (const char *)&tag);
    else if (len != expect)
        *rc = vs_fail(VS_ERR_CORRUPT, "%s: section '%.4s' has %llu bytes, expected %llu", origin,
                      (const char *)&tag, (unsigned long long)len, (unsigned long long)expect);
    return *rc ? NULL : p;
}

int vs_container_verify_all(const vs_container *c, const char *origin)
{
    for (uint32_t i = 0; i < c->count; i++) {
        int rc = verify_section(c, &c->sections[i], origin);
        if (rc) return rc;
    }
    return VS_OK;
}
