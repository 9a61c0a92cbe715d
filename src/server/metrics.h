/* The server's routes as its metrics label them (the registry and the exposition are the HTTP
 * layer's: http/http_metrics.h). */
#ifndef VS_SERVER_METRICS_H
#define VS_SERVER_METRICS_H

typedef enum {
    R_PAGE, R_HEALTH, R_METRICS, R_OPENAPI, R_SEARCH, R_SEARCH_BATCH, R_INDEX, R_VECTORS, R_DOC_GET,
    R_DOC_DELETE, R_STATS, R_SAVE, R_COLLECTIONS_LIST, R_COLLECTION_CREATE, R_COLLECTION_GET,
    R_COLLECTION_DELETE, R_OTHER, R_COUNT
} route_id;

/* route="..." of each route_id; R_OTHER ("other") last, where out-of-range ids count. */
extern const char *const server_route_names[R_COUNT];

#endif
