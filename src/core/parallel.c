/* Dynamic task distribution over short-lived pthreads. */
#include "core/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    atomic_size_t next;
    size_t n_tasks;
    vs_task_fn fn;
    void *ctx;
} job;

typedef struct {
    job *j;
    unsigned worker;
} worker_arg;

static void run_worker(job *j, unsigned worker)
{
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (t >= j->n_tasks) return;
        j->fn(t, worker, j->ctx);
    }
}

static void *thread_main(void *p)
{
    worker_arg *a = p;
    run_worker(a->j, a->worker);
    return NULL;
}

unsigned vs_parallel_for(size_t n_tasks, unsigned n_workers, vs_task_fn fn, void *ctx)
{
    job j = {.n_tasks = n_tasks, .fn = fn, .ctx = ctx};
    atomic_init(&j.next, 0);
    if (n_workers > n_tasks) n_workers = (unsigned)n_tasks;
    if (n_workers <= 1) {
        run_worker(&j, 0);
        return 1;
    }
    pthread_t *th = malloc(sizeof *th * n_workers);
    worker_arg *args = malloc(sizeof *args * n_workers);
    unsigned started = 0;
    if (th && args) {
        for (unsigned w = 1; w < n_workers; w++) {
            args[w] = (worker_arg){&j, started + 1};
            if (pthread_create(&th[started], NULL, thread_main, &args[w]) != 0) break;
            started++;
        }
    }
    run_worker(&j, 0);
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    free(args);
    return started + 1;
}
