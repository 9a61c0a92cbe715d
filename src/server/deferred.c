/* A FIFO of jobs and the threads that run them (deferred.h). */
#include <pthread.h>
#include <stdlib.h>

#include "server/deferred.h"

struct deferred {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    deferred_job *head, *tail;
    int stopping;
    unsigned n_threads;
    pthread_t threads[];
};

static void *worker(void *arg)
{
    deferred *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (!d->head && !d->stopping) pthread_cond_wait(&d->cv, &d->mu);
        deferred_job *job = d->stopping ? NULL : d->head;
        if (job && !(d->head = job->next)) d->tail = NULL;
        pthread_mutex_unlock(&d->mu);
        if (!job) return NULL;
        job->run(job);
    }
}

deferred *deferred_start(unsigned n_threads)
{
    deferred *d = calloc(1, sizeof *d + n_threads * sizeof(pthread_t));
    if (!d) return NULL;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    for (; d->n_threads < n_threads; d->n_threads++)
        if (pthread_create(&d->threads[d->n_threads], NULL, worker, d)) {
            deferred_stop(d);
            return NULL;
        }
    return d;
}

int deferred_submit(deferred *d, deferred_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&d->mu);
    int rc = d->stopping ? -1 : 0;
    if (!rc) {
        if (d->tail) d->tail->next = job;
        else d->head = job;
        d->tail = job;
        pthread_cond_signal(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

void deferred_stop(deferred *d)
{
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    deferred_job *queued = d->head;
    d->head = d->tail = NULL;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (unsigned i = 0; i < d->n_threads; i++) pthread_join(d->threads[i], NULL);
    while (queued) {
        deferred_job *next = queued->next;
        queued->cancel(queued);
        queued = next;
    }
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
