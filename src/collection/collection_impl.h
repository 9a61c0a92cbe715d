/* Internals shared by the collection's source files (lifecycle, writes, snapshots). */
#ifndef VS_COLLECTION_IMPL_H
#define VS_COLLECTION_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "collection/docstore.h"
#include "collection/keymap.h"
#include "collection/payload.h"
#include "collection/wal.h"
#include "vecscale.h"

#define VS_COLLECTION_FILE "collection.vsc"
#define VS_FILE_KIND_COLLECTION 2u
/* Non-HNSW indexes are written in chunks this large, each under a short exclusive lock. */
#define VS_COLLECTION_CHUNK 256

struct vs_collection {
    char *dir;
    int lock_fd; /* flock on DIR/LOCK: one process per collection */
    uint32_t dim;
    vs_metric metric;
    char factory[64];
    char model[256];
    uint32_t train_min, n_threads;
    uint64_t snapshot_log_bytes;

    /* Readers hold index_rw shared for a search or get. c->index changes only under it
     * exclusively (IVF training switch). HNSW writers insert without it (the index allows
     * one writer beside readers); other index types take it per chunk. */
    pthread_rwlock_t index_rw;
    vs_index *index;
    int staging;          /* index is the Flat stand-in of a not yet trained IVF index */
    int train_failed;     /* do not retry a failed training on every add */
    int hnsw;             /* adds may run beside searches */
    int exclusive_write;  /* a loaded HNSW index copies its image on the first write */

    pthread_rwlock_t docs_rw; /* guards docs against readers; writers hold it briefly */
    vs_docstore docs;
    vs_keymap keys;           /* string ids (keymap.h), guarded by docs_rw like docs */
    atomic_size_t count;

    pthread_mutex_t write_mu; /* one writer (add, remove, snapshot, training) at a time */
    int64_t next_id;
    uint64_t generation;
    vs_wal *wal;
    /* What vs_collection_info_get reports, refreshed by each writer before it releases
     * write_mu, so /stats and /metrics never wait for a long add or a snapshot. */
    pthread_mutex_t info_mu;
    vs_collection_info info;
    vs_wal **retired;     /* logs replaced by snapshots, freed at close (see vs_wal_retire) */
    size_t n_retired;

    /* Maintenance (maintenance.c). The state is generation's snapshot plus the logs
     * wal-generation .. wal-log_gen replayed in order; only wal-log_gen (c->wal) takes appends. */
    uint64_t log_gen;
    int log_failed;            /* a log write failed: no more writes or snapshots until reopened */
    vs_idmap pending;          /* ids of adds logged but not yet durable and applied (write_mu) */
    pthread_mutex_t maint_mu;  /* one training or snapshot at a time */
    struct vs_maint *maint;    /* the maintenance thread, when started */
    struct vs_train_delta *delta; /* writes applied while a training runs (write_mu) */
    uint8_t *trained_image;    /* the trained, empty IVF index as a file image (maint_mu) */
    size_t trained_len;

    /* Payload indexes (payload.h). Writers change them under write_mu AND payload_rw
     * exclusively; filter compilation reads them under payload_rw shared; a search declares
     * an automatic index under payload_rw exclusively (without write_mu). */
    pthread_rwlock_t payload_rw;
    vs_payload payload;
    atomic_int auto_index;
    /* The one automatic-build thread (collection_filter.c): started on demand, exits when no
     * index is left to build, joined by close. */
    pthread_mutex_t builder_mu;
    pthread_t builder;
    int builder_started, builder_running, builder_stop;
    /* Compiled filters of recent calls (collection_filter.c), valid while payload.version is. */
    pthread_mutex_t fcache_mu;
    struct vs_fcache_entry *fcache[4];
    uint64_t fcache_clock;
    /* The external log position applied so far (write_mu; collection.vsc section LPOS and
     * VS_WAL_LOG_POS records). */
    uint64_t log_pos;
};
void vs_collection_fcache_clear(vs_collection *c);

/* WAL record declaring a payload index: u32 type | field name bytes. */
#define VS_WAL_PAYLOAD_INDEX 8u
/* WAL record: u64 position in the external replicated log applied so far
 * (vs_collection_set_log_position). */
#define VS_WAL_LOG_POS 9u

/* Applies an add or remove to index and documents (no logging). Called with write_mu held
 * (or during open, single-threaded). Takes ownership of nothing. */
int vs_collection_apply_add(vs_collection *c, size_t n, const float *vectors, const int64_t *ids,
                            const uint32_t *text_len, const char *const *texts, const uint32_t *meta_len,
                            const char *const *metadata);
int vs_collection_apply_remove(vs_collection *c, size_t n, const int64_t *ids, size_t *n_removed);
/* WAL payloads (format in ARCHITECTURE.md). */
int vs_collection_encode_add(uint32_t dim, size_t n, const float *vectors, const int64_t *ids,
                             const char *const *texts, const char *const *metadata, uint8_t **out, size_t *len);
int vs_collection_replay(uint32_t type, const uint8_t *payload, uint64_t len, void *ctx);

/* collection_keys.c: string ids. A resolved batch: the keyed documents' ids and keys, and
 * the block that prefixes the ADD payload in an ADD_KEYED record:
 *   u32 m | m x (i64 id | u32 key length) | the m keys' bytes back to back */
typedef struct {
    size_t m;
    int64_t *ids;
    const char **keys;
    uint32_t *lens;
    uint8_t *block;
    size_t block_len;
} vs_key_batch;
/* Assigns ids[0..n) for keys (see vs_collection_add_keyed) and fills kb; write_mu held. */
int vs_keys_resolve(vs_collection *c, size_t n, const char *const *keys, int64_t *ids, vs_key_batch *kb);
/* Inserts (apply) or takes back (unapply) the batch's keys under docs_rw. */
int vs_keys_apply(vs_collection *c, const vs_key_batch *kb);
void vs_keys_unapply(vs_collection *c, const vs_key_batch *kb);
void vs_key_batch_free(vs_key_batch *kb);
/* vs_collection_replay plus the ADD_KEYED record. */
int vs_collection_replay_keyed(uint32_t type, const uint8_t *payload, uint64_t len, void *ctx);
/* Snapshot section KEYS: u64 count | i64 next internal id | count x (i64 id | u32 length) |
 * the keys' bytes. Absent in collections written before string ids (no keys). */
int vs_keys_encode(const vs_collection *c, uint8_t **out, size_t *len);
int vs_keys_decode(vs_collection *c, const uint8_t *p, uint64_t len, const char *origin);
/* The add path shared by vs_collection_add and vs_collection_add_keyed (keys may be NULL). */
int vs_collection_add_ex(vs_collection *c, size_t n, const float *vectors, const int64_t *ids_in,
                         const char *const *keys, const char *const *texts, const char *const *metadata,
                         int64_t *assigned_ids);

/* Recomputes c->info; call with write_mu held (or single-threaded). */
void vs_collection_refresh_info(vs_collection *c);

/* maintenance.c. Replays wal-generation onwards (every log file present in sequence) into c;
 * with live, keeps the last one open as c->wal (creating wal-generation when none exists),
 * else replays wal-generation .. wal-upto and closes them (a scratch copy). */
int vs_maint_replay_logs(vs_collection *c, int live, uint64_t upto);
/* Called under write_mu after a write was applied: feeds a running training, wakes the thread. */
void vs_maint_note_add(vs_collection *c, size_t n, const int64_t *ids, const float *vectors);
void vs_maint_note_remove(vs_collection *c, size_t n, const int64_t *ids);
/* Trains a staging IVF collection now if it has enough vectors (open, maintain, the thread). */
int vs_maint_train(vs_collection *c);
void vs_maint_free(vs_collection *c); /* stops the thread (close) and frees maintenance state */
/* Test hook (tests only): called at the named steps of a snapshot or training. */
typedef enum { VS_MAINT_ROTATED, VS_MAINT_WRITTEN, VS_MAINT_COMMITTED, VS_MAINT_TRAINED } vs_maint_step;
typedef void (*vs_maint_hook_fn)(vs_collection *c, vs_maint_step step);
extern _Atomic(vs_maint_hook_fn) vs_maint_test_hook;
/* collection.c: a collection object without files or lock (maintenance's scratch copy). */
vs_collection *vs_collection_alloc(const char *dir);
void vs_collection_free(vs_collection *c);
int vs_collection_setup_kind(vs_collection *c);
/* collection_filter.c: payload hooks (write_mu held, or single-threaded open). */
int vs_collection_payload_add(vs_collection *c, size_t n, const int64_t *ids); /* reads the docstore */
void vs_collection_payload_remove(vs_collection *c, size_t n, const int64_t *ids);
/* Builds every BUILDING index completely on the calling thread (write_mu held or open). */
int vs_collection_payload_build_all(vs_collection *c);
/* Declares and builds an index (write_mu held or open); no logging. */
int vs_collection_payload_declare(vs_collection *c, const char *field, vs_payload_type type, int automatic);
/* Open: the payload file of the snapshot, or the catalog rebuilt from the documents. */
int vs_collection_payload_load(vs_collection *c);
int vs_collection_payload_replay(vs_collection *c, const uint8_t *p, uint64_t len);
void vs_collection_builder_stop(vs_collection *c);
/* Declares automatic indexes (without write_mu) and starts the builder thread if needed. */
void vs_collection_request_builds(vs_collection *c, const char *const *fields, const vs_payload_type *types, size_t n);

/* collection_io.c: snapshot files. */
int vs_collection_write_snapshot(vs_collection *c, uint64_t generation);
int vs_collection_read_snapshot(vs_collection *c);
void vs_collection_path(const vs_collection *c, char *buf, size_t cap, const char *kind, uint64_t generation);

#endif
