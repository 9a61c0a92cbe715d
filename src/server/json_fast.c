/* The strict fast parser for vector search bodies (see server_impl.h). It accepts only
 * {"vector": [numbers], "k": int, "nprobe": int, "ef": int} with plain keys, each at most once,
 * numbers in strict JSON grammar that are finite as float32; anything else returns 0 so the
 * request goes through cJSON, which gives the precise error. Fuzzed against cJSON
 * (tests/fuzz/fuzz_search_json.c): whatever it accepts, cJSON reads the same way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

typedef struct {
    const char *p, *end;
} cursor;

static void ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static int digit(cursor *c) { return c->p < c->end && *c->p >= '0' && *c->p <= '9'; }

/* A JSON number; *out as double. */
static int number(cursor *c, double *out)
{
    const char *s = c->p;
    if (c->p < c->end && *c->p == '-') c->p++;
    if (!digit(c)) return 0;
    if (*c->p == '0') c->p++;
    else while (digit(c)) c->p++;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digit(c)) return 0;
        while (digit(c)) c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (!digit(c)) return 0;
        while (digit(c)) c->p++;
    }
    size_t n = (size_t)(c->p - s);
    char buf[64];
    if (n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *e;
    *out = strtod(buf, &e);
    return e == buf + n;
}

static int integer(cursor *c, long *out)
{
    double d;
    const char *s = c->p;
    if (!number(c, &d)) return 0;
    /* Only plain digits: cJSON would also take 1e1, but the general path handles that. */
    for (const char *q = s; q < c->p; q++)
        if (*q < '0' || *q > '9') return 0;
    if (c->p - s > 9) return 0;
    *out = (long)d;
    return 1;
}

static int vector(cursor *c, fast_search *o, size_t cap)
{
    if (c->p >= c->end || *c->p != '[') return 0;
    c->p++;
    ws(c);
    o->n = 0;
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return 1;
    }
    for (;;) {
        double d;
        if (o->n >= cap || !number(c, &d)) return 0;
        float f = (float)d;
        if (!isfinite(f)) return 0;
        o->vec[o->n++] = f;
        ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == ']') {
            c->p++;
            return 1;
        }
        if (*c->p != ',') return 0;
        c->p++;
        ws(c);
    }
}

static int key_is(const char *k, size_t n, const char *want) { return n == strlen(want) && !memcmp(k, want, n); }

int fast_parse_search(const char *body, size_t len, fast_search *o, size_t cap)
{
    cursor c = {body, body + len};
    o->has_vector = o->has_k = o->has_nprobe = o->has_ef = 0;
    ws(&c);
    if (c.p >= c.end || *c.p != '{') return 0;
    c.p++;
    ws(&c);
    if (c.p < c.end && *c.p == '}') return 0; /* empty: let the general path explain */
    for (;;) {
        if (c.p >= c.end || *c.p != '"') return 0;
        const char *k = ++c.p;
        while (c.p < c.end && *c.p != '"' && *c.p != '\\') c.p++;
        if (c.p >= c.end || *c.p != '"') return 0;
        size_t kn = (size_t)(c.p - k);
        c.p++;
        ws(&c);
        if (c.p >= c.end || *c.p != ':') return 0;
        c.p++;
        ws(&c);
        if (key_is(k, kn, "vector")) {
            if (o->has_vector || !vector(&c, o, cap)) return 0;
            o->has_vector = 1;
        } else if (key_is(k, kn, "k")) {
            if (o->has_k || !integer(&c, &o->k)) return 0;
            o->has_k = 1;
        } else if (key_is(k, kn, "nprobe")) {
            if (o->has_nprobe || !integer(&c, &o->nprobe)) return 0;
            o->has_nprobe = 1;
        } else if (key_is(k, kn, "ef")) {
            if (o->has_ef || !integer(&c, &o->ef)) return 0;
            o->has_ef = 1;
        } else {
            return 0;
        }
        ws(&c);
        if (c.p >= c.end) return 0;
        if (*c.p == '}') {
            c.p++;
            break;
        }
        if (*c.p != ',') return 0;
        c.p++;
        ws(&c);
    }
    ws(&c);
    return c.p == c.end;
}
