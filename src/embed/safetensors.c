/* safetensors: map, validate the header, convert tensors to float32. */
#include "embed/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "embed/half.h"
#include "embed/json_file.h"

struct vs_safetensors {
    char *path;
    void *map; /* ours to unmap; NULL when base is a caller's buffer */
    const uint8_t *base;
    size_t size;
    vs_st_tensor *t;
    size_t n;
};

#define MAX_HEADER ((uint64_t)100 << 20) /* the format's own limit */

static int parse_tensor(vs_safetensors *st, const cJSON *e, const uint8_t *data, uint64_t data_len, vs_st_tensor *t)
{
    const char *path = st->path;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' lacks dtype, shape or data_offsets", path, e->string);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt->valuestring);
    uint64_t es;
    if (!strcmp(dt->valuestring, "F32")) t->dtype = VS_ST_F32, es = 4;
    else if (!strcmp(dt->valuestring, "F16")) t->dtype = VS_ST_F16, es = 2;
    else if (!strcmp(dt->valuestring, "BF16")) t->dtype = VS_ST_BF16, es = 2;
    else {
        static const char *const known[] = {"F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "U16", "U32", "U64",
                                            "F8_E4M3", "F8_E5M2"};
        static const uint64_t sizes[] = {8, 8, 4, 2, 1, 1, 1, 2, 4, 8, 1, 1};
        es = 0;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            if (!strcmp(dt->valuestring, known[i])) es = sizes[i];
        if (!es) return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' has unknown dtype '%s'", path, e->string, dt->valuestring);
        t->dtype = VS_ST_OTHER;
    }
    int nd = cJSON_GetArraySize(shape);
    if (nd > VS_ST_MAX_DIMS) return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' has %d dimensions", path, e->string, nd);
    t->ndim = (uint32_t)nd;
    uint64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e15 || d->valuedouble != floor(d->valuedouble))
            return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' has a bad shape", path, e->string);
        t->shape[i] = (uint64_t)d->valuedouble;
        if (t->shape[i] && numel > UINT64_MAX / 16 / t->shape[i])
            return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' is too large", path, e->string);
        numel *= t->shape[i];
    }
    const cJSON *b = cJSON_GetArrayItem(offs, 0), *en = cJSON_GetArrayItem(offs, 1);
    if (!cJSON_IsNumber(b) || !cJSON_IsNumber(en) || b->valuedouble < 0 || en->valuedouble < b->valuedouble ||
        en->valuedouble > (double)data_len)
        return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' data_offsets lie outside the %llu data bytes", path, e->string,
                       (unsigned long long)data_len);
    uint64_t begin = (uint64_t)b->valuedouble, end = (uint64_t)en->valuedouble;
    if (end - begin != numel * es)
        return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' has %llu bytes, but its shape and dtype need %llu", path,
                       e->string, (unsigned long long)(end - begin), (unsigned long long)(numel * es));
    t->data = data + begin;
    t->bytes = end - begin;
    if (!(t->name = strdup(e->string))) return vs_fail(VS_ERR_NOMEM, "out of memory");
    return VS_OK;
}

static int parse(vs_safetensors *st)
{
    const uint8_t *p = st->base;
    if (st->size < 8) return vs_fail(VS_ERR_CORRUPT, "%s: truncated: %zu bytes", st->path, st->size);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | p[i];
    if (hl > MAX_HEADER || hl > st->size - 8)
        return vs_fail(VS_ERR_CORRUPT, "%s: header of %llu bytes does not fit the %zu-byte file", st->path,
                       (unsigned long long)hl, st->size);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)p + 8, (size_t)hl, &end, 0);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return vs_fail(VS_ERR_CORRUPT, "%s: the header is not a JSON object", st->path);
    }
    int n = cJSON_GetArraySize(j), rc = VS_OK;
    st->t = calloc((size_t)n + 1, sizeof *st->t);
    if (!st->t) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        if (rc) break;
        if (!strcmp(e->string, "__metadata__")) continue;
        rc = parse_tensor(st, e, p + 8 + hl, st->size - 8 - hl, &st->t[st->n]);
        if (!rc) st->n++;
    }
    cJSON_Delete(j);
    return rc;
}

int vs_safetensors_open(const char *path, vs_safetensors **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "open %s: %s", path, strerror(errno));
    struct stat st_;
    if (fstat(fd, &st_) != 0 || st_.st_size == 0) {
        close(fd);
        return vs_fail(st_.st_size == 0 ? VS_ERR_CORRUPT : VS_ERR_IO, "%s: empty or unreadable", path);
    }
    vs_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        close(fd);
        free(st);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    st->size = (size_t)st_.st_size;
    st->map = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        vs_safetensors_close(st);
        return vs_fail(VS_ERR_IO, "mmap %s: %s", path, strerror(e));
    }
    st->base = st->map;
    int rc = parse(st);
    if (rc) {
        vs_safetensors_close(st);
        return rc;
    }
    *out = st;
    return VS_OK;
}

int vs_safetensors_open_buffer(const void *data, size_t size, const char *origin, vs_safetensors **out)
{
    *out = NULL;
    vs_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(origin))) {
        free(st);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    st->base = data;
    st->size = size;
    int rc = parse(st);
    if (rc) {
        vs_safetensors_close(st);
        return rc;
    }
    *out = st;
    return VS_OK;
}

void vs_safetensors_close(vs_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free(st->t[i].name);
    free(st->t);
    if (st->map) munmap(st->map, st->size);
    free(st->path);
    free(st);
}

size_t vs_safetensors_count(const vs_safetensors *st) { return st->n; }
const vs_st_tensor *vs_safetensors_at(const vs_safetensors *st, size_t i) { return i < st->n ? &st->t[i] : NULL; }

const vs_st_tensor *vs_safetensors_find(const vs_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name)) return &st->t[i];
    return NULL;
}

static void shape_str(char *buf, size_t cap, uint32_t nd, const uint64_t *d)
{
    size_t l = (size_t)snprintf(buf, cap, "[");
    for (uint32_t i = 0; i < nd && l < cap; i++)
        l += (size_t)snprintf(buf + l, cap - l, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (l < cap) snprintf(buf + l, cap - l, "]");
}

int vs_safetensors_read_f32(const vs_safetensors *st, const char *name, uint32_t ndim, const uint64_t *dims,
                            float *out)
{
    const vs_st_tensor *t = vs_safetensors_find(st, name);
    if (!t) return vs_fail(VS_ERR_NOT_FOUND, "%s: no tensor '%s'", st->path, name);
    int same = t->ndim == ndim;
    for (uint32_t i = 0; same && i < ndim; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char have[128], want[128];
        shape_str(have, sizeof have, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, dims);
        return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' has shape %s, expected %s", st->path, name, have, want);
    }
    size_t n = t->bytes / (t->dtype == VS_ST_F32 ? 4 : 2);
    if (t->dtype == VS_ST_F32) memcpy(out, t->data, t->bytes);
    else if (t->dtype == VS_ST_F16 || t->dtype == VS_ST_BF16)
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(t->data[2 * i] | t->data[2 * i + 1] << 8);
            out[i] = t->dtype == VS_ST_F16 ? vs_f16_to_f32(h) : vs_bf16_to_f32(h);
        }
    else
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; F32, F16 and BF16 are supported", st->path, name,
                       t->dtype_name);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i]))
            return vs_fail(VS_ERR_CORRUPT, "%s: tensor '%s' element %zu is not finite", st->path, name, i);
    return VS_OK;
}
