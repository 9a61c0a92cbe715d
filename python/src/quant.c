/* vecscale.ScalarQuantizer and vecscale.ProductQuantizer: the library's codecs on their own.
 * One Python type body serves both; `pq` says which library object it holds. */
#include "vspy.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    void *q; /* vs_scalar_quantizer or vs_product_quantizer */
    int pq;
    uint32_t dim;
    size_t code_size;
    int trained;   /* fp16/bf16 need no training */
    vspy_lock lock; /* train exclusive; encode/decode shared; close exclusive */
    int lock_ok;
    char kind[16];
} QObject;

static const char *tname(QObject *s) { return s->pq ? "ProductQuantizer" : "ScalarQuantizer"; }

static int q_usable(QObject *s)
{
    if (!s->lock_ok || !s->q) {
        vspy_closed(tname(s));
        return -1;
    }
    return 0;
}

static PyObject *q_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    QObject *s = (QObject *)type->tp_alloc(type, 0);
    if (!s) return NULL;
    if (vspy_lock_init(&s->lock)) {
        Py_DECREF(s);
        return PyErr_NoMemory();
    }
    s->lock_ok = 1;
    s->pq = type == &vspy_PQType;
    return (PyObject *)s;
}

static void q_free_handle(QObject *s)
{
    if (!s->q) return;
    if (s->pq) vs_product_quantizer_free(s->q);
    else vs_scalar_quantizer_free(s->q);
    s->q = NULL;
}

static void q_dealloc(QObject *s)
{
    q_free_handle(s);
    if (s->lock_ok) vspy_lock_destroy(&s->lock);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int sq_init(QObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"dim", "kind", NULL};
    PyObject *dimo;
    const char *kind = "SQ8";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|s:ScalarQuantizer", kwlist, &dimo, &kind)) return -1;
    if (s->q) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "already initialised");
        return -1;
    }
    uint32_t dim;
    if (vspy_uint_arg(dimo, "dim", 65536, 0, &dim)) return -1;
    vs_code_kind k;
    if (!strcasecmp(kind, "SQ8")) k = VS_CODE_SQ8;
    else if (!strcasecmp(kind, "SQ4")) k = VS_CODE_SQ4;
    else if (!strcasecmp(kind, "fp16") || !strcasecmp(kind, "SQfp16")) k = VS_CODE_SQFP16;
    else if (!strcasecmp(kind, "bf16") || !strcasecmp(kind, "SQbf16")) k = VS_CODE_SQBF16;
    else {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "kind must be \"SQ8\", \"SQ4\", \"fp16\" or \"bf16\", not \"%s\"", kind);
        return -1;
    }
    vs_scalar_quantizer *q;
    int rc = vs_scalar_quantizer_create(dim, k, &q);
    if (rc) {
        vspy_raise(rc, 0);
        return -1;
    }
    s->q = q;
    s->dim = dim;
    s->code_size = vs_scalar_quantizer_code_size(q);
    s->trained = k == VS_CODE_SQFP16 || k == VS_CODE_SQBF16;
    snprintf(s->kind, sizeof s->kind, "%s", k == VS_CODE_SQ8 ? "SQ8" : k == VS_CODE_SQ4 ? "SQ4" : k == VS_CODE_SQFP16 ? "fp16" : "bf16");
    return 0;
}

static int pq_init(QObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"dim", "m", "bits", NULL};
    PyObject *dimo, *mo, *bitso = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:ProductQuantizer", kwlist, &dimo, &mo, &bitso)) return -1;
    if (s->q) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "already initialised");
        return -1;
    }
    uint32_t dim, m, bits;
    if (vspy_uint_arg(dimo, "dim", 65536, 0, &dim) || vspy_uint_arg(mo, "m", 65536, 0, &m) ||
        vspy_uint_arg(bitso, "bits", 64, 8, &bits))
        return -1;
    vs_product_quantizer *q;
    int rc = vs_product_quantizer_create(dim, m, bits, &q);
    if (rc) {
        vspy_raise(rc, 0);
        return -1;
    }
    s->q = q;
    s->dim = dim;
    s->code_size = vs_product_quantizer_code_size(q);
    snprintf(s->kind, sizeof s->kind, "PQ%ux%u", m, bits);
    return 0;
}

static PyObject *q_train(QObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "seed", "threads", NULL};
    PyObject *xo, *seedo = Py_None, *tho = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OO:train", kwlist, &xo, &seedo, &tho) || q_usable(s)) return NULL;
    uint32_t threads;
    unsigned long long seed = 0;
    if (vspy_uint_arg(tho, "threads", 4096, 1, &threads)) return NULL;
    if (seedo != Py_None) {
        seed = PyLong_AsUnsignedLongLong(seedo);
        if (PyErr_Occurred()) return NULL;
    }
    vspy_matrix x;
    if (vspy_matrix_get(xo, s->dim, 0, "training vectors", &x)) return NULL;
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_wrlock(&s->lock);
    if (!s->q) closed = 1;
    else if (s->pq) rc = vs_product_quantizer_train(s->q, x.n, x.data, seed, threads);
    else rc = vs_scalar_quantizer_train(s->q, x.n, x.data);
    if (!closed && !rc) s->trained = 1;
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    vspy_matrix_release(&x);
    if (closed) return vspy_closed(tname(s));
    if (rc) return vspy_raise(rc, 0);
    Py_RETURN_NONE;
}

static PyObject *q_encode(QObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", NULL};
    PyObject *xo;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:encode", kwlist, &xo) || q_usable(s)) return NULL;
    if (!s->trained) return vspy_raise_msg(VS_ERR_NOT_TRAINED, "%s %s must be trained before encode()", tname(s), s->kind);
    vspy_matrix x;
    if (vspy_matrix_get(xo, s->dim, 1, "vectors", &x)) return NULL;
    npy_intp dims[2] = {(npy_intp)x.n, (npy_intp)s->code_size};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_UINT8);
    if (!out) {
        vspy_matrix_release(&x);
        return NULL;
    }
    uint8_t *o = PyArray_DATA(out);
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->q) closed = 1;
    else if (x.n && s->pq) rc = vs_product_quantizer_encode(s->q, x.n, x.data, o);
    else if (x.n) rc = vs_scalar_quantizer_encode(s->q, x.n, x.data, o);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    vspy_matrix_release(&x);
    if (closed || rc) {
        Py_DECREF(out);
        return closed ? vspy_closed(tname(s)) : vspy_raise(rc, 0);
    }
    return (PyObject *)out;
}

static PyObject *q_decode(QObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"codes", NULL};
    PyObject *co;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:decode", kwlist, &co) || q_usable(s)) return NULL;
    if (!s->trained) return vspy_raise_msg(VS_ERR_NOT_TRAINED, "%s %s must be trained before decode()", tname(s), s->kind);
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(co, 0);
    if (!a) return NULL;
    if (PyArray_TYPE(a) != NPY_UINT8) {
        Py_DECREF(a);
        return vspy_raise_msg(VS_ERR_INVALID_ARG, "codes must be a uint8 array (from encode())");
    }
    int nd = PyArray_NDIM(a);
    npy_intp cols = nd == 2 ? PyArray_DIM(a, 1) : nd == 1 ? PyArray_DIM(a, 0) : -1;
    if (cols != (npy_intp)s->code_size) {
        Py_DECREF(a);
        return vspy_raise_msg(VS_ERR_DIMENSION, "codes must be (n, %zu) uint8 (code_size bytes a row)", s->code_size);
    }
    PyArrayObject *c = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)a, NPY_UINT8, NPY_ARRAY_CARRAY_RO);
    Py_DECREF(a);
    if (!c) return NULL;
    size_t n = nd == 2 ? (size_t)PyArray_DIM(c, 0) : 1;
    npy_intp dims[2] = {(npy_intp)n, (npy_intp)s->dim};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out) {
        Py_DECREF(c);
        return NULL;
    }
    const uint8_t *in = PyArray_DATA(c);
    float *o = PyArray_DATA(out);
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->q) closed = 1;
    else if (n && s->pq) rc = vs_product_quantizer_decode(s->q, n, in, o);
    else if (n) rc = vs_scalar_quantizer_decode(s->q, n, in, o);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    Py_DECREF(c);
    if (closed || rc) {
        Py_DECREF(out);
        return closed ? vspy_closed(tname(s)) : vspy_raise(rc, 0);
    }
    return (PyObject *)out;
}

static PyObject *q_close(QObject *s, PyObject *noargs)
{
    (void)noargs;
    if (!s->lock_ok) Py_RETURN_NONE;
    Py_BEGIN_ALLOW_THREADS
    vspy_wrlock(&s->lock);
    q_free_handle(s);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *q_enter(QObject *s, PyObject *noargs)
{
    (void)noargs;
    if (q_usable(s)) return NULL;
    Py_INCREF(s);
    return (PyObject *)s;
}

static PyObject *q_exit(QObject *s, PyObject *args)
{
    (void)args;
    Py_XDECREF(q_close(s, NULL));
    Py_RETURN_FALSE;
}

static PyObject *get_dim(QObject *s, void *c) { (void)c; return q_usable(s) ? NULL : PyLong_FromUnsignedLong(s->dim); }
static PyObject *get_code_size(QObject *s, void *c)
{
    (void)c;
    return q_usable(s) ? NULL : PyLong_FromSize_t(s->code_size);
}
static PyObject *get_reduction(QObject *s, void *c)
{
    (void)c;
    return q_usable(s) ? NULL : PyFloat_FromDouble(4.0 * s->dim / (double)s->code_size);
}
static PyObject *get_trained(QObject *s, void *c) { (void)c; return PyBool_FromLong(s->trained); }
static PyObject *get_kind(QObject *s, void *c) { (void)c; return PyUnicode_FromString(s->kind); }

static PyObject *q_repr(QObject *s)
{
    return PyUnicode_FromFormat("<vecscale.%s %s dim=%u code_size=%zu%s>", tname(s), s->kind, s->dim, s->code_size,
                                s->q ? "" : " (closed)");
}

static PyMethodDef q_methods[] = {
    {"train", (PyCFunction)(void (*)(void))q_train, METH_VARARGS | METH_KEYWORDS,
     "train(x, *, seed=None, threads=None)\n--\n\nLearns the codebook from x (n, dim): per-dimension ranges for SQ8/SQ4\n"
     "(fp16/bf16 need none), k-means per sub-space for PQ (n >= 2**bits; seed and threads are\n"
     "PQ's). The GIL is released meanwhile."},
    {"encode", (PyCFunction)(void (*)(void))q_encode, METH_VARARGS | METH_KEYWORDS,
     "encode(x)\n--\n\nCompresses x (n, dim) or (dim,) to uint8 codes (n, code_size). NaN/Inf is refused."},
    {"decode", (PyCFunction)(void (*)(void))q_decode, METH_VARARGS | METH_KEYWORDS,
     "decode(codes)\n--\n\nReconstructs float32 vectors (n, dim) from uint8 codes (n, code_size)."},
    {"close", (PyCFunction)q_close, METH_NOARGS, "close()\n--\n\nFrees the quantizer; later calls raise ClosedError."},
    {"__enter__", (PyCFunction)q_enter, METH_NOARGS, "Returns the quantizer itself."},
    {"__exit__", (PyCFunction)q_exit, METH_VARARGS, "Closes the quantizer."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef q_getset[] = {
    {"dim", (getter)get_dim, NULL, "Vector dimension.", NULL},
    {"code_size", (getter)get_code_size, NULL, "Bytes per encoded vector.", NULL},
    {"memory_reduction", (getter)get_reduction, NULL, "4 * dim / code_size: float32 bytes per code byte.", NULL},
    {"is_trained", (getter)get_trained, NULL, "Whether encode() and decode() can be used.", NULL},
    {"kind", (getter)get_kind, NULL, "\"SQ8\", \"SQ4\", \"fp16\", \"bf16\" or \"PQ<m>x<bits>\".", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject vspy_SQType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vecscale.ScalarQuantizer",
    .tp_basicsize = sizeof(QObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ScalarQuantizer(dim, kind=\"SQ8\")\n--\n\nPer-dimension scalar quantizer: \"SQ8\" (1 byte a dimension) and \"SQ4\"\n"
              "(half a byte) learn min/max ranges in train(); \"fp16\" and \"bf16\" (2 bytes) need no\n"
              "training. encode() -> uint8 codes, decode() -> float32.",
    .tp_new = q_new,
    .tp_init = (initproc)sq_init,
    .tp_dealloc = (destructor)q_dealloc,
    .tp_methods = q_methods,
    .tp_getset = q_getset,
    .tp_repr = (reprfunc)q_repr,
};

PyTypeObject vspy_PQType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vecscale.ProductQuantizer",
    .tp_basicsize = sizeof(QObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ProductQuantizer(dim, m, bits=8)\n--\n\nProduct quantizer: m sub-spaces (m divides dim) of 2**bits centroids\n"
              "(bits 4..8), k-means trained. Codes take ceil(m / 2) bytes for 4-bit codes, else m.",
    .tp_new = q_new,
    .tp_init = (initproc)pq_init,
    .tp_dealloc = (destructor)q_dealloc,
    .tp_methods = q_methods,
    .tp_getset = q_getset,
    .tp_repr = (reprfunc)q_repr,
};
