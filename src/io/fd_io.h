/* Whole positional reads and writes on a file descriptor: pread/pwrite repeated over short
 * transfers and EINTR, for the streamed build's input and the on-disk re-rank store. */
#ifndef VS_IO_FD_IO_H
#define VS_IO_FD_IO_H

#include <stddef.h>
#include <stdint.h>

/* 0 once len bytes at off were read (written); -1 on an error or, for reads, end of file
 * (errno tells which). */
int vs_pread_all(int fd, void *buf, size_t len, uint64_t off);
int vs_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

#endif
