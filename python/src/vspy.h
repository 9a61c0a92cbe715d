/* Shared declarations of the vecscale._vecscale extension: error mapping, array conversion,
 * per-object locks and filters. Each .c file defines one Python type (or one helper job). */
#ifndef VSPY_H
#define VSPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#ifndef VSPY_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#define PY_ARRAY_UNIQUE_SYMBOL vspy_ARRAY_API
#include <numpy/arrayobject.h>

#include <pthread.h>
#include <stdint.h>

#include "vecscale.h"

/* ---- errors (module.c) ---- */
/* Raises the exception class for a VS_ERR_* code with vs_last_error() as its message. Call with
 * the GIL held, right after the failing call on the same thread. path_ctx != 0 maps
 * VS_ERR_NOT_FOUND to MissingFileError instead of NotFoundError. Returns NULL. */
PyObject *vspy_raise(int code, int path_ctx);
/* Raises with an explicit message (code picks the class). Returns NULL. */
PyObject *vspy_raise_msg(int code, const char *fmt, ...);
/* ClosedError for a closed object. Returns NULL. */
PyObject *vspy_closed(const char *what);
extern PyObject *vspy_ClosedError;

/* ---- arrays (convert.c) ---- */
/* A float32 C-contiguous view of an input matrix: borrowed when the input already is one,
 * otherwise a single converted copy (counted by vspy_conversions). */
typedef struct {
    PyArrayObject *arr; /* owned reference; data lives here */
    const float *data;
    size_t n;
    uint32_t dim;
    int was_1d;
} vspy_matrix;
/* Converts obj to an (n, dim) float32 matrix. A 1-d input is one row when allow_1d. dim == 0
 * accepts any column count. Integer inputs are converted like float64; bool, complex, object
 * and string dtypes are refused. Returns 0 or -1 with an exception set. */
int vspy_matrix_get(PyObject *obj, uint32_t dim, int allow_1d, const char *what, vspy_matrix *out);
void vspy_matrix_release(vspy_matrix *m);
/* An int64 C-contiguous 1-d array of ids (a scalar becomes one id). */
int vspy_ids_get(PyObject *obj, const char *what, PyArrayObject **out);
extern unsigned long long vspy_conversions; /* copies made by the two functions above */
/* Parses a non-negative int or None (-> dflt) into *out, bounded by max. */
int vspy_uint_arg(PyObject *obj, const char *name, unsigned long long max, uint32_t dflt, uint32_t *out);

/* ---- per-object lock (objlock.c) ----
 * Readers (searches, gets) share it; writers that the library forbids to overlap reads take
 * it exclusively; close takes it exclusively and then clears the handle, so a close that
 * races a search waits for it and later calls see a closed object. Acquired only with the
 * GIL released (a thread holding the GIL must never wait for a lock a GIL-waiter holds). */
typedef struct {
    pthread_rwlock_t rw;
    pthread_mutex_t writer; /* writers that may run beside readers still go one at a time */
} vspy_lock;
int vspy_lock_init(vspy_lock *l);
void vspy_lock_destroy(vspy_lock *l);
void vspy_rdlock(vspy_lock *l);
void vspy_wrlock(vspy_lock *l);
void vspy_unlock(vspy_lock *l);

/* ---- filters (filter.c) ---- */
typedef struct {
    vs_filter f;
    PyObject *callable;      /* owned; non-NULL for a Python predicate */
    uint8_t *bits;           /* owned bitset */
    const void *owner;       /* the object being searched (re-entrancy check) */
    volatile int failed;     /* the callable raised: later calls return 0 without calling it */
    PyObject *exc_type, *exc_value, *exc_tb; /* the first exception, re-raised after the call */
    void *meta;              /* metadata matcher (collections), see vspy_meta_filter */
    void *coll;              /* vs_collection for metadata filters */
    const vs_filter *inner;  /* an id filter combined with the metadata one */
} vspy_filter;
/* Builds a filter from None, an id array/list/set, or a callable. Returns 0 or -1. */
int vspy_filter_build(PyObject *obj, const void *owner, vspy_filter *out);
/* After the search: re-raises a callable's exception (returns -1), else 0. GIL held. */
int vspy_filter_finish(vspy_filter *f);
void vspy_filter_release(vspy_filter *f);
/* Non-zero when the calling thread is running a filter callable of `owner`: calling owner's
 * methods from there could deadlock on its lock, so they raise instead. */
int vspy_in_own_filter(const void *owner);
/* A dict of metadata equalities for collections, evaluated with cJSON per candidate. */
int vspy_meta_filter_build(PyObject *dict, vs_collection *c, vspy_filter *out);

/* ---- models (model.c), used by collections ---- */
/* UTF-8 pointers into a list of str (kept alive by *keep); *out freed with PyMem_Free. */
int vspy_texts(PyObject *obj, PyObject **keep, const char ***out, size_t *n);
/* Embeds a list of str with a vecscale.Model object: float32 (n, dim) array. */
PyObject *vspy_model_embed_list(PyObject *model, PyObject *texts);

/* ---- types ---- */
extern PyTypeObject vspy_IndexType;
extern PyTypeObject vspy_SQType;
extern PyTypeObject vspy_PQType;
extern PyTypeObject vspy_ModelType;
extern PyTypeObject vspy_CollectionType;

/* Shared by index.c and collection.c: search parameters from keyword values. */
int vspy_search_params(PyObject *nprobe, PyObject *ef, PyObject *k_factor, PyObject *threads,
                       vs_search_params *p);

#endif
