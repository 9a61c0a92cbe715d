/* vecscale.Index: a vs_index behind a per-object lock, the GIL released around every call
 * that does work. */
#include "vspy.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    vs_index *ix;
    vspy_lock lock;
    int lock_ok;
    int hnsw;        /* the library lets one writer run beside searches */
    int image_fresh; /* loaded/viewed HNSW: its first write copies the image and must be alone */
    uint32_t dim;    /* copies of immutable properties: s->ix may be freed by a concurrent close */
    vs_metric metric;
} IndexObject;

typedef enum { M_READ, M_WRITE, M_SAVE, M_EXCL } lock_mode;

/* Called with the GIL released. HNSW adds and removes share the lock with readers and exclude
 * each other (and saves) with the writer mutex, as the library's rules allow; every other
 * writer, train, and close are exclusive (M_EXCL). */
static int enter(IndexObject *s, lock_mode m)
{
    switch (m) {
    case M_READ: vspy_rdlock(&s->lock); return 0;
    case M_SAVE:
        vspy_rdlock(&s->lock);
        pthread_mutex_lock(&s->lock.writer);
        return 0;
    case M_WRITE:
        if (s->hnsw && !__atomic_load_n(&s->image_fresh, __ATOMIC_ACQUIRE)) {
            vspy_rdlock(&s->lock);
            pthread_mutex_lock(&s->lock.writer);
            return 0;
        }
        vspy_wrlock(&s->lock);
        return 1; /* exclusive */
    case M_EXCL: vspy_wrlock(&s->lock); return 1;
    }
    return 0;
}

static void leave(IndexObject *s, lock_mode m, int exclusive)
{
    if ((m == M_WRITE && !exclusive) || m == M_SAVE) pthread_mutex_unlock(&s->lock.writer);
    vspy_unlock(&s->lock);
}

/* Refuses calls made from inside this index's own filter callable (they would wait on the
 * lock the search holds). */
static int check_usable(IndexObject *s)
{
    if (!s->lock_ok) {
        vspy_closed("Index");
        return -1;
    }
    if (vspy_in_own_filter(s)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "an Index cannot be used from inside its own search filter");
        return -1;
    }
    if (!s->ix) {
        vspy_closed("Index");
        return -1;
    }
    return 0;
}

static int hnsw_factory(const char *factory)
{
    vs_factory_spec sp = {.struct_size = sizeof sp};
    return factory && vs_factory_parse(factory, &sp) == VS_OK && sp.coarse == VS_COARSE_HNSW && !sp.shards;
}

static IndexObject *alloc_index(PyTypeObject *type)
{
    IndexObject *s = (IndexObject *)type->tp_alloc(type, 0);
    if (!s) return NULL;
    if (vspy_lock_init(&s->lock)) {
        Py_DECREF(s);
        PyErr_SetString(PyExc_OSError, "cannot create a lock");
        return NULL;
    }
    s->lock_ok = 1;
    return s;
}

static PyObject *index_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    return (PyObject *)alloc_index(type);
}

static int index_init(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"dim", "factory", "metric", "seed", "threads", "ef_construction", NULL};
    PyObject *dimo, *seedo = Py_None, *threadso = Py_None, *efco = Py_None;
    const char *factory = "Flat", *metric = "l2";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|ss$OOO:Index", kwlist, &dimo, &factory, &metric, &seedo,
                                     &threadso, &efco))
        return -1;
    if (s->ix) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "Index is already initialised");
        return -1;
    }
    vs_index_options o;
    vs_index_options_init(&o);
    if (vspy_uint_arg(dimo, "dim", 65536, 0, &o.dim) || vspy_uint_arg(threadso, "threads", 4096, 1, &o.n_threads) ||
        vspy_uint_arg(efco, "ef_construction", 1u << 20, 0, &o.ef_construction))
        return -1;
    if (o.dim == 0) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "dim must be in 1..65536");
        return -1;
    }
    if (seedo != Py_None) {
        unsigned long long v = PyLong_AsUnsignedLongLong(seedo);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            vspy_raise_msg(VS_ERR_INVALID_ARG, "seed must be a non-negative int below 2^64");
            return -1;
        }
        o.seed = v;
    }
    int rc = vs_metric_parse(metric, &o.metric);
    if (rc) {
        vspy_raise(rc, 0);
        return -1;
    }
    o.factory = factory;
    vs_index *ix = NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = vs_index_create(&o, &ix);
    Py_END_ALLOW_THREADS
    if (rc) {
        vspy_raise(rc, 0);
        return -1;
    }
    s->ix = ix;
    s->dim = vs_index_dim(ix);
    s->metric = vs_index_metric(ix);
    s->hnsw = hnsw_factory(vs_index_factory(ix));
    return 0;
}

static void index_dealloc(IndexObject *s)
{
    /* No other thread can hold a reference now, so no lock is needed. */
    vs_index_free(s->ix);
    s->ix = NULL;
    if (s->lock_ok) vspy_lock_destroy(&s->lock);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* ---- training and adding ---- */

static PyObject *index_train(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", NULL};
    PyObject *xo;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:train", kwlist, &xo) || check_usable(s)) return NULL;
    vspy_matrix x;
    if (vspy_matrix_get(xo, s->dim, 0, "training vectors", &x)) return NULL;
    int rc = 0, closed = 0, ex;
    Py_BEGIN_ALLOW_THREADS
    ex = enter(s, M_EXCL);
    if (s->ix) rc = vs_index_train(s->ix, x.n, x.data);
    else closed = 1;
    leave(s, M_EXCL, ex);
    Py_END_ALLOW_THREADS
    vspy_matrix_release(&x);
    if (closed) return vspy_closed("Index");
    if (rc) return vspy_raise(rc, 0);
    Py_RETURN_NONE;
}

static PyObject *index_add(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "ids", NULL};
    PyObject *xo, *idso = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:add", kwlist, &xo, &idso) || check_usable(s)) return NULL;
    vspy_matrix x;
    if (vspy_matrix_get(xo, s->dim, 1, "vectors", &x)) return NULL;
    PyArrayObject *ids = NULL;
    if (idso != Py_None) {
        if (vspy_ids_get(idso, "ids", &ids)) goto fail;
        if ((size_t)PyArray_SIZE(ids) != x.n) {
            vspy_raise_msg(VS_ERR_INVALID_ARG, "%zu vectors but %zd ids", x.n, (Py_ssize_t)PyArray_SIZE(ids));
            goto fail;
        }
    }
    npy_intp n = (npy_intp)x.n;
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT64);
    if (!out) goto fail;
    int64_t *o = PyArray_DATA(out);
    const int64_t *given = ids ? PyArray_DATA(ids) : NULL;
    int rc = 0, closed = 0, ex;
    Py_BEGIN_ALLOW_THREADS
    ex = enter(s, M_WRITE);
    if (!s->ix) {
        closed = 1;
    } else {
        int64_t first = vs_index_next_id(s->ix);
        rc = vs_index_add(s->ix, x.n, x.data, given);
        if (!rc) {
            if (given) memcpy(o, given, x.n * sizeof *o);
            else for (size_t i = 0; i < x.n; i++) o[i] = first + (int64_t)i;
            if (ex) __atomic_store_n(&s->image_fresh, 0, __ATOMIC_RELEASE);
        }
    }
    leave(s, M_WRITE, ex);
    Py_END_ALLOW_THREADS
    vspy_matrix_release(&x);
    Py_XDECREF(ids);
    if (closed || rc) {
        Py_DECREF(out);
        return closed ? vspy_closed("Index") : vspy_raise(rc, 0);
    }
    return (PyObject *)out;
fail:
    vspy_matrix_release(&x);
    Py_XDECREF(ids);
    return NULL;
}

static PyObject *index_remove(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", NULL};
    PyObject *idso;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:remove", kwlist, &idso) || check_usable(s)) return NULL;
    PyArrayObject *ids;
    if (vspy_ids_get(idso, "ids", &ids)) return NULL;
    size_t n = (size_t)PyArray_SIZE(ids), removed = 0;
    const int64_t *v = PyArray_DATA(ids);
    int rc = 0, closed = 0, ex;
    Py_BEGIN_ALLOW_THREADS
    ex = enter(s, M_WRITE);
    if (s->ix) {
        rc = vs_index_remove(s->ix, n, v, &removed);
        if (!rc && ex) __atomic_store_n(&s->image_fresh, 0, __ATOMIC_RELEASE);
    } else {
        closed = 1;
    }
    leave(s, M_WRITE, ex);
    Py_END_ALLOW_THREADS
    Py_DECREF(ids);
    if (closed) return vspy_closed("Index");
    if (rc) return vspy_raise(rc, 0);
    return PyLong_FromSize_t(removed);
}

/* ---- searching ---- */

int vspy_search_params(PyObject *nprobe, PyObject *ef, PyObject *k_factor, PyObject *threads,
                       vs_search_params *p)
{
    vs_search_params_init(p);
    if (vspy_uint_arg(nprobe, "nprobe", UINT32_MAX, 0, &p->nprobe) ||
        vspy_uint_arg(ef, "ef", UINT32_MAX, 0, &p->ef_search) ||
        vspy_uint_arg(threads, "threads", 4096, 1, &p->n_threads))
        return -1;
    if (k_factor && k_factor != Py_None) {
        double f = PyFloat_AsDouble(k_factor);
        if (f == -1.0 && PyErr_Occurred()) return -1;
        if (!(f >= 1.0 && f <= 1e6)) {
            vspy_raise_msg(VS_ERR_INVALID_ARG, "k_factor must be a number >= 1");
            return -1;
        }
        p->k_factor = (float)f;
    }
    return 0;
}

static int parse_k(PyObject *ko, uint32_t *k)
{
    if (PyBool_Check(ko) || !PyIndex_Check(ko)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "k must be an int");
        return -1;
    }
    PyObject *i = PyNumber_Index(ko);
    if (!i) return -1;
    int ov = 0;
    long long v = PyLong_AsLongLongAndOverflow(i, &ov);
    Py_DECREF(i);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (ov || v < 1 || v > 100000) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "k must be in 1..100000, got %s%lld", ov ? "a huge " : "", ov ? 0 : v);
        return -1;
    }
    *k = (uint32_t)v;
    return 0;
}

static PyObject *index_search(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"q", "k", "nprobe", "ef", "k_factor", "threads", "filter", NULL};
    PyObject *qo, *ko, *nprobe = Py_None, *ef = Py_None, *kf = Py_None, *th = Py_None, *filt = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$OOOOO:search", kwlist, &qo, &ko, &nprobe, &ef, &kf, &th, &filt) ||
        check_usable(s))
        return NULL;
    uint32_t k;
    vs_search_params p;
    if (parse_k(ko, &k) || vspy_search_params(nprobe, ef, kf, th, &p)) return NULL;
    vspy_matrix q;
    if (vspy_matrix_get(qo, s->dim, 1, "queries", &q)) return NULL;
    vspy_filter f;
    if (vspy_filter_build(filt, s, &f)) {
        vspy_matrix_release(&q);
        return NULL;
    }
    if (f.f.kind != VS_FILTER_NONE) p.filter = &f.f;
    npy_intp dims[2] = {(npy_intp)q.n, (npy_intp)k};
    PyArrayObject *D = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    PyArrayObject *I = D ? (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_INT64) : NULL;
    int rc = 0, closed = 0;
    if (I) {
        float *dd = PyArray_DATA(D);
        int64_t *ii = PyArray_DATA(I);
        Py_BEGIN_ALLOW_THREADS
        enter(s, M_READ);
        if (s->ix) rc = vs_index_search(s->ix, q.n, q.data, k, &p, dd, ii);
        else closed = 1;
        leave(s, M_READ, 0);
        Py_END_ALLOW_THREADS
    }
    vspy_matrix_release(&q);
    int ferr = vspy_filter_finish(&f);
    vspy_filter_release(&f);
    if (!I || closed || rc || ferr) {
        Py_XDECREF(D);
        Py_XDECREF(I);
        if (ferr) return NULL;
        if (closed) return vspy_closed("Index");
        return rc ? vspy_raise(rc, 0) : NULL;
    }
    return Py_BuildValue("(NN)", D, I);
}

static PyObject *index_range_search(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"q", "radius", "nprobe", "ef", "threads", "filter", NULL};
    PyObject *qo, *nprobe = Py_None, *ef = Py_None, *th = Py_None, *filt = Py_None;
    double radius;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Od|$OOOO:range_search", kwlist, &qo, &radius, &nprobe, &ef, &th,
                                     &filt) ||
        check_usable(s))
        return NULL;
    vs_search_params p;
    if (vspy_search_params(nprobe, ef, NULL, th, &p)) return NULL;
    vspy_matrix q;
    if (vspy_matrix_get(qo, s->dim, 1, "queries", &q)) return NULL;
    vspy_filter f;
    if (vspy_filter_build(filt, s, &f)) {
        vspy_matrix_release(&q);
        return NULL;
    }
    if (f.f.kind != VS_FILTER_NONE) p.filter = &f.f;
    vs_range_result *r = NULL;
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    enter(s, M_READ);
    if (s->ix) rc = vs_index_range_search(s->ix, q.n, q.data, (float)radius, &p, &r);
    else closed = 1;
    leave(s, M_READ, 0);
    Py_END_ALLOW_THREADS
    vspy_matrix_release(&q);
    int ferr = vspy_filter_finish(&f);
    vspy_filter_release(&f);
    if (ferr || closed || rc) {
        vs_range_result_free(r);
        if (ferr) return NULL;
        return closed ? vspy_closed("Index") : vspy_raise(rc, 0);
    }
    npy_intp nl = (npy_intp)r->nq + 1, nh = (npy_intp)r->lims[r->nq];
    PyArrayObject *L = (PyArrayObject *)PyArray_SimpleNew(1, &nl, NPY_INT64);
    PyArrayObject *D = (PyArrayObject *)PyArray_SimpleNew(1, &nh, NPY_FLOAT32);
    PyArrayObject *I = (PyArrayObject *)PyArray_SimpleNew(1, &nh, NPY_INT64);
    if (!L || !D || !I) {
        Py_XDECREF(L);
        Py_XDECREF(D);
        Py_XDECREF(I);
        vs_range_result_free(r);
        return NULL;
    }
    int64_t *l = PyArray_DATA(L);
    for (npy_intp i = 0; i < nl; i++) l[i] = (int64_t)r->lims[i];
    if (nh) {
        memcpy(PyArray_DATA(D), r->distances, (size_t)nh * sizeof(float));
        memcpy(PyArray_DATA(I), r->ids, (size_t)nh * sizeof(int64_t));
    }
    vs_range_result_free(r);
    return Py_BuildValue("(NNN)", L, D, I);
}

/* ---- stored vectors ---- */

static PyObject *get_rows(IndexObject *s, PyArrayObject *ids, int one)
{
    size_t n = (size_t)PyArray_SIZE(ids);
    uint32_t d = s->dim;
    npy_intp dims[2] = {(npy_intp)n, (npy_intp)d};
    PyArrayObject *out = one ? (PyArrayObject *)PyArray_SimpleNew(1, dims + 1, NPY_FLOAT32)
                             : (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out) return NULL;
    float *o = PyArray_DATA(out);
    const int64_t *v = PyArray_DATA(ids);
    int rc = 0, closed = 0;
    int64_t bad = 0;
    Py_BEGIN_ALLOW_THREADS
    enter(s, M_READ);
    if (!s->ix) closed = 1;
    for (size_t i = 0; !closed && !rc && i < n; i++) {
        rc = vs_index_get(s->ix, v[i], o + i * d);
        bad = v[i];
    }
    leave(s, M_READ, 0);
    Py_END_ALLOW_THREADS
    if (closed || rc) {
        Py_DECREF(out);
        if (closed) return vspy_closed("Index");
        if (rc == VS_ERR_NOT_FOUND) return vspy_raise_msg(rc, "id %lld is not in the index", (long long)bad);
        return vspy_raise(rc, 0);
    }
    return (PyObject *)out;
}

static PyObject *index_reconstruct(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", NULL};
    PyObject *ido;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:reconstruct", kwlist, &ido) || check_usable(s)) return NULL;
    if (PyBool_Check(ido) || !PyIndex_Check(ido)) return vspy_raise_msg(VS_ERR_INVALID_ARG, "id must be an int");
    PyArrayObject *ids;
    if (vspy_ids_get(ido, "id", &ids)) return NULL;
    PyObject *r = get_rows(s, ids, 1);
    Py_DECREF(ids);
    return r;
}

static PyObject *index_get(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", NULL};
    PyObject *ido;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:get", kwlist, &ido) || check_usable(s)) return NULL;
    PyArrayObject *ids;
    if (vspy_ids_get(ido, "ids", &ids)) return NULL;
    PyObject *r = get_rows(s, ids, 0);
    Py_DECREF(ids);
    return r;
}

/* ---- files ---- */

static PyObject *index_save(IndexObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", NULL};
    PyObject *po;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&:save", kwlist, PyUnicode_FSConverter, &po)) return NULL;
    if (check_usable(s)) {
        Py_DECREF(po);
        return NULL;
    }
    const char *path = PyBytes_AS_STRING(po);
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    enter(s, M_SAVE);
    if (s->ix) rc = vs_index_save(s->ix, path);
    else closed = 1;
    leave(s, M_SAVE, 0);
    Py_END_ALLOW_THREADS
    Py_DECREF(po);
    if (closed) return vspy_closed("Index");
    if (rc) return vspy_raise(rc, 1);
    Py_RETURN_NONE;
}

static PyObject *open_file(PyTypeObject *type, PyObject *args, PyObject *kw, int view)
{
    static char *kwlist[] = {"path", NULL};
    PyObject *po;
    if (!PyArg_ParseTupleAndKeywords(args, kw, view ? "O&:view" : "O&:load", kwlist, PyUnicode_FSConverter, &po))
        return NULL;
    const char *path = PyBytes_AS_STRING(po);
    vs_index *ix = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = view ? vs_index_view(path, &ix) : vs_index_load(path, &ix);
    Py_END_ALLOW_THREADS
    Py_DECREF(po);
    if (rc) return vspy_raise(rc, 1);
    IndexObject *s = alloc_index(type);
    if (!s) {
        vs_index_free(ix);
        return NULL;
    }
    s->ix = ix;
    s->dim = vs_index_dim(ix);
    s->metric = vs_index_metric(ix);
    s->hnsw = hnsw_factory(vs_index_factory(ix));
    s->image_fresh = s->hnsw;
    return (PyObject *)s;
}

static PyObject *index_load(PyObject *cls, PyObject *args, PyObject *kw)
{
    return open_file((PyTypeObject *)cls, args, kw, 0);
}

static PyObject *index_view(PyObject *cls, PyObject *args, PyObject *kw)
{
    return open_file((PyTypeObject *)cls, args, kw, 1);
}

/* ---- lifetime ---- */

static PyObject *index_close(IndexObject *s, PyObject *noargs)
{
    (void)noargs;
    if (!s->lock_ok || !s->ix) Py_RETURN_NONE;
    if (vspy_in_own_filter(s))
        return vspy_raise_msg(VS_ERR_INVALID_ARG, "an Index cannot be closed from inside its own search filter");
    vs_index *ix;
    Py_BEGIN_ALLOW_THREADS
    enter(s, M_EXCL);
    ix = s->ix;
    s->ix = NULL;
    leave(s, M_EXCL, 1);
    vs_index_free(ix);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *index_enter(IndexObject *s, PyObject *noargs)
{
    (void)noargs;
    if (check_usable(s)) return NULL;
    Py_INCREF(s);
    return (PyObject *)s;
}

static PyObject *index_exit(IndexObject *s, PyObject *args)
{
    (void)args;
    PyObject *r = index_close(s, NULL);
    if (!r) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

/* ---- properties ---- */

static Py_ssize_t index_len(IndexObject *s)
{
    if (check_usable(s)) return -1;
    size_t n = 0;
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    enter(s, M_READ);
    if (s->ix) n = vs_index_size(s->ix);
    else closed = 1;
    leave(s, M_READ, 0);
    Py_END_ALLOW_THREADS
    if (closed) {
        vspy_closed("Index");
        return -1;
    }
    return (Py_ssize_t)n;
}

static PyObject *get_dim(IndexObject *s, void *c)
{
    (void)c;
    return check_usable(s) ? NULL : PyLong_FromUnsignedLong(s->dim);
}

static PyObject *get_metric(IndexObject *s, void *c)
{
    (void)c;
    return check_usable(s) ? NULL : PyUnicode_FromString(vs_metric_name(s->metric));
}

/* The factory string and trained flag change under train(), so they are read under the lock. */
static PyObject *get_factory(IndexObject *s, void *c)
{
    (void)c;
    if (check_usable(s)) return NULL;
    char buf[256] = "";
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    enter(s, M_READ);
    if (s->ix) snprintf(buf, sizeof buf, "%s", vs_index_factory(s->ix));
    else closed = 1;
    leave(s, M_READ, 0);
    Py_END_ALLOW_THREADS
    return closed ? vspy_closed("Index") : PyUnicode_FromString(buf);
}

static PyObject *read_size(IndexObject *s, int what)
{
    if (check_usable(s)) return NULL;
    size_t v = 0;
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    /* memory_bytes must not overlap an HNSW writer: take the writer mutex for it too. */
    enter(s, what == 0 ? M_SAVE : M_READ);
    if (!s->ix) closed = 1;
    else if (what == 0) v = vs_index_memory_bytes(s->ix);
    else if (what == 1) v = (size_t)vs_index_is_trained(s->ix);
    else if (what == 2) v = vs_index_code_size(s->ix);
    else v = (size_t)vs_index_is_mapped(s->ix);
    leave(s, what == 0 ? M_SAVE : M_READ, 0);
    Py_END_ALLOW_THREADS
    if (closed) return vspy_closed("Index");
    if (what == 1 || what == 3) return PyBool_FromLong((long)v);
    return PyLong_FromSize_t(v);
}

static PyObject *get_memory(IndexObject *s, void *c) { (void)c; return read_size(s, 0); }
static PyObject *get_trained(IndexObject *s, void *c) { (void)c; return read_size(s, 1); }
static PyObject *get_code_size(IndexObject *s, void *c) { (void)c; return read_size(s, 2); }
static PyObject *get_mapped(IndexObject *s, void *c) { (void)c; return read_size(s, 3); }
static PyObject *get_closed(IndexObject *s, void *c)
{
    (void)c;
    return PyBool_FromLong(!s->ix);
}

static PyObject *index_repr(IndexObject *s)
{
    if (!s->ix) return PyUnicode_FromString("<vecscale.Index (closed)>");
    PyObject *f = get_factory(s, NULL);
    if (!f) return NULL;
    PyObject *r = PyUnicode_FromFormat("<vecscale.Index dim=%u factory='%U' metric='%s'>", s->dim, f,
                                       vs_metric_name(s->metric));
    Py_DECREF(f);
    return r;
}

static PyMethodDef index_methods[] = {
    {"train", (PyCFunction)(void (*)(void))index_train, METH_VARARGS | METH_KEYWORDS,
     "train(x)\n--\n\nTrains the index on x, an (n, dim) float array-like (a no-op for Flat and HNSW).\n"
     "IVF needs at least nlist vectors, PQ at least 2**bits. The GIL is released meanwhile."},
    {"add", (PyCFunction)(void (*)(void))index_add, METH_VARARGS | METH_KEYWORDS,
     "add(x, ids=None)\n--\n\nAdds x, (n, dim) or one (dim,) vector, float32/float64 (ints are converted).\n"
     "ids: n unique non-negative int64 ids, or None to assign consecutive ids after the largest\n"
     "ever used. All or nothing: a NaN/Inf, a zero vector under cosine or a duplicate id adds\n"
     "nothing. Returns the int64 array of ids used. The GIL is released meanwhile."},
    {"search", (PyCFunction)(void (*)(void))index_search, METH_VARARGS | METH_KEYWORDS,
     "search(q, k, *, nprobe=None, ef=None, k_factor=None, threads=None, filter=None)\n--\n\n"
     "k nearest neighbours of each query. q: (nq, dim), or one (dim,) vector (answered as nq = 1).\n"
     "Returns (D, I): float32 (nq, k) scores best first (squared L2 distance for l2, similarity\n"
     "for ip and cosine) and int64 (nq, k) ids, -1 (score +-inf) where fewer than k qualify.\n"
     "nprobe: IVF lists visited; ef: HNSW candidate list (default max(k, 64)); k_factor:\n"
     "re-ranking depth of ',RFlat'; threads: threads for this call (default 1).\n"
     "filter: allowed ids (array, list, set) or a callable id -> bool. A callable takes the GIL\n"
     "for each candidate it judges (about 0.1-0.2 us each, see the README), so prefer id sets.\n"
     "Raises InvalidArgumentError on an empty index, NotTrainedError before training."},
    {"range_search", (PyCFunction)(void (*)(void))index_range_search, METH_VARARGS | METH_KEYWORDS,
     "range_search(q, radius, *, nprobe=None, ef=None, threads=None, filter=None)\n--\n\n"
     "All stored vectors within radius of each query: squared L2 distance < radius for l2,\n"
     "score > radius for ip and cosine. Returns (lims, D, I): query i's hits are\n"
     "I[lims[i]:lims[i+1]] with scores D[lims[i]:lims[i+1]], best first."},
    {"remove", (PyCFunction)(void (*)(void))index_remove, METH_VARARGS | METH_KEYWORDS,
     "remove(ids)\n--\n\nRemoves the given ids (absent ones are ignored); returns how many were removed."},
    {"reconstruct", (PyCFunction)(void (*)(void))index_reconstruct, METH_VARARGS | METH_KEYWORDS,
     "reconstruct(id)\n--\n\nThe stored vector of id as float32 (dim,) (normalised under cosine; decoded\n"
     "for quantised indexes). NotFoundError if absent."},
    {"get", (PyCFunction)(void (*)(void))index_get, METH_VARARGS | METH_KEYWORDS,
     "get(ids)\n--\n\nThe stored vectors of ids as float32 (n, dim). NotFoundError if one is absent."},
    {"save", (PyCFunction)(void (*)(void))index_save, METH_VARARGS | METH_KEYWORDS,
     "save(path)\n--\n\nWrites the index to path atomically (temporary file, fsync, rename)."},
    {"load", (PyCFunction)(void (*)(void))index_load, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "load(path)\n--\n\nReads an index file into memory, verifying every checksum."},
    {"view", (PyCFunction)(void (*)(void))index_view, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "view(path)\n--\n\nMaps an index file read-only: vectors are paged in when used. The first\n"
     "add/remove copies the data into memory."},
    {"close", (PyCFunction)index_close, METH_NOARGS,
     "close()\n--\n\nFrees the index now (waits for calls in flight). Later calls raise ClosedError."},
    {"__enter__", (PyCFunction)index_enter, METH_NOARGS, "Returns the index itself."},
    {"__exit__", (PyCFunction)index_exit, METH_VARARGS, "Closes the index."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef index_getset[] = {
    {"dim", (getter)get_dim, NULL, "Vector dimension.", NULL},
    {"metric", (getter)get_metric, NULL, "\"l2\", \"ip\" or \"cosine\".", NULL},
    {"factory", (getter)get_factory, NULL, "Canonical factory string, e.g. \"IVF1024,PQ32x4fs,RFlat\".", NULL},
    {"memory_bytes", (getter)get_memory, NULL, "Heap bytes the index holds (mapped pages not counted).", NULL},
    {"is_trained", (getter)get_trained, NULL, "Whether add() and search() can be used.", NULL},
    {"code_size", (getter)get_code_size, NULL, "Bytes stored per vector (4 * dim for Flat), without ids.", NULL},
    {"is_mapped", (getter)get_mapped, NULL, "Whether the data is still read from a view()'s mapping.", NULL},
    {"closed", (getter)get_closed, NULL, "Whether close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods index_seq = {.sq_length = (lenfunc)index_len};

PyTypeObject vspy_IndexType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vecscale.Index",
    .tp_basicsize = sizeof(IndexObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Index(dim, factory=\"Flat\", metric=\"l2\", *, seed=None, threads=None, ef_construction=None)\n--\n\n"
              "A vector index over libvecscale. factory: FAISS-style description (\"Flat\",\n"
              "\"IVF1024,Flat\", \"IVF1024,PQ32x4fs,RFlat\", \"HNSW32\", \"HNSW32,SQ8\", \"SQ8\", \"PQ16\", ...);\n"
              "metric: \"l2\" (squared distances, smaller first), \"ip\" or \"cosine\" (similarities, larger\n"
              "first; cosine normalises vectors on add and queries on search). seed: training / HNSW\n"
              "level seed; threads: threads train() and add() may use (default 1).\n\n"
              "Thread-safety: any number of Python threads may search at once; add/remove/train wait\n"
              "for searches in flight (HNSW: one add runs beside searches); close() waits for calls in\n"
              "flight. The GIL is released during every call that does work.\n"
              "Usable as a context manager (closes on exit).",
    .tp_new = index_new,
    .tp_init = (initproc)index_init,
    .tp_dealloc = (destructor)index_dealloc,
    .tp_methods = index_methods,
    .tp_getset = index_getset,
    .tp_as_sequence = &index_seq,
    .tp_repr = (reprfunc)index_repr,
};
