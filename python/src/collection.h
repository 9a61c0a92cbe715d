/* The vecscale.Collection object, shared by collection.c (the type: documents, adds, searches)
 * and collection_payload.c (metadata filters as the library's JSON, counts, payload indexes). */
#ifndef VSPY_COLLECTION_H
#define VSPY_COLLECTION_H

#include "vspy.h"

typedef struct {
    PyObject_HEAD
    vs_collection *c;
    vspy_lock lock;
    int lock_ok;
    uint32_t dim;
    vs_metric metric;
    char factory[64];
    char model[256];
    PyObject *model_obj; /* vecscale.Model opened on first text, or None */
} CollObject;

/* 0, or -1 with ClosedError (closed) or InvalidArgumentError (called from its own filter). */
int vspy_coll_usable(CollObject *s);

/* ---- collection_payload.c ---- */
/* A metadata filter dict as filter JSON: a new str, or NULL (TypeError: not serialisable). */
PyObject *vspy_filter_json(PyObject *dict);
PyObject *vspy_coll_count(CollObject *s, PyObject *args, PyObject *kw);
PyObject *vspy_coll_create_payload_index(CollObject *s, PyObject *args, PyObject *kw);
PyObject *vspy_coll_payload_indexes(CollObject *s, void *closure);

#endif
