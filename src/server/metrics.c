/* Request counters and latency histograms (Prometheus text format 0.0.4). */
#include "server/metrics.h"

#include <stdatomic.h>
#include <stdint.h>

#include "server/strbuf.h"

static const char *const names[R_COUNT] = {
    "page", "health", "metrics", "openapi", "search", "search_batch", "index", "vectors", "document_get",
    "document_delete", "stats", "save", "collections_list", "collection_create", "collection_get",
    "collection_delete", "other"};

/* Upper bounds in seconds, as Prometheus client libraries default them plus finer low ones. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NB (sizeof bounds / sizeof bounds[0])
static const int codes[] = {200, 201, 400, 401, 404, 405, 409, 413, 500, 503};
#define NC (sizeof codes / sizeof codes[0])

static atomic_uint_fast64_t buckets[R_COUNT][NB + 1];
static atomic_uint_fast64_t sum_us[R_COUNT];
static atomic_uint_fast64_t by_code[R_COUNT][NC + 1];

const char *route_name(route_id r) { return r < R_COUNT ? names[r] : "other"; }

void metrics_record(route_id r, int status, double seconds)
{
    if (r >= R_COUNT) r = R_OTHER;
    size_t b = 0;
    while (b < NB && seconds > bounds[b]) b++;
    atomic_fetch_add_explicit(&buckets[r][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sum_us[r], (uint64_t)(seconds * 1e6), memory_order_relaxed);
    size_t c = 0;
    while (c < NC && codes[c] != status) c++;
    atomic_fetch_add_explicit(&by_code[r][c], 1, memory_order_relaxed);
}

void metrics_render(sb *o)
{
    sb_puts(o, "# HELP vecscale_http_requests_total HTTP requests by route and status code.\n"
               "# TYPE vecscale_http_requests_total counter\n");
    for (int r = 0; r < R_COUNT; r++)
        for (size_t c = 0; c <= NC; c++) {
            uint64_t v = atomic_load_explicit(&by_code[r][c], memory_order_relaxed);
            if (!v) continue;
            if (c < NC)
                sb_printf(o, "vecscale_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n", names[r], codes[c],
                          (unsigned long long)v);
            else
                sb_printf(o, "vecscale_http_requests_total{route=\"%s\",code=\"other\"} %llu\n", names[r],
                          (unsigned long long)v);
        }
    sb_puts(o, "# HELP vecscale_http_errors_total HTTP responses with status >= 400 by route.\n"
               "# TYPE vecscale_http_errors_total counter\n");
    for (int r = 0; r < R_COUNT; r++) {
        uint64_t e = 0;
        for (size_t c = 0; c <= NC; c++)
            if (c == NC || codes[c] >= 400) e += atomic_load_explicit(&by_code[r][c], memory_order_relaxed);
        sb_printf(o, "vecscale_http_errors_total{route=\"%s\"} %llu\n", names[r], (unsigned long long)e);
    }
    sb_puts(o, "# HELP vecscale_http_request_duration_seconds Time from request received to response queued.\n"
               "# TYPE vecscale_http_request_duration_seconds histogram\n");
    for (int r = 0; r < R_COUNT; r++) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= NB; b++) {
            cum += atomic_load_explicit(&buckets[r][b], memory_order_relaxed);
            if (b < NB)
                sb_printf(o, "vecscale_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", names[r],
                          bounds[b], (unsigned long long)cum);
            else
                sb_printf(o, "vecscale_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", names[r],
                          (unsigned long long)cum);
        }
        sb_printf(o, "vecscale_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", names[r],
                  atomic_load_explicit(&sum_us[r], memory_order_relaxed) / 1e6);
        sb_printf(o, "vecscale_http_request_duration_seconds_count{route=\"%s\"} %llu\n", names[r],
                  (unsigned long long)cum);
    }
}
