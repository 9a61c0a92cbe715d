/* Document ids in requests and replies: the library's one rule (vecscale.h, "Document ids")
 * applied to JSON ("id": 17 or "id": "doc-17") and rendered back as the client gave them. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

#define MAX_JSON_ID 9007199254740991.0 /* 2^53 - 1: larger integers do not survive JSON doubles */

int read_doc_id(request *r, const cJSON *v, const char *what, char **out)
{
    char buf[32];
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > MAX_JSON_ID) {
            reply_error(r, 400, "invalid_id", "%s: a number id must be an integer from 0 to 2^53-1 (send larger ones as strings)",
                        what);
            return 0;
        }
        snprintf(buf, sizeof buf, "%lld", (long long)v->valuedouble);
    } else if (!cJSON_IsString(v)) {
        reply_error(r, 400, "invalid_id", "%s must be an integer from 0 to 2^53-1 or a string of 1 to %d bytes of UTF-8",
                    what, VS_KEY_MAX_BYTES);
        return 0;
    } else if (memmem(r->body, r->body_len, "\\u0000", 6)) {
        /* cJSON ends the string at the NUL, so "a\u0000b" would silently become the id "a". */
        reply_error(r, 400, "invalid_id", "%s: string ids must not contain NUL, and this body holds \\u0000", what);
        return 0;
    } else if (vs_collection_key_check(v->valuestring, NULL)) {
        reply_error(r, 400, "invalid_id", "%s: %s", what, vs_last_error());
        return 0;
    }
    if (!(*out = strdup(cJSON_IsString(v) ? v->valuestring : buf))) {
        reply_error(r, 500, "internal", "out of memory");
        return 0;
    }
    return 1;
}

void render_key(sb *o, const char *key)
{
    int64_t as_int = -1;
    vs_collection_key_check(key, &as_int);
    if (as_int >= 0) sb_printf(o, "%lld", (long long)as_int);
    else sb_json_string(o, key);
}

int render_doc_id(sb *o, vs_collection *c, int64_t id)
{
    char key[VS_KEY_MAX_BYTES + 1];
    int is_string = 0;
    int rc = vs_collection_key_of(c, id, key, sizeof key, &is_string);
    if (rc) return rc;
    if (is_string) sb_json_string(o, key);
    else sb_printf(o, "%lld", (long long)id);
    return VS_OK;
}
