/* Metadata filters (grammar in vecscale.h, "Payload indexes and metadata filters"): parsed
 * once into a tree, checked against the collection's field catalog, then either compiled into
 * a bitmap of IDs from payload indexes or evaluated document by document. */
#ifndef VS_COLLECTION_FILTER_H
#define VS_COLLECTION_FILTER_H

#include <stddef.h>

#include "collection/payload.h"

struct cJSON;

typedef enum { VS_FN_ALL, VS_FN_NONE, VS_FN_AND, VS_FN_OR, VS_FN_NOT, VS_FN_EQ, VS_FN_IN, VS_FN_RANGE, VS_FN_EXISTS } vs_fnode_kind;

typedef struct {
    int kind; /* VS_JT_STRING, VS_JT_INT (any number), VS_JT_BOOL */
    const char *s;
    double d;
    int b;
} vs_fvalue;

typedef struct vs_fnode {
    vs_fnode_kind kind;
    struct vs_fnode **kids;
    size_t n_kids;
    const char *field;  /* leaves */
    vs_fvalue *values;  /* EQ: 1, IN: n_values */
    size_t n_values;
    double lo, hi;      /* RANGE */
    int lo_open, hi_open;
    int exists;         /* EXISTS */
} vs_fnode;

typedef struct {
    struct cJSON *json; /* owns the strings the tree points to */
    vs_fnode *root;
} vs_filter_tree;

/* Parses filter JSON; VS_ERR_INVALID_ARG with a message naming the problem. */
int vs_filter_parse(const char *text, vs_filter_tree *out);
void vs_filter_free(vs_filter_tree *t);
/* Checks every field against the catalog (unknown fields, type mismatches). */
int vs_filter_check(const vs_filter_tree *t, const vs_payload *p);
/* Whether metadata (a parsed object or NULL) passes. */
int vs_filter_eval(const vs_fnode *n, const struct cJSON *md);
/* Collects into names (comma separated, truncated to cap) the fields whose clauses no ready
 * index can answer; returns how many such clauses there are. */
size_t vs_filter_unindexed(const vs_fnode *n, const vs_payload *p, char *names, size_t cap);
/* The IDs passing, from indexes only (requires vs_filter_unindexed() == 0); NULL = no memory. */
roaring_bitmap_t *vs_filter_compile(const vs_fnode *n, const vs_payload *p);

#endif
