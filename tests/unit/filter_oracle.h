/* Test-side model of document metadata and of metadata filters: each document's metadata is
 * a function of its ID (so any thread can recompute it), filters are random trees printed as
 * JSON, and the oracle evaluates a tree on the model directly, without the library's parser
 * or evaluator. Shared by test_collection_filter and test_collection_filter_concurrent. */
#ifndef FILTER_ORACLE_H
#define FILTER_ORACLE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FO_COLORS[] = {"red", "green", "blue", "black", "white"};
static const char *const FO_TAGS[] = {"a", "b", "c", "d"};

typedef struct {
    int has_md;        /* 0: the document has no metadata at all */
    int color;         /* index into FO_COLORS, -1 absent, -2 null */
    int n_year;        /* 0 absent; 1 a number; 2 an array of two */
    int year[2];
    int has_score;
    double score;      /* a non-integer */
    int flag;          /* -1 absent, 0, 1 */
    int n_tags;        /* 0 absent, else an array */
    int tags[3];
} fo_meta;

static inline uint64_t fo_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The double the JSON text "%.2f" of v parses to: what the library sees. */
static inline double fo_round2(double v)
{
    char t[64];
    snprintf(t, sizeof t, "%.2f", v);
    return strtod(t, NULL);
}

static inline fo_meta fo_meta_of(int64_t id)
{
    fo_meta m;
    memset(&m, 0, sizeof m);
    uint64_t h = fo_mix((uint64_t)id * 7 + 1), g = fo_mix(h), f = fo_mix(g);
    m.has_md = h % 13 != 0;
    if (!m.has_md) return m;
    int c = (int)(g % 7);
    m.color = c < 5 ? c : c == 5 ? -1 : -2;
    m.n_year = (int)(f % 5 == 0 ? 0 : f % 5 == 1 ? 2 : 1);
    m.year[0] = 1980 + (int)((h >> 20) % 41);
    m.year[1] = 1980 + (int)((g >> 20) % 41);
    m.has_score = (f >> 8) % 4 != 0;
    m.score = fo_round2((double)((g >> 32) % 1000) / 10.0 + 0.25);
    m.flag = (int)((h >> 40) % 3) - 1;
    m.n_tags = (int)((f >> 16) % 4);
    for (int i = 0; i < 3; i++) m.tags[i] = (int)((f >> (24 + 4 * i)) % 4);
    return m;
}

/* The metadata JSON of a document, or NULL when it has none. */
static inline const char *fo_json(const fo_meta *m, char *buf, size_t cap)
{
    if (!m->has_md) return NULL;
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "{\"n\":1");
    if (m->color >= 0) n += (size_t)snprintf(buf + n, cap - n, ",\"color\":\"%s\"", FO_COLORS[m->color]);
    if (m->color == -2) n += (size_t)snprintf(buf + n, cap - n, ",\"color\":null");
    if (m->n_year == 1) n += (size_t)snprintf(buf + n, cap - n, ",\"year\":%d", m->year[0]);
    if (m->n_year == 2) n += (size_t)snprintf(buf + n, cap - n, ",\"year\":[%d,%d]", m->year[0], m->year[1]);
    if (m->has_score) n += (size_t)snprintf(buf + n, cap - n, ",\"score\":%.2f", m->score);
    if (m->flag >= 0) n += (size_t)snprintf(buf + n, cap - n, ",\"flag\":%s", m->flag ? "true" : "false");
    if (m->n_tags) {
        n += (size_t)snprintf(buf + n, cap - n, ",\"tags\":[");
        for (int i = 0; i < m->n_tags; i++) n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\"", i ? "," : "", FO_TAGS[m->tags[i]]);
        n += (size_t)snprintf(buf + n, cap - n, "]");
    }
    snprintf(buf + n, cap - n, "}");
    return buf;
}

/* --- filters ------------------------------------------------------------------------------ */

enum { FO_AND, FO_OR, FO_NOT, FO_COLOR_EQ, FO_COLOR_IN, FO_EXISTS, FO_YEAR_EQ, FO_YEAR_RANGE, FO_YEAR_IN,
       FO_SCORE_RANGE, FO_FLAG_EQ, FO_TAG_EQ, FO_TAG_IN, FO_PAIR };

typedef struct fo_node {
    int op;
    struct fo_node *kid[3];
    int n_kids;
    int field;     /* FO_EXISTS: 0 color, 1 year, 2 score, 3 flag, 4 tags */
    int a, b;      /* values / in-list bits / exists flag */
    double lo, hi; /* ranges */
    int lo_open, hi_open, has_lo, has_hi;
} fo_node;

typedef struct {
    fo_node nodes[64];
    int n;
} fo_pool;

static inline fo_node *fo_gen(fo_pool *p, uint64_t *rng, int depth)
{
    fo_node *n = &p->nodes[p->n++];
    memset(n, 0, sizeof *n);
    uint64_t r = fo_mix((*rng)++);
    int op = depth >= 3 || p->n > 48 ? 3 + (int)(r % 11) : (int)(r % 14);
    n->op = op;
    uint64_t s = fo_mix(r);
    switch (op) {
    case FO_AND: case FO_OR: case FO_PAIR:
        n->n_kids = op == FO_PAIR ? 2 : 2 + (int)(s % 2);
        for (int i = 0; i < n->n_kids; i++) n->kid[i] = fo_gen(p, rng, depth + 1);
        if (op == FO_PAIR) /* an object of two field clauses: must be field leaves */
            for (int i = 0; i < 2; i++)
                while (n->kid[i]->op <= FO_NOT || n->kid[i]->op == FO_PAIR) n->kid[i] = fo_gen(p, rng, 3);
        break;
    case FO_NOT: n->n_kids = 1; n->kid[0] = fo_gen(p, rng, depth + 1); break;
    case FO_COLOR_EQ: n->a = (int)(s % 5); break;
    case FO_COLOR_IN: case FO_TAG_IN: n->a = (int)(s % 32); break;
    case FO_EXISTS: n->field = (int)(s % 5); n->a = (int)((s >> 8) % 2); break;
    case FO_YEAR_EQ: n->a = 1980 + (int)(s % 41); break;
    case FO_YEAR_IN: n->a = 1980 + (int)(s % 41); n->b = 1980 + (int)((s >> 8) % 41); break;
    case FO_YEAR_RANGE: case FO_SCORE_RANGE: {
        double span = op == FO_YEAR_RANGE ? 41 : 100, base = op == FO_YEAR_RANGE ? 1980 : 0;
        n->has_lo = (s & 1) || !((s >> 1) & 1);
        n->has_hi = (s >> 1) & 1;
        n->lo = base + (double)((s >> 8) % (uint64_t)span);
        n->hi = n->lo + (double)((s >> 20) % (uint64_t)(span / 2));
        if (op == FO_SCORE_RANGE) { n->lo += 0.25; n->hi += 0.25; } /* hit stored values exactly */
        n->lo = fo_round2(n->lo);
        n->hi = fo_round2(n->hi);
        n->lo_open = (s >> 30) & 1;
        n->hi_open = (s >> 31) & 1;
        break;
    }
    case FO_FLAG_EQ: n->a = (int)(s % 2); break;
    case FO_TAG_EQ: n->a = (int)(s % 4); break;
    }
    return n;
}

static inline size_t fo_print(const fo_node *n, char *buf, size_t cap, int inner);

/* A field clause without the surrounding braces ("field": ...). */
static inline size_t fo_clause(const fo_node *n, char *b, size_t cap)
{
    static const char *const F[] = {"color", "year", "score", "flag", "tags"};
    size_t k = 0;
    switch (n->op) {
    case FO_COLOR_EQ: return (size_t)snprintf(b, cap, "\"color\":\"%s\"", FO_COLORS[n->a]);
    case FO_COLOR_IN: case FO_TAG_IN: {
        int tag = n->op == FO_TAG_IN, m = tag ? 4 : 5;
        k += (size_t)snprintf(b + k, cap - k, "\"%s\":{\"in\":[", tag ? "tags" : "color");
        int first = 1;
        for (int i = 0; i < m; i++)
            if (n->a >> i & 1) {
                k += (size_t)snprintf(b + k, cap - k, "%s\"%s\"", first ? "" : ",", tag ? FO_TAGS[i] : FO_COLORS[i]);
                first = 0;
            }
        return k + (size_t)snprintf(b + k, cap - k, "]}");
    }
    case FO_EXISTS: return (size_t)snprintf(b, cap, "\"%s\":{\"exists\":%s}", F[n->field], n->a ? "true" : "false");
    case FO_YEAR_EQ: return (size_t)snprintf(b, cap, "\"year\":%d", n->a);
    case FO_YEAR_IN: return (size_t)snprintf(b, cap, "\"year\":{\"in\":[%d,%d.0]}", n->a, n->b);
    case FO_YEAR_RANGE: case FO_SCORE_RANGE:
        k += (size_t)snprintf(b + k, cap - k, "\"%s\":{", n->op == FO_YEAR_RANGE ? "year" : "score");
        if (n->has_lo) k += (size_t)snprintf(b + k, cap - k, "\"%s\":%.2f", n->lo_open ? "gt" : "gte", n->lo);
        if (n->has_hi) k += (size_t)snprintf(b + k, cap - k, "%s\"%s\":%.2f", n->has_lo ? "," : "", n->hi_open ? "lt" : "lte", n->hi);
        return k + (size_t)snprintf(b + k, cap - k, "}");
    case FO_FLAG_EQ: return (size_t)snprintf(b, cap, "\"flag\":%s", n->a ? "true" : "false");
    case FO_TAG_EQ: return (size_t)snprintf(b, cap, "\"tags\":{\"eq\":\"%s\"}", FO_TAGS[n->a]);
    }
    return 0;
}

static inline size_t fo_print(const fo_node *n, char *b, size_t cap, int inner)
{
    (void)inner;
    size_t k = 0;
    if (n->op == FO_AND || n->op == FO_OR) {
        k += (size_t)snprintf(b + k, cap - k, "{\"%s\":[", n->op == FO_AND ? "and" : "or");
        for (int i = 0; i < n->n_kids; i++) {
            if (i) k += (size_t)snprintf(b + k, cap - k, ",");
            k += fo_print(n->kid[i], b + k, cap - k, 1);
        }
        return k + (size_t)snprintf(b + k, cap - k, "]}");
    }
    if (n->op == FO_NOT) {
        k += (size_t)snprintf(b + k, cap - k, "{\"not\":");
        k += fo_print(n->kid[0], b + k, cap - k, 1);
        return k + (size_t)snprintf(b + k, cap - k, "}");
    }
    if (n->op == FO_PAIR) {
        k += (size_t)snprintf(b + k, cap - k, "{");
        k += fo_clause(n->kid[0], b + k, cap - k);
        k += (size_t)snprintf(b + k, cap - k, ",");
        k += fo_clause(n->kid[1], b + k, cap - k);
        return k + (size_t)snprintf(b + k, cap - k, "}");
    }
    k += (size_t)snprintf(b + k, cap - k, "{");
    k += fo_clause(n, b + k, cap - k);
    return k + (size_t)snprintf(b + k, cap - k, "}");
}

static inline int fo_in(double v, const fo_node *n)
{
    if (n->has_lo && (n->lo_open ? !(v > n->lo) : !(v >= n->lo))) return 0;
    if (n->has_hi && (n->hi_open ? !(v < n->hi) : !(v <= n->hi))) return 0;
    return 1;
}

static inline int fo_eval(const fo_node *n, const fo_meta *m)
{
    switch (n->op) {
    case FO_AND: case FO_PAIR:
        for (int i = 0; i < n->n_kids; i++)
            if (!fo_eval(n->kid[i], m)) return 0;
        return 1;
    case FO_OR:
        for (int i = 0; i < n->n_kids; i++)
            if (fo_eval(n->kid[i], m)) return 1;
        return 0;
    case FO_NOT: return !fo_eval(n->kid[0], m);
    default: break;
    }
    if (!m->has_md) return n->op == FO_EXISTS && !n->a;
    switch (n->op) {
    case FO_COLOR_EQ: return m->color == n->a;
    case FO_COLOR_IN: return m->color >= 0 && (n->a >> m->color & 1);
    case FO_EXISTS: {
        int has = n->field == 0 ? m->color >= 0 : n->field == 1 ? m->n_year > 0 : n->field == 2 ? m->has_score
                  : n->field == 3 ? m->flag >= 0 : m->n_tags > 0;
        return has == n->a;
    }
    case FO_YEAR_EQ: case FO_YEAR_IN: case FO_YEAR_RANGE:
        for (int i = 0; i < m->n_year; i++) {
            int y = m->year[i];
            if (n->op == FO_YEAR_EQ ? y == n->a : n->op == FO_YEAR_IN ? (y == n->a || y == n->b) : fo_in(y, n)) return 1;
        }
        return 0;
    case FO_SCORE_RANGE: return m->has_score && fo_in(m->score, n);
    case FO_FLAG_EQ: return m->flag == n->a;
    case FO_TAG_EQ: case FO_TAG_IN:
        for (int i = 0; i < m->n_tags; i++)
            if (n->op == FO_TAG_EQ ? m->tags[i] == n->a : (n->a >> m->tags[i] & 1)) return 1;
        return 0;
    }
    return 0;
}

#endif
