/* Encoding and validating snapshot manifests (format in snapshot_manifest.h). Everything read
 * from the store is checked before use: checksum first, then each field, then every path. */
#include "storage/snapshot_manifest.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"


void vs_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return -1;
        if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
        else out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

void vs_manifest_segment_name(const vs_snap_file *f, char *out, size_t cap)
{
    char hex[33];
    vs_hex(f->xxh128, 16, hex);
    snprintf(out, cap, "%s-%llu", hex, (unsigned long long)f->size);
}

int vs_manifest_path_ok(const char *p)
{
    if (!p || !*p || *p == '/' || strlen(p) > 1000) return 0;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '\\') return 0;
    const char *s = p;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
        if (!e) return 1;
        s = e + 1;
    }
}

int vs_manifest_encode(const vs_snap_manifest *m, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    cJSON *root = cJSON_CreateObject(), *files = cJSON_CreateArray();
    int ok = root && files;
    if (ok) {
        cJSON_AddItemToObject(root, "format", cJSON_CreateString("vecscale-snapshot"));
        /* Numbers go through doubles in cJSON: exact up to 2^53, far beyond any real size. */
        cJSON_AddItemToObject(root, "generation", cJSON_CreateNumber((double)m->generation));
        cJSON_AddItemToObject(root, "created_unix", cJSON_CreateNumber((double)m->created_unix));
        cJSON_AddItemToObject(root, "files", files);
        files = NULL;
        cJSON *arr = cJSON_GetObjectItem(root, "files");
        for (size_t i = 0; ok && i < m->n_files; i++) {
            cJSON *f = cJSON_CreateObject();
            char hex[33];
            vs_hex(m->files[i].xxh128, 16, hex);
            ok = f && cJSON_AddStringToObject(f, "path", m->files[i].path) &&
                 cJSON_AddNumberToObject(f, "size", (double)m->files[i].size) &&
                 cJSON_AddStringToObject(f, "xxh3_128", hex);
            if (f) cJSON_AddItemToArray(arr, f);
        }
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    cJSON_Delete(files);
    if (!json) return vs_fail(VS_ERR_NOMEM, "manifest: out of memory");
    size_t jlen = strlen(json);
    char *buf = malloc(jlen + 64);
    if (!buf) {
        cJSON_free(json);
        return vs_fail(VS_ERR_NOMEM, "manifest: out of memory");
    }
    int h = snprintf(buf, 64, "VSMANIFEST %d %016llx\n", VS_MANIFEST_VERSION,
                     (unsigned long long)XXH3_64bits(json, jlen));
    memcpy(buf + h, json, jlen);
    cJSON_free(json);
    *out = buf;
    *len = (size_t)h + jlen;
    return VS_OK;
}

void vs_manifest_clear(vs_snap_manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_files; i++) free(m->files[i].path);
    free(m->files);
    memset(m, 0, sizeof *m);
}

static int get_u64(const cJSON *obj, const char *name, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const vs_snap_file *)a)->path, ((const vs_snap_file *)b)->path);
}

int vs_manifest_decode(const char *buf, size_t len, const char *origin, vs_snap_manifest *m)
{
    memset(m, 0, sizeof *m);
    const char *nl = len ? memchr(buf, '\n', len < 64 ? len : 64) : NULL;
    if (!nl || len < 11 || memcmp(buf, "VSMANIFEST ", 11))
        return vs_fail(VS_ERR_CORRUPT, "%s: not a vecscale snapshot manifest", origin);
    char head[64];
    memcpy(head, buf, (size_t)(nl - buf));
    head[nl - buf] = '\0';
    unsigned version = 0;
    char sum[32] = "";
    if (sscanf(head, "VSMANIFEST %u %16s", &version, sum) != 2 || strlen(sum) != 16)
        return vs_fail(VS_ERR_CORRUPT, "%s: bad manifest header", origin);
    if (version > VS_MANIFEST_VERSION)
        return vs_fail(VS_ERR_VERSION, "%s: manifest version %u is newer than this build's %d", origin, version,
                       VS_MANIFEST_VERSION);
    if (version == 0) return vs_fail(VS_ERR_CORRUPT, "%s: bad manifest version 0", origin);
    const char *json = nl + 1;
    size_t jlen = len - (size_t)(json - buf);
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)XXH3_64bits(json, jlen));
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    if (strcmp(want, sum))
        return vs_fail(VS_ERR_CORRUPT, "%s: manifest checksum mismatch (stored %s, computed %s): torn or altered",
                       origin, sum, want);
#endif
    cJSON *root = cJSON_ParseWithLength(json, jlen);
    if (!root) return vs_fail(VS_ERR_CORRUPT, "%s: manifest is not valid JSON", origin);
    int rc = VS_OK;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    uint64_t created = 0;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "vecscale-snapshot"))
        rc = vs_fail(VS_ERR_CORRUPT, "%s: manifest format is not vecscale-snapshot", origin);
    else if (get_u64(root, "generation", &m->generation) || get_u64(root, "created_unix", &created))
        rc = vs_fail(VS_ERR_CORRUPT, "%s: manifest generation or creation time missing", origin);
    else if (!cJSON_IsArray(files) || cJSON_GetArraySize(files) > VS_MANIFEST_MAX_FILES)
        rc = vs_fail(VS_ERR_CORRUPT, "%s: manifest file list missing or too long", origin);
    m->created_unix = (int64_t)created;
    size_t n = rc ? 0 : (size_t)cJSON_GetArraySize(files);
    if (n && !(m->files = calloc(n, sizeof *m->files))) rc = vs_fail(VS_ERR_NOMEM, "manifest: out of memory");
    const cJSON *f = rc ? NULL : files->child;
    for (size_t i = 0; rc == VS_OK && i < n; i++, f = f->next) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "path");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(f, "xxh3_128");
        vs_snap_file *e = &m->files[i];
        if (!cJSON_IsString(p) || !vs_manifest_path_ok(p->valuestring))
            rc = vs_fail(VS_ERR_CORRUPT, "%s: file %zu has a missing or unsafe path", origin, i);
        else if (get_u64(f, "size", &e->size) || !cJSON_IsString(h) || unhex(h->valuestring, e->xxh128, 16))
            rc = vs_fail(VS_ERR_CORRUPT, "%s: file '%s' has a bad size or checksum field", origin, p->valuestring);
        else if (!(e->path = strdup(p->valuestring)))
            rc = vs_fail(VS_ERR_NOMEM, "manifest: out of memory");
        m->n_files = i + 1;
    }
    cJSON_Delete(root);
    if (rc == VS_OK && m->n_files > 1) {
        qsort(m->files, m->n_files, sizeof *m->files, cmp_path);
        for (size_t i = 1; rc == VS_OK && i < m->n_files; i++) {
            size_t a = strlen(m->files[i - 1].path);
            /* "a" and "a/b" cannot both be files */
            if (!strcmp(m->files[i - 1].path, m->files[i].path) ||
                (!strncmp(m->files[i - 1].path, m->files[i].path, a) && m->files[i].path[a] == '/'))
                rc = vs_fail(VS_ERR_CORRUPT, "%s: path '%s' listed twice or as both file and directory", origin,
                             m->files[i].path);
        }
    }
    if (rc) vs_manifest_clear(m);
    return rc;
}
