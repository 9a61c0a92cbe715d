/* Proof that a concurrency test's threads ran at the same time, for the tests labelled
 * "concurrent". Passing without it proves little: on a loaded machine readers may well finish
 * before a writer starts, and then neither the race detector nor the assertions saw any
 * concurrency.
 *
 * Every search and write is bracketed by marks: readers_active / writers_active count the
 * threads between their marks. A search counts as overlapping when a writer was between its
 * marks at the search's end, or a writer saw it mid-search (below); a write counts when a
 * reader was mid-search at its start or end mark. Both counts must end above zero.
 *
 * Forced, not hoped for: some searches carry a "gate" filter whose first call (inside the
 * search, with whatever the search holds) waits until a writer, between its marks, has seen a
 * reader mid-search (the `saw` counter moves). A writer waits before its first write until a
 * reader sits in a gate. So the first write starts while a gated search is in progress, and
 * that search continues while the writer is inside its window: both counts reach one however
 * the threads are scheduled. Waits are bounded (TU_GATE_WAIT_S) so a broken test fails on
 * its counts instead of hanging.
 *
 * Read-only tests (no writers allowed on Flat or IVF indexes) use the reader form: a search
 * counts when another reader was mid-search at its start, in its gate or at its end; a gate
 * waits until another reader is mid-search too (or overlap is already proven). */
#ifndef VS_TEST_CONCURRENT_OVERLAP_H
#define VS_TEST_CONCURRENT_OVERLAP_H

#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "vecscale.h"

#define TU_GATE_WAIT_S 20.0

typedef struct {
    atomic_int readers_active, writers_active;
    atomic_int in_gate;       /* readers waiting in a gate right now */
    atomic_long saw;          /* writers that saw a reader mid-search at their start mark */
    atomic_long reads_overlapped, writes_overlapped, reads, writes;
    atomic_int no_more_writes; /* gates stop waiting */
} tu_overlap;

static inline double tu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void tu_pause(void)
{
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
}

/* ---- readers beside writers --------------------------------------------------------------- */

typedef struct {
    tu_overlap *o;
    long saw0;
    atomic_int opened; /* the gate waits once per search (several search threads may call it) */
    vs_filter filter;
} tu_read_mark;

static inline int tu_gate_writer(int64_t id, void *ctx)
{
    (void)id;
    tu_read_mark *m = ctx;
    int closed = 0;
    if (!atomic_compare_exchange_strong(&m->opened, &closed, 1)) return 1;
    atomic_fetch_add(&m->o->in_gate, 1);
    double t0 = tu_now_s();
    /* A writer between its marks now (it may be waiting for a lock this search holds), or one
     * that saw this search in progress. */
    for (;;) {
        if (atomic_load(&m->o->writers_active) > 0 || atomic_load(&m->o->saw) != m->saw0) {
            atomic_store(&m->opened, 2);
            break;
        }
        if (atomic_load(&m->o->no_more_writes) || tu_now_s() - t0 >= TU_GATE_WAIT_S) break;
        tu_pause();
    }
    atomic_fetch_sub(&m->o->in_gate, 1);
    return 1;
}

/* Start mark of a search; returns the filter a gated search passes (NULL when not gated). */
static inline const vs_filter *tu_read_begin(tu_overlap *o, tu_read_mark *m, int gated)
{
    atomic_fetch_add(&o->readers_active, 1);
    m->o = o;
    m->saw0 = atomic_load(&o->saw);
    atomic_init(&m->opened, 0);
    m->filter = (vs_filter){.kind = VS_FILTER_PREDICATE, .fn = tu_gate_writer, .ctx = m};
    return gated ? &m->filter : NULL;
}

static inline void tu_read_end(tu_overlap *o, tu_read_mark *m)
{
    if (atomic_load(&o->writers_active) > 0 || atomic_load(&o->saw) != m->saw0 || atomic_load(&m->opened) == 2)
        atomic_fetch_add(&o->reads_overlapped, 1);
    atomic_fetch_add(&o->reads, 1);
    atomic_fetch_sub(&o->readers_active, 1);
}

/* Before a writer's first write: wait (bounded) until a reader sits in a gate. */
static inline void tu_writer_wait_for_gate(tu_overlap *o)
{
    double t0 = tu_now_s();
    while (atomic_load(&o->in_gate) == 0 && tu_now_s() - t0 < TU_GATE_WAIT_S) tu_pause();
}

static inline int tu_write_begin(tu_overlap *o)
{
    atomic_fetch_add(&o->writers_active, 1);
    int seen = atomic_load(&o->readers_active) > 0;
    if (seen) atomic_fetch_add(&o->saw, 1);
    return seen;
}

static inline void tu_write_end(tu_overlap *o, int seen)
{
    if (seen || atomic_load(&o->readers_active) > 0) atomic_fetch_add(&o->writes_overlapped, 1);
    atomic_fetch_add(&o->writes, 1);
    atomic_fetch_sub(&o->writers_active, 1);
}

/* ---- readers beside readers --------------------------------------------------------------- */

static inline int tu_gate_reader(int64_t id, void *ctx)
{
    (void)id;
    tu_read_mark *m = ctx;
    int closed = 0;
    if (!atomic_compare_exchange_strong(&m->opened, &closed, 1)) return 1;
    double t0 = tu_now_s();
    /* Another reader mid-search now; or overlap is proven already (then nobody need wait). */
    while (atomic_load(&m->o->readers_active) < 2 && atomic_load(&m->o->reads_overlapped) == 0 &&
           tu_now_s() - t0 < TU_GATE_WAIT_S)
        tu_pause();
    if (atomic_load(&m->o->readers_active) >= 2) atomic_store(&m->opened, 2);
    return 1;
}

static inline const vs_filter *tu_reader_begin(tu_overlap *o, tu_read_mark *m, int gated)
{
    int others = atomic_fetch_add(&o->readers_active, 1) > 0;
    m->o = o;
    atomic_init(&m->opened, others ? 2 : 0);
    m->filter = (vs_filter){.kind = VS_FILTER_PREDICATE, .fn = tu_gate_reader, .ctx = m};
    return gated ? &m->filter : NULL;
}

static inline void tu_reader_end(tu_overlap *o, tu_read_mark *m)
{
    if (atomic_load(&o->readers_active) >= 2 || atomic_load(&m->opened) == 2) atomic_fetch_add(&o->reads_overlapped, 1);
    atomic_fetch_add(&o->reads, 1);
    atomic_fetch_sub(&o->readers_active, 1);
}

#endif
