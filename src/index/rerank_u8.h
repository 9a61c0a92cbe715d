/* The uint8 re-ranking store of ",Ru8" (refine_u8.c): the original uint8 vectors (1 byte per
 * dimension), kept in a file of their own beside the index and read with pread at search
 * time, so serving needs only the base index's codes, IDs and centroids in RAM. Row r of the
 * store is the vector of ID r.
 *
 * File, little-endian: a 4096-byte header holding two 64-byte header slots, at 0 and 2048,
 * then the rows from offset 4096. A slot:
 *   magic "VSRERANK" | u32 version | u32 header size (4096) | u32 dim | u32 element type
 *   (2 = uint8) | u64 committed rows | u64 data offset (4096) | u64 XXH3-64 of the committed
 *   rows' bytes | u64 sequence | u64 XXH3-64 of slot bytes 0..55
 * The reader takes the valid slot (magic and checksum) with the higher sequence.
 *
 * Version 2 (written since the store moved into the library): the file is append-only. Rows
 * are appended past the committed ones; a commit makes them durable (fdatasync) and then
 * writes the slot not holding the current header, with sequence + 1, and fsyncs: a torn
 * header write leaves the other slot, and the rows it describes, intact. Bytes past the
 * committed rows (a writer that stopped before committing) are ignored by readers and cut
 * off by the next writer. The index file records the rows and checksum it was saved with
 * (refine_u8.c), which is what a load uses.
 * Version 1 (`vecscale build` before): one slot at 0 with sequence 0, and the file exactly
 * header + rows x dim; still read. */
#ifndef VS_INDEX_RERANK_U8_H
#define VS_INDEX_RERANK_U8_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

#define VS_RU8_MAGIC "VSRERANK"
#define VS_RU8_VERSION 2u
#define VS_RU8_HEADER 4096u
#define VS_RU8_FILE "rerank.vsr"

typedef struct {
    int fd;
    int writable;
    uint32_t dim;
    uint32_t version;     /* of the header read (a commit writes VS_RU8_VERSION) */
    uint64_t rows;        /* rows this handle reads: committed + appended since */
    uint64_t committed;   /* rows the current header describes */
    uint64_t data_checksum; /* of the committed rows */
    uint64_t seq;         /* the current header's sequence */
    int slot;             /* the current header's slot (0 or 1) */
    void *hash;           /* XXH3 state over rows[0..rows), made on the first append */
    int cut;              /* 1 once bytes past `rows` were cut off (first append) */
    char path[4200];
} vs_ru8_store;

/* A new empty store at path (replacing one there), opened for appending. The empty header
 * is written to a temporary file renamed over path. */
int vs_ru8_create(vs_ru8_store *s, const char *path, uint32_t dim);
/* Opens a store and checks its header (magic, version, checksum, sizes); the data is not
 * read. rows > 0 limits the rows read to those (an index saved before the store's last
 * commit); it may not exceed the committed rows. writable opens it for appending. */
int vs_ru8_open(vs_ru8_store *s, const char *path, uint64_t rows, int writable);
/* Appends n rows (n x dim bytes) after s->rows; the first append cuts off bytes past them. */
int vs_ru8_append(vs_ru8_store *s, const uint8_t *rows, size_t n);
/* Makes every appended row durable and writes a header that commits them (no-op when
 * nothing changed since the last commit). */
int vs_ru8_commit(vs_ru8_store *s);
/* XXH3-64 of rows [0, s->rows) (reads them all), into *sum. */
int vs_ru8_checksum(const vs_ru8_store *s, uint64_t *sum);
/* Reads the whole data and compares its checksum with the header's (info --verify). */
int vs_ru8_verify(const vs_ru8_store *s);
void vs_ru8_close(vs_ru8_store *s);

/* Row `id` into out (dim bytes); VS_ERR_NOT_FOUND past the rows. */
int vs_ru8_row(const vs_ru8_store *s, int64_t id, uint8_t *out);
/* The key of a float32 query against uint8 row x (L2: squared distance; IP: -<q,x>). */
float vs_ru8_key(vs_metric metric, const float *q, const uint8_t *x, size_t d);

/* For each of nq queries (float32, dim), the kc candidate IDs cids (-1 = none) re-scored
 * exactly against the stored rows; the best k by key go to keys / ids, ascending, ties to the
 * smaller ID. One query's rows are read together, sorted by offset, adjacent rows in one
 * pread. */
int vs_ru8_rerank(const vs_ru8_store *s, vs_metric metric, size_t nq, const float *q, uint32_t kc,
                  const int64_t *cids, uint32_t k, unsigned n_threads, float *keys, int64_t *ids);

/* The store of a ",Ru8" index (refine_u8.c), or NULL for any other index. */
const vs_ru8_store *vs_refine_u8_store(const vs_index *ix);

#endif
