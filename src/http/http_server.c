/* The server side of the HTTP layer (http_server.h), shared by the server and the router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_server.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t vs_http_unescape(void *cls, struct MHD_Connection *conn, char *s)
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

void vs_http_upload_start(vs_http_upload *u, struct MHD_Connection *conn, size_t max)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > max) u->too_large = 1;
}

int vs_http_upload_add(vs_http_upload *u, const char *data, size_t n, size_t max)
{
    if (u->too_large || n > max - u->body.len) { /* body.len <= max always: no overflow */
        u->too_large = 1;
        return 0;
    }
    return vs_buf_append(&u->body, data, n);
}

void vs_http_upload_free(vs_http_upload *u) { vs_buf_free(&u->body); }

/* JSON string escaping: quote, backslash and control characters; UTF-8 passes through. */
static void json_string(vs_buf *b, const char *s, int *oom)
{
    *oom |= vs_buf_append(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        *oom |= vs_buf_append(b, run, (size_t)(s - run));
        char esc[8];
        switch (ch) {
        case '"': snprintf(esc, sizeof esc, "\\\""); break;
        case '\\': snprintf(esc, sizeof esc, "\\\\"); break;
        case '\n': snprintf(esc, sizeof esc, "\\n"); break;
        case '\t': snprintf(esc, sizeof esc, "\\t"); break;
        case '\r': snprintf(esc, sizeof esc, "\\r"); break;
        default: snprintf(esc, sizeof esc, "\\u%04x", ch);
        }
        *oom |= vs_buf_append(b, esc, strlen(esc));
        run = s + 1;
    }
    *oom |= vs_buf_append(b, run, (size_t)(s - run));
    *oom |= vs_buf_append(b, "\"", 1);
}

char *vs_http_error_body(const char *code, const char *message, size_t *len)
{
    vs_buf b = {0};
    int oom = vs_buf_append(&b, "{\"error\":{\"code\":", 17);
    json_string(&b, code, &oom);
    oom |= vs_buf_append(&b, ",\"message\":", 11);
    json_string(&b, message, &oom);
    oom |= vs_buf_append(&b, "}}", 2);
    if (oom) {
        vs_buf_free(&b);
        return NULL;
    }
    if (len) *len = b.len;
    return b.data;
}

enum MHD_Result vs_http_send(struct MHD_Connection *conn, unsigned status, const char *content_type, char *body,
                             size_t len, const char *header, const char *value)
{
    struct MHD_Response *resp = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
                                     : MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type ? content_type : "application/json");
    if (header) MHD_add_response_header(resp, header, value);
    enum MHD_Result ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static int path_matches(const vs_http_route *row, const char *path)
{
    return row->prefix ? !strncmp(path, row->path, strlen(row->path)) : !strcmp(path, row->path);
}

const void *vs_http_route_find(const void *table, size_t n, size_t stride, const char *method, const char *path,
                               const void **first, char *allow, size_t cap)
{
    const vs_http_route *row = NULL, *head = NULL;
    size_t used = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const vs_http_route *t = (const vs_http_route *)((const char *)table + i * stride);
        if (!path_matches(t, path)) continue;
        if (!head) head = t;
        else if (strcmp(t->path, head->path)) continue; /* another path's rows */
        if (!row && !strcmp(method, t->method)) row = t;
        int w = snprintf(allow + used, cap - used, "%s%s", used ? ", " : "", t->method);
        if (w > 0 && used + (size_t)w < cap) used += (size_t)w;
    }
    *first = head;
    return row;
}

unsigned vs_http_bound_port(struct MHD_Daemon *d, unsigned asked)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : asked;
}

int vs_http_write_port_file(const char *path, unsigned port)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%u\n", port);
    if (fclose(f)) return -1;
    return rename(tmp, path);
}
