/* Prometheus metrics of the server: requests and latency histograms per route, errors per
 * status code. Lock-free counters (relaxed atomics); rendered on GET /metrics. */
#ifndef VS_SERVER_METRICS_H
#define VS_SERVER_METRICS_H

#include <stddef.h>

typedef enum {
    R_PAGE, R_HEALTH, R_METRICS, R_OPENAPI, R_SEARCH, R_SEARCH_BATCH, R_INDEX, R_VECTORS, R_DOC_GET,
    R_DOC_DELETE, R_STATS, R_SAVE, R_COLLECTIONS_LIST, R_COLLECTION_CREATE, R_COLLECTION_GET,
    R_COLLECTION_DELETE, R_OTHER, R_COUNT
} route_id;

const char *route_name(route_id r);
void metrics_record(route_id r, int status, double seconds);
/* Appends the text exposition of the counters to a malloc'd buffer (see sb.h). */
struct sb;
void metrics_render(struct sb *out);

#endif
