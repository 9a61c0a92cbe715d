/* Metric names. */
#include <strings.h>

#include "core/error.h"
#include "vecscale.h"

int vs_metric_parse(const char *name, vs_metric *out)
{
    static const struct { const char *name; vs_metric m; } names[] = {
        {"l2", VS_METRIC_L2}, {"euclidean", VS_METRIC_L2}, {"ip", VS_METRIC_IP},
        {"inner_product", VS_METRIC_IP}, {"dot", VS_METRIC_IP}, {"cosine", VS_METRIC_COSINE},
        {"cos", VS_METRIC_COSINE}, {"angular", VS_METRIC_COSINE},
    };
    if (!name || !out) return vs_fail(VS_ERR_INVALID_ARG, "metric name is NULL");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].m;
            return VS_OK;
        }
    }
    return vs_fail(VS_ERR_INVALID_ARG, "unknown metric \"%s\" (expected l2, ip or cosine)", name);
}

const char *vs_metric_name(vs_metric m)
{
    switch (m) {
    case VS_METRIC_L2: return "l2";
    case VS_METRIC_IP: return "ip";
    case VS_METRIC_COSINE: return "cosine";
    }
    return "unknown";
}
