/* Search filters from Python values: an id allow-list (array, list, set: a bitset, or a sorted
 * array when the ids are too sparse for one), a Python callable (re-acquires the GIL for each
 * candidate it is asked about), or, for collections, a dict of metadata equalities checked
 * against each candidate's stored JSON. */
#include "vspy.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static __thread const void *tls_filter_owner;

int vspy_in_own_filter(const void *owner) { return owner && tls_filter_owner == owner; }

static int call_python(int64_t id, void *ctx)
{
    vspy_filter *f = ctx;
    if (__atomic_load_n(&f->failed, __ATOMIC_RELAXED)) return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    int ok = 0;
    if (!f->failed) {
        const void *prev = tls_filter_owner;
        tls_filter_owner = f->owner;
        PyObject *arg = PyLong_FromLongLong(id);
        PyObject *r = arg ? PyObject_CallOneArg(f->callable, arg) : NULL;
        Py_XDECREF(arg);
        tls_filter_owner = prev;
        ok = r ? PyObject_IsTrue(r) : -1;
        Py_XDECREF(r);
        if (ok < 0) {
            PyErr_Fetch(&f->exc_type, &f->exc_value, &f->exc_tb);
            __atomic_store_n(&f->failed, 1, __ATOMIC_RELAXED);
            ok = 0;
        }
    }
    PyGILState_Release(g);
    return ok;
}

typedef struct {
    const int64_t *ids;
    size_t n;
} sorted_ids;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int in_sorted(int64_t id, void *ctx)
{
    vspy_filter *f = ctx;
    const int64_t *v = (const int64_t *)f->bits;
    size_t lo = 0, hi = (size_t)f->f.n_bits; /* n_bits holds the count for this kind */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < f->f.n_bits && v[lo] == id;
}

static int build_ids(PyObject *obj, vspy_filter *out)
{
    PyObject *seq = NULL;
    if (PyAnySet_Check(obj) || PyDict_Check(obj) || PyRange_Check(obj) || PyIter_Check(obj)) {
        seq = PySequence_List(obj);
        if (!seq) return -1;
        obj = seq;
    }
    PyArrayObject *ids;
    int rc = vspy_ids_get(obj, "filter ids", &ids);
    Py_XDECREF(seq);
    if (rc) return -1;
    size_t n = (size_t)PyArray_SIZE(ids);
    const int64_t *v = PyArray_DATA(ids);
    int64_t mx = -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0) {
            Py_DECREF(ids);
            vspy_raise_msg(VS_ERR_INVALID_ARG, "filter id %lld is negative", (long long)v[i]);
            return -1;
        }
        if (v[i] > mx) mx = v[i];
    }
    /* A bitset up to 64 bits per listed id (or 1 MiB); beyond that a sorted array. */
    if ((uint64_t)(mx + 1) <= 64 * (uint64_t)n + (1u << 23)) {
        uint64_t nbits = (uint64_t)(mx + 1);
        out->bits = calloc(nbits / 8 + 1, 1);
        if (!out->bits) goto nomem;
        for (size_t i = 0; i < n; i++) out->bits[v[i] >> 3] |= (uint8_t)(1u << (v[i] & 7));
        out->f.kind = VS_FILTER_BITSET;
        out->f.bits = out->bits;
        out->f.n_bits = nbits;
    } else {
        int64_t *s = malloc(n * sizeof *s);
        if (!s) goto nomem;
        memcpy(s, v, n * sizeof *s);
        qsort(s, n, sizeof *s, cmp_i64);
        out->bits = (uint8_t *)s;
        out->f.kind = VS_FILTER_PREDICATE;
        out->f.fn = in_sorted;
        out->f.ctx = out;
        out->f.n_bits = n;
    }
    Py_DECREF(ids);
    return 0;
nomem:
    Py_DECREF(ids);
    PyErr_NoMemory();
    return -1;
}

int vspy_filter_build(PyObject *obj, const void *owner, vspy_filter *out)
{
    memset(out, 0, sizeof *out);
    out->owner = owner;
    if (!obj || obj == Py_None) return 0;
    if (PyCallable_Check(obj) && !PyType_Check(obj)) {
        Py_INCREF(obj);
        out->callable = obj;
        out->f.kind = VS_FILTER_PREDICATE;
        out->f.fn = call_python;
        out->f.ctx = out;
        return 0;
    }
    if (PyUnicode_Check(obj) || PyBytes_Check(obj)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "filter must be ids, a set of ids or a callable, not a string");
        return -1;
    }
    return build_ids(obj, out);
}

int vspy_filter_finish(vspy_filter *f)
{
    if (!f->failed) return 0;
    PyErr_Restore(f->exc_type, f->exc_value, f->exc_tb);
    f->exc_type = f->exc_value = f->exc_tb = NULL;
    return -1;
}

void vspy_filter_release(vspy_filter *f)
{
    Py_CLEAR(f->callable);
    Py_CLEAR(f->exc_type);
    Py_CLEAR(f->exc_value);
    Py_CLEAR(f->exc_tb);
    free(f->bits);
    f->bits = NULL;
    cJSON_Delete(f->meta);
    f->meta = NULL;
}

/* ---- metadata equality ---- */
typedef struct {
    const cJSON *want;
    int match;
} meta_check;

static void check_doc(int64_t id, const char *text, const char *metadata, void *ctx)
{
    (void)id;
    (void)text;
    meta_check *m = ctx;
    m->match = 0;
    if (!metadata) return;
    cJSON *doc = cJSON_Parse(metadata);
    if (!doc) return;
    int ok = cJSON_IsObject(doc);
    for (const cJSON *w = m->want->child; ok && w; w = w->next) {
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(doc, w->string);
        ok = have && cJSON_Compare(have, w, 1);
    }
    cJSON_Delete(doc);
    m->match = ok;
}

static int meta_pred(int64_t id, void *ctx)
{
    vspy_filter *f = ctx;
    meta_check m = {f->meta, 0};
    if (vs_collection_with_doc(f->coll, id, check_doc, &m)) return 0;
    return m.match;
}

int vspy_meta_filter_build(PyObject *dict, vs_collection *c, vspy_filter *out)
{
    memset(out, 0, sizeof *out);
    PyObject *json = PyImport_ImportModule("json");
    PyObject *s = json ? PyObject_CallMethod(json, "dumps", "O", dict) : NULL;
    Py_XDECREF(json);
    if (!s) return -1;
    const char *txt = PyUnicode_AsUTF8(s);
    cJSON *want = txt ? cJSON_Parse(txt) : NULL;
    Py_DECREF(s);
    if (!want) {
        if (!PyErr_Occurred()) vspy_raise_msg(VS_ERR_INVALID_ARG, "metadata filter is not JSON-serialisable");
        return -1;
    }
    out->meta = want;
    out->coll = c;
    out->f.kind = VS_FILTER_PREDICATE;
    out->f.fn = meta_pred;
    out->f.ctx = out;
    return 0;
}
