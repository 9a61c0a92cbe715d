#include "core/bigalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *vs_big_alloc(size_t size)
{
    if (size < HUGE_PAGE) {
        size_t rounded = (size + 63) / 64 * 64;
        return aligned_alloc(64, rounded ? rounded : 64);
    }
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, size)) return NULL;
#ifdef MADV_HUGEPAGE
    /* Advice only: failure (THP compiled out, or "never") leaves ordinary pages. */
    (void)madvise(p, size / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
#endif
    return p;
}
