/* vecscale.Collection: the on-disk collection `vecscale serve` serves (index + documents +
 * write-ahead log). The library makes every call safe concurrently; the object lock here only
 * keeps close() from freeing the collection under a call in flight. */
#include "collection.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int vspy_coll_usable(CollObject *s)
{
    if (!s->lock_ok || !s->c) {
        vspy_closed("Collection");
        return -1;
    }
    if (vspy_in_own_filter(s)) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "a Collection cannot be used from inside its own search filter");
        return -1;
    }
    return 0;
}

static CollObject *c_alloc(PyTypeObject *type, vs_collection *c)
{
    CollObject *s = (CollObject *)type->tp_alloc(type, 0);
    if (!s) {
        vs_collection_close(c);
        return NULL;
    }
    if (vspy_lock_init(&s->lock)) {
        vs_collection_close(c);
        Py_DECREF(s);
        return (CollObject *)PyErr_NoMemory();
    }
    s->lock_ok = 1;
    s->c = c;
    vs_collection_info in = {.struct_size = sizeof in};
    vs_collection_info_get(c, &in);
    s->dim = in.dim;
    s->metric = in.metric;
    snprintf(s->factory, sizeof s->factory, "%s", in.factory);
    snprintf(s->model, sizeof s->model, "%s", in.model);
    return s;
}

static void c_dealloc(CollObject *s)
{
    vs_collection_close(s->c);
    Py_CLEAR(s->model_obj);
    if (s->lock_ok) vspy_lock_destroy(&s->lock);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyObject *c_create(PyObject *cls, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "dim", "factory", "metric", "model", "train_min", "threads", NULL};
    PyObject *po, *dimo = Py_None, *modelo = Py_None, *tmo = Py_None, *tho = Py_None;
    const char *factory = "Flat", *metric = "cosine";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|OssO$OO:create", kwlist, PyUnicode_FSConverter, &po, &dimo,
                                     &factory, &metric, &modelo, &tmo, &tho))
        return NULL;
    vs_collection_options o;
    vs_collection_options_init(&o);
    PyObject *model = NULL, *model_name = NULL; /* model_name holds o.model's bytes */
    PyObject *ret = NULL;
    if (vspy_uint_arg(dimo, "dim", 65536, 0, &o.dim) || vspy_uint_arg(tmo, "train_min", UINT32_MAX, 0, &o.train_min) ||
        vspy_uint_arg(tho, "threads", 4096, 1, &o.n_threads))
        goto out;
    int rc = vs_metric_parse(metric, &o.metric);
    if (rc) {
        vspy_raise(rc, 0);
        goto out;
    }
    o.factory = factory;
    if (modelo != Py_None) {
        /* Open the model now: a name that does not resolve fails here, not at the first add;
         * its dimension fills in a missing dim. */
        if (PyUnicode_Check(modelo)) model = PyObject_CallOneArg((PyObject *)&vspy_ModelType, modelo);
        else if (PyObject_TypeCheck(modelo, &vspy_ModelType)) model = Py_NewRef(modelo);
        else vspy_raise_msg(VS_ERR_INVALID_ARG, "model must be a name, a path or a vecscale.Model");
        if (!model) goto out;
        PyObject *d = PyObject_GetAttrString(model, "dim");
        /* A model given as a path is recorded absolute (as `vecscale build` does), so a server
         * started elsewhere finds it; a name stays a name. */
        PyObject *nm = NULL;
        if (PyUnicode_Check(modelo)) {
            char abs[PATH_MAX];
            const char *mn = PyUnicode_AsUTF8(modelo);
            struct stat st;
            if (mn && stat(mn, &st) == 0 && realpath(mn, abs)) nm = PyUnicode_FromString(abs);
            else if (mn) nm = Py_NewRef(modelo);
        } else {
            nm = PyObject_GetAttrString(model, "name");
        }
        if (!d || !nm) {
            Py_XDECREF(d);
            Py_XDECREF(nm);
            goto out;
        }
        uint32_t md = (uint32_t)PyLong_AsUnsignedLong(d);
        Py_DECREF(d);
        model_name = nm;
        o.model = PyUnicode_AsUTF8(nm);
        if (!o.model) goto out;
        if (o.dim == 0) o.dim = md;
        if (o.dim != md) {
            vspy_raise_msg(VS_ERR_DIMENSION, "dim = %u but model \"%s\" embeds %u dimensions", o.dim, o.model, md);
            goto out;
        }
    }
    if (o.dim == 0) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "dim is required (1..65536) unless a model gives it");
        goto out;
    }
    const char *path = PyBytes_AS_STRING(po);
    vs_collection *c = NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = vs_collection_create(path, &o, &c);
    Py_END_ALLOW_THREADS
    if (rc) {
        vspy_raise(rc, 1);
        goto out;
    }
    Py_CLEAR(model_name);
    CollObject *s = c_alloc((PyTypeObject *)cls, c);
    if (s) {
        s->model_obj = model;
        model = NULL;
    }
    ret = (PyObject *)s;
out:
    Py_XDECREF(model_name);
    Py_XDECREF(model);
    Py_DECREF(po);
    return ret;
}

static PyObject *c_open(PyObject *cls, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", NULL};
    PyObject *po;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&:open", kwlist, PyUnicode_FSConverter, &po)) return NULL;
    const char *path = PyBytes_AS_STRING(po);
    vs_collection *c = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = vs_collection_open(path, &c);
    Py_END_ALLOW_THREADS
    Py_DECREF(po);
    if (rc) return vspy_raise(rc, 1);
    return (PyObject *)c_alloc((PyTypeObject *)cls, c);
}

/* The collection's model, opened once. */
static PyObject *c_model(CollObject *s)
{
    if (s->model_obj) return s->model_obj;
    if (!s->model[0])
        return vspy_raise_msg(VS_ERR_INVALID_ARG, "this collection has no model: pass vectors, not texts "
                                                  "(or create it with model=...)");
    s->model_obj = PyObject_CallFunction((PyObject *)&vspy_ModelType, "s", s->model);
    return s->model_obj;
}

/* known (may be NULL): a new uint32 array of each text's known-word count. */
static PyObject *embed_one_or_many(CollObject *s, PyObject *texts, PyArrayObject **known)
{
    PyObject *m = c_model(s);
    return m ? vspy_model_embed_list(m, texts, known) : NULL;
}

/* Refuses texts the model knows no word of, as the server's POST /index does (400
 * empty_embedding): their vector would be the model's fallback, the same for all of them. */
static int check_known(const char **texts, PyArrayObject *known)
{
    const uint32_t *kn = PyArray_DATA(known);
    for (npy_intp i = 0; i < PyArray_SIZE(known); i++) {
        if (kn[i]) continue;
        vspy_raise_msg(VS_ERR_INVALID_ARG,
                       "text %zd (\"%.80s\") has no word the model knows, so it has no vector: leave it out, "
                       "or pass vectors= to index it anyway", (Py_ssize_t)i, texts[i]);
        return -1;
    }
    return 0;
}

static int64_t *int_ids_of(vspy_idlist *l) { return l->n ? l->ids : NULL; }

/* metadata entries: dict/list (json.dumps), str (stored as given), or None. */
static int metadata_strings(PyObject *md, size_t n, PyObject **keep, const char ***out)
{
    *keep = NULL;
    *out = NULL;
    if (md == Py_None) return 0;
    PyObject *seq = PySequence_Fast(md, "metadata must be a list (one dict or JSON string per row)");
    if (!seq) return -1;
    if ((size_t)PySequence_Fast_GET_SIZE(seq) != n) {
        Py_DECREF(seq);
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%zu rows but %zd metadata entries", n, PySequence_Fast_GET_SIZE(seq));
        return -1;
    }
    PyObject *strs = PyList_New((Py_ssize_t)n);
    PyObject *json = PyImport_ImportModule("json");
    const char **t = PyMem_Calloc(n + 1, sizeof *t);
    if (!strs || !json || !t) goto fail;
    for (size_t i = 0; i < n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i), *str;
        if (it == Py_None) {
            str = Py_NewRef(Py_None);
        } else if (PyUnicode_Check(it)) {
            str = Py_NewRef(it);
        } else {
            str = PyObject_CallMethod(json, "dumps", "O", it);
            if (!str) goto fail;
        }
        PyList_SET_ITEM(strs, (Py_ssize_t)i, str);
        if (str != Py_None && !(t[i] = PyUnicode_AsUTF8(str))) goto fail;
    }
    Py_DECREF(json);
    Py_DECREF(seq);
    *keep = strs;
    *out = t;
    return 0;
fail:
    if (!PyErr_Occurred()) PyErr_NoMemory();
    PyMem_Free(t);
    Py_XDECREF(json);
    Py_XDECREF(strs);
    Py_DECREF(seq);
    return -1;
}

static PyObject *c_add(CollObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"vectors", "texts", "metadata", "ids", NULL};
    PyObject *vo = Py_None, *to = Py_None, *mo = Py_None, *io = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$OOO:add", kwlist, &vo, &to, &mo, &io) || vspy_coll_usable(s)) return NULL;
    PyObject *embedded = NULL, *tkeep = NULL, *mkeep = NULL, *ret = NULL;
    PyArrayObject *known = NULL;
    const char **texts = NULL, **meta = NULL, **keys = NULL;
    char(*num)[24] = NULL; /* integer ids of a keyed batch, in decimal */
    vspy_idlist ids = {0};
    int have_ids = 0;
    vspy_matrix x = {0};
    size_t nt = 0;
    if (to != Py_None && vspy_texts(to, &tkeep, &texts, &nt)) goto out;
    if (vo == Py_None) {
        if (!texts) {
            vspy_raise_msg(VS_ERR_INVALID_ARG, "add() needs vectors or texts");
            goto out;
        }
        if (!(embedded = embed_one_or_many(s, to, &known)) || check_known(texts, known)) goto out;
        vo = embedded;
    }
    if (vspy_matrix_get(vo, s->dim, 1, "vectors", &x)) goto out;
    if (texts && nt != x.n) {
        vspy_raise_msg(VS_ERR_INVALID_ARG, "%zu vectors but %zu texts", x.n, nt);
        goto out;
    }
    if (metadata_strings(mo, x.n, &mkeep, &meta)) goto out;
    if (io != Py_None) {
        if (vspy_idlist_get(io, 1, "ids", &ids)) goto out;
        have_ids = 1;
        if (ids.n != x.n) {
            vspy_raise_msg(VS_ERR_INVALID_ARG, "%zu rows but %zu ids", x.n, ids.n);
            goto out;
        }
    }
    if (ids.keys) {
        /* str (or None) among the ids: every id goes as text, integers in decimal. An integer
         * at or above 2^62 would read as a string id: refuse it as vs_collection_add does. */
        keys = PyMem_Calloc(x.n, sizeof *keys);
        num = PyMem_Calloc(x.n, sizeof *num);
        if (!keys || !num) {
            PyErr_NoMemory();
            goto out;
        }
        for (size_t i = 0; i < x.n; i++) {
            if (ids.keys[i] || ids.ids[i] < 0) {
                keys[i] = ids.keys[i];
                continue;
            }
            if (ids.ids[i] >= VS_KEYED_ID_MIN) {
                vspy_raise_msg(VS_ERR_INVALID_ARG, "ids: id %zu (%lld) is not below 2^62 (larger ids must be strings)",
                               i, (long long)ids.ids[i]);
                goto out;
            }
            snprintf(num[i], sizeof num[i], "%lld", (long long)ids.ids[i]);
            keys[i] = num[i];
        }
    }
    npy_intp n = (npy_intp)x.n;
    PyArrayObject *assigned = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT64);
    if (!assigned) goto out;
    int rc = 0, closed = 0;
    int64_t *ao = PyArray_DATA(assigned);
    const int64_t *given = have_ids ? int_ids_of(&ids) : NULL;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->c) closed = 1;
    else if (x.n && keys) rc = vs_collection_add_keyed(s->c, x.n, x.data, keys, texts, meta, ao);
    else if (x.n) rc = vs_collection_add(s->c, x.n, x.data, given, texts, meta, ao);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (closed || rc) {
        Py_DECREF(assigned);
        if (closed) vspy_closed("Collection");
        else vspy_raise(rc, 0);
        goto out;
    }
    if (!keys) {
        ret = (PyObject *)assigned;
        goto out;
    }
    /* Ids as the client gave them: an internal id below 2^62 is the integer id itself (also
     * for "17" and for automatic ones), above it the str that named it. */
    ret = PyList_New(n);
    for (npy_intp i = 0; ret && i < n; i++) {
        PyObject *v = ao[i] < VS_KEYED_ID_MIN ? PyLong_FromLongLong(ao[i]) : vspy_idlist_item(&ids, (size_t)i);
        if (!v) Py_CLEAR(ret);
        else PyList_SET_ITEM(ret, i, v);
    }
    Py_DECREF(assigned);
out:
    PyMem_Free(keys);
    PyMem_Free(num);
    vspy_idlist_release(&ids);
    Py_XDECREF(known);
    vspy_matrix_release(&x);
    PyMem_Free(texts);
    PyMem_Free(meta);
    Py_XDECREF(tkeep);
    Py_XDECREF(mkeep);
    Py_XDECREF(embedded);
    return ret;
}

/* Queries from vectors or text(s): a str is one query, a list of str several. For texts,
 * *known gets their known-word counts (NULL for vectors). */
static int queries_of(CollObject *s, PyObject *q, vspy_matrix *m, PyObject **embedded, PyArrayObject **known)
{
    *embedded = NULL;
    *known = NULL;
    if (PyUnicode_Check(q)) {
        PyObject *l = PyList_New(1);
        if (!l) return -1;
        PyList_SET_ITEM(l, 0, Py_NewRef(q));
        *embedded = embed_one_or_many(s, l, known);
        Py_DECREF(l);
    } else if (PyList_Check(q) && PyList_GET_SIZE(q) > 0 && PyUnicode_Check(PyList_GET_ITEM(q, 0))) {
        *embedded = embed_one_or_many(s, q, known);
    } else {
        return vspy_matrix_get(q, s->dim, 1, "queries", m);
    }
    if (!*embedded) return -1;
    return vspy_matrix_get(*embedded, s->dim, 1, "queries", m);
}

/* An id allow-list with str ids among them becomes the internal ids of those that exist. */
static PyObject *internal_id_list(CollObject *s, PyObject *filt)
{
    if (!(PyAnySet_Check(filt) || PyList_Check(filt) || PyTuple_Check(filt))) return Py_NewRef(filt);
    vspy_idlist l;
    if (vspy_idlist_get(filt, 0, "filter ids", &l)) return NULL;
    if (!l.any_str) {
        vspy_idlist_release(&l);
        return Py_NewRef(filt);
    }
    PyObject *r = NULL;
    if (vspy_idlist_lookup(&s->c, &s->lock, &l) == 0) {
        npy_intp n = 0;
        for (size_t i = 0; i < l.n; i++)
            if (l.ids[i] >= 0) l.ids[n++] = l.ids[i];
        r = PyArray_SimpleNew(1, &n, NPY_INT64);
        if (r) memcpy(PyArray_DATA((PyArrayObject *)r), l.ids, (size_t)n * sizeof *l.ids);
    }
    vspy_idlist_release(&l);
    return r;
}

/* Id filters (array/set/list, str ids looked up) and callables; dicts go as JSON instead. */
static int build_filter(CollObject *s, PyObject *filt, vspy_filter *f)
{
    if (!filt || filt == Py_None || PyCallable_Check(filt)) return vspy_filter_build(filt, s, f);
    PyObject *ids = internal_id_list(s, filt);
    if (!ids) {
        memset(f, 0, sizeof *f);
        return -1;
    }
    int rc = vspy_filter_build(ids, s, f);
    Py_DECREF(ids);
    return rc;
}

/* Rows of text queries the model knows no word of: emptied (id -1, the padding score) and
 * warned about, as the server answers them ("results": [] and a no_known_word warning). */
static int blank_unknown(CollObject *s, PyArrayObject *known, PyArrayObject *D, PyArrayObject *I, size_t k)
{
    const uint32_t *kn = PyArray_DATA(known);
    size_t nq = (size_t)PyArray_SIZE(known), nbad = 0, first = 0;
    float pad = s->metric == VS_METRIC_L2 ? INFINITY : -INFINITY;
    for (size_t i = 0; i < nq; i++) {
        if (kn[i]) continue;
        if (!nbad++) first = i;
        float *d = (float *)PyArray_DATA(D) + i * k;
        int64_t *id = (int64_t *)PyArray_DATA(I) + i * k;
        for (size_t j = 0; j < k; j++) {
            d[j] = pad;
            id[j] = -1;
        }
    }
    if (!nbad) return 0;
    const char *mn = s->model;
    if (nq == 1)
        return PyErr_WarnFormat(vspy_NoKnownWordWarning, 1,
                                "the model %s knows none of the query's words, so the query has no meaning to "
                                "search by: no results (rephrase it, or search with a vector)", mn);
    return PyErr_WarnFormat(vspy_NoKnownWordWarning, 1,
                            "the model %s knows none of the words of %zu of the %zu queries (the first is query "
                            "%zu): their rows are empty (ids -1)", mn, nbad, nq, first);
}

/* Runs the search; returns (D, I) or NULL. */
static PyObject *do_search(CollObject *s, PyObject *q, PyObject *ko, PyObject *nprobe, PyObject *ef, PyObject *kf,
                           PyObject *filt)
{
    uint32_t k;
    vs_search_params p;
    if (vspy_uint_arg(ko, "k", 100000, 0, &k) || vspy_search_params(nprobe, ef, kf, NULL, &p)) return NULL;
    if (k == 0) return vspy_raise_msg(VS_ERR_INVALID_ARG, "k must be at least 1");
    vspy_matrix m = {0};
    PyObject *embedded, *fjs = NULL;
    PyArrayObject *known;
    const char *fjson = NULL;
    if (filt && PyDict_Check(filt)) {
        /* An empty dict filters nothing, as the server's {"filter": {}} */
        if (PyDict_GET_SIZE(filt) > 0 && (!(fjs = vspy_filter_json(filt)) || !(fjson = PyUnicode_AsUTF8(fjs)))) {
            Py_XDECREF(fjs);
            return NULL;
        }
        filt = Py_None;
    }
    if (queries_of(s, q, &m, &embedded, &known)) {
        Py_XDECREF(known);
        Py_XDECREF(fjs);
        return NULL;
    }
    vspy_filter f;
    if (build_filter(s, filt, &f)) {
        vspy_matrix_release(&m);
        Py_XDECREF(embedded);
        Py_XDECREF(known);
        Py_XDECREF(fjs);
        return NULL;
    }
    if (f.f.kind != VS_FILTER_NONE) p.filter = &f.f;
    npy_intp dims[2] = {(npy_intp)m.n, (npy_intp)k};
    PyArrayObject *D = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    PyArrayObject *I = D ? (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_INT64) : NULL;
    int rc = 0, closed = 0;
    if (I) {
        float *dd = PyArray_DATA(D);
        int64_t *ii = PyArray_DATA(I);
        Py_BEGIN_ALLOW_THREADS
        vspy_rdlock(&s->lock);
        if (!s->c) closed = 1;
        else if (m.n && fjson) rc = vs_collection_search_where(s->c, m.n, m.data, k, &p, fjson, dd, ii, NULL);
        else if (m.n) rc = vs_collection_search(s->c, m.n, m.data, k, &p, dd, ii);
        vspy_unlock(&s->lock);
        Py_END_ALLOW_THREADS
    }
    vspy_matrix_release(&m);
    Py_XDECREF(embedded);
    Py_XDECREF(fjs);
    int ferr = vspy_filter_finish(&f);
    vspy_filter_release(&f);
    if (!I || closed || rc || ferr) {
        Py_XDECREF(D);
        Py_XDECREF(I);
        Py_XDECREF(known);
        if (ferr || !I) return NULL;
        return closed ? vspy_closed("Collection") : vspy_raise(rc, 0);
    }
    int wrc = known ? blank_unknown(s, known, D, I, k) : 0;
    Py_XDECREF(known);
    if (wrc) { /* the warning was turned into an error */
        Py_DECREF(D);
        Py_DECREF(I);
        return NULL;
    }
    return Py_BuildValue("(NN)", D, I);
}

static PyObject *c_search(CollObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"q", "k", "nprobe", "ef", "k_factor", "filter", NULL};
    PyObject *q, *ko, *nprobe = Py_None, *ef = Py_None, *kf = Py_None, *filt = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$OOOO:search", kwlist, &q, &ko, &nprobe, &ef, &kf, &filt) ||
        vspy_coll_usable(s))
        return NULL;
    return do_search(s, q, ko, nprobe, ef, kf, filt);
}

/* ---- documents ---- */
typedef struct {
    char *text, *meta;
    int found, nomem;
    char key[VS_KEY_MAX_BYTES + 1]; /* the string id, for internal ids from 2^62 up */
} doc_copy;

static char *dup_or_null(const char *s, int *nomem)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *nomem = 1;
    return d;
}

static void copy_doc(int64_t id, const char *text, const char *metadata, void *ctx)
{
    (void)id;
    doc_copy *d = ctx;
    d->found = 1;
    d->text = dup_or_null(text, &d->nomem);
    d->meta = dup_or_null(metadata, &d->nomem);
}

/* metadata JSON as a Python value (the raw string when it is not JSON). */
static PyObject *meta_value(const char *meta)
{
    if (!meta) Py_RETURN_NONE;
    PyObject *json = PyImport_ImportModule("json");
    PyObject *v = json ? PyObject_CallMethod(json, "loads", "s", meta) : NULL;
    Py_XDECREF(json);
    if (!v) {
        PyErr_Clear();
        return PyUnicode_FromString(meta);
    }
    return v;
}

static PyObject *text_value(const char *t)
{
    if (!t) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(t, (Py_ssize_t)strlen(t), "replace");
}

/* Fetches the documents of ids[0..n) without the GIL: docs[i].found says which exist. */
static int fetch_docs(CollObject *s, const int64_t *ids, size_t n, doc_copy *docs, float *vecs)
{
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->c) closed = 1;
    for (size_t i = 0; !closed && i < n; i++) {
        if (ids[i] < 0) continue;
        if (vs_collection_with_doc(s->c, ids[i], copy_doc, &docs[i]) != VS_OK) continue;
        if ((vecs && vs_collection_get_vector(s->c, ids[i], vecs + i * s->dim) != VS_OK) ||
            (ids[i] >= VS_KEYED_ID_MIN &&
             vs_collection_key_of(s->c, ids[i], docs[i].key, sizeof docs[i].key, NULL) != VS_OK))
            docs[i].found = 0; /* removed in between */
    }
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (closed) {
        vspy_closed("Collection");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (docs[i].nomem) {
            PyErr_NoMemory();
            return -1;
        }
    return 0;
}

/* The document's id as the client gave it: the integer, or its string id. */
static PyObject *doc_id(int64_t id, const doc_copy *d)
{
    if (id < VS_KEYED_ID_MIN) return PyLong_FromLongLong(id);
    return PyUnicode_DecodeUTF8(d->key, (Py_ssize_t)strlen(d->key), "replace");
}

static void free_docs(doc_copy *docs, size_t n)
{
    for (size_t i = 0; docs && i < n; i++) {
        free(docs[i].text);
        free(docs[i].meta);
    }
    free(docs);
}

static PyObject *c_get(CollObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", NULL};
    PyObject *io;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:get", kwlist, &io) || vspy_coll_usable(s)) return NULL;
    if (!PyUnicode_Check(io) && (PyBool_Check(io) || !PyIndex_Check(io)))
        return vspy_raise_msg(VS_ERR_INVALID_ARG, "id must be an int or a str, not %s", Py_TYPE(io)->tp_name);
    vspy_idlist l;
    if (vspy_idlist_get(io, 0, "id", &l)) return NULL;
    npy_intp d = (npy_intp)s->dim;
    PyArrayObject *vec = (PyArrayObject *)PyArray_SimpleNew(1, &d, NPY_FLOAT32);
    doc_copy *doc = calloc(1, sizeof *doc);
    PyObject *r = NULL;
    if (!vec || !doc) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto out;
    }
    if (vspy_idlist_lookup(&s->c, &s->lock, &l)) goto out;
    int64_t id = l.ids[0];
    if (id >= 0 && fetch_docs(s, &id, 1, doc, PyArray_DATA(vec))) goto out;
    if (!doc->found) {
        PyObject *rep = PyObject_Repr(io);
        const char *rs = rep ? PyUnicode_AsUTF8(rep) : NULL;
        if (rs) vspy_raise_msg(VS_ERR_NOT_FOUND, "id %.300s is not in the collection", rs);
        Py_XDECREF(rep);
        goto out;
    }
    PyObject *t = text_value(doc->text), *m = meta_value(doc->meta), *ido = doc_id(id, doc);
    if (t && m && ido)
        r = Py_BuildValue("{s:O,s:O,s:O,s:O}", "id", ido, "text", t, "metadata", m, "vector", (PyObject *)vec);
    Py_XDECREF(t);
    Py_XDECREF(m);
    Py_XDECREF(ido);
out:
    vspy_idlist_release(&l);
    Py_XDECREF(vec);
    free_docs(doc, 1);
    return r;
}

static PyObject *c_query(CollObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"q", "k", "filter", "nprobe", "ef", NULL};
    PyObject *q, *ko = NULL, *filt = Py_None, *nprobe = Py_None, *ef = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO$OO:query", kwlist, &q, &ko, &filt, &nprobe, &ef) || vspy_coll_usable(s))
        return NULL;
    PyObject *ten = NULL;
    if (!ko) ko = ten = PyLong_FromLong(10);
    PyObject *DI = do_search(s, q, ko, nprobe, ef, Py_None, filt);
    Py_XDECREF(ten);
    if (!DI) return NULL;
    PyArrayObject *D = (PyArrayObject *)PyTuple_GET_ITEM(DI, 0), *I = (PyArrayObject *)PyTuple_GET_ITEM(DI, 1);
    if (PyArray_DIM(I, 0) != 1) {
        Py_DECREF(DI);
        return vspy_raise_msg(VS_ERR_INVALID_ARG, "query() takes one text or one vector; use search() for batches");
    }
    size_t k = (size_t)PyArray_DIM(I, 1);
    const int64_t *ids = PyArray_DATA(I);
    const float *sc = PyArray_DATA(D);
    doc_copy *docs = calloc(k ? k : 1, sizeof *docs);
    PyObject *list = NULL;
    if (!docs) {
        PyErr_NoMemory();
        goto out;
    }
    if (fetch_docs(s, ids, k, docs, NULL)) goto out;
    list = PyList_New(0);
    for (size_t i = 0; list && i < k; i++) {
        if (ids[i] < 0 || !docs[i].found) continue; /* padding, or removed since the search */
        PyObject *t = text_value(docs[i].text), *m = meta_value(docs[i].meta), *ido = doc_id(ids[i], &docs[i]);
        PyObject *hit = NULL;
        if (t && m && ido)
            hit = Py_BuildValue("{s:O,s:d,s:O,s:O}", "id", ido, "score", (double)sc[i], "text", t, "metadata", m);
        Py_XDECREF(t);
        Py_XDECREF(m);
        Py_XDECREF(ido);
        if (!hit || PyList_Append(list, hit) < 0) Py_CLEAR(list);
        Py_XDECREF(hit);
    }
out:
    free_docs(docs, k);
    Py_DECREF(DI);
    return list;
}

static PyObject *c_delete(CollObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", NULL};
    PyObject *io;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:delete", kwlist, &io) || vspy_coll_usable(s)) return NULL;
    /* str ids are looked up first (an invalid one fails before anything is removed; absent
     * ones are ignored), then all go by internal id, so ints from search() work too. */
    vspy_idlist ids;
    if (vspy_idlist_get(io, 0, "ids", &ids)) return NULL;
    if (vspy_idlist_lookup(&s->c, &s->lock, &ids)) {
        vspy_idlist_release(&ids);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < ids.n; i++)
        if (ids.ids[i] >= 0) n++;
    int64_t *v = ids.ids;
    if (n < ids.n) { /* drop absent str ids (their -1) without touching a borrowed array */
        v = PyMem_Malloc(n ? n * sizeof *v : 1);
        if (!v) {
            vspy_idlist_release(&ids);
            return PyErr_NoMemory();
        }
        for (size_t i = 0, j = 0; i < ids.n; i++)
            if (ids.ids[i] >= 0) v[j++] = ids.ids[i];
    }
    size_t removed = 0;
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->c) closed = 1;
    else if (n) rc = vs_collection_remove(s->c, n, v, &removed);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (v != ids.ids) PyMem_Free(v);
    vspy_idlist_release(&ids);
    if (closed) return vspy_closed("Collection");
    if (rc) return vspy_raise(rc, 0);
    return PyLong_FromSize_t(removed);
}

static PyObject *c_keys(CollObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", NULL};
    PyObject *io;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:keys", kwlist, &io) || vspy_coll_usable(s)) return NULL;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(io);
    if (!a) return NULL;
    char kind = PyArray_DESCR(a)->kind;
    if (!(kind == 'i' || kind == 'u' || (PyArray_SIZE(a) == 0 && kind == 'f')) || PyArray_NDIM(a) > 2) {
        Py_DECREF(a);
        return vspy_raise_msg(VS_ERR_INVALID_ARG, "keys() takes internal int ids: a scalar, a 1-d or a 2-d array "
                                                  "(the I of search())");
    }
    PyArrayObject *c = (PyArrayObject *)PyArray_FROMANY((PyObject *)a, NPY_INT64, 0, 2,
                                                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    int nd = PyArray_NDIM(a);
    Py_DECREF(a);
    if (!c) return NULL;
    size_t n = (size_t)PyArray_SIZE(c);
    PyObject *flat = vspy_client_ids(&s->c, &s->lock, PyArray_DATA(c), n);
    PyObject *r = NULL;
    if (!flat || nd == 1) {
        r = flat;
    } else if (nd == 0) {
        r = Py_NewRef(PyList_GET_ITEM(flat, 0));
        Py_DECREF(flat);
    } else {
        Py_ssize_t rows = (Py_ssize_t)PyArray_DIM(c, 0), cols = (Py_ssize_t)PyArray_DIM(c, 1);
        r = PyList_New(rows);
        for (Py_ssize_t i = 0; r && i < rows; i++) {
            PyObject *row = PyList_GetSlice(flat, i * cols, (i + 1) * cols);
            if (!row) Py_CLEAR(r);
            else PyList_SET_ITEM(r, i, row);
        }
        Py_DECREF(flat);
    }
    Py_DECREF(c);
    return r;
}

static PyObject *c_snapshot(CollObject *s, PyObject *noargs)
{
    (void)noargs;
    if (vspy_coll_usable(s)) return NULL;
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->c) closed = 1;
    else rc = vs_collection_snapshot(s->c);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (closed) return vspy_closed("Collection");
    if (rc) return vspy_raise(rc, 1);
    Py_RETURN_NONE;
}

/* Training and log-size snapshots never run inside add (vecscale.h, "Maintenance"). */
static PyObject *c_maintain(CollObject *s, PyObject *noargs)
{
    (void)noargs;
    if (vspy_coll_usable(s)) return NULL;
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->c) closed = 1;
    else rc = vs_collection_maintain(s->c);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (closed) return vspy_closed("Collection");
    if (rc) return vspy_raise(rc, 1);
    Py_RETURN_NONE;
}

static PyObject *c_close(CollObject *s, PyObject *noargs)
{
    (void)noargs;
    if (!s->lock_ok || !s->c) Py_RETURN_NONE;
    if (vspy_in_own_filter(s))
        return vspy_raise_msg(VS_ERR_INVALID_ARG, "a Collection cannot be closed from inside its own search filter");
    int rc;
    Py_BEGIN_ALLOW_THREADS
    vspy_wrlock(&s->lock);
    rc = vs_collection_close(s->c);
    s->c = NULL;
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (rc) return vspy_raise(rc, 1);
    Py_RETURN_NONE;
}

static PyObject *c_enter(CollObject *s, PyObject *noargs)
{
    (void)noargs;
    if (vspy_coll_usable(s)) return NULL;
    Py_INCREF(s);
    return (PyObject *)s;
}

static PyObject *c_exit(CollObject *s, PyObject *args)
{
    (void)args;
    PyObject *r = c_close(s, NULL);
    if (!r) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static Py_ssize_t c_len(CollObject *s)
{
    if (vspy_coll_usable(s)) return -1;
    size_t n = 0;
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (s->c) n = vs_collection_size(s->c);
    else closed = 1;
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (closed) {
        vspy_closed("Collection");
        return -1;
    }
    return (Py_ssize_t)n;
}

static PyObject *get_dim(CollObject *s, void *c) { (void)c; return vspy_coll_usable(s) ? NULL : PyLong_FromUnsignedLong(s->dim); }
static PyObject *get_metric(CollObject *s, void *c)
{
    (void)c;
    return vspy_coll_usable(s) ? NULL : PyUnicode_FromString(vs_metric_name(s->metric));
}
static PyObject *get_factory(CollObject *s, void *c) { (void)c; return vspy_coll_usable(s) ? NULL : PyUnicode_FromString(s->factory); }
static PyObject *get_model(CollObject *s, void *c)
{
    (void)c;
    if (vspy_coll_usable(s)) return NULL;
    if (!s->model[0]) Py_RETURN_NONE;
    return PyUnicode_FromString(s->model);
}
static PyObject *get_closed(CollObject *s, void *c) { (void)c; return PyBool_FromLong(!s->c); }

static PyObject *get_info(CollObject *s, void *c)
{
    (void)c;
    if (vspy_coll_usable(s)) return NULL;
    vs_collection_info in = {.struct_size = sizeof in};
    int rc = 0, closed = 0;
    Py_BEGIN_ALLOW_THREADS
    vspy_rdlock(&s->lock);
    if (!s->c) closed = 1;
    else rc = vs_collection_info_get(s->c, &in);
    vspy_unlock(&s->lock);
    Py_END_ALLOW_THREADS
    if (closed) return vspy_closed("Collection");
    if (rc) return vspy_raise(rc, 0);
    return Py_BuildValue("{s:I,s:s,s:n,s:O,s:K,s:K,s:K,s:n,s:s,s:s}", "dim", in.dim, "metric",
                         vs_metric_name(in.metric), "count", (Py_ssize_t)in.count, "trained",
                         in.trained ? Py_True : Py_False, "generation", (unsigned long long)in.generation,
                         "log_bytes", (unsigned long long)in.log_bytes, "log_syncs", (unsigned long long)in.log_syncs,
                         "memory_bytes", (Py_ssize_t)in.memory_bytes, "factory", in.factory, "model", in.model);
}

static PyObject *c_repr(CollObject *s)
{
    return PyUnicode_FromFormat("<vecscale.Collection dim=%u factory='%s' metric='%s' model='%s'%s>", s->dim,
                                s->factory, vs_metric_name(s->metric), s->model, s->c ? "" : " (closed)");
}

static PyMethodDef c_methods[] = {
    {"create", (PyCFunction)(void (*)(void))c_create, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "create(path, dim=None, factory=\"Flat\", metric=\"cosine\", model=None, *, train_min=None, threads=None)\n--\n\n"
     "Creates a collection directory (the layout `vecscale serve` serves from DATA/collections/NAME).\n"
     "model: an embedding model name or path (recorded; texts are embedded with it) or a\n"
     "vecscale.Model; dim defaults to the model's. IVF factories answer exactly from a staging\n"
     "Flat index until train_min vectors (default 39 per list) have arrived."},
    {"open", (PyCFunction)(void (*)(void))c_open, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "open(path)\n--\n\nOpens a collection: the last snapshot plus its write-ahead log."},
    {"add", (PyCFunction)(void (*)(void))c_add, METH_VARARGS | METH_KEYWORDS,
     "add(vectors=None, *, texts=None, metadata=None, ids=None)\n--\n\n"
     "Adds documents. vectors (n, dim), or None to embed texts with the collection's model (a\n"
     "text with no word the model knows is refused, as the server's POST /index does: its vector\n"
     "would be the model's fallback). metadata: one dict (stored as JSON) or JSON string or None\n"
     "per row. ids: None (automatic), ints, or a list mixing ints, strs and None (automatic):\n"
     "an id is an int 0..2^62-1 or a str of 1..256 bytes of UTF-8, and \"17\" IS 17.\n"
     "Returns the int64 array of ids used, or, when ids held a str or None, a list of the ids\n"
     "as the collection reports them (int, or the str). All or nothing; durable (fdatasync'd)\n"
     "when it returns."},
    {"search", (PyCFunction)(void (*)(void))c_search, METH_VARARGS | METH_KEYWORDS,
     "search(q, k, *, nprobe=None, ef=None, k_factor=None, filter=None)\n--\n\n"
     "(D, I) as Index.search. q: vectors, one vector, a str or a list of str (embedded with the\n"
     "collection's model). An empty collection answers -1 rows. I holds internal int64 ids: for\n"
     "int ids they are the ids themselves, a string id has one from 2^62 up; keys(I) turns them\n"
     "into the ids as given. A text query with no word the model knows gets an empty row (ids -1)\n"
     "and a NoKnownWordWarning. filter: ids (array/set/list; str ids allowed), a callable\n"
     "internal id -> bool, or a metadata filter dict, the server's \"filter\" (answered from\n"
     "payload indexes): {\"pos\": \"verb\"} (equality), {\"n\": {\"gte\": 2, \"lt\": 5}},\n"
     "{\"pos\": {\"in\": [\"noun\", \"verb\"]}}, {\"tag\": {\"exists\": True}}, {\"and\": [...]},\n"
     "{\"or\": [...]}, {\"not\": {...}}; an array field matches when any element does; numbers\n"
     "compare as numbers, never equal to strings. A bad filter, an unknown field or a type\n"
     "mismatch raises InvalidArgumentError naming the field."},
    {"query", (PyCFunction)(void (*)(void))c_query, METH_VARARGS | METH_KEYWORDS,
     "query(q, k=10, filter=None, *, nprobe=None, ef=None)\n--\n\n"
     "One text or vector; returns a list of {id, score, text, metadata} dicts, best first\n"
     "(id as the client gave it, int or str; metadata parsed from JSON; None when absent).\n"
     "A text none of whose words the model knows returns [] and warns NoKnownWordWarning, as\n"
     "the server answers \"results\": [] with a no_known_word warning (its embedding would be\n"
     "the model's fallback vector, whose neighbours mean nothing)."},
    {"get", (PyCFunction)(void (*)(void))c_get, METH_VARARGS | METH_KEYWORDS,
     "get(id)\n--\n\n{id, text, metadata, vector} of one document: id an int or a str (\"doc-17\";\n"
     "\"17\" is 17), or an internal id from search()'s I. The reply's id is as the client gave\n"
     "it. NotFoundError if absent."},
    {"delete", (PyCFunction)(void (*)(void))c_delete, METH_VARARGS | METH_KEYWORDS,
     "delete(ids)\n--\n\nRemoves documents: one id or a list/array of ids, ints and strs mixed\n"
     "([\"doc-17\", 3]; internal ids from search() work too). Absent ids are ignored, an invalid\n"
     "str id raises before anything is removed. Returns how many were removed."},
    {"keys", (PyCFunction)(void (*)(void))c_keys, METH_VARARGS | METH_KEYWORDS,
     "keys(ids)\n--\n\nThe ids as the client gave them (int or str) of internal ids, as search()\n"
     "returns them: a 2-d array gives a list of lists, a 1-d one a list, a scalar one id. -1\n"
     "padding and documents removed since the search give None.\n"
     "    D, I = c.search(\"cat\", 5); c.keys(I)  ->  [[\"doc-3\", 17, ...]]"},
    {"count", (PyCFunction)(void (*)(void))vspy_coll_count, METH_VARARGS | METH_KEYWORDS,
     "count(filter=None, *, report=False)\n--\n\nHow many documents pass a metadata filter dict (the\n"
     "grammar of search()'s filter), through the same paths as a search; None or {}: len(c).\n"
     "report=True returns (n, report): {indexed, exact, post_filter, cached, allowed, unindexed},\n"
     "whether payload indexes answered and, if not, which fields lacked a ready one."},
    {"create_payload_index", (PyCFunction)(void (*)(void))vspy_coll_create_payload_index, METH_VARARGS | METH_KEYWORDS,
     "create_payload_index(field, type)\n--\n\nIndexes a top-level metadata field for filters: type\n"
     "\"keyword\" (strings), \"integer\", \"float\" or \"bool\". Built before it returns, logged\n"
     "(durable) and kept current by adds and deletes. Filters also create indexes automatically\n"
     "(on one background thread) for fields that lack one; meanwhile they check each document."},
    {"snapshot", (PyCFunction)c_snapshot, METH_NOARGS,
     "snapshot()\n--\n\nWrites index + documents as a new generation and starts an empty log."},
    {"maintain", (PyCFunction)c_maintain, METH_NOARGS,
     "maintain()\n--\n\nRuns due maintenance now: trains a staging IVF index that has train_min vectors,\n"
     "then snapshots if the log is over the snapshot size. Adds never do either."},
    {"close", (PyCFunction)c_close, METH_NOARGS,
     "close()\n--\n\nFlushes the log and releases the collection (waits for calls in flight)."},
    {"__enter__", (PyCFunction)c_enter, METH_NOARGS, "Returns the collection itself."},
    {"__exit__", (PyCFunction)c_exit, METH_VARARGS, "Closes the collection."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef c_getset[] = {
    {"dim", (getter)get_dim, NULL, "Vector dimension.", NULL},
    {"metric", (getter)get_metric, NULL, "\"l2\", \"ip\" or \"cosine\".", NULL},
    {"factory", (getter)get_factory, NULL, "Configured index factory string.", NULL},
    {"model", (getter)get_model, NULL, "Recorded embedding model name or path, or None.", NULL},
    {"info", (getter)get_info, NULL, "Statistics: count, generation, log bytes and syncs, memory, ...", NULL},
    {"closed", (getter)get_closed, NULL, "Whether close() was called.", NULL},
    {"payload_indexes", (getter)vspy_coll_payload_indexes, NULL,
     "The payload indexes metadata filters use: a list of {field, type, ready, automatic,\n"
     "documents, values, memory_bytes}.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods c_seq = {.sq_length = (lenfunc)c_len};

PyTypeObject vspy_CollectionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vecscale.Collection",
    .tp_basicsize = sizeof(CollObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A collection: an index plus documents (text, metadata JSON) plus a write-ahead log in one\n"
              "directory, the same on-disk format `vecscale serve` serves and `vecscale build --input`\n"
              "writes. Make one with Collection.create(...) or Collection.open(path). Every method is\n"
              "safe from many threads; close() waits for calls in flight.",
    .tp_new = NULL,
    .tp_dealloc = (destructor)c_dealloc,
    .tp_methods = c_methods,
    .tp_getset = c_getset,
    .tp_as_sequence = &c_seq,
    .tp_repr = (reprfunc)c_repr,
};
