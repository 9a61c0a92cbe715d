/* Named collections of a server: DATA/collections/<name>/. Handlers borrow a collection
 * with a reference count so a DELETE /collections/{name} never frees one that a request is
 * still using; the last reference closes it and removes its directory. */
#ifndef VS_SERVER_REGISTRY_H
#define VS_SERVER_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>

#include "vecscale.h"

typedef struct vs_model vs_model;

typedef struct coll_ref {
    char name[65];
    char dir[4200];
    vs_collection *c;
    vs_model *model; /* NULL = vectors only */
    atomic_int refs;
    atomic_int dropped;
} coll_ref;

typedef struct {
    char root[4096]; /* DATA/collections */
    pthread_rwlock_t mu;
    coll_ref **items;
    size_t n, cap;
    vs_maintenance_policy maint; /* every collection's maintenance thread */
} registry;

/* Opens every collection and starts its maintenance thread with `maint`. */
int registry_open(registry *r, const char *data_dir, const vs_maintenance_policy *maint, char *err, size_t errcap);
/* Closes every collection (flushing its log). */
int registry_close(registry *r);
/* A borrowed reference or NULL; release with registry_put. */
coll_ref *registry_get(registry *r, const char *name);
void registry_put(coll_ref *ref);
/* Valid names: 1..64 of [A-Za-z0-9_-]. */
int registry_valid_name(const char *name);
/* Creates a collection; VS_ERR_DUPLICATE_ID if the name exists. On success *out is borrowed. */
int registry_create(registry *r, const char *name, const vs_collection_options *o, coll_ref **out);
/* VS_ERR_NOT_FOUND if absent. */
int registry_drop(registry *r, const char *name);
/* Snapshot of the names (caller frees the array and the strings). */
size_t registry_names(registry *r, char ***out);

/* Text models are opened once per name and shared (embedding is read-only). */
int models_open(const char *name, vs_model **out);
/* Precision the BERT models are opened in from now on (serve --precision); GloVe stays fp32. */
void models_set_precision(vs_precision p);
void models_close_all(void);
size_t models_dim(const vs_model *m);
const char *models_name(const vs_model *m);
/* Embeds n texts into out (n * models_dim floats) on the calling thread; known (n entries)
 * receives how many words of each text the model knows (vs_model_embed_known). */
int models_embed(vs_model *m, const char *const *texts, size_t n, float *out, uint32_t *known);

#endif
