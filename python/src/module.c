/* vecscale._vecscale: module init and the exception hierarchy of the API contract
 * (every exception carries the library's message and .code, the VS_ERR_* value). */
#define VSPY_MODULE_C
#include "vspy.h"

#include <stdarg.h>

static PyObject *Error, *InvalidArgumentError, *NotTrainedError, *DuplicateIdError, *NotFoundError,
    *MissingFileError, *StorageError, *CorruptFileError, *VersionError, *UnsupportedError;
PyObject *vspy_ClosedError;

static PyObject *class_for(int code, int path_ctx)
{
    switch (code) {
    case VS_ERR_INVALID_ARG:
    case VS_ERR_DIMENSION:
    case VS_ERR_FACTORY:
    case VS_ERR_EMPTY: return InvalidArgumentError;
    case VS_ERR_NOT_TRAINED: return NotTrainedError;
    case VS_ERR_DUPLICATE_ID: return DuplicateIdError;
    case VS_ERR_NOT_FOUND: return path_ctx ? MissingFileError : NotFoundError;
    case VS_ERR_IO: return StorageError;
    case VS_ERR_CORRUPT: return CorruptFileError;
    case VS_ERR_VERSION: return VersionError;
    case VS_ERR_UNSUPPORTED: return UnsupportedError;
    case VS_ERR_NOMEM: return PyExc_MemoryError;
    default: return Error;
    }
}

static PyObject *raise_with(PyObject *cls, int code, const char *msg)
{
    if (cls == PyExc_MemoryError) {
        PyErr_SetString(cls, msg);
        return NULL;
    }
    PyObject *exc = PyObject_CallFunction(cls, "s", msg);
    if (!exc) return NULL;
    PyObject *c = PyLong_FromLong(code);
    if (!c || PyObject_SetAttrString(exc, "code", c) < 0) {
        Py_XDECREF(c);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(c);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *vspy_raise(int code, int path_ctx)
{
    const char *msg = vs_last_error();
    char buf[160];
    if (!msg || !*msg) {
        snprintf(buf, sizeof buf, "%s", vs_strerror(code));
        msg = buf;
    }
    return raise_with(class_for(code, path_ctx), code, msg);
}

PyObject *vspy_raise_msg(int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return raise_with(class_for(code, 0), code, buf);
}

PyObject *vspy_closed(const char *what)
{
    char buf[128];
    snprintf(buf, sizeof buf, "operation on a closed %s", what);
    return raise_with(vspy_ClosedError, VS_ERR_INVALID_ARG, buf);
}

static PyObject *conversions(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyLong_FromUnsignedLongLong(vspy_conversions);
}

static PyObject *version(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(vs_version_string());
}

static PyObject *simd(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(vs_simd_name(vs_simd_active()));
}

static PyMethodDef methods[] = {
    {"_conversions", conversions, METH_NOARGS,
     "Number of input arrays the extension has copied to float32/int64 so far (for tests)."},
    {"version", version, METH_NOARGS, "Version of the linked libvecscale, \"MAJOR.MINOR.PATCH\"."},
    {"simd_level", simd, METH_NOARGS, "SIMD level the distance kernels use: scalar, avx2 or avx512."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "vecscale._vecscale",
                                    "C extension behind the vecscale package (use `import vecscale`).", -1,
                                    methods, NULL, NULL, NULL, NULL};

static PyObject *new_exc(PyObject *mod, const char *name, PyObject *base2, const char *doc)
{
    char full[96];
    snprintf(full, sizeof full, "vecscale.%s", name);
    PyObject *bases = base2 ? PyTuple_Pack(2, Error, base2) : PyTuple_Pack(1, Error);
    if (!bases) return NULL;
    PyObject *cls = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (!cls) return NULL;
    if (PyModule_AddObjectRef(mod, name, cls) < 0) {
        Py_DECREF(cls);
        return NULL;
    }
    return cls;
}

PyObject *vspy_NoKnownWordWarning;

PyMODINIT_FUNC PyInit__vecscale(void)
{
    import_array();
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    Error = PyErr_NewExceptionWithDoc("vecscale.Error",
                                      "Base of every vecscale exception. .code is the library's VS_ERR_* "
                                      "value and str(e) its message.",
                                      PyExc_Exception, NULL);
    if (!Error || PyModule_AddObjectRef(m, "Error", Error) < 0) goto fail;
    if (!(InvalidArgumentError = new_exc(m, "InvalidArgumentError", PyExc_ValueError,
                                         "A bad argument: wrong dtype, shape or dimension, NaN/Inf, negative "
                                         "k, an unknown factory string, an empty index or input.")))
        goto fail;
    if (!(NotTrainedError = new_exc(m, "NotTrainedError", PyExc_RuntimeError,
                                    "The index needs train() before add() or search().")))
        goto fail;
    if (!(DuplicateIdError = new_exc(m, "DuplicateIdError", PyExc_ValueError,
                                     "An id being added is already stored (or repeated in the batch).")))
        goto fail;
    if (!(NotFoundError = new_exc(m, "NotFoundError", PyExc_KeyError, "An id that is not stored.")))
        goto fail;
    if (!(MissingFileError = new_exc(m, "MissingFileError", PyExc_FileNotFoundError,
                                     "A file or directory that does not exist.")))
        goto fail;
    if (!(StorageError = new_exc(m, "StorageError", PyExc_OSError,
                                 "The operating system refused a read, write, open or mmap.")))
        goto fail;
    if (!(CorruptFileError = new_exc(m, "CorruptFileError", PyExc_OSError,
                                     "A file is truncated, has a bad checksum or is inconsistent.")))
        goto fail;
    if (!(VersionError = new_exc(m, "VersionError", PyExc_OSError,
                                 "A file written by a newer, unknown format version.")))
        goto fail;
    if (!(UnsupportedError = new_exc(m, "UnsupportedError", PyExc_NotImplementedError,
                                     "A valid request this build or index type does not implement.")))
        goto fail;
    if (!(vspy_ClosedError = new_exc(m, "ClosedError", PyExc_ValueError, "Using an object after close().")))
        goto fail;
    /* A warning, not an error: the server answers such a query with an empty result plus a
     * warning, and so does Collection.query (warnings.simplefilter("error", ...) makes it raise). */
    vspy_NoKnownWordWarning = PyErr_NewExceptionWithDoc(
        "vecscale.NoKnownWordWarning",
        "A text query none of whose words the model knows: its embedding would be the model's\n"
        "fallback vector, whose neighbours mean nothing, so Collection.query/search answer it with no\n"
        "results (the server's \"warning\": {\"code\": \"no_known_word\"}).",
        PyExc_UserWarning, NULL);
    if (!vspy_NoKnownWordWarning || PyModule_AddObjectRef(m, "NoKnownWordWarning", vspy_NoKnownWordWarning) < 0)
        goto fail;

    struct { const char *name; PyTypeObject *t; } types[] = {
        {"Index", &vspy_IndexType},           {"ScalarQuantizer", &vspy_SQType},
        {"ProductQuantizer", &vspy_PQType},   {"Model", &vspy_ModelType},
        {"Collection", &vspy_CollectionType},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (PyType_Ready(types[i].t) < 0) goto fail;
        if (PyModule_AddObjectRef(m, types[i].name, (PyObject *)types[i].t) < 0) goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
