/* Metadata filters: parse, check, evaluate per document, compile from payload indexes. */
#include "collection/filter.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_DEPTH 32

static void node_free(vs_fnode *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n_kids; i++) node_free(n->kids[i]);
    free(n->kids);
    free(n->values);
    free(n);
}

void vs_filter_free(vs_filter_tree *t)
{
    if (!t) return;
    node_free(t->root);
    cJSON_Delete(t->json);
    t->root = NULL;
    t->json = NULL;
}

static vs_fnode *node_new(vs_fnode_kind kind)
{
    vs_fnode *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

static int add_kid(vs_fnode *parent, vs_fnode *kid)
{
    vs_fnode **k = realloc(parent->kids, (parent->n_kids + 1) * sizeof *k);
    if (!k) {
        node_free(kid);
        return vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    parent->kids = k;
    parent->kids[parent->n_kids++] = kid;
    return VS_OK;
}

static int read_scalar(const cJSON *v, const char *field, vs_fvalue *out)
{
    memset(out, 0, sizeof *out);
    if (cJSON_IsString(v)) {
        out->kind = VS_JT_STRING;
        out->s = v->valuestring;
    } else if (cJSON_IsNumber(v)) {
        out->kind = VS_JT_INT;
        out->d = v->valuedouble;
    } else if (cJSON_IsBool(v)) {
        out->kind = VS_JT_BOOL;
        out->b = cJSON_IsTrue(v);
    } else {
        return vs_fail(VS_ERR_INVALID_ARG,
                       "filter field '%s': %s is not a comparable value (a string, number or boolean; "
                       "use {\"exists\": ...} for null, {\"in\": [...]} for several values)",
                       field, cJSON_IsNull(v) ? "null" : cJSON_IsArray(v) ? "an array" : "an object");
    }
    return VS_OK;
}

static int parse_object(const cJSON *o, int depth, vs_fnode **out);

/* {"eq": v, "in": [...], "gt": x, ..., "exists": b} for one field: an AND of leaves. */
static int parse_ops(const char *field, const cJSON *o, vs_fnode *and_node)
{
    if (!o->child) return vs_fail(VS_ERR_INVALID_ARG, "filter field '%s': an empty operator object", field);
    vs_fnode *range = NULL;
    int rc = VS_OK;
    for (const cJSON *op = o->child; op && !rc; op = op->next) {
        const char *name = op->string;
        vs_fnode *leaf = NULL;
        if (!strcmp(name, "eq")) {
            leaf = node_new(VS_FN_EQ);
            if (!leaf || !(leaf->values = malloc(sizeof *leaf->values))) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
            if (!rc) rc = read_scalar(op, field, leaf->values);
            if (leaf) leaf->n_values = 1;
        } else if (!strcmp(name, "in")) {
            if (!cJSON_IsArray(op)) {
                rc = vs_fail(VS_ERR_INVALID_ARG, "filter field '%s': \"in\" takes an array of values", field);
                break;
            }
            size_t n = (size_t)cJSON_GetArraySize(op);
            leaf = node_new(VS_FN_IN);
            if (!leaf || !(leaf->values = calloc(n ? n : 1, sizeof *leaf->values))) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
            for (const cJSON *e = op->child; e && !rc; e = e->next) rc = read_scalar(e, field, &leaf->values[leaf->n_values++]);
        } else if (!strcmp(name, "gt") || !strcmp(name, "gte") || !strcmp(name, "lt") || !strcmp(name, "lte")) {
            if (!cJSON_IsNumber(op)) {
                rc = vs_fail(VS_ERR_INVALID_ARG, "filter field '%s': \"%s\" takes a number", field, name);
                break;
            }
            if (!range) {
                if (!(range = node_new(VS_FN_RANGE))) {
                    rc = vs_fail(VS_ERR_NOMEM, "out of memory");
                    break;
                }
                range->field = field;
                range->lo = -INFINITY;
                range->hi = INFINITY;
            }
            int lower = name[0] == 'g', open = name[2] == 0;
            double v = op->valuedouble;
            if (lower && isinf(range->lo) == 0) rc = vs_fail(VS_ERR_INVALID_ARG, "filter field '%s': give one of \"gt\" and \"gte\"", field);
            if (!lower && isinf(range->hi) == 0) rc = vs_fail(VS_ERR_INVALID_ARG, "filter field '%s': give one of \"lt\" and \"lte\"", field);
            if (lower) {
                range->lo = v;
                range->lo_open = open;
            } else {
                range->hi = v;
                range->hi_open = open;
            }
            continue;
        } else if (!strcmp(name, "exists")) {
            if (!cJSON_IsBool(op)) {
                rc = vs_fail(VS_ERR_INVALID_ARG, "filter field '%s': \"exists\" takes true or false", field);
                break;
            }
            if (!(leaf = node_new(VS_FN_EXISTS))) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
            else leaf->exists = cJSON_IsTrue(op);
        } else {
            rc = vs_fail(VS_ERR_INVALID_ARG,
                         "filter field '%s': unknown operator \"%s\" (eq, in, gt, gte, lt, lte, exists)", field, name);
        }
        if (leaf) {
            leaf->field = field;
            if (rc) node_free(leaf);
            else rc = add_kid(and_node, leaf);
        }
    }
    if (range) {
        if (rc) node_free(range);
        else rc = add_kid(and_node, range);
    }
    return rc;
}

static int parse_list(const cJSON *a, const char *op, int depth, vs_fnode *node)
{
    if (!cJSON_IsArray(a)) return vs_fail(VS_ERR_INVALID_ARG, "filter: \"%s\" takes an array of filter objects", op);
    for (const cJSON *e = a->child; e; e = e->next) {
        vs_fnode *kid = NULL;
        int rc = parse_object(e, depth + 1, &kid);
        if (!rc) rc = add_kid(node, kid);
        if (rc) return rc;
    }
    return VS_OK;
}

static int parse_object(const cJSON *o, int depth, vs_fnode **out)
{
    if (depth > MAX_DEPTH) return vs_fail(VS_ERR_INVALID_ARG, "filter: nested deeper than %d levels", MAX_DEPTH);
    if (!cJSON_IsObject(o)) return vs_fail(VS_ERR_INVALID_ARG, "filter: expected an object ({\"field\": value, \"and\": [...], ...})");
    vs_fnode *n = node_new(VS_FN_AND);
    if (!n) return vs_fail(VS_ERR_NOMEM, "out of memory");
    int rc = VS_OK;
    for (const cJSON *e = o->child; e && !rc; e = e->next) {
        const char *key = e->string;
        if (!strcmp(key, "and") || !strcmp(key, "or")) {
            vs_fnode *kid = node_new(key[0] == 'a' ? VS_FN_AND : VS_FN_OR);
            rc = kid ? parse_list(e, key, depth, kid) : vs_fail(VS_ERR_NOMEM, "out of memory");
            if (!rc && kid->kind == VS_FN_OR && kid->n_kids == 0) kid->kind = VS_FN_NONE;
            if (rc) node_free(kid);
            else rc = add_kid(n, kid);
        } else if (!strcmp(key, "not")) {
            vs_fnode *kid = node_new(VS_FN_NOT), *inner = NULL;
            rc = kid ? parse_object(e, depth + 1, &inner) : vs_fail(VS_ERR_NOMEM, "out of memory");
            if (!rc) rc = add_kid(kid, inner);
            if (rc) node_free(kid);
            else rc = add_kid(n, kid);
        } else if (!key[0] || strlen(key) >= VS_PAYLOAD_FIELD_MAX) {
            rc = vs_fail(VS_ERR_INVALID_ARG, "filter: field names are 1 to %d bytes", VS_PAYLOAD_FIELD_MAX - 1);
        } else if (cJSON_IsObject(e)) {
            rc = parse_ops(key, e, n);
        } else {
            vs_fnode *leaf = node_new(VS_FN_EQ);
            if (!leaf || !(leaf->values = malloc(sizeof *leaf->values))) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
            if (leaf) {
                leaf->field = key;
                leaf->n_values = 1;
            }
            if (!rc) rc = read_scalar(e, key, leaf->values);
            if (rc) node_free(leaf);
            else rc = add_kid(n, leaf);
        }
    }
    if (rc) {
        node_free(n);
        return rc;
    }
    if (n->n_kids == 0) n->kind = VS_FN_ALL;
    *out = n;
    return VS_OK;
}

int vs_filter_parse(const char *text, vs_filter_tree *out)
{
    memset(out, 0, sizeof *out);
    if (!text) return vs_fail(VS_ERR_INVALID_ARG, "filter must not be NULL");
    const char *end = NULL;
    out->json = cJSON_ParseWithOpts(text, &end, 1);
    if (!out->json) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        return vs_fail(VS_ERR_INVALID_ARG, "filter: invalid JSON near byte %zu", at);
    }
    int rc = parse_object(out->json, 0, &out->root);
    if (rc) vs_filter_free(out);
    return rc;
}

/* --- checking against the catalog ------------------------------------------------------- */

static const char *kind_word(int k)
{
    return k == VS_JT_STRING ? "strings" : k == VS_JT_BOOL ? "booleans" : "numbers";
}

/* Whether field f can hold values of kind k (numbers: int or float). */
static int holds(const vs_field_stat *f, const vs_pindex *x, int k)
{
    if (f && f->docs) {
        if (k == VS_JT_INT) return f->count[VS_JT_INT] + f->count[VS_JT_FLOAT] > 0;
        return f->count[k] > 0;
    }
    /* No document holds the field yet: the declared index type says what it will hold. */
    if (k == VS_JT_STRING) return x->type == VS_PAYLOAD_KEYWORD;
    if (k == VS_JT_BOOL) return x->type == VS_PAYLOAD_BOOL;
    return x->type == VS_PAYLOAD_INTEGER || x->type == VS_PAYLOAD_FLOAT;
}

static void describe(const vs_field_stat *f, const vs_pindex *x, char *buf, size_t cap)
{
    if (!f || !f->docs) {
        snprintf(buf, cap, "has a %s index", vs_payload_type_name(x->type));
        return;
    }
    size_t n = 0;
    buf[0] = 0;
    const char *names[] = {"strings", "integers", "non-integer numbers", "booleans", "objects/arrays"};
    for (int k = 0; k < VS_JT_N; k++)
        if (f->count[k]) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "holds ", names[k]);
}

static int check_node(const vs_fnode *n, const vs_payload *p)
{
    for (size_t i = 0; i < n->n_kids; i++) {
        int rc = check_node(n->kids[i], p);
        if (rc) return rc;
    }
    if (!n->field) return VS_OK;
    const vs_field_stat *f = vs_payload_field(p, n->field);
    const vs_pindex *x = vs_payload_index(p, n->field);
    if ((!f || !f->docs) && !x)
        return vs_fail(VS_ERR_INVALID_ARG, "filter: unknown field '%s' (no document has it and no payload index declares it)",
                       n->field);
    char what[160];
    if (n->kind == VS_FN_RANGE && !holds(f, x, VS_JT_INT)) {
        describe(f, x, what, sizeof what);
        return vs_fail(VS_ERR_INVALID_ARG, "filter: a range on field '%s', which %s and no numbers", n->field, what);
    }
    for (size_t i = 0; i < n->n_values; i++)
        if (!holds(f, x, n->values[i].kind)) {
            describe(f, x, what, sizeof what);
            return vs_fail(VS_ERR_INVALID_ARG, "filter: field '%s' %s; it is compared with %s here, which never match",
                           n->field, what, kind_word(n->values[i].kind));
        }
    return VS_OK;
}

int vs_filter_check(const vs_filter_tree *t, const vs_payload *p)
{
    return check_node(t->root, p);
}

/* --- evaluation per document ------------------------------------------------------------ */

static int value_equals(const cJSON *e, const vs_fvalue *v)
{
    switch (v->kind) {
    case VS_JT_STRING: return cJSON_IsString(e) && !strcmp(e->valuestring, v->s);
    case VS_JT_BOOL: return cJSON_IsBool(e) && cJSON_IsTrue(e) == v->b;
    default: return cJSON_IsNumber(e) && e->valuedouble == v->d;
    }
}

static int in_range(const vs_fnode *n, double d)
{
    return (n->lo_open ? d > n->lo : d >= n->lo) && (n->hi_open ? d < n->hi : d <= n->hi);
}

int vs_filter_eval(const vs_fnode *n, const cJSON *md)
{
    switch (n->kind) {
    case VS_FN_ALL: return 1;
    case VS_FN_NONE: return 0;
    case VS_FN_AND:
        for (size_t i = 0; i < n->n_kids; i++)
            if (!vs_filter_eval(n->kids[i], md)) return 0;
        return 1;
    case VS_FN_OR:
        for (size_t i = 0; i < n->n_kids; i++)
            if (vs_filter_eval(n->kids[i], md)) return 1;
        return 0;
    case VS_FN_NOT: return !vs_filter_eval(n->kids[0], md);
    default: break;
    }
    const cJSON *v = cJSON_IsObject(md) ? cJSON_GetObjectItemCaseSensitive(md, n->field) : NULL;
    if (v && cJSON_IsNull(v)) v = NULL;
    if (n->kind == VS_FN_EXISTS) return (v != NULL) == (n->exists != 0);
    if (!v) return 0;
    const cJSON *e = cJSON_IsArray(v) ? v->child : v;
    for (; e; e = cJSON_IsArray(v) ? e->next : NULL) {
        if (n->kind == VS_FN_RANGE) {
            if (cJSON_IsNumber(e) && in_range(n, e->valuedouble)) return 1;
            continue;
        }
        for (size_t i = 0; i < n->n_values; i++)
            if (value_equals(e, &n->values[i])) return 1;
    }
    return 0;
}

/* --- compilation from indexes ----------------------------------------------------------- */

static const vs_pindex *ready_index(const vs_payload *p, const char *field)
{
    const vs_pindex *x = vs_payload_index(p, field);
    return x && x->state == VS_PIX_READY ? x : NULL;
}

/* Whether index x answers value kind k exactly: its type stores that kind, or the field
 * holds no value of that kind at all (the answer is then empty). */
static int answers(const vs_pindex *x, const vs_field_stat *f, int k)
{
    if (k == VS_JT_STRING && x->type == VS_PAYLOAD_KEYWORD) return 1;
    if (k == VS_JT_BOOL && x->type == VS_PAYLOAD_BOOL) return 1;
    if (k == VS_JT_INT && (x->type == VS_PAYLOAD_INTEGER || x->type == VS_PAYLOAD_FLOAT)) return 1;
    if (!f) return 1;
    if (k == VS_JT_INT) return f->count[VS_JT_INT] + f->count[VS_JT_FLOAT] == 0;
    return f->count[k] == 0;
}

static int leaf_indexed(const vs_fnode *n, const vs_payload *p)
{
    const vs_pindex *x = ready_index(p, n->field);
    if (!x) return 0;
    const vs_field_stat *f = vs_payload_field(p, n->field);
    if (n->kind == VS_FN_RANGE) return answers(x, f, VS_JT_INT);
    for (size_t i = 0; i < n->n_values; i++)
        if (!answers(x, f, n->values[i].kind)) return 0;
    return 1;
}

size_t vs_filter_unindexed(const vs_fnode *n, const vs_payload *p, char *names, size_t cap)
{
    size_t count = 0;
    for (size_t i = 0; i < n->n_kids; i++) count += vs_filter_unindexed(n->kids[i], p, names, cap);
    if (!n->field || (!p->wide_ids && leaf_indexed(n, p))) return count;
    /* Append the name once. */
    size_t len = strlen(names), fl = strlen(n->field);
    const char *s = names;
    while ((s = strstr(s, n->field))) {
        if ((s == names || s[-1] == ',') && (s[fl] == 0 || s[fl] == ',')) return count + 1;
        s += fl;
    }
    if (len + fl + 2 <= cap) snprintf(names + len, cap - len, "%s%s", len ? "," : "", n->field);
    return count + 1;
}

static roaring_bitmap_t *leaf_set(const vs_fnode *n, const vs_payload *p)
{
    const vs_pindex *x = ready_index(p, n->field);
    if (n->kind == VS_FN_EXISTS) {
        if (n->exists) return roaring_bitmap_copy(x->present);
        return roaring_bitmap_andnot(p->all, x->present);
    }
    if (n->kind == VS_FN_RANGE) return vs_pindex_range(x, n->lo, n->lo_open, n->hi, n->hi_open);
    roaring_bitmap_t *r = roaring_bitmap_create();
    for (size_t i = 0; r && i < n->n_values; i++) {
        const vs_fvalue *v = &n->values[i];
        roaring_bitmap_t *s = NULL;
        if (v->kind == VS_JT_STRING && x->type == VS_PAYLOAD_KEYWORD) s = vs_pindex_equal_str(x, v->s);
        else if (v->kind == VS_JT_BOOL && x->type == VS_PAYLOAD_BOOL) s = vs_pindex_equal_bool(x, v->b);
        else if (v->kind == VS_JT_INT && (x->type == VS_PAYLOAD_INTEGER || x->type == VS_PAYLOAD_FLOAT))
            s = vs_pindex_range(x, v->d, 0, v->d, 0);
        else continue; /* the field holds no value of this kind */
        if (!s) {
            roaring_bitmap_free(r);
            return NULL;
        }
        roaring_bitmap_or_inplace(r, s);
        roaring_bitmap_free(s);
    }
    return r;
}

roaring_bitmap_t *vs_filter_compile(const vs_fnode *n, const vs_payload *p)
{
    switch (n->kind) {
    case VS_FN_ALL: return roaring_bitmap_copy(p->all);
    case VS_FN_NONE: return roaring_bitmap_create();
    case VS_FN_NOT: {
        roaring_bitmap_t *k = vs_filter_compile(n->kids[0], p);
        if (!k) return NULL;
        roaring_bitmap_t *r = roaring_bitmap_andnot(p->all, k);
        roaring_bitmap_free(k);
        return r;
    }
    case VS_FN_AND:
    case VS_FN_OR: {
        roaring_bitmap_t *r = NULL;
        for (size_t i = 0; i < n->n_kids; i++) {
            roaring_bitmap_t *k = vs_filter_compile(n->kids[i], p);
            if (!k) {
                if (r) roaring_bitmap_free(r);
                return NULL;
            }
            if (!r) {
                r = k;
            } else {
                if (n->kind == VS_FN_AND) roaring_bitmap_and_inplace(r, k);
                else roaring_bitmap_or_inplace(r, k);
                roaring_bitmap_free(k);
            }
            if (n->kind == VS_FN_AND && roaring_bitmap_is_empty(r)) break;
        }
        return r ? r : (n->kind == VS_FN_AND ? roaring_bitmap_copy(p->all) : roaring_bitmap_create());
    }
    default: return leaf_set(n, p);
    }
}
