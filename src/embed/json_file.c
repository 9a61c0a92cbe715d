/* Small-file and JSON helpers for model directories. */
#include "embed/json_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int vs_read_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    int rc = VS_OK;
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if (n > max_bytes) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: larger than %zu bytes", path, max_bytes);
            break;
        }
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf) rc = vs_fail(VS_ERR_NOMEM, "out of memory reading %s", path);
    else if (!rc && ferror(f)) rc = vs_fail(VS_ERR_IO, "read %s: %s", path, strerror(errno));
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return VS_OK;
}

int vs_json_load(const char *path, cJSON **out)
{
    *out = NULL;
    char *text;
    size_t len;
    int rc = vs_read_file(path, (size_t)64 << 20, &text, &len);
    if (rc) return rc;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        free(text);
        return vs_fail(VS_ERR_CORRUPT, "%s: invalid JSON near byte %zu", path, at);
    }
    free(text);
    *out = j;
    return VS_OK;
}

int vs_json_bool(const cJSON *obj, const char *key, int dflt, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return dflt;
    if (!cJSON_IsBool(v)) {
        *ok = 0;
        return dflt;
    }
    return cJSON_IsTrue(v);
}

long vs_json_int(const cJSON *obj, const char *key, long dflt, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return dflt;
    /* Range first: converting a double outside long's range is undefined. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18) ||
        v->valuedouble != (double)(long)v->valuedouble) {
        *ok = 0;
        return dflt;
    }
    return (long)v->valuedouble;
}

const char *vs_json_str(const cJSON *obj, const char *key, const char *dflt, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return dflt;
    if (!cJSON_IsString(v)) {
        *ok = 0;
        return dflt;
    }
    return v->valuestring;
}
