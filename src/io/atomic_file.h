/* Crash-safe file replacement: write to a temporary file in the target's directory, fsync,
 * rename over the target, fsync the directory. Readers see the old file or the new one. */
#ifndef VS_IO_ATOMIC_FILE_H
#define VS_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct vs_atomic_file vs_atomic_file;

/* Set on a thread (the collection's maintenance thread) whose file writes must not crowd out
 * other writers' syncs on the same disk: its writes go out in PACED_CHUNK pieces, each
 * written back (sync_file_range, Linux) before the next is queued, with a yield between, so a
 * log fdatasync waits behind at most one piece instead of the whole file at its fsync. */
extern _Thread_local int vs_atomic_paced;

/* Creates "<path>.tmp.XXXXXX". On success *out must be finished by commit or abort. */
int vs_atomic_open(const char *path, vs_atomic_file **out);
/* Appends len bytes (retrying short writes). */
int vs_atomic_write(vs_atomic_file *f, const void *data, size_t len);
/* Writes len bytes at an absolute offset (used to fill in a header last). */
int vs_atomic_pwrite(vs_atomic_file *f, const void *data, size_t len, uint64_t offset);
/* Bytes appended so far. */
uint64_t vs_atomic_size(const vs_atomic_file *f);
/* fsync, rename over the target, fsync the directory; frees f whatever the outcome. */
int vs_atomic_commit(vs_atomic_file *f);
/* Removes the temporary file and frees f. NULL is ok. */
void vs_atomic_abort(vs_atomic_file *f);

#endif
