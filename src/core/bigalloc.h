/* Allocations for large arrays read at random (graph records, vectors of a loaded index).
 * Above 2 MiB they are 2 MiB-aligned and asked to be backed by transparent huge pages: a
 * graph search touches a new vector every few hundred nanoseconds all over the array, and
 * with 4 KiB pages nearly every touch is also a TLB miss and a page walk. With huge pages
 * 200 MB of records fit in the TLB. Where THP is off the advice is ignored; memory is
 * freed with free() either way. */
#ifndef VS_CORE_BIGALLOC_H
#define VS_CORE_BIGALLOC_H

#include <stddef.h>

/* size bytes, at least 64-byte aligned, uninitialised; NULL when out of memory. */
void *vs_big_alloc(size_t size);

#endif
