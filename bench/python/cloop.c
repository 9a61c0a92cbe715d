/* The C side of bench/python/overhead.py: timed loops that call libvecscale directly, built as
 * a shared object (linked to build/libvecscale.so) and loaded with ctypes into the same Python
 * process as the vecscale package, so C and Python are measured back to back on the same
 * machine state. Each loop times itself inside C (ctypes' own call cost is outside the timed
 * region) with the calling thread's CPU clock and the monotonic clock. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "vecscale.h"

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cl_load(const char *path, vs_index **out) { return vs_index_load(path, out); }
void cl_free(vs_index *ix) { vs_index_free(ix); }
const char *cl_error(void) { return vs_last_error(); }

/* One query per vs_index_search call, as a service sees them. times[0] = thread CPU seconds,
 * times[1] = wall seconds. ids: nq * k results (to check both sides return the same). */
int cl_single(const vs_index *ix, const float *q, size_t nq, uint32_t k, uint32_t ef, int64_t *ids,
              double *times)
{
    uint32_t d = vs_index_dim(ix);
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = ef};
    float *dist = malloc(sizeof *dist * k);
    if (!dist) return VS_ERR_NOMEM;
    double c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
    int rc = VS_OK;
    for (size_t i = 0; i < nq && rc == VS_OK; i++)
        rc = vs_index_search(ix, 1, q + i * d, k, &p, dist, ids + i * k);
    times[0] = now(CLOCK_THREAD_CPUTIME_ID) - c0;
    times[1] = now(CLOCK_MONOTONIC) - w0;
    free(dist);
    return rc;
}

/* All queries in one call on `threads` threads. */
int cl_batch(const vs_index *ix, const float *q, size_t nq, uint32_t k, uint32_t ef, uint32_t threads,
             int64_t *ids, double *times)
{
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = ef, .n_threads = threads};
    float *dist = malloc(sizeof *dist * nq * k);
    if (!dist) return VS_ERR_NOMEM;
    double c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
    int rc = vs_index_search(ix, nq, q, k, &p, dist, ids);
    times[0] = now(CLOCK_THREAD_CPUTIME_ID) - c0;
    times[1] = now(CLOCK_MONOTONIC) - w0;
    free(dist);
    return rc;
}

/* Creates an index, trains it if it needs training (on the vectors themselves) and adds them;
 * times cover train + add only. threads: vs_index_options.n_threads. */
int cl_build(uint32_t dim, int metric, const char *factory, uint32_t threads, uint32_t efc, const float *x,
             size_t n, double *times)
{
    vs_index *ix;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = dim, .metric = (vs_metric)metric, .factory = factory,
                          .n_threads = threads, .ef_construction = efc};
    int rc = vs_index_create(&o, &ix);
    if (rc) return rc;
    double c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
    if (!vs_index_is_trained(ix)) rc = vs_index_train(ix, n, x);
    if (!rc) rc = vs_index_add(ix, n, x, NULL);
    times[0] = now(CLOCK_THREAD_CPUTIME_ID) - c0;
    times[1] = now(CLOCK_MONOTONIC) - w0;
    vs_index_free(ix);
    return rc;
}

/* `threads` POSIX threads, each running single-query searches over its own share of the
 * queries: what the machine allows two Python threads to reach. times[1] = wall seconds. */
typedef struct {
    const vs_index *ix;
    const float *q;
    size_t nq;
    uint32_t k, ef;
    int rc;
} share;

static void *run_share(void *arg)
{
    share *s = arg;
    int64_t ids[1024];
    float dist[1024];
    if (s->k > 1024) {
        s->rc = VS_ERR_INVALID_ARG;
        return NULL;
    }
    uint32_t d = vs_index_dim(s->ix);
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = s->ef};
    for (size_t i = 0; i < s->nq && !s->rc; i++) s->rc = vs_index_search(s->ix, 1, s->q + i * d, s->k, &p, dist, ids);
    return NULL;
}

int cl_threads(const vs_index *ix, const float *q, size_t nq, uint32_t k, uint32_t ef, uint32_t threads,
               double *times)
{
    enum { MAX = 64 };
    if (threads < 1 || threads > MAX) return VS_ERR_INVALID_ARG;
    pthread_t th[MAX];
    share sh[MAX];
    uint32_t d = vs_index_dim(ix);
    size_t per = nq / threads;
    double w0 = now(CLOCK_MONOTONIC);
    uint32_t started = 0;
    for (uint32_t t = 0; t < threads; t++) {
        sh[t] = (share){.ix = ix, .q = q + (size_t)t * per * d, .nq = per, .k = k, .ef = ef};
        if (pthread_create(&th[t], NULL, run_share, &sh[t]) != 0) break;
        started++;
    }
    int rc = started == threads ? VS_OK : VS_ERR_NOMEM;
    for (uint32_t t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        if (!rc) rc = sh[t].rc;
    }
    times[0] = 0;
    times[1] = now(CLOCK_MONOTONIC) - w0;
    return rc;
}
