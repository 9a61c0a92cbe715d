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

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The HTTP library's percent-decoding, except that %00 becomes the byte 0xFF: a NUL would cut
 * "/documents/a%00b" to the id "a" (another document); 0xFF is never valid UTF-8, so such an id
 * is refused (400 invalid_id) instead. */
size_t unescape_url(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
            int v = hi * 16 + lo;
            *w++ = (char)(v ? v : 0xFF);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}
