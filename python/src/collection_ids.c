/* Document ids of collections as Python values (vecscale.h, "Document ids"): an int 0..2^62-1
 * or a str of 1..256 bytes of UTF-8, "17" being 17. Searches and indexes see internal int64
 * ids only (a string id maps to one at or above VS_KEYED_ID_MIN); these helpers turn client
 * ids into internal ones and back. Library calls run with the GIL released, under the
 * collection object's lock, as every other collection call (a thread holding the GIL must not
 * wait on a library lock that a filter callback waiting for the GIL may hold). */
#include "vspy.h"

#include <stdlib.h>
#include <string.h>

void vspy_idlist_release(vspy_idlist *l)
{
    PyMem_Free(l->keys);
    PyMem_Free(l->owned);
    Py_CLEAR(l->keep);
    memset(l, 0, sizeof *l);
}

/* One Python id into entry i: a str (its UTF-8 kept alive by l->keep), None (automatic, when
 * allowed) or an int-like (not bool). */
static int one_id(PyObject *it, size_t i, int allow_none, const char *what, vspy_idlist *l)
{
    if (PyUnicode_Check(it)) {
        Py_ssize_t bl;
        const char *u = PyUnicode_AsUTF8AndSize(it, &bl);
        if (!u) return -1;
        if ((size_t)bl != strlen(u)) {
            vspy_raise_msg(VS_ERR_INVALID_ARG, "%s: id %zu contains a NUL character", what, i);
            return -1;
        }
        l->keys[i] = u;
        l->ids[i] = -1;
        l->any_str = 1;
        return 0;
    }
    if (it == Py_None && allow_none) {
        l->ids[i] = -1;
        l->any_none = 1;
        return 0;
    }
    if (PyBool_Check(it) || !PyIndex_Check(it)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s: id %zu is a %s, not an int or a str", what, i, Py_TYPE(it)->tp_name);
        return -1;
    }
    PyObject *v = PyNumber_Index(it);
    if (!v) return -1;
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    Py_DECREF(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || x < 0) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s: id %zu is out of range (ids are 0..2^62-1 or strings)", what, i);
        return -1;
    }
    l->ids[i] = x;
    return 0;
}

int vspy_idlist_get(PyObject *obj, int allow_none, const char *what, vspy_idlist *out)
{
    memset(out, 0, sizeof *out);
    char kind = PyArray_Check(obj) ? PyArray_DESCR((PyArrayObject *)obj)->kind : 0;
    if (kind == 'U' || kind == 'O') { /* str (or mixed) arrays: item by item, as a list */
        PyObject *l = PyArray_ToList((PyArrayObject *)obj);
        if (!l) return -1;
        int rc = PyList_Check(l) ? vspy_idlist_get(l, allow_none, what, out)
                                 : (vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be 1-d", what), -1);
        Py_DECREF(l);
        return rc;
    }
    if (kind) { /* an integer array: the int64 path, no per-item objects */
        PyArrayObject *a;
        if (vspy_ids_get(obj, what, &a)) return -1;
        out->keep = (PyObject *)a;
        out->n = (size_t)PyArray_SIZE(a);
        out->ids = PyArray_DATA(a);
        return 0;
    }
    PyObject *seq;
    if (PyBytes_Check(obj) || PyByteArray_Check(obj) || PyDict_Check(obj)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be ids (int or str), not %s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyUnicode_Check(obj) || PyIndex_Check(obj)) {
        seq = PyTuple_Pack(1, obj); /* one id */
    } else if (PyAnySet_Check(obj) || PySequence_Check(obj) || PyIter_Check(obj)) {
        /* A tuple of our own: the str objects (and their UTF-8) live as long as it does. */
        seq = PySequence_Tuple(obj);
    } else {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be an id, or a list/array of ids (int or str)", what);
        return -1;
    }
    if (!seq) return -1;
    size_t n = (size_t)PyTuple_GET_SIZE(seq);
    out->keep = seq;
    out->n = n;
    out->owned = PyMem_Calloc(n ? n : 1, sizeof *out->owned);
    out->keys = PyMem_Calloc(n ? n : 1, sizeof *out->keys);
    if (!out->owned || !out->keys) {
        vspy_idlist_release(out);
        PyErr_NoMemory();
        return -1;
    }
    out->ids = out->owned;
    for (size_t i = 0; i < n; i++)
        if (one_id(PyTuple_GET_ITEM(seq, (Py_ssize_t)i), i, allow_none, what, out)) {
            vspy_idlist_release(out);
            return -1;
        }
    if (!out->any_str && !out->any_none) { /* plain ints: no key pointers needed */
        PyMem_Free(out->keys);
        out->keys = NULL;
    }
    return 0;
}

PyObject *vspy_idlist_item(const vspy_idlist *l, size_t i)
{
    return PyArray_Check(l->keep) ? PyLong_FromLongLong(l->ids[i]) : Py_NewRef(PyTuple_GET_ITEM(l->keep, (Py_ssize_t)i));
}

int vspy_idlist_lookup(vs_collection **cp, vspy_lock *lock, vspy_idlist *l)
{
    if (!l->any_str) return 0;
    int rc = 0, closed = 0;
    size_t bad = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(lock);
    if (!*cp) closed = 1;
    for (size_t i = 0; !closed && i < l->n; i++) {
        if (!l->keys[i]) continue;
        int r = vs_collection_lookup_key(*cp, l->keys[i], &l->ids[i]);
        if (r == VS_ERR_NOT_FOUND) {
            l->ids[i] = -1;
        } else if (r) {
            rc = r;
            bad = i;
            break;
        }
    }
    vspy_unlock(lock);
    Py_END_ALLOW_THREADS
    if (closed) {
        vspy_closed("Collection");
        return -1;
    }
    if (rc) {
        vspy_raise(rc, 0);
        /* name the id: the library's message says why, not which one */
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        PyObject *msg = v ? PyObject_Str(v) : NULL;
        const char *u = msg ? PyUnicode_AsUTF8(msg) : NULL;
        if (u) {
            vspy_raise_msg(rc, "id %zu: %s", bad, u);
            Py_DECREF(msg);
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
        } else {
            PyErr_Clear();
            PyErr_Restore(t, v, tb);
        }
        return -1;
    }
    return 0;
}

PyObject *vspy_client_ids(vs_collection **cp, vspy_lock *lock, const int64_t *ids, size_t n)
{
    /* Integer ids are their own client ids; only string ids need the collection. */
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) nk += ids[i] >= VS_KEYED_ID_MIN;
    enum { CAP = VS_KEY_MAX_BYTES + 1 };
    char *buf = nk ? malloc(nk * CAP) : NULL;
    int *found = nk ? calloc(nk, sizeof *found) : NULL;
    if (nk && (!buf || !found)) {
        free(buf);
        free(found);
        return PyErr_NoMemory();
    }
    int closed = 0;
    if (nk) {
        Py_BEGIN_ALLOW_THREADS
        vspy_rdlock(lock);
        if (!*cp) closed = 1;
        for (size_t i = 0, j = 0; !closed && i < n; i++) {
            if (ids[i] < VS_KEYED_ID_MIN) continue;
            found[j] = vs_collection_key_of(*cp, ids[i], buf + j * CAP, CAP, NULL) == VS_OK;
            j++;
        }
        vspy_unlock(lock);
        Py_END_ALLOW_THREADS
    }
    PyObject *list = closed ? vspy_closed("Collection") : PyList_New((Py_ssize_t)n);
    for (size_t i = 0, j = 0; list && i < n; i++) {
        PyObject *v;
        if (ids[i] < 0) {
            v = Py_NewRef(Py_None); /* padding */
        } else if (ids[i] < VS_KEYED_ID_MIN) {
            v = PyLong_FromLongLong(ids[i]);
        } else {
            v = found[j] ? PyUnicode_DecodeUTF8(buf + j * CAP, (Py_ssize_t)strlen(buf + j * CAP), "replace")
                         : Py_NewRef(Py_None); /* removed since the search */
            j++;
        }
        if (!v) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    free(buf);
    free(found);
    return list;
}
