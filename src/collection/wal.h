/* The write-ahead log of a collection (format in ARCHITECTURE.md, "Write-ahead log").
 *
 *   header, 32 bytes: magic "VSWAL\0\0\0" | u32 version (2; 1 = before ADD_KEYED) | u32 header size (32) |
 *                     u64 generation | u64 XXH3-64 of bytes 0..23
 *   records:          u32 payload length | u32 type | u64 sequence number | payload |
 *                     u64 XXH3-64 of the 16 header bytes and the payload
 *
 * Group commit: any number of threads append records to an in-memory buffer (cheap, under a
 * mutex) and then call vs_wal_sync for their sequence number. One of them becomes the
 * flusher: it writes everything buffered so far with one write() and one fdatasync() while the
 * others wait on a condition variable, so N concurrent acknowledged writes cost about one
 * fsync. A record is durable (and may be acknowledged) once vs_wal_sync returned VS_OK. */
#ifndef VS_COLLECTION_WAL_H
#define VS_COLLECTION_WAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VS_WAL_HEADER_SIZE 32u
#define VS_WAL_RECORD_OVERHEAD 24u
#define VS_WAL_MAX_PAYLOAD (1ull << 30)

/* ADD_KEYED (log version 2): an ADD whose documents include string ids (collection_impl.h). */
enum { VS_WAL_ADD = 1, VS_WAL_DELETE = 2, VS_WAL_ADD_KEYED = 3 };

typedef struct vs_wal vs_wal;

/* Called once per intact record during vs_wal_open, in log order. A non-zero return stops
 * the replay and is returned by vs_wal_open. */
typedef int (*vs_wal_replay_fn)(uint32_t type, const uint8_t *payload, uint64_t len, void *ctx);

/* Opens (creating when absent) the log at path for `generation`, replaying every intact record
 * through fn. A torn tail (a record cut short or failing its checksum at the end of the file,
 * as a crash during a write leaves it) is truncated away; *dropped_bytes (may be NULL) says how
 * much. A header of another generation or a bad header is VS_ERR_CORRUPT. */
int vs_wal_open(const char *path, uint64_t generation, vs_wal_replay_fn fn, void *ctx, vs_wal **out,
                uint64_t *dropped_bytes);
/* Buffers one record; *seq receives its sequence number. Not yet durable. */
int vs_wal_append(vs_wal *w, uint32_t type, const void *payload, size_t len, uint64_t *seq);
/* Returns once every record up to seq is on disk (write + fdatasync), flushing it itself or
 * waiting for the thread that does, at most timeout_ms. A failed write or sync makes the log
 * unusable (every later call fails) because the file state is no longer known. */
int vs_wal_sync(vs_wal *w, uint64_t seq, int timeout_ms);
/* Sequence number of the last appended record (0 = none). */
uint64_t vs_wal_last_seq(vs_wal *w);
/* Bytes in the file plus bytes buffered. */
uint64_t vs_wal_size(vs_wal *w);
/* Number of fdatasync calls made so far (for metrics and the group-commit test). */
uint64_t vs_wal_sync_count(vs_wal *w);
/* Waits until what is buffered is durable (flushed by its appenders' own vs_wal_sync calls;
 * by this call only if none came within 5 s) and closes the file but keeps the object, so a thread that
 * appended before and calls vs_wal_sync afterwards returns at once (its record is durable).
 * Used when a snapshot replaces the log. vs_wal_close still frees it. */
int vs_wal_retire(vs_wal *w);
/* Test hook (tests only, never set by the library): when set, called before each fdatasync of
 * a flush; a non-zero return makes that sync fail as with EIO. */
typedef int (*vs_wal_fault_fn)(const char *path);
extern _Atomic(vs_wal_fault_fn) vs_wal_fault_hook;
/* Flushes what is buffered, closes and frees. NULL is ok. */
int vs_wal_close(vs_wal *w);

#endif
