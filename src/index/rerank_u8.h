/* The uint8 re-ranking store of ",Ru8" (refine_u8.c): the original uint8 vectors (1 byte per
 * dimension), kept in a file of their own beside the index and read in batches at search
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

#include "io/batch_read.h"
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
    /* The file from offset 0 mapped read-only at open (VS_BREAD_MMAP batches read rows from
     * it), covering the map_rows rows the open found; NULL when there were none or the map
     * failed (map_err: the errno). Rows appended later lie past it and are read with pread:
     * the mapping is never moved while the store is open, so a search scoring from it needs
     * no lock against an add. */
    const uint8_t *map;
    size_t map_len;
    uint64_t map_rows;
    int map_err;
    char path[4200];
} vs_ru8_store;

/* A new empty store at path (replacing one there), opened for appending. The empty header
 * is written to a temporary file renamed over path. */
int vs_ru8_create(vs_ru8_store *s, const char *path, uint32_t dim);
/* Opens a store and checks its header (magic, version, checksum, sizes); the data is not
 * read, only mapped (MADV_RANDOM; address space, no memory until a VS_BREAD_MMAP batch
 * touches it). rows > 0 limits the rows read to those (an index saved before the store's
 * last commit); it may not exceed the committed rows. writable opens it for appending. */
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
 * smaller ID. A query's rows are sorted by offset, adjacent
 * rows read as one range, and the reads of a batch of queries are issued together
 * (io/batch_read.h: io_uring, or WILLNEED hints + pread), so a cold batch waits about one disk
 * round trip rather than one per row. */
int vs_ru8_rerank(const vs_ru8_store *s, vs_metric metric, size_t nq, const float *q, uint32_t kc,
                  const int64_t *cids, uint32_t k, unsigned n_threads, float *keys, int64_t *ids);

/* The same in two steps, so that one batch's reads are in flight while the caller scans the
 * next batch (vecscale search alternates two of these): _start sorts the candidates and issues
 * the reads (cids may be reused once it returns), _finish waits for them and re-scores on up
 * to n_threads threads (q: the same nq queries). A batch belongs to one thread at a time; the
 * store stays shareable. io picks the read path (VS_BREAD_AUTO: io_uring if available). */
typedef struct vs_ru8_batch vs_ru8_batch;
int vs_ru8_batch_create(const vs_ru8_store *s, size_t max_nq, uint32_t kc, vs_bread_mode io, vs_ru8_batch **out);
/* io VS_BREAD_MMAP: no read copies rows mapped at open (s->map); they are scored where they
 * lie, after madvise(WILLNEED) on their pages (skipped for a batch whose sampled pages are
 * all resident, so a warm store costs no system call per row), and rows appended since the
 * open are read with pread. A store truncated underneath would raise SIGBUS on a mapped
 * row: the store belongs to its index (nothing else may write it), and each batch checks the
 * file's size first, so the usual mistake fails with VS_ERR_IO instead. */
/* "io_uring", "pread" or "mmap". */
const char *vs_ru8_batch_io(const vs_ru8_batch *b);
/* Test hook (vs_bread_set_max_io): reads complete in pieces of at most max_bytes. */
void vs_ru8_batch_set_max_io(vs_ru8_batch *b, size_t max_bytes);
int vs_ru8_batch_start(vs_ru8_batch *b, size_t nq, const int64_t *cids);
int vs_ru8_batch_finish(vs_ru8_batch *b, vs_metric metric, const float *q, uint32_t k, unsigned n_threads,
                        float *keys, int64_t *ids);
void vs_ru8_batch_free(vs_ru8_batch *b);

/* The store of a ",Ru8" index (refine_u8.c), or NULL for any other index. */
const vs_ru8_store *vs_refine_u8_store(const vs_index *ix);

/* Queries per re-ranking batch of a ",Ru8" index's search (vs_index_search). */
#define VS_RU8_BATCH 64u
/* Called with done = 0 and the read path ("io_uring", "pread" or "mmap") once the batches are made,
 * then with the queries done (kind NULL) after each batch's scan. */
typedef void (*vs_ru8_progress)(void *ctx, size_t done, const char *kind);
/* The search of a ",Ru8" index ix (its base's candidates, re-ranked from its store), with the
 * queries per batch and the read path chosen: vs_index_search uses VS_RU8_BATCH and
 * VS_BREAD_AUTO; `vecscale search` takes them from --rerank-batch / --rerank-io. The answer
 * does not depend on either. keys as vs_ru8_rerank's (IP: -<q,x>, not vs_index_search's
 * scores); q as vs_index_search takes it (l2 and ip queries are used as given). */
int vs_refine_u8_search_io(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                           uint32_t batch, vs_bread_mode io, vs_ru8_progress progress, void *ctx, float *keys,
                           int64_t *ids);

#endif
