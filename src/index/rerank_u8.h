/* ",Ru8": re-ranking on the original uint8 vectors (1 byte per dimension), kept in a file of
 * their own beside the index and read in batches at search time, so serving needs only the
 * base index's codes, IDs and centroids in RAM. Row r of the store is the vector of ID r
 * (`vecscale build` numbers rows from 0).
 *
 * File (DIR/rerank.vsr), little-endian:
 *   0   magic "VSRERANK" | u32 version (1) | u32 header size (4096) | u32 dim |
 *       u32 element type (2 = uint8) | u64 rows | u64 data offset (4096) |
 *       u64 XXH3-64 of the data bytes | u64 reserved (0) | u64 XXH3-64 of bytes 0..55
 *   4096  rows x dim bytes
 * A build appends rows to DIR/rerank.vsr.part (header zero) and, once complete, writes the
 * header, fsyncs and renames it into place: the final name only ever holds a whole file. A
 * resumed build truncates the part file to the rows its checkpoint covers. */
#ifndef VS_INDEX_RERANK_U8_H
#define VS_INDEX_RERANK_U8_H

#include <stddef.h>
#include <stdint.h>

#include "io/batch_read.h"
#include "vecscale.h"

#define VS_RU8_MAGIC "VSRERANK"
#define VS_RU8_VERSION 1u
#define VS_RU8_HEADER 4096u
#define VS_RU8_FILE "rerank.vsr"

typedef struct {
    int fd;
    uint32_t dim;
    uint64_t rows;
    uint64_t data_checksum;
    char path[4200];
} vs_ru8_store;

/* Writing: the part file at part_path, keeping its first keep_rows rows (0 = start empty). */
typedef struct {
    int fd;
    uint32_t dim;
    uint64_t rows;
    char part[4200];
} vs_ru8_writer;

int vs_ru8_writer_open(vs_ru8_writer *w, const char *part_path, uint32_t dim, uint64_t keep_rows);
int vs_ru8_writer_append(vs_ru8_writer *w, const uint8_t *rows, size_t n);
/* Makes the appended rows durable (before a checkpoint claims them). */
int vs_ru8_writer_sync(vs_ru8_writer *w);
/* Checksums the data, writes the header, fsyncs and renames to final_path; closes w. */
int vs_ru8_writer_finish(vs_ru8_writer *w, const char *final_path);
void vs_ru8_writer_close(vs_ru8_writer *w);

/* Opens and checks the header (magic, version, checksum, size); the data is not read. */
int vs_ru8_open(vs_ru8_store *s, const char *path);
/* Reads the whole data and compares its checksum (info --verify). */
int vs_ru8_verify(const vs_ru8_store *s);
void vs_ru8_close(vs_ru8_store *s);

/* For each of nq queries (float32, dim), the kc candidate IDs cids (-1 = none) re-scored
 * exactly against the stored rows; the best k by key (L2: squared distance; IP: -<q,x>) go to
 * keys / ids, ascending, ties to the smaller ID. A query's rows are sorted by offset, adjacent
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
/* "io_uring" or "pread". */
const char *vs_ru8_batch_io(const vs_ru8_batch *b);
/* Test hook (vs_bread_set_max_io): reads complete in pieces of at most max_bytes. */
void vs_ru8_batch_set_max_io(vs_ru8_batch *b, size_t max_bytes);
int vs_ru8_batch_start(vs_ru8_batch *b, size_t nq, const int64_t *cids);
int vs_ru8_batch_finish(vs_ru8_batch *b, vs_metric metric, const float *q, uint32_t k, unsigned n_threads,
                        float *keys, int64_t *ids);
void vs_ru8_batch_free(vs_ru8_batch *b);

#endif
