/* Metadata filters of collections (include/vecscale.h, "Payload indexes and metadata filters"):
 * Python dicts go to the library as JSON; counts through the same paths as searches; payload
 * indexes declared and listed. Library calls run with the GIL released under the object lock. */
#include "collection.h"

#include <string.h>

/* A metadata filter dict as the library's filter JSON (include/vecscale.h, "Payload indexes and
 * metadata filters"): a new str, or NULL with an exception (TypeError: not JSON-serialisable). */
PyObject *vspy_filter_json(PyObject *dict)
{
    PyObject *json = PyImport_ImportModule("json");
    PyObject *r = json ? PyObject_CallMethod(json, "dumps", "O", dict) : NULL;
    Py_XDECREF(json);
    return r;
}

/* The filter report as a dict (which path answered). */
static PyObject *report_dict(const vs_filter_report *r)
{
    return Py_BuildValue("{s:O,s:O,s:O,s:O,s:K,s:s}", "indexed", r->indexed ? Py_True : Py_False, "exact",
                         r->exact ? Py_True : Py_False, "post_filter", r->post_filter ? Py_True : Py_False, "cached",
                         r->cached ? Py_True : Py_False, "allowed", (unsigned long long)r->allowed, "unindexed",
                         r->unindexed);
}

PyObject *vspy_coll_count(CollObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"filter", "report", NULL};
    PyObject *filt = Py_None;
    int want_report = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$p:count", kwlist, &filt, &want_report) || vspy_coll_usable(s))
        return NULL;
    if (filt != Py_None && !PyDict_Check(filt))
        return vspy_raise_msg(VS_ERR_INVALID_ARG, "count() takes a metadata filter dict (or None)");
    PyObject *fjs = filt != Py_None && PyDict_GET_SIZE(filt) > 0 ? vspy_filter_json(filt) : NULL;
    const char *fjson = fjs ? PyUnicode_AsUTF8(fjs) : NULL;
    if (PyErr_Occurred()) {
        Py_XDECREF(fjs);
        return NULL;
    }
    uint64_t n = 0;
    vs_filter_report rep = {.struct_size = sizeof rep};
    memset(&rep, 0, sizeof rep);
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->c) closed = 1;
    else if (fjson) rc = vs_collection_count_where(s->c, fjson, &n, &rep);
    else n = vs_collection_size(s->c);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    Py_XDECREF(fjs);
    if (closed) return vspy_closed("Collection");
    if (rc) return vspy_raise(rc, 0);
    if (!want_report) return PyLong_FromUnsignedLongLong(n);
    return Py_BuildValue("(KN)", (unsigned long long)n, report_dict(&rep));
}

static const char *const payload_types[] = {NULL, "keyword", "integer", "float", "bool"};

PyObject *vspy_coll_create_payload_index(CollObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"field", "type", NULL};
    const char *field, *type;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss:create_payload_index", kwlist, &field, &type) || vspy_coll_usable(s))
        return NULL;
    vs_payload_type t = 0;
    for (int i = VS_PAYLOAD_KEYWORD; i <= VS_PAYLOAD_BOOL; i++)
        if (!strcmp(type, payload_types[i])) t = (vs_payload_type)i;
    if (!t) return vspy_raise_msg(VS_ERR_INVALID_ARG, "type must be \"keyword\", \"integer\", \"float\" or \"bool\"");
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->c) closed = 1;
    else rc = vs_collection_create_payload_index(s->c, field, t);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (closed) return vspy_closed("Collection");
    if (rc) return vspy_raise(rc, 0);
    Py_RETURN_NONE;
}

PyObject *vspy_coll_payload_indexes(CollObject *s, void *c)
{
    (void)c;
    if (vspy_coll_usable(s)) return NULL;
    size_t n = 0, cap = 0;
    vs_payload_index_info *in = NULL;
    int rc = 0, closed = 0;
    for (;;) { /* size, then fetch; an index added in between only means one more round */
        Py_BEGIN_ALLOW_THREADS
        vspy_rdlock(&s->lock);
        if (!s->c) closed = 1;
        else rc = vs_collection_payload_indexes(s->c, in, cap, &n);
        vspy_unlock(&s->lock);
        Py_END_ALLOW_THREADS
        if (closed || rc || n <= cap) break;
        cap = n;
        vs_payload_index_info *nb = PyMem_Realloc(in, cap * sizeof *in);
        if (!nb) {
            PyMem_Free(in);
            return PyErr_NoMemory();
        }
        in = nb;
        in[0].struct_size = sizeof *in; /* the layout of every element */
    }
    PyObject *list = closed ? vspy_closed("Collection") : rc ? vspy_raise(rc, 0) : PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *d = Py_BuildValue("{s:s,s:s,s:O,s:O,s:K,s:K,s:n}", "field", in[i].field, "type",
                                    vs_payload_type_name(in[i].type), "ready", in[i].ready ? Py_True : Py_False,
                                    "automatic", in[i].automatic ? Py_True : Py_False, "documents",
                                    (unsigned long long)in[i].documents, "values", (unsigned long long)in[i].values,
                                    "memory_bytes", (Py_ssize_t)in[i].memory_bytes);
        if (!d) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    PyMem_Free(in);
    return list;
}
