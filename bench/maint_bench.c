/* Add latency under maintenance (issue 14): client threads send a stream of requests to one
 * collection, 10% adds (one document each) and 90% searches, while snapshots are triggered
 * (an explicit vs_collection_snapshot every SNAP_MS, like POST /save, plus the log-size
 * trigger) and a staging IVF index crosses train_min and trains. Reports the add latency
 * median, p99 and p99/median (the claim: below 5, no add pays for a snapshot or a training).
 * Defaults: IVF1024,Flat, 39,500 vectors preloaded into the staging index (train_min 39,936:
 * the training starts about 9 s in). Requests are sent open loop (MB_RATE requests/s over all threads, default 500) and timed
 * from when they were due.
 *
 *   maint_bench DIR [seconds=20] [threads=4] [snap_ms=1000] [nomaint]
 *   (snap_ms 0: no explicit snapshots; nomaint: do not start the maintenance thread)
 *
 * Compiles against any vecscale: when the library has vs_collection_start_maintenance (looked
 * up with dlsym) the collection's maintenance thread is started, as `vecscale serve` does;
 * older builds train and snapshot inside the adds themselves. */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vecscale.h"

/* Looked up at run time so that one source measures builds with and without it. */
typedef int (*start_maintenance_fn)(vs_collection *c, const void *policy);

enum { DIM = 100, K = 10, MAX_ADDS = 1 << 20 };
static int NLIST = 1024, PRELOAD = 39500; /* MB_NLIST, MB_PRELOAD */

static vs_collection *col;
static atomic_int stop;
static atomic_long next_id, n_search, n_snap, trained_at = -1;
static double *add_ms, *search_ms;
static atomic_long n_add_lat, n_search_lat;
static double t0;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A Gaussian-mixture-ish vector for id (32 clusters), reproducible. */
static void vec(int64_t id, float *v)
{
    uint64_t s = mix((uint64_t)id * 0x9e3779b97f4a7c15ull + 1);
    int cl = (int)(s % 32);
    for (int j = 0; j < DIM; j++) {
        uint64_t r = mix(s + (uint64_t)j + 1);
        float centre = (float)((mix((uint64_t)cl * 1000 + (uint64_t)j) >> 40) % 1000) / 100.0f;
        v[j] = centre + (float)((r >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
    }
}

static double rate; /* requests per second per client thread */

/* Open loop: request j of a thread is due at t0 + j / rate, and its latency counts from then,
 * so a request stalled behind a snapshot delays the ones due after it and they count too
 * (a closed loop would just send fewer requests during a stall and hide it). */
static void *client(void *arg)
{
    uint64_t rng = mix((uint64_t)(size_t)arg + 7);
    float q[DIM], d[K];
    int64_t ids[K];
    for (long j = 0; !atomic_load(&stop); j++) {
        double due = t0 + (double)j * 1e3 / rate;
        for (double t = now_ms(); t < due; t = now_ms()) {
            double ms = due - t;
            struct timespec ts = {(time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6)};
            nanosleep(&ts, NULL);
        }
        rng = mix(rng);
        if (rng % 10 == 0) {
            int64_t id = atomic_fetch_add(&next_id, 1);
            vec(id, q);
            char text[32];
            snprintf(text, sizeof text, "doc %lld", (long long)id);
            const char *texts[1] = {text};
            double a = due;
            int rc = vs_collection_add(col, 1, q, &id, texts, NULL, NULL);
            double b = now_ms();
            if (rc) {
                fprintf(stderr, "add: %s\n", vs_last_error());
                exit(1);
            }
            long i = atomic_fetch_add(&n_add_lat, 1);
            if (i < MAX_ADDS) add_ms[i] = b - a;
            if (getenv("MB_SLOW") && b - a > atof(getenv("MB_SLOW")))
                fprintf(stderr, "  slow add: due at %.3f s, %.1f ms\n", (a - t0) / 1e3, b - a);
            vs_collection_info in = {.struct_size = sizeof in};
            if (atomic_load(&trained_at) < 0 && vs_collection_info_get(col, &in) == VS_OK && in.trained) {
                atomic_store(&trained_at, i);
                fprintf(stderr, "  trained, seen at %.3f s\n", (b - t0) / 1e3);
            }
        } else {
            vec((int64_t)(rng % 100000), q);
            vs_search_params p = {.struct_size = sizeof(vs_search_params), .nprobe = 16};
            double a = due;
            if (vs_collection_search(col, 1, q, K, &p, d, ids)) {
                fprintf(stderr, "search: %s\n", vs_last_error());
                exit(1);
            }
            long i = atomic_fetch_add(&n_search_lat, 1);
            if (i < MAX_ADDS * 10L) search_ms[i] = now_ms() - a;
        }
    }
    return NULL;
}

static int snap_ms;
static void *snapshotter(void *arg)
{
    (void)arg;
    double last = now_ms();
    while (!atomic_load(&stop)) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        if (snap_ms <= 0 || now_ms() - last < snap_ms || atomic_load(&stop)) continue;
        double a = last = now_ms();
        if (vs_collection_snapshot(col)) {
            fprintf(stderr, "snapshot: %s\n", vs_last_error());
            exit(1);
        }
        atomic_fetch_add(&n_snap, 1);
        fprintf(stderr, "  snapshot at %.3f s took %.0f ms\n", (a - t0) / 1e3, now_ms() - a);
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
    return n ? v[(long)floor(p * (double)(n - 1))] : NAN;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: maint_bench DIR [seconds=20] [threads=4] [snap_ms=1000] [nomaint]\n");
        return 2;
    }
    int seconds = argc > 2 ? atoi(argv[2]) : 20, threads = argc > 3 ? atoi(argv[3]) : 4;
    snap_ms = argc > 4 ? atoi(argv[4]) : 1000;
    if (getenv("MB_NLIST")) NLIST = atoi(getenv("MB_NLIST"));
    if (getenv("MB_PRELOAD")) PRELOAD = atoi(getenv("MB_PRELOAD"));
    atomic_store(&next_id, PRELOAD);
    const char *r = getenv("MB_RATE"); /* requests per second, all threads together */
    rate = (r ? atof(r) : 500.0) / (threads > 0 ? threads : 1);
    char factory[32];
    snprintf(factory, sizeof factory, "IVF%d,Flat", NLIST);
    /* Log-size snapshots too: 2 MiB is about 4,000 adds of this size. */
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = DIM, .metric = VS_METRIC_L2, .factory = factory, .snapshot_log_bytes = 2u << 20};
    if (vs_collection_create(argv[1], &o, &col)) {
        fprintf(stderr, "create %s: %s\n", argv[1], vs_last_error());
        return 1;
    }
    float *x = malloc(sizeof(float) * DIM * PRELOAD);
    int64_t *ids = malloc(sizeof(int64_t) * PRELOAD);
    for (int i = 0; i < PRELOAD; i++) {
        vec(i, x + (size_t)i * DIM);
        ids[i] = i;
    }
    if (vs_collection_add(col, PRELOAD, x, ids, NULL, NULL, NULL)) return 1;
    free(x);
    free(ids);
    start_maintenance_fn start = (start_maintenance_fn)dlsym(RTLD_DEFAULT, "vs_collection_start_maintenance");
    /* "nomaint": no maintenance thread (and with snap_ms 0 no snapshot or training at all on a
     * build that has one: the baseline of the machine's own noise). */
    int maint = start != NULL && !(argc > 5 && !strcmp(argv[5], "nomaint"));
    if (maint && start(col, NULL)) {
        fprintf(stderr, "maintenance: %s\n", vs_last_error());
        return 1;
    }
    printf("maint_bench: %s, %d preloaded (train_min %d), %d client threads, open loop at %.0f requests/s, 10%% adds, "
           "snapshot every %d ms + at 2 MiB of log, %d s; maintenance thread: %s\n",
           factory, PRELOAD, 39 * NLIST, threads, rate * threads, snap_ms, seconds,
           maint ? "yes" : start ? "no (not started)" : "no (this build has none)");
    add_ms = malloc(sizeof(double) * MAX_ADDS);
    search_ms = malloc(sizeof(double) * MAX_ADDS * 10L);
    pthread_t th[64], sn;
    t0 = now_ms();
    for (int i = 0; i < threads && i < 64; i++) pthread_create(&th[i], NULL, client, (void *)(size_t)i);
    pthread_create(&sn, NULL, snapshotter, NULL);
    struct timespec ts = {seconds, 0};
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < threads && i < 64; i++) pthread_join(th[i], NULL);
    pthread_join(sn, NULL);
    double elapsed = (now_ms() - t0) / 1e3;
    long na = atomic_load(&n_add_lat), ns = atomic_load(&n_search_lat);
    if (na > MAX_ADDS) na = MAX_ADDS;
    if (ns > MAX_ADDS * 10L) ns = MAX_ADDS * 10L;
    double add_max = 0;
    for (long i = 0; i < na; i++) add_max = add_ms[i] > add_max ? add_ms[i] : add_max;
    qsort(add_ms, (size_t)na, sizeof *add_ms, cmp);
    qsort(search_ms, (size_t)ns, sizeof *search_ms, cmp);
    vs_collection_info in = {.struct_size = sizeof in};
    vs_collection_info_get(col, &in);
    double med = pct(add_ms, na, 0.5), p99 = pct(add_ms, na, 0.99);
    printf("adds: %ld in %.1f s, median %.3f ms, p99 %.3f ms, p99/median %.2f, p99.9 %.3f ms, max %.1f ms\n", na,
           elapsed, med, p99, p99 / med, pct(add_ms, na, 0.999), add_max);
    printf("searches: %ld, median %.3f ms, p99 %.3f ms\n", ns, pct(search_ms, ns, 0.5), pct(search_ms, ns, 0.99));
    printf("snapshots: %ld explicit, generation %llu at the end; trained: %s (first seen after add #%ld); %zu documents\n",
           atomic_load(&n_snap), (unsigned long long)in.generation, in.trained ? "yes" : "no", atomic_load(&trained_at),
           in.count);
    printf("verdict: add p99 %s 5x its median\n", p99 < 5 * med ? "below" : "NOT below");
    vs_collection_close(col);
    return 0;
}
