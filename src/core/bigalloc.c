/* vs_big_alloc (bigalloc.h): large arrays 2 MiB-aligned with MADV_HUGEPAGE, so random reads of
 * graph records and loaded index images stay within the TLB. */
#include "core/bigalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *vs_big_alloc(size_t size)
{
    void *p = NULL;
    if (size < HUGE_PAGE) /* exactly size bytes, so that ASan sees a read past the end */
        return posix_memalign(&p, 64, size ? size : 1) ? NULL : p;
    if (posix_memalign(&p, HUGE_PAGE, size)) return NULL;
#ifdef MADV_HUGEPAGE
    /* Advice only: failure (THP compiled out, or "never") leaves ordinary pages. */
    (void)madvise(p, size / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
#endif
    return p;
}
