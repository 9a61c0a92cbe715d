/* Per-call worker threads: the library creates threads only inside a call that asked for
 * them (vs_search_params.n_threads) and joins them before returning. */
#ifndef VS_CORE_PARALLEL_H
#define VS_CORE_PARALLEL_H

#include <stddef.h>

typedef void (*vs_task_fn)(size_t task, unsigned worker, void *ctx);

/* Runs fn(task, worker, ctx) for task in [0, n_tasks) on up to n_workers threads (the caller
 * is worker 0). Tasks are claimed dynamically. If a thread cannot be created the remaining
 * workers absorb its share, so the call always completes. Returns the workers used. */
unsigned vs_parallel_for(size_t n_tasks, unsigned n_workers, vs_task_fn fn, void *ctx);

#endif
