/* Input conversion: any real numeric array-like to float32 / int64, C order, at most one copy,
 * and none when the input already is what the library reads. */
#include "vspy.h"

unsigned long long vspy_conversions;

/* Ints are accepted (as float64 would be: value-converted); bools, complex numbers, strings
 * and objects are refused rather than guessed at. */
static int numeric_kind(PyArrayObject *a)
{
    char k = PyArray_DESCR(a)->kind;
    return k == 'f' || k == 'i' || k == 'u';
}

static const char *kind_name(PyArrayObject *a)
{
    switch (PyArray_DESCR(a)->kind) {
    case 'b': return "bool";
    case 'c': return "complex";
    case 'O': return "object";
    case 'U':
    case 'S': return "string";
    default: return "non-numeric";
    }
}

int vspy_matrix_get(PyObject *obj, uint32_t dim, int allow_1d, const char *what, vspy_matrix *out)
{
    out->arr = NULL;
    out->data = NULL;
    out->was_1d = 0;
    if (obj == Py_None) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be an array, not None", what);
        return -1;
    }
    /* First look at what we were given without converting (no copy for ndarrays). */
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(obj, 0);
    if (!a) {
        PyErr_Clear();
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be a float array-like", what);
        return -1;
    }
    if (!numeric_kind(a)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must hold float32/float64 (or integer) numbers, not %s", what,
                       kind_name(a));
        Py_DECREF(a);
        return -1;
    }
    int nd = PyArray_NDIM(a);
    if (nd == 1 && allow_1d) {
        out->was_1d = 1;
    } else if (nd != 2) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be a 2-d array (n, dim)%s, got %d dimension%s", what,
                       allow_1d ? " or one vector (dim,)" : "", nd, nd == 1 ? "" : "s");
        Py_DECREF(a);
        return -1;
    }
    npy_intp rows = out->was_1d ? 1 : PyArray_DIM(a, 0);
    npy_intp cols = out->was_1d ? PyArray_DIM(a, 0) : PyArray_DIM(a, 1);
    if (cols <= 0 || (uint64_t)cols > 65536 || (dim && (uint64_t)cols != dim)) {
        if (dim)
            vspy_raise_msg(VS_ERR_DIMENSION, "%s has %lld columns, expected dim = %u", what, (long long)cols, dim);
        else
            vspy_raise_msg(VS_ERR_INVALID_ARG, "%s has %lld columns (1..65536 allowed)", what, (long long)cols);
        Py_DECREF(a);
        return -1;
    }
    if (PyArray_TYPE(a) != NPY_FLOAT32 || !PyArray_ISCARRAY_RO(a) || !PyArray_ISNOTSWAPPED(a)) {
        PyArrayObject *c = (PyArrayObject *)PyArray_FromAny(
            (PyObject *)a, PyArray_DescrFromType(NPY_FLOAT32), 0, 0,
            NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
        Py_DECREF(a);
        if (!c) return -1;
        a = c;
        vspy_conversions++;
    }
    out->arr = a;
    out->data = (const float *)PyArray_DATA(a);
    out->n = (size_t)rows;
    out->dim = (uint32_t)cols;
    return 0;
}

void vspy_matrix_release(vspy_matrix *m)
{
    Py_CLEAR(m->arr);
    m->data = NULL;
}

int vspy_ids_get(PyObject *obj, const char *what, PyArrayObject **out)
{
    *out = NULL;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(obj, 0);
    if (!a) {
        PyErr_Clear();
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be integer ids", what);
        return -1;
    }
    char k = PyArray_DESCR(a)->kind;
    /* An empty list arrives as float64: that is no id at all, which is fine. */
    if (!(k == 'i' || k == 'u' || (PyArray_SIZE(a) == 0 && k == 'f'))) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be integers, not %s", what,
                       k == 'f' ? "floats" : kind_name(a));
        Py_DECREF(a);
        return -1;
    }
    if (PyArray_NDIM(a) > 1) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be 1-d, got %d dimensions", what, PyArray_NDIM(a));
        Py_DECREF(a);
        return -1;
    }
    if (k == 'u' && PyArray_SIZE(a) > 0 && PyArray_ITEMSIZE(a) == 8) {
        /* uint64 above INT64_MAX would wrap to a negative id silently. */
        PyObject *mx = PyArray_Max(a, NPY_MAXDIMS, NULL);
        unsigned long long v = mx ? PyLong_AsUnsignedLongLong(mx) : 0;
        Py_XDECREF(mx);
        if (PyErr_Occurred() || v > (unsigned long long)INT64_MAX) {
            PyErr_Clear();
            vspy_raise_msg(VS_ERR_INVALID_ARG, "%s holds an id above 2^63 - 1", what);
            Py_DECREF(a);
            return -1;
        }
    }
    if (PyArray_TYPE(a) != NPY_INT64 || !PyArray_ISCARRAY_RO(a) || PyArray_NDIM(a) != 1 ||
        !PyArray_ISNOTSWAPPED(a)) {
        PyArrayObject *c = (PyArrayObject *)PyArray_FromAny((PyObject *)a, PyArray_DescrFromType(NPY_INT64), 0, 0,
                                                            NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED |
                                                                NPY_ARRAY_FORCECAST,
                                                            NULL);
        Py_DECREF(a);
        if (!c) return -1;
        if (PyArray_NDIM(c) == 0) { /* a scalar id */
            PyArrayObject *r = (PyArrayObject *)PyArray_Ravel(c, NPY_CORDER);
            Py_DECREF(c);
            if (!r) return -1;
            c = r;
        }
        a = c;
        vspy_conversions++;
    }
    *out = a;
    return 0;
}

int vspy_uint_arg(PyObject *obj, const char *name, unsigned long long max, uint32_t dflt, uint32_t *out)
{
    if (!obj || obj == Py_None) {
        *out = dflt;
        return 0;
    }
    if (PyBool_Check(obj) || !PyIndex_Check(obj)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be an int", name);
        return -1;
    }
    PyObject *i = PyNumber_Index(obj);
    if (!i) return -1;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(i, &overflow);
    Py_DECREF(i);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v < 0 || (unsigned long long)v > max) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%s must be in 0..%llu", name, max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}
