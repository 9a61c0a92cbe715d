/* Many positional reads of one file issued together, so a cold caller waits about one disk
 * round trip for the lot instead of one per read. With io_uring (liburing, when the build
 * found it and the kernel allows it) vs_bread_submit hands every queued read to the kernel at
 * once and returns; without it, vs_bread_submit asks the kernel to start fetching the ranges
 * (posix_fadvise WILLNEED, asynchronous) and vs_bread_wait preads them. Either way the caller
 * can compute something else between submit and wait, and no thread is created here: the
 * asynchronous part is the kernel's.
 *
 * A reader is not thread-safe (one per thread); it may be reused for batch after batch. */
#ifndef VS_IO_BATCH_READ_H
#define VS_IO_BATCH_READ_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    VS_BREAD_AUTO = 0,  /* io_uring if available, else pread */
    VS_BREAD_URING = 1, /* io_uring or an error (VS_ERR_UNSUPPORTED) */
    VS_BREAD_PREAD = 2, /* WILLNEED hints at submit, pread at wait */
    /* Not a reader mode (vs_bread_create refuses it): the ",Ru8" store reads rows as memory
     * loads from its mapping (rerank_u8.h), using a pread reader only for rows appended
     * after the store was mapped. */
    VS_BREAD_MMAP = 3,
} vs_bread_mode;

typedef struct vs_bread vs_bread;

/* depth: reads in flight at most (io_uring queue entries; rounded to a power of two, <= 4096). */
int vs_bread_create(vs_bread_mode mode, unsigned depth, vs_bread **out);
void vs_bread_free(vs_bread *r);
/* "io_uring" or "pread". */
const char *vs_bread_kind(const vs_bread *r);
/* Test hook: no single read request is longer than max_bytes (0 = no cap), so a read
 * completes in several short transfers, the path a real short read takes. */
void vs_bread_set_max_io(vs_bread *r, size_t max_bytes);

/* Queues a read of len bytes at off of fd into buf (nothing is issued yet). */
int vs_bread_add(vs_bread *r, int fd, void *buf, size_t len, uint64_t off);
/* Issues the queued reads (as many as the depth allows; the rest go out during the wait). */
int vs_bread_submit(vs_bread *r);
/* Returns once every queued read has filled its buffer, and empties the queue. A read that
 * fails or reaches the end of the file fails the batch (VS_ERR_IO, with the file offset in
 * vs_last_error); the queue is emptied all the same. name is the file's name for the error. */
int vs_bread_wait(vs_bread *r, const char *name);

#endif
