/* The server's route labels (metrics.h). */
#include "server/metrics.h"

const char *const server_route_names[R_COUNT] = {
    "page", "health", "metrics", "openapi", "search", "search_batch", "index", "vectors", "document_get",
    "document_delete", "stats", "save", "collections_list", "collection_create", "collection_get",
    "collection_delete", "other"};
