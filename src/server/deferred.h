/* Work taken off the HTTP poll threads. A pool thread of libmicrohttpd serves many connections
 * (one epoll loop each), so a request that blocks it for seconds (a POST /save writing files and
 * publishing to S3) would stall every other connection on that loop, health checks included.
 * Such a request is suspended and run here, on threads the server owns; the job resumes its
 * connection when it is done. */
#ifndef VS_SERVER_DEFERRED_H
#define VS_SERVER_DEFERRED_H

typedef struct deferred_job {
    void (*run)(struct deferred_job *job);    /* on a deferred thread */
    void (*cancel)(struct deferred_job *job); /* instead of run, when the queue stops first */
    struct deferred_job *next;
} deferred_job;

typedef struct deferred deferred;

/* n_threads >= 1. NULL on failure (no thread left running). */
deferred *deferred_start(unsigned n_threads);
/* Queues job (not owned: run or cancel must release it). 0, or -1 once stopping. */
int deferred_submit(deferred *d, deferred_job *job);
/* Jobs already running finish; queued ones are cancelled; the threads are joined. */
void deferred_stop(deferred *d);

#endif
