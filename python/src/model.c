/* vecscale.Model: text embedding models (GloVe averages, BERT encoders) and their tokenizer. */
#include "vspy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    vs_model *m;
    vspy_lock lock; /* embeds share it (a model is read-only), close takes it alone */
    int lock_ok;
    size_t dim;
    int normalizes;
    char name[256];
} ModelObject;

static int m_usable(ModelObject *s)
{
    if (!s->lock_ok || !s->m) {
        vspy_closed("Model");
        return -1;
    }
    return 0;
}

static PyObject *m_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    ModelObject *s = (ModelObject *)type->tp_alloc(type, 0);
    if (!s) return NULL;
    if (vspy_lock_init(&s->lock)) {
        Py_DECREF(s);
        return PyErr_NoMemory();
    }
    s->lock_ok = 1;
    return (PyObject *)s;
}

static int m_init(ModelObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", NULL};
    PyObject *po;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&:Model", kwlist, PyUnicode_FSConverter, &po)) return -1;
    if (s->m) {
        Py_DECREF(po);
        vspy_raise_msg(VS_ERR_INVALID_ARG, "Model is already initialised");
        return -1;
    }
    const char *name = PyBytes_AS_STRING(po);
    vs_model *m = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = vs_model_open(name, &m);
    Py_END_ALLOW_THREADS
    Py_DECREF(po);
    if (rc) {
        vspy_raise(rc, 1);
        return -1;
    }
    s->m = m;
    s->dim = vs_model_dim(m);
    s->normalizes = vs_model_normalizes(m);
    snprintf(s->name, sizeof s->name, "%s", vs_model_name(m));
    return 0;
}

static void m_dealloc(ModelObject *s)
{
    vs_model_free(s->m);
    if (s->lock_ok) vspy_lock_destroy(&s->lock);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* UTF-8 pointers of a list of str (borrowed from the str objects, which `keep` holds). */
int vspy_texts(PyObject *obj, PyObject **keep, const char ***out, size_t *n)
{
    *keep = NULL;
    *out = NULL;
    if (PyUnicode_Check(obj) || PyBytes_Check(obj)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "texts must be a list of str, not a single string");
        return -1;
    }
    /* A tuple of our own: the caller's list may change while the GIL is released, the
     * tuple's str objects (and their UTF-8 bytes) cannot. */
    PyObject *seq = PySequence_Check(obj) ? PySequence_Tuple(obj) : NULL;
    if (!seq) {
        PyErr_Clear();
        vspy_raise_msg(VS_ERR_INVALID_ARG, "texts must be a list of str");
        return -1;
    }
    Py_ssize_t len = PyTuple_GET_SIZE(seq);
    const char **t = PyMem_Calloc((size_t)len + 1, sizeof *t);
    if (!t) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *it = PyTuple_GET_ITEM(seq, i);
        if (!PyUnicode_Check(it)) {
            vspy_raise_msg(VS_ERR_INVALID_ARG, "text %zd is a %s, not a str", i, Py_TYPE(it)->tp_name);
            goto fail;
        }
        Py_ssize_t bl;
        t[i] = PyUnicode_AsUTF8AndSize(it, &bl);
        if (!t[i]) goto fail;
        if ((size_t)bl != strlen(t[i])) {
            vspy_raise_msg(VS_ERR_INVALID_ARG, "text %zd contains a NUL character", i);
            goto fail;
        }
    }
    *keep = seq;
    *out = t;
    *n = (size_t)len;
    return 0;
fail:
    PyMem_Free(t);
    Py_DECREF(seq);
    return -1;
}

/* Embeds into a new (n, dim) float32 array with the GIL released; model borrowed from s.
 * known (NULL or n entries) receives each text's count of words the model knows. */
static PyObject *embed_texts(ModelObject *s, const char **t, size_t n, size_t batch, uint32_t threads, uint32_t *known)
{
    npy_intp dims[2] = {(npy_intp)n, (npy_intp)s->dim};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out) return NULL;
    float *o = PyArray_DATA(out);
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->m) closed = 1;
    for (size_t i = 0; !closed && !rc && i < n; i += batch) {
        size_t b = n - i < batch ? n - i : batch;
        rc = vs_model_embed_known(s->m, t + i, b, threads, o + i * s->dim, known ? known + i : NULL);
    }
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (closed || rc) {
        Py_DECREF(out);
        return closed ? vspy_closed("Model") : vspy_raise(rc, 0);
    }
    return (PyObject *)out;
}

/* A uint32 (n,) array for known-word counts. */
static PyArrayObject *known_array(size_t n)
{
    npy_intp d = (npy_intp)n;
    return (PyArrayObject *)PyArray_ZEROS(1, &d, NPY_UINT32, 0);
}

PyObject *vspy_model_embed_list(PyObject *model, PyObject *texts, PyArrayObject **known)
{
    ModelObject *s = (ModelObject *)model;
    if (known) *known = NULL;
    if (m_usable(s)) return NULL;
    PyObject *keep;
    const char **t;
    size_t n;
    if (vspy_texts(texts, &keep, &t, &n)) return NULL;
    PyArrayObject *kn = known ? known_array(n) : NULL;
    PyObject *r = known && !kn ? NULL : embed_texts(s, t, n, 256, 1, kn ? PyArray_DATA(kn) : NULL);
    PyMem_Free(t);
    Py_DECREF(keep);
    if (r && known) *known = kn;
    else Py_XDECREF(kn);
    return r;
}

static PyObject *m_embed(ModelObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"texts", "batch_size", "threads", "normalize", "return_known", NULL};
    PyObject *texts, *bo = Py_None, *tho = Py_None;
    int normalize = 1, want_known = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOp$p:embed", kwlist, &texts, &bo, &tho, &normalize,
                                     &want_known) ||
        m_usable(s))
        return NULL;
    uint32_t batch, threads;
    if (vspy_uint_arg(bo, "batch_size", 1u << 30, 32, &batch) || vspy_uint_arg(tho, "threads", 4096, 1, &threads))
        return NULL;
    if (batch == 0) return vspy_raise_msg(VS_ERR_INVALID_ARG, "batch_size must be at least 1");
    if (!normalize && s->normalizes)
        return vspy_raise_msg(VS_ERR_UNSUPPORTED,
                              "model \"%s\" always returns unit vectors: normalize=False is not available", s->name);
    PyObject *keep;
    const char **t;
    size_t n;
    if (vspy_texts(texts, &keep, &t, &n)) return NULL;
    PyArrayObject *kn = want_known ? known_array(n) : NULL;
    PyObject *r = want_known && !kn ? NULL : embed_texts(s, t, n, batch, threads, kn ? PyArray_DATA(kn) : NULL);
    PyMem_Free(t);
    Py_DECREF(keep);
    if (r && normalize && !s->normalizes) {
        float *o = PyArray_DATA((PyArrayObject *)r);
        for (size_t i = 0; i < n; i++) {
            double ss = 0;
            for (size_t d = 0; d < s->dim; d++) ss += (double)o[i * s->dim + d] * o[i * s->dim + d];
            if (ss > 0)
                for (size_t d = 0; d < s->dim; d++) o[i * s->dim + d] = (float)(o[i * s->dim + d] / sqrt(ss));
        }
    }
    if (!want_known) return r;
    if (!r) {
        Py_XDECREF(kn);
        return NULL;
    }
    return Py_BuildValue("(NN)", r, (PyObject *)kn);
}

static PyObject *m_tokenize(ModelObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", NULL};
    PyObject *to;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "U:tokenize", kwlist, &to) || m_usable(s)) return NULL;
    Py_ssize_t bl;
    const char *text = PyUnicode_AsUTF8AndSize(to, &bl);
    if (!text) return NULL;
    if ((size_t)bl != strlen(text)) return vspy_raise_msg(VS_ERR_INVALID_ARG, "text contains a NUL character");
    size_t cap = 64, n = 0;
    int32_t *ids = NULL;
    int rc = 0, closed = 0;
    for (;;) {
        int32_t *nb = realloc(ids, cap * sizeof *ids);
        if (!nb) {
            free(ids);
            return PyErr_NoMemory();
        }
        ids = nb;
        Py_BEGIN_ALLOW_THREADS
        vspy_rdlock(&s->lock);
        if (s->m) rc = vs_model_tokenize(s->m, text, ids, cap, &n);
        else closed = 1;
        vspy_unlock(&s->lock);
        Py_END_ALLOW_THREADS
        if (closed || rc || n <= cap) break;
        cap = n;
    }
    if (closed || rc) {
        free(ids);
        return closed ? vspy_closed("Model") : vspy_raise(rc, 0);
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *v = PyLong_FromLong(ids[i]);
        if (!v) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    free(ids);
    return list;
}

static PyObject *m_close(ModelObject *s, PyObject *noargs)
{
    (void)noargs;
    if (!s->lock_ok) Py_RETURN_NONE;
    Py_BEGIN_ALLOW_THREADS
    vspy_wrlock(&s->lock);
    vs_model_free(s->m);
    s->m = NULL;
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *m_enter(ModelObject *s, PyObject *noargs)
{
    (void)noargs;
    if (m_usable(s)) return NULL;
    Py_INCREF(s);
    return (PyObject *)s;
}

static PyObject *m_exit(ModelObject *s, PyObject *args)
{
    (void)args;
    Py_XDECREF(m_close(s, NULL));
    Py_RETURN_FALSE;
}

static PyObject *get_dim(ModelObject *s, void *c) { (void)c; return m_usable(s) ? NULL : PyLong_FromSize_t(s->dim); }
static PyObject *get_name(ModelObject *s, void *c) { (void)c; return PyUnicode_FromString(s->name); }
static PyObject *get_norm(ModelObject *s, void *c) { (void)c; return PyBool_FromLong(s->normalizes); }

static PyObject *m_repr(ModelObject *s)
{
    return PyUnicode_FromFormat("<vecscale.Model '%s' dim=%zu%s>", s->name, s->dim, s->m ? "" : " (closed)");
}

static PyMethodDef m_methods[] = {
    {"embed", (PyCFunction)(void (*)(void))m_embed, METH_VARARGS | METH_KEYWORDS,
     "embed(texts, batch_size=32, threads=1, normalize=True, *, return_known=False)\n--\n\n"
     "Embeds a list of non-empty str into float32 (n, dim), batch_size texts per library call,\n"
     "on `threads` threads. Results do not depend on batch_size or threads. The built-in models\n"
     "return unit vectors; normalize=False raises UnsupportedError for them. The GIL is\n"
     "released meanwhile, so Python threads embedding at once scale.\n"
     "return_known=True returns (E, known): known is uint32 (n,), the number of words (GloVe)\n"
     "or word pieces (BERT, not counting [CLS]/[SEP]/[UNK]) of each text the model knows.\n"
     "known[i] == 0 means row i is the model's fallback vector, the same for every such text:\n"
     "it carries no meaning (Collection.query answers such a text with no results)."},
    {"tokenize", (PyCFunction)(void (*)(void))m_tokenize, METH_VARARGS | METH_KEYWORDS,
     "tokenize(text)\n--\n\nThe token ids the model embeds for text: BERT WordPiece ids [CLS] ... [SEP]\n"
     "(cut to max_seq_length); for GloVe models the vocabulary row of each word, -1 if unknown."},
    {"close", (PyCFunction)m_close, METH_NOARGS, "close()\n--\n\nReleases the model; later calls raise ClosedError."},
    {"__enter__", (PyCFunction)m_enter, METH_NOARGS, "Returns the model itself."},
    {"__exit__", (PyCFunction)m_exit, METH_VARARGS, "Closes the model."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef m_getset[] = {
    {"dim", (getter)get_dim, NULL, "Output dimension (100 for glove-100, 384 for all-MiniLM-L6-v2).", NULL},
    {"name", (getter)get_name, NULL, "The model's name.", NULL},
    {"normalizes", (getter)get_norm, NULL, "Whether the model returns unit vectors itself.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject vspy_ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vecscale.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Model(name)\n--\n\nA text embedding model: \"glove-100-sif\" (the default: GloVe word vectors weighted by\n"
              "smooth inverse frequency), \"glove-100\" (plain average; both made by scripts/fetch_models.sh),\n"
              "a .vsm file, or a sentence-transformers directory (BERT, e.g. all-MiniLM-L6-v2). Names resolve\n"
              "in $VECSCALE_MODEL_DIR, then the installed share/vecscale/models (export\n"
              "VECSCALE_MODEL_DIR=$PWD/models in a checkout). MissingFileError if not found.",
    .tp_new = m_new,
    .tp_init = (initproc)m_init,
    .tp_dealloc = (destructor)m_dealloc,
    .tp_methods = m_methods,
    .tp_getset = m_getset,
    .tp_repr = (reprfunc)m_repr,
};
