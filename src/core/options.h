/* Reading a caller's options struct, and filling a caller's result struct, whose layout may be
 * older (shorter) than the library's: the rules of vecscale.h's "Options and result structs"
 * group, in one place. */
#ifndef VS_CORE_OPTIONS_H
#define VS_CORE_OPTIONS_H

#include <stddef.h>
#include <string.h>

#include "core/error.h"

/* Copies the caller's struct `src` (NULL = all defaults) into `dst` (the library's full layout,
 * dst_size bytes): the first struct_size bytes as given, the rest zero (every field's
 * default), and dst's struct_size set to dst_size. struct_size 0 stands for `v1_size`, the
 * layout of the first version with struct_size (0.2). `what` names the struct in the error. */
static inline int vs_options_read(void *dst, size_t dst_size, const void *src, size_t v1_size, const char *what)
{
    size_t n = 0;
    if (src) {
        memcpy(&n, src, sizeof n);
        if (n == 0) n = v1_size;
        if (n < sizeof(size_t) || n > dst_size)
            return vs_fail(VS_ERR_INVALID_ARG,
                           "%s.struct_size is %zu: this library knows sizes %zu..%zu (initialise the struct with "
                           "its _init function, built against the header of the library you link)",
                           what, n, sizeof(size_t), dst_size);
        memcpy(dst, src, n);
    }
    memset((char *)dst + n, 0, dst_size - n);
    memcpy(dst, &dst_size, sizeof dst_size);
    return VS_OK;
}

/* The size struct_size 0 stands for, per struct: the layout of 0.2. When a field is added to
 * one of these structs, replace its sizeof here by the offsetof of the first new field. */
#define VS_INDEX_OPTIONS_V1 offsetof(vs_index_options, refine_store)
#define VS_SEARCH_PARAMS_V1 sizeof(vs_search_params)
#define VS_KMEANS_PARAMS_V1 sizeof(vs_kmeans_params)
#define VS_S3_OPTIONS_V1 sizeof(vs_s3_options)
#define VS_MODEL_OPTIONS_V1 sizeof(vs_model_options)
#define VS_MODEL_PULL_OPTIONS_V1 sizeof(vs_model_pull_options)
#define VS_COLLECTION_OPTIONS_V1 sizeof(vs_collection_options)
#define VS_MAINTENANCE_POLICY_V1 sizeof(vs_maintenance_policy)

/* The size struct_size 0 stands for in a result struct: the layout of 0.3, the first version
 * whose result structs carry struct_size. Same rule as above when one of them grows. */
#define VS_FACTORY_SPEC_V1 offsetof(vs_factory_spec, refine_u8)
#define VS_COLLECTION_INFO_V1 sizeof(vs_collection_info)
#define VS_FILTER_REPORT_V1 sizeof(vs_filter_report)
#define VS_PAYLOAD_INDEX_INFO_V1 sizeof(vs_payload_index_info)
#define VS_SNAPSHOT_STATS_V1 sizeof(vs_snapshot_stats)
#define VS_SNAPSHOT_GC_STATS_V1 sizeof(vs_snapshot_gc_stats)

/* The bytes a caller's result struct `dst` holds by its struct_size (0 = v1_size), into *n;
 * VS_ERR_INVALID_ARG for a size this library cannot fill (below sizeof(size_t), or above
 * lib_size: a header newer than the library). Called before the call does any work, so a bad
 * size changes nothing. */
static inline int vs_result_size(const void *dst, size_t lib_size, size_t v1_size, const char *what, size_t *n)
{
    size_t s;
    memcpy(&s, dst, sizeof s);
    if (s == 0) s = v1_size;
    if (s < sizeof(size_t) || s > lib_size)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "%s.struct_size is %zu: this library fills sizes %zu..%zu (set it to sizeof the struct, "
                       "built against the header of the library you link, or 0)",
                       what, s, sizeof(size_t), lib_size);
    *n = s;
    return VS_OK;
}

/* Copies the library's full result `src` into the caller's `dst` of n bytes (from
 * vs_result_size): every byte after struct_size up to n, never one beyond; struct_size itself
 * is the caller's and stays as it was. */
static inline void vs_result_write(void *dst, const void *src, size_t n)
{
    if (n > sizeof(size_t)) memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t), n - sizeof(size_t));
}

/* Declares `T name` holding the caller's `src` read by the rule above, or returns the error. */
#define VS_READ_OPTIONS(T, name, src, v1)                                          \
    T name;                                                                         \
    do {                                                                            \
        int vs_opt_rc_ = vs_options_read(&name, sizeof name, (src), (v1), #T);      \
        if (vs_opt_rc_) return vs_opt_rc_;                                          \
    } while (0)

#endif
