/* The metrics registry and its Prometheus text exposition (see http_metrics.h). */
#include "http/http_metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Upper bounds in seconds, as Prometheus client libraries default them plus finer low ones. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NB (sizeof bounds / sizeof bounds[0])
/* Status codes counted by name; the rest under code="other". */
static const int codes[] = {200, 201, 400, 401, 404, 405, 409, 413, 500, 503};
#define NC (sizeof codes / sizeof codes[0])

typedef struct {
    atomic_uint_fast64_t buckets[NB + 1];
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t by_code[NC + 1];
} route_stats;

struct vs_http_metrics {
    const char *const *names;
    size_t n;
    atomic_int in_flight;
    route_stats *routes;
};

vs_http_metrics *vs_http_metrics_create(const char *const *route_names, size_t n_routes)
{
    if (!n_routes) return NULL;
    vs_http_metrics *m = calloc(1, sizeof *m);
    if (!m || !(m->routes = calloc(n_routes, sizeof *m->routes))) {
        free(m);
        return NULL;
    }
    m->names = route_names;
    m->n = n_routes;
    return m;
}

void vs_http_metrics_free(vs_http_metrics *m)
{
    if (!m) return;
    free(m->routes);
    free(m);
}

void vs_http_metrics_enter(vs_http_metrics *m) { atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_relaxed); }
void vs_http_metrics_leave(vs_http_metrics *m) { atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed); }
int vs_http_metrics_in_flight(const vs_http_metrics *m)
{
    return atomic_load_explicit(&((vs_http_metrics *)m)->in_flight, memory_order_relaxed);
}

void vs_http_metrics_record(vs_http_metrics *m, size_t route, int status, double seconds)
{
    route_stats *r = &m->routes[route < m->n ? route : m->n - 1];
    size_t b = 0;
    while (b < NB && seconds > bounds[b]) b++;
    atomic_fetch_add_explicit(&r->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
    size_t c = 0;
    while (c < NC && codes[c] != status) c++;
    atomic_fetch_add_explicit(&r->by_code[c], 1, memory_order_relaxed);
}

static int put(vs_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(vs_buf *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof line) return vs_buf_append(out, line, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = vs_buf_append(out, big, (size_t)n);
    free(big);
    return rc;
}

int vs_http_metrics_family(vs_buf *out, const char *name, const char *type, const char *help)
{
    return put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int vs_http_metrics_sample(vs_buf *out, const char *name, const char *label, const char *label_value, double value)
{
    /* Integral values print as integers (counts and bytes), the rest with microsecond digits. */
    char v[64];
    if (value == (double)(long long)value && value < 9e18 && value > -9e18) snprintf(v, sizeof v, "%lld", (long long)value);
    else snprintf(v, sizeof v, "%.6f", value);
    return label ? put(out, "%s{%s=\"%s\"} %s\n", name, label, label_value, v) : put(out, "%s %s\n", name, v);
}

static uint64_t load(const atomic_uint_fast64_t *a)
{
    return atomic_load_explicit((atomic_uint_fast64_t *)a, memory_order_relaxed);
}

int vs_http_metrics_render(const vs_http_metrics *m, vs_buf *o)
{
    int rc = vs_http_metrics_family(o, "vecscale_http_requests_total", "counter", "HTTP requests by route and status code.");
    for (size_t r = 0; r < m->n && !rc; r++)
        for (size_t c = 0; c <= NC && !rc; c++) {
            uint64_t v = load(&m->routes[r].by_code[c]);
            if (!v) continue;
            if (c < NC)
                rc = put(o, "vecscale_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n", m->names[r], codes[c],
                         (unsigned long long)v);
            else
                rc = put(o, "vecscale_http_requests_total{route=\"%s\",code=\"other\"} %llu\n", m->names[r],
                         (unsigned long long)v);
        }
    if (!rc) rc = vs_http_metrics_family(o, "vecscale_http_errors_total", "counter", "HTTP responses with status >= 400 by route.");
    for (size_t r = 0; r < m->n && !rc; r++) {
        uint64_t e = 0;
        for (size_t c = 0; c <= NC; c++)
            if (c == NC || codes[c] >= 400) e += load(&m->routes[r].by_code[c]);
        rc = put(o, "vecscale_http_errors_total{route=\"%s\"} %llu\n", m->names[r], (unsigned long long)e);
    }
    if (!rc)
        rc = vs_http_metrics_family(o, "vecscale_http_request_duration_seconds", "histogram",
                                    "Time from request received to response queued.");
    for (size_t r = 0; r < m->n && !rc; r++) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= NB && !rc; b++) {
            cum += load(&m->routes[r].buckets[b]);
            if (b < NB)
                rc = put(o, "vecscale_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", m->names[r],
                         bounds[b], (unsigned long long)cum);
            else
                rc = put(o, "vecscale_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", m->names[r],
                         (unsigned long long)cum);
        }
        if (!rc)
            rc = put(o, "vecscale_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", m->names[r],
                     load(&m->routes[r].sum_us) / 1e6);
        if (!rc)
            rc = put(o, "vecscale_http_request_duration_seconds_count{route=\"%s\"} %llu\n", m->names[r],
                     (unsigned long long)cum);
    }
    if (!rc) rc = vs_http_metrics_family(o, "vecscale_http_in_flight", "gauge", "Requests being handled.");
    if (!rc) rc = vs_http_metrics_sample(o, "vecscale_http_in_flight", NULL, NULL, vs_http_metrics_in_flight(m));
    return rc;
}
