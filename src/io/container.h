/* The section container every vecscale file uses (see ARCHITECTURE.md, "File formats").
 *
 *   offset 0   header, 64 bytes, little-endian:
 *              magic "VECSCALE" | u32 format_version | u32 header_size (64) | u64 file_size |
 *              u64 table_offset | u32 section_count | u32 kind (what the file holds) |
 *              u64 table_checksum | u64 reserved (0) | u64 header_checksum (XXH3-64 of bytes 0..55)
 *   64...      sections, each starting on a 64-byte boundary (mmap'd data is SIMD-aligned)
 *   table      section_count entries of 32 bytes: u32 tag | u32 flags | u64 offset |
 *              u64 length | u64 checksum (XXH3-64 of the section bytes)
 *
 * Sections flagged VS_SECTION_BULK hold large arrays; a view (mmap) skips their checksum so
 * opening stays O(metadata) and does not fault the whole file into memory. */
#ifndef VS_IO_CONTAINER_H
#define VS_IO_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#define VS_CONTAINER_MAGIC "VECSCALE"
#define VS_CONTAINER_HEADER_SIZE 64
#define VS_CONTAINER_ALIGN 64
#define VS_CONTAINER_MAX_SECTIONS 256
#define VS_SECTION_BULK 1u

#define VS_TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* What a file holds (header field "kind"). */
#define VS_FILE_KIND_INDEX 1u

typedef struct vs_container_writer vs_container_writer;

int vs_container_create(const char *path, uint32_t kind, vs_container_writer **out);
/* Appends a section (data copied to the file immediately). */
int vs_container_add(vs_container_writer *w, uint32_t tag, uint32_t flags, const void *data, uint64_t len);
/* Appends one section made of several pieces written back to back (e.g. every inverted list
 * of an IVF index), so a caller need not first copy them into one buffer. */
int vs_container_add_parts(vs_container_writer *w, uint32_t tag, uint32_t flags, const void *const *parts,
                           const uint64_t *lens, size_t n_parts);
/* The same writer filling a heap buffer instead of a file (vs_index_save_buffer). */
int vs_container_create_memory(uint32_t kind, vs_container_writer **out);
/* The path a file writer will commit to; NULL for a memory writer. Sections that name files
 * beside the index (the ",Ru8" store) use it to record them relative to it. */
const char *vs_container_target(const vs_container_writer *w);
/* Appends one section written in pieces as the caller produces them (e.g. HNSW records
 * renumbered on the way out), so it never needs to exist whole in memory: begin, any number
 * of writes, end. No other section may be added in between. */
int vs_container_begin(vs_container_writer *w, uint32_t tag, uint32_t flags);
int vs_container_write(vs_container_writer *w, const void *data, uint64_t len);
int vs_container_end(vs_container_writer *w);
/* Writes table and header, fsyncs and renames into place; frees w in every case. */
int vs_container_commit(vs_container_writer *w);
/* Writes table and header into the buffer of a memory writer and hands it over (*buf, *len:
 * the caller's, to free()); frees w in every case. */
int vs_container_commit_memory(vs_container_writer *w, void **buf, size_t *len);
/* Discards the temporary file; frees w. NULL is ok. */
void vs_container_abort(vs_container_writer *w);

typedef struct {
    uint32_t tag, flags;
    uint64_t offset, length, checksum;
} vs_section;

typedef struct {
    const uint8_t *base;
    uint64_t size;
    uint32_t version, kind, count;
    vs_section sections[VS_CONTAINER_MAX_SECTIONS];
} vs_container;

/* Validates header, table and (unless skip_bulk and the section is bulk) every checksum of
 * the file image base[0..size). `origin` names the file in error messages. The image must
 * outlive every pointer vs_container_find returns. */
int vs_container_open(vs_container *c, const void *base, uint64_t size, int skip_bulk, const char *origin);
/* Finds a section; returns its bytes or NULL (and *len = 0). */
const void *vs_container_find(const vs_container *c, uint32_t tag, uint64_t *len);
/* Finds a section that must exist with exactly `expect` bytes; otherwise sets *rc to
 * VS_ERR_CORRUPT (naming origin and tag) and returns NULL. */
const void *vs_container_require(const vs_container *c, uint32_t tag, uint64_t expect, const char *origin, int *rc);
/* Verifies the checksum of every section, bulk included. */
int vs_container_verify_all(const vs_container *c, const char *origin);

#endif
