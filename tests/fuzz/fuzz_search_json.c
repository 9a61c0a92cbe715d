/* Differential fuzzing of the server's fast search-body parser (src/server/json_fast.c)
 * against cJSON: whenever the fast parser accepts a body, cJSON must parse it to an object
 * with the same fields and values; a violated check calls abort(). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

#define CAP 64

static void check(int ok)
{
    if (!ok) abort();
}

int vs_fuzz_search_json(const uint8_t *data, size_t size)
{
    char *body = malloc(size + 1);
    if (!body) return 0;
    memcpy(body, data, size);
    body[size] = 0;
    float vec[CAP];
    fast_search fs = {.vec = vec};
    if (fast_parse_search(body, size, &fs, CAP)) {
        check(strlen(body) == size); /* no NUL inside an accepted body */
        cJSON *o = cJSON_ParseWithLengthOpts(body, size + 1, NULL, 1);
        check(o && cJSON_IsObject(o));
        int fields = 0;
        for (cJSON *f = o->child; f; f = f->next) fields++;
        check(fields == fs.has_vector + fs.has_k + fs.has_nprobe + fs.has_ef);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vector");
        check(!fs.has_vector == !v);
        if (v) {
            check(cJSON_IsArray(v) && (size_t)cJSON_GetArraySize(v) == fs.n);
            size_t i = 0;
            for (const cJSON *e = v->child; e; e = e->next, i++) {
                check(cJSON_IsNumber(e));
                float want = (float)e->valuedouble;
                check(isfinite(want) && (want == vec[i] || (want == 0 && vec[i] == 0)));
            }
        }
        const char *names[3] = {"k", "nprobe", "ef"};
        const long vals[3] = {fs.k, fs.nprobe, fs.ef};
        const int has[3] = {fs.has_k, fs.has_nprobe, fs.has_ef};
        for (int j = 0; j < 3; j++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, names[j]);
            check(!has[j] == !x);
            if (x) check(cJSON_IsNumber(x) && x->valuedouble == (double)vals[j]);
        }
        cJSON_Delete(o);
    }
    free(body);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_search_json(data, size); }
#endif
