/* Prometheus metrics of an HTTP program, in one copy for `vecscale serve` (src/server) and
 * `vecscale route` (src/router): a registry of counters, gauges and histograms, and their text
 * exposition (format 0.0.4). Each program names its routes once (vs_http_metrics_create) and
 * records every reply; what only it knows (collections, log lag, memory) it adds at render
 * time through the same family and sample writers, so the names and the format live here.
 * Recording is lock-free (relaxed atomics). Linked into the command, not the library. */
#ifndef VS_HTTP_METRICS_H
#define VS_HTTP_METRICS_H

#include <stddef.h>

#include "core/buf.h"

typedef struct vs_http_metrics vs_http_metrics;

/* A registry for n_routes routes named route_names[i] (the strings must outlive it; the last
 * route is where out-of-range ids are counted, conventionally "other"). Families:
 *   vecscale_http_requests_total{route,code}   counter, by route and status code
 *   vecscale_http_errors_total{route}          counter, replies with status >= 400
 *   vecscale_http_request_duration_seconds{route}  histogram, request received to reply queued
 *   vecscale_http_in_flight                    gauge, requests being handled
 * NULL when out of memory. */
vs_http_metrics *vs_http_metrics_create(const char *const *route_names, size_t n_routes);
void vs_http_metrics_free(vs_http_metrics *m);

/* A request entered / left the handler (the in-flight gauge). */
void vs_http_metrics_enter(vs_http_metrics *m);
void vs_http_metrics_leave(vs_http_metrics *m);
int vs_http_metrics_in_flight(const vs_http_metrics *m);
/* One reply of `route` with `status`, `seconds` after the request arrived. */
void vs_http_metrics_record(vs_http_metrics *m, size_t route, int status, double seconds);

/* Appends the registry's families to out. 0, or -1 when out of memory. */
int vs_http_metrics_render(const vs_http_metrics *m, vs_buf *out);

/* Writers for a program's own families: "# HELP" and "# TYPE" lines, then samples, with an
 * optional label (label NULL: none). 0, or -1 when out of memory. */
int vs_http_metrics_family(vs_buf *out, const char *name, const char *type, const char *help);
int vs_http_metrics_sample(vs_buf *out, const char *name, const char *label, const char *label_value, double value);

/* The content type of the exposition. */
#define VS_HTTP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
