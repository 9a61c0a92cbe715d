/* Payload indexes: catalog of fields, keyword / bool bitmaps, numeric sorted runs (payload.h). */
#include "collection/payload.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define TAIL_MAX 1024

static const char *const TYPE_NAMES[] = {"", "keyword", "integer", "float", "bool"};

const char *vs_payload_type_name(vs_payload_type t)
{
    return t >= VS_PAYLOAD_KEYWORD && t <= VS_PAYLOAD_BOOL ? TYPE_NAMES[t] : "unknown";
}

int vs_payload_type_parse(const char *s, vs_payload_type *out)
{
    for (int t = VS_PAYLOAD_KEYWORD; s && t <= VS_PAYLOAD_BOOL; t++)
        if (!strcmp(s, TYPE_NAMES[t])) {
            *out = (vs_payload_type)t;
            return VS_OK;
        }
    return vs_fail(VS_ERR_INVALID_ARG, "unknown payload index type '%s' (keyword, integer, float or bool)", s ? s : "(null)");
}

/* --- string -> bitmap table ------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void kw_destroy(vs_kwmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            free(m->keys[i]);
            roaring_bitmap_free(m->sets[i]);
        }
    free(m->keys);
    free(m->sets);
    memset(m, 0, sizeof *m);
}

static roaring_bitmap_t *kw_find(const vs_kwmap *m, const char *s)
{
    if (!m->cap) return NULL;
    for (size_t i = hash_str(s) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i]) return NULL;
        if (!strcmp(m->keys[i], s)) return m->sets[i];
    }
}

static int kw_grow(vs_kwmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    char **k = calloc(cap, sizeof *k);
    roaring_bitmap_t **v = calloc(cap, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = hash_str(m->keys[i]) & (cap - 1);
        while (k[j]) j = (j + 1) & (cap - 1);
        k[j] = m->keys[i];
        v[j] = m->sets[i];
    }
    free(m->keys);
    free(m->sets);
    m->keys = k;
    m->sets = v;
    m->cap = cap;
    return 0;
}

/* The set of s, created empty when absent; NULL = out of memory. */
static roaring_bitmap_t *kw_get(vs_kwmap *m, const char *s)
{
    roaring_bitmap_t *r = kw_find(m, s);
    if (r) return r;
    if ((m->count + 1) * 4 > m->cap * 3 && kw_grow(m)) return NULL;
    size_t i = hash_str(s) & (m->cap - 1);
    while (m->keys[i]) i = (i + 1) & (m->cap - 1);
    char *k = strdup(s);
    r = roaring_bitmap_create();
    if (!k || !r) {
        free(k);
        if (r) roaring_bitmap_free(r);
        return NULL;
    }
    m->keys[i] = k;
    m->sets[i] = r;
    m->count++;
    return r;
}

/* --- value kinds ------------------------------------------------------------------------ */

static int kind_of(const cJSON *v)
{
    if (cJSON_IsString(v)) return VS_JT_STRING;
    if (cJSON_IsBool(v)) return VS_JT_BOOL;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        return d == floor(d) && fabs(d) <= 9007199254740992.0 ? VS_JT_INT : VS_JT_FLOAT;
    }
    return VS_JT_OTHER;
}

/* Calls fn for the value, or for each element when it is an array. */
#define FOR_EACH_VALUE(v, e) for (const cJSON *e = cJSON_IsArray(v) ? (v)->child : (v); e; e = cJSON_IsArray(v) ? e->next : NULL)

/* --- one index -------------------------------------------------------------------------- */

static void pindex_free(vs_pindex *x)
{
    if (!x) return;
    free(x->field);
    if (x->present) roaring_bitmap_free(x->present);
    kw_destroy(&x->kw);
    for (int i = 0; i < 2; i++)
        if (x->b[i]) roaring_bitmap_free(x->b[i]);
    free(x->sorted);
    free(x->tail);
    if (x->dead) roaring_bitmap_free(x->dead);
    free(x);
}

static int cmp_entry(const void *a, const void *b)
{
    const vs_num_entry *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorts the tail into the sorted run and drops the entries of removed documents. */
static int merge_tail(vs_pindex *x)
{
    size_t n = x->n_sorted + x->n_tail;
    vs_num_entry *out = malloc((n ? n : 1) * sizeof *out);
    if (!out) return -1;
    qsort(x->tail, x->n_tail, sizeof *x->tail, cmp_entry);
    size_t i = 0, j = 0, m = 0;
    int any_dead = !roaring_bitmap_is_empty(x->dead);
    while (i < x->n_sorted || j < x->n_tail) {
        const vs_num_entry *e;
        if (j >= x->n_tail || (i < x->n_sorted && cmp_entry(&x->sorted[i], &x->tail[j]) <= 0)) e = &x->sorted[i++];
        else e = &x->tail[j++];
        if (any_dead && roaring_bitmap_contains(x->dead, e->id)) continue;
        out[m++] = *e;
    }
    free(x->sorted);
    x->sorted = out;
    x->n_sorted = m;
    x->cap_sorted = n ? n : 1;
    x->n_tail = 0;
    x->n_dead_entries = 0;
    roaring_bitmap_clear(x->dead);
    return 0;
}

static int tail_push(vs_pindex *x, double v, uint32_t id)
{
    if (x->n_tail == x->cap_tail) {
        size_t cap = x->cap_tail ? x->cap_tail * 2 : 64;
        vs_num_entry *t = realloc(x->tail, cap * sizeof *t);
        if (!t) return -1;
        x->tail = t;
        x->cap_tail = cap;
    }
    x->tail[x->n_tail++] = (vs_num_entry){v, id};
    return 0;
}

int vs_pindex_add_parsed(vs_pindex *x, uint32_t id, const cJSON *md)
{
    const cJSON *v = cJSON_IsObject(md) ? cJSON_GetObjectItemCaseSensitive(md, x->field) : NULL;
    if (!v || cJSON_IsNull(v) || roaring_bitmap_contains(x->present, id)) return VS_OK;
    int numeric = x->type == VS_PAYLOAD_INTEGER || x->type == VS_PAYLOAD_FLOAT;
    /* A document ID coming back after a removal: drop its old entries first. */
    if (numeric && roaring_bitmap_contains(x->dead, id) && merge_tail(x)) return vs_fail(VS_ERR_NOMEM, "out of memory");
    FOR_EACH_VALUE(v, e) {
        int k = kind_of(e);
        if (x->type == VS_PAYLOAD_KEYWORD && k == VS_JT_STRING) {
            roaring_bitmap_t *s = kw_get(&x->kw, e->valuestring);
            if (!s) return vs_fail(VS_ERR_NOMEM, "out of memory");
            roaring_bitmap_add(s, id);
        } else if (x->type == VS_PAYLOAD_BOOL && k == VS_JT_BOOL) {
            roaring_bitmap_add(x->b[cJSON_IsTrue(e)], id);
        } else if (numeric && (k == VS_JT_INT || k == VS_JT_FLOAT)) {
            if (tail_push(x, e->valuedouble, id)) return vs_fail(VS_ERR_NOMEM, "out of memory");
        }
    }
    roaring_bitmap_add(x->present, id);
    if (numeric && x->n_tail >= TAIL_MAX && merge_tail(x)) return vs_fail(VS_ERR_NOMEM, "out of memory");
    return VS_OK;
}

static void pindex_remove(vs_pindex *x, uint32_t id, const cJSON *md)
{
    if (!roaring_bitmap_contains(x->present, id)) return;
    roaring_bitmap_remove(x->present, id);
    const cJSON *v = cJSON_IsObject(md) ? cJSON_GetObjectItemCaseSensitive(md, x->field) : NULL;
    if (x->type == VS_PAYLOAD_INTEGER || x->type == VS_PAYLOAD_FLOAT) {
        roaring_bitmap_add(x->dead, id);
        if (v) FOR_EACH_VALUE(v, e) x->n_dead_entries += cJSON_IsNumber(e);
        return;
    }
    if (x->type == VS_PAYLOAD_BOOL) {
        roaring_bitmap_remove(x->b[0], id);
        roaring_bitmap_remove(x->b[1], id);
        return;
    }
    if (!v) return;
    FOR_EACH_VALUE(v, e) {
        if (!cJSON_IsString(e)) continue;
        roaring_bitmap_t *s = kw_find(&x->kw, e->valuestring);
        if (s) roaring_bitmap_remove(s, id);
    }
}

static vs_pindex *pindex_new(const char *field, vs_payload_type type)
{
    vs_pindex *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->type = type;
    x->field = strdup(field);
    x->present = roaring_bitmap_create();
    x->dead = roaring_bitmap_create();
    x->b[0] = roaring_bitmap_create();
    x->b[1] = roaring_bitmap_create();
    if (!x->field || !x->present || !x->dead || !x->b[0] || !x->b[1]) {
        pindex_free(x);
        return NULL;
    }
    return x;
}

size_t vs_pindex_memory(const vs_pindex *x)
{
    size_t m = sizeof *x + roaring_bitmap_size_in_bytes(x->present) + roaring_bitmap_size_in_bytes(x->dead) +
               roaring_bitmap_size_in_bytes(x->b[0]) + roaring_bitmap_size_in_bytes(x->b[1]) +
               (x->cap_sorted + x->cap_tail) * sizeof(vs_num_entry) + x->kw.cap * 2 * sizeof(void *);
    for (size_t i = 0; i < x->kw.cap; i++)
        if (x->kw.keys[i]) m += strlen(x->kw.keys[i]) + 1 + roaring_bitmap_size_in_bytes(x->kw.sets[i]);
    return m;
}

uint64_t vs_pindex_values(const vs_pindex *x)
{
    if (x->type == VS_PAYLOAD_KEYWORD) return x->kw.count;
    if (x->type == VS_PAYLOAD_BOOL) return !roaring_bitmap_is_empty(x->b[0]) + !roaring_bitmap_is_empty(x->b[1]);
    return x->n_sorted + x->n_tail - x->n_dead_entries;
}

roaring_bitmap_t *vs_pindex_equal_str(const vs_pindex *x, const char *s)
{
    const roaring_bitmap_t *r = kw_find(&x->kw, s);
    return r ? roaring_bitmap_copy(r) : roaring_bitmap_create();
}

roaring_bitmap_t *vs_pindex_equal_bool(const vs_pindex *x, int b)
{
    return roaring_bitmap_copy(x->b[b != 0]);
}

static int below_hi(double v, double hi, int hi_open)
{
    return hi_open ? v < hi : v <= hi;
}

static int above_lo(double v, double lo, int lo_open)
{
    return lo_open ? v > lo : v >= lo;
}

roaring_bitmap_t *vs_pindex_range(const vs_pindex *x, double lo, int lo_open, double hi, int hi_open)
{
    roaring_bitmap_t *r = roaring_bitmap_create();
    if (!r) return NULL;
    /* First sorted entry above lo. */
    size_t a = 0, b = x->n_sorted;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (above_lo(x->sorted[m].v, lo, lo_open)) b = m;
        else a = m + 1;
    }
    enum { BUF = 4096 };
    uint32_t buf[BUF];
    size_t nb = 0;
    for (size_t i = a; i < x->n_sorted && below_hi(x->sorted[i].v, hi, hi_open); i++) {
        buf[nb++] = x->sorted[i].id;
        if (nb == BUF) {
            roaring_bitmap_add_many(r, nb, buf);
            nb = 0;
        }
    }
    for (size_t i = 0; i < x->n_tail; i++) {
        if (!above_lo(x->tail[i].v, lo, lo_open) || !below_hi(x->tail[i].v, hi, hi_open)) continue;
        buf[nb++] = x->tail[i].id;
        if (nb == BUF) {
            roaring_bitmap_add_many(r, nb, buf);
            nb = 0;
        }
    }
    roaring_bitmap_add_many(r, nb, buf);
    if (!roaring_bitmap_is_empty(x->dead)) roaring_bitmap_andnot_inplace(r, x->dead);
    return r;
}

/* --- the collection's payload ---------------------------------------------------------- */

int vs_payload_init(vs_payload *p)
{
    memset(p, 0, sizeof *p);
    p->all = roaring_bitmap_create();
    return p->all ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
}

void vs_payload_destroy(vs_payload *p)
{
    for (size_t i = 0; i < p->n_fields; i++) free(p->fields[i].name);
    free(p->fields);
    for (size_t i = 0; i < p->n_ix; i++) pindex_free(p->ix[i]);
    free(p->ix);
    if (p->all) roaring_bitmap_free(p->all);
    memset(p, 0, sizeof *p);
}

const vs_field_stat *vs_payload_field(const vs_payload *p, const char *name)
{
    for (size_t i = 0; i < p->n_fields; i++)
        if (!strcmp(p->fields[i].name, name)) return &p->fields[i];
    return NULL;
}

vs_pindex *vs_payload_index(const vs_payload *p, const char *field)
{
    for (size_t i = 0; i < p->n_ix; i++)
        if (!strcmp(p->ix[i]->field, field)) return p->ix[i];
    return NULL;
}

static vs_field_stat *field_get(vs_payload *p, const char *name)
{
    vs_field_stat *f = (vs_field_stat *)vs_payload_field(p, name);
    if (f) return f;
    if (p->n_fields == p->cap_fields) {
        size_t cap = p->cap_fields ? p->cap_fields * 2 : 16;
        vs_field_stat *nf = realloc(p->fields, cap * sizeof *nf);
        if (!nf) return NULL;
        p->fields = nf;
        p->cap_fields = cap;
    }
    f = &p->fields[p->n_fields];
    memset(f, 0, sizeof *f);
    if (!(f->name = strdup(name))) return NULL;
    p->n_fields++;
    return f;
}

int vs_payload_declare(vs_payload *p, const char *field, vs_payload_type type, int automatic, vs_pindex **out)
{
    if (!field || !field[0] || strlen(field) >= VS_PAYLOAD_FIELD_MAX)
        return vs_fail(VS_ERR_INVALID_ARG, "a payload index needs a field name of 1 to %d bytes", VS_PAYLOAD_FIELD_MAX - 1);
    if (type < VS_PAYLOAD_KEYWORD || type > VS_PAYLOAD_BOOL)
        return vs_fail(VS_ERR_INVALID_ARG, "unknown payload index type %d", (int)type);
    vs_pindex *x = vs_payload_index(p, field);
    if (x) {
        if (x->type != type)
            return vs_fail(VS_ERR_INVALID_ARG, "field '%s' already has a %s index; it cannot also have a %s one", field,
                           vs_payload_type_name(x->type), vs_payload_type_name(type));
        if (!automatic) x->automatic = 0;
        *out = x;
        return VS_OK;
    }
    vs_pindex **a = realloc(p->ix, (p->n_ix + 1) * sizeof *a);
    if (!a) return vs_fail(VS_ERR_NOMEM, "out of memory");
    p->ix = a;
    if (!(x = pindex_new(field, type))) return vs_fail(VS_ERR_NOMEM, "out of memory");
    x->automatic = automatic;
    x->state = VS_PIX_BUILDING;
    x->build_pos = SIZE_MAX; /* the builder starts from the end (see collection_filter.c) */
    p->ix[p->n_ix++] = x;
    p->version++;
    *out = x;
    return VS_OK;
}

vs_payload_type vs_payload_suggest(const vs_field_stat *f)
{
    const uint64_t *c = f->count;
    if (c[VS_JT_OTHER]) return 0;
    int kinds = (c[VS_JT_STRING] > 0) + (c[VS_JT_INT] + c[VS_JT_FLOAT] > 0) + (c[VS_JT_BOOL] > 0);
    if (kinds != 1) return 0;
    if (c[VS_JT_STRING]) return VS_PAYLOAD_KEYWORD;
    if (c[VS_JT_BOOL]) return VS_PAYLOAD_BOOL;
    return c[VS_JT_FLOAT] ? VS_PAYLOAD_FLOAT : VS_PAYLOAD_INTEGER;
}

static void count_field(vs_field_stat *f, const cJSON *v, int64_t sign)
{
    f->docs += (uint64_t)sign;
    FOR_EACH_VALUE(v, e) f->count[kind_of(e)] += (uint64_t)sign;
}

int vs_payload_add_parsed(vs_payload *p, int64_t id, const cJSON *md)
{
    uint32_t id32 = 0;
    if (!vs_payload_key(id, &id32)) p->wide_ids = 1;
    if (cJSON_IsObject(md))
        for (const cJSON *v = md->child; v; v = v->next) {
            if (cJSON_IsNull(v) || !v->string) continue;
            vs_field_stat *f = field_get(p, v->string);
            if (!f) return vs_fail(VS_ERR_NOMEM, "out of memory");
            count_field(f, v, 1);
        }
    p->version++;
    if (p->wide_ids) return VS_OK;
    roaring_bitmap_add(p->all, id32);
    for (size_t i = 0; i < p->n_ix; i++) {
        int rc = vs_pindex_add_parsed(p->ix[i], id32, md);
        if (rc) return rc;
    }
    return VS_OK;
}

void vs_payload_remove_parsed(vs_payload *p, int64_t id, const cJSON *md)
{
    if (cJSON_IsObject(md))
        for (const cJSON *v = md->child; v; v = v->next) {
            if (cJSON_IsNull(v) || !v->string) continue;
            vs_field_stat *f = (vs_field_stat *)vs_payload_field(p, v->string);
            if (f) count_field(f, v, -1);
        }
    p->version++;
    uint32_t key;
    if (p->wide_ids || !vs_payload_key(id, &key)) return;
    roaring_bitmap_remove(p->all, key);
    for (size_t i = 0; i < p->n_ix; i++) pindex_remove(p->ix[i], key, md);
}

int vs_payload_add_doc(vs_payload *p, int64_t id, const char *metadata)
{
    cJSON *md = metadata ? cJSON_Parse(metadata) : NULL;
    int rc = vs_payload_add_parsed(p, id, md);
    cJSON_Delete(md);
    return rc;
}

void vs_payload_remove_doc(vs_payload *p, int64_t id, const char *metadata)
{
    cJSON *md = metadata ? cJSON_Parse(metadata) : NULL;
    vs_payload_remove_parsed(p, id, md);
    cJSON_Delete(md);
}

int vs_pindex_add_keyword(vs_pindex *x, const char *value, const uint32_t *ids, size_t n)
{
    roaring_bitmap_t *s = kw_get(&x->kw, value);
    if (!s) return vs_fail(VS_ERR_NOMEM, "out of memory");
    roaring_bitmap_add_many(s, n, ids);
    return VS_OK;
}

int vs_payload_set_field(vs_payload *p, const char *name, uint64_t docs, const uint64_t *count)
{
    vs_field_stat *f = field_get(p, name);
    if (!f) return vs_fail(VS_ERR_NOMEM, "out of memory");
    f->docs = docs;
    memcpy(f->count, count, sizeof f->count);
    return VS_OK;
}
