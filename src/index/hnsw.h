/* HNSW graph index internals (Malkov & Yashunin 2016), shared by its phase files:
 * hnsw.c (lifecycle, storage, scratch pool, ops table), hnsw_build.c (levels, insert,
 * neighbour heuristic), hnsw_search.c (layer search, k-NN, filters, exact fallback, range),
 * hnsw_delete.c (tombstones and repair), hnsw_io.c (sections).
 *
 * Storage. Each node has one fixed-size level-0 record, like hnswlib, so a hop touches one
 * contiguous run of memory:
 *     [int64 user id][u32 flags][u32 count][u32 links[M0]][float vector[dim]]
 * Records live in blocks that never move: block b holds 1024 << b nodes, so growing the index
 * never reallocates memory a concurrent search may be reading, and node i's block is found
 * with one count-leading-zeros. Upper layers (level >= 1) are per-node arrays of
 * level x [u32 count][u32 links[M]], allocated once when the node is created.
 *
 * Concurrency. Searches take no lock. Link counts, link entries and flags are C11 atomics:
 * writers store with release, readers load with acquire (plain moves on x86), so a reader
 * that sees a node's ID in a list also sees its vector and ID, written before the node was
 * linked. A list being rewritten may be read half old, half new: every entry is always the ID
 * of a fully written node. Writers modifying a node's lists hold its striped mutex, one
 * node at a time (no lock ordering to get wrong). IDs are bound-checked against the node
 * count on every read, so a corrupt viewed file gives wrong answers, never a wild read. */
#ifndef VS_INDEX_HNSW_H
#define VS_INDEX_HNSW_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/idmap.h"
#include "index/hnsw_sq8.h"
#include "index/index_impl.h"
#include "kernels/kernels.h"
#include "quant/sq.h"

#define VS_HNSW_BLOCK0_SHIFT 10u /* first block: 1024 nodes, then doubling */
#define VS_HNSW_MAX_BLOCKS 32u   /* 1024 * (2^32 - 1) nodes: more than u32 IDs can name */
#define VS_HNSW_MAX_LEVEL 16u
#define VS_HNSW_LOCK_STRIPES 4096u
#define VS_HNSW_EMPTY UINT64_MAX /* entry point of an empty graph */
#define VS_HNSW_DEFAULT_EFC 200u
#define VS_HNSW_DEFAULT_SEED 0x5eed5eedull
#define VS_HNSW_FLAG_DELETED 1u
/* A deleted node no list links to any more: its out-links no longer count as in-links. */
#define VS_HNSW_FLAG_RETIRED 2u

typedef _Atomic uint32_t vs_hnsw_word;

typedef struct {
    float d;
    uint32_t id;
} vs_hnsw_pair;

/* A point distances are measured from: a query, a vector being inserted, or a stored node.
 * With quantised storage it carries the point prepared against the codes, so every distance
 * is "anchor to stored code" (asymmetric, no decoding on the hot path). */
typedef struct {
    const float *v;
    float *buf; /* a decoded node (quantised storage) */
    size_t buf_cap;
    vs_sq_query pq;
    int pq_ready;
    int quant;
    /* SQ8 (hnsw_sq8.h): key = base + mul * sum_i w8[i] c_i (+ the code's stored norm for L2) */
    int16_t *w8;
    size_t w8_cap;
    float base, mul;
} vs_hnsw_anchor;

/* Per-thread search state, pooled in the index and reused across queries and calls. The
 * visited set is a generation-stamped array: a new query bumps `gen` instead of clearing. */
typedef struct vs_hnsw_scratch {
    uint16_t *mark;
    size_t mark_cap;
    uint16_t gen;
    vs_hnsw_pair *cand; /* min-heap of nodes to expand */
    size_t cand_cap;
    vs_hnsw_pair *res;  /* max-heap of the best ef results */
    size_t res_cap;
    vs_hnsw_pair *work; /* heuristic / sorting workspace */
    size_t work_cap;
    uint32_t *nbr;      /* unvisited neighbours of the node being expanded */
    size_t nbr_cap;
    const uint8_t **nrec; /* and their records */
    size_t nrec_cap;
    vs_hnsw_anchor A[2]; /* [0]: the query or base of a list rewrite, [1]: hnsw_links.c's */
    vs_hnsw_anchor *kept; /* the heuristic's: one per neighbour kept so far */
    size_t kept_cap;
    uint32_t *orph;     /* nodes whose last layer-0 in-link a writer removed (hnsw_links.c) */
    size_t n_orph, orph_cap;
    struct vs_hnsw_scratch *next;
} vs_hnsw_scratch;

typedef struct {
    vs_hnsw_word *upper; /* level x (1 + M) words, or NULL at level 0 */
    uint32_t level;
    vs_hnsw_word indeg;  /* layer-0 lists of non-retired nodes that hold this node */
} vs_hnsw_meta;

typedef struct {
    uint32_t M, M0, efc, dim;
    int l2;
    int keep_pruned;  /* Algorithm 4's keepPrunedConnections */
    size_t rec_size;  /* bytes of one level-0 record */
    size_t off_vec;   /* offset of the vector (or its code) inside a record */
    size_t vec_bytes; /* bytes of the stored vector or code */
    int quant;        /* vectors stored as scalar-quantised codes (HNSW{M},SQ8 ...) */
    vs_sq sq;
    int sq8;          /* SQ8 codes: distances by the integer kernel (hnsw_sq8.h) */
    int sq8_norm;     /* SQ8 under L2: each code is followed by float sum_i (s_i c_i)^2 */
    vs_hnsw_dot8_fn dot8;
    vs_hnsw_node8_fn node8; /* a stored node's anchor from its code (hnsw.c) */
    double level_mult;
    uint64_t seed;

    uint8_t *rec[VS_HNSW_MAX_BLOCKS];
    vs_hnsw_meta *meta[VS_HNSW_MAX_BLOCKS];
    unsigned n_blocks; /* blocks allocated (writers only) */
    int owned;         /* 0: rec blocks point into ix->backing (loaded or viewed file) */
    vs_hnsw_word *upper_arena; /* upper lists copied from a file (one allocation) */
    size_t upper_arena_words;

    _Atomic size_t n;         /* nodes created (records fully written below this) */
    _Atomic size_t n_deleted;
    _Atomic size_t pending;   /* nodes added or deleted since the last vs_hnsw_connect */
    _Atomic uint64_t entry;   /* level << 32 | node, or VS_HNSW_EMPTY */
    pthread_mutex_t entry_lock;
    pthread_mutex_t locks[VS_HNSW_LOCK_STRIPES];

    pthread_mutex_t map_lock; /* the user-ID map: writers and get */
    vs_idmap map;
    int map_ready;

    pthread_mutex_t pool_lock;
    vs_hnsw_scratch *pool;
} vs_hnsw;

static inline unsigned vs_hnsw_block_of(size_t i, size_t *off)
{
    size_t j = i + ((size_t)1 << VS_HNSW_BLOCK0_SHIFT);
    unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)j) - VS_HNSW_BLOCK0_SHIFT;
    *off = j - ((size_t)1 << (b + VS_HNSW_BLOCK0_SHIFT));
    return b;
}
static inline size_t vs_hnsw_block_start(unsigned b)
{
    return ((size_t)1 << (b + VS_HNSW_BLOCK0_SHIFT)) - ((size_t)1 << VS_HNSW_BLOCK0_SHIFT);
}
static inline size_t vs_hnsw_block_len(unsigned b) { return (size_t)1 << (b + VS_HNSW_BLOCK0_SHIFT); }

static inline uint8_t *vs_hnsw_rec(const vs_hnsw *h, uint32_t i)
{
    size_t off;
    unsigned b = vs_hnsw_block_of(i, &off);
    return h->rec[b] + off * h->rec_size;
}
static inline vs_hnsw_meta *vs_hnsw_meta_of(const vs_hnsw *h, uint32_t i)
{
    size_t off;
    unsigned b = vs_hnsw_block_of(i, &off);
    return h->meta[b] + off;
}
static inline int64_t vs_hnsw_rec_id(const uint8_t *rec)
{
    int64_t id;
    memcpy(&id, rec, sizeof id);
    return id;
}
static inline vs_hnsw_word *vs_hnsw_rec_flags(const uint8_t *rec) { return (vs_hnsw_word *)(rec + 8); }
static inline const float *vs_hnsw_rec_vec(const vs_hnsw *h, const uint8_t *rec) { return (const float *)(rec + h->off_vec); }
static inline int vs_hnsw_rec_deleted(const uint8_t *rec)
{
    return atomic_load_explicit(vs_hnsw_rec_flags(rec), memory_order_relaxed) & VS_HNSW_FLAG_DELETED;
}

/* The link list [count][ids...] of node i at `level`, with its capacity; NULL when the node
 * has no such level (possible only in a corrupt file). */
static inline vs_hnsw_word *vs_hnsw_list(const vs_hnsw *h, uint32_t i, unsigned level, uint32_t *cap)
{
    if (level == 0) {
        *cap = h->M0;
        return (vs_hnsw_word *)(vs_hnsw_rec(h, i) + 12);
    }
    const vs_hnsw_meta *m = vs_hnsw_meta_of(h, i);
    *cap = h->M;
    if (level > m->level || !m->upper) return NULL;
    return m->upper + (size_t)(level - 1) * (1 + h->M);
}

/* Reads a list's count, clamped to its capacity. */
static inline uint32_t vs_hnsw_count(const vs_hnsw_word *list, uint32_t cap)
{
    uint32_t c = atomic_load_explicit(list, memory_order_acquire);
    return c < cap ? c : cap;
}

/* Key of the index's metric: squared L2, or -dot for IP and (normalised) cosine. */
static inline float vs_hnsw_dist(const vs_hnsw *h, const vs_kernel_table *kt, const float *a, const float *b)
{
    return h->l2 ? kt->l2sq(a, b, h->dim) : -kt->dot(a, b, h->dim);
}

/* Key from an anchor to an SQ8 code (hnsw_sq8.h). */
static inline float vs_hnsw_key8(const vs_hnsw *h, const vs_hnsw_anchor *a, const uint8_t *code)
{
    float k = a->base + a->mul * (float)h->dot8(a->w8, code, h->dim);
    if (h->sq8_norm) {
        float nrm;
        memcpy(&nrm, code + h->dim, sizeof nrm);
        k += nrm;
    }
    return k;
}

/* Key from an anchor to a stored node's record. */
static inline float vs_hnsw_adist(const vs_hnsw *h, const vs_kernel_table *kt, const vs_hnsw_anchor *a,
                                  const uint8_t *rec)
{
    if (a->quant && h->sq8) return vs_hnsw_key8(h, a, rec + h->off_vec);
    if (a->quant) return vs_sq_key(&a->pq, rec + h->off_vec);
    return vs_hnsw_dist(h, kt, a->v, (const float *)(rec + h->off_vec));
}

static inline pthread_mutex_t *vs_hnsw_lock_of(vs_hnsw *h, uint32_t node)
{
    return &h->locks[node & (VS_HNSW_LOCK_STRIPES - 1)];
}

/* hnsw.c */
int vs_hnsw_reserve(vs_index *ix, size_t need); /* blocks for `need` nodes; copies a file image first */
int vs_hnsw_make_owned(vs_index *ix);
int vs_hnsw_ensure_map(vs_hnsw *h);             /* under map_lock */
vs_hnsw_scratch *vs_hnsw_scratch_get(vs_hnsw *h);
void vs_hnsw_scratch_put(vs_hnsw *h, vs_hnsw_scratch *s);
/* Starts a new visited generation covering nodes [0, n); -1 on allocation failure. */
int vs_hnsw_visit_begin(vs_hnsw_scratch *s, size_t n);
int vs_hnsw_grow(void **p, size_t *cap, size_t need, size_t elem);
/* Anchors at a float vector (kept by the caller) or at a stored node; -1 when out of memory. */
int vs_hnsw_anchor_vec(const vs_hnsw *h, vs_hnsw_anchor *a, const float *x);
int vs_hnsw_anchor_node(const vs_hnsw *h, vs_hnsw_anchor *a, uint32_t node);
void vs_hnsw_anchor_free(vs_hnsw_anchor *a); /* its buffers; leaves it zeroed */
/* Encodes x into a record's code (and, for SQ8 under L2, the norm stored after it). */
void vs_hnsw_encode(const vs_hnsw *h, const float *x, uint8_t *rec);

/* hnsw_build.c */
int vs_hnsw_add(vs_index *ix, size_t n, const float *x, const int64_t *ids);
/* Algorithm 4 over cand[0..n) sorted ascending by distance to the base vector; writes up to
 * max_out chosen IDs to out and returns how many. */
size_t vs_hnsw_select(const vs_hnsw *h, const vs_kernel_table *kt, const vs_hnsw_pair *cand, size_t n,
                      size_t max_out, vs_hnsw_pair *out, vs_hnsw_scratch *s);

/* hnsw_search.c */
/* Best-first search of one layer from the given entry points, ef results kept in s->res
 * (a max-heap); returns the result count or -1 when out of memory. Nodes failing
 * `filter` or deleted (when skip_deleted) are traversed but not returned. */
long vs_hnsw_search_layer(const vs_hnsw *h, const vs_kernel_table *kt, const vs_hnsw_anchor *q, const vs_hnsw_pair *eps,
                          size_t n_eps, unsigned level, size_t ef, const vs_filter *filter, int skip_deleted,
                          size_t n_limit, vs_hnsw_scratch *s);
/* Greedy descent (ef = 1) on one layer, updating *cur / *cur_d. */
void vs_hnsw_greedy(const vs_hnsw *h, const vs_kernel_table *kt, const vs_hnsw_anchor *q, unsigned level, size_t n_limit,
                    uint32_t *cur, float *cur_d);
void vs_hnsw_sort_pairs(vs_hnsw_pair *p, size_t n);
int vs_hnsw_search(const vs_index *ix, size_t nq, const float *q, uint32_t k, const vs_search_params *p,
                   float *keys, int64_t *ids);
int vs_hnsw_range_search(const vs_index *ix, size_t nq, const float *q, float key_radius,
                         const vs_search_params *p, vs_range_result **out);
/* Tests force a filtered-search strategy: 0 = automatic, 1 = always the graph, 2 = always exact. */
extern int vs_hnsw_filter_strategy;

/* hnsw_delete.c */
int vs_hnsw_remove(vs_index *ix, size_t n, const int64_t *ids, size_t *n_removed);
/* Rewrites the lists of x's live neighbours that point to x, bridging over x. */
int vs_hnsw_repair(vs_hnsw *h, const vs_kernel_table *kt, uint32_t x, vs_hnsw_scratch *s);

/* hnsw_links.c: layer-0 in-degree bookkeeping that keeps every live node reachable.
 * Replaces e's layer-0 list (caller holds e's lock) and adjusts in-degrees; nodes left with
 * none are queued in s for vs_hnsw_settle. -1 when out of memory (the list is written). */
int vs_hnsw_write_list0(vs_hnsw *h, uint32_t e, const vs_hnsw_pair *p, size_t n, vs_hnsw_scratch *s);
/* Appends v to e's layer-0 list, which has room (caller holds e's lock). */
void vs_hnsw_append_list0(vs_hnsw *h, uint32_t e, uint32_t v);
/* Queues node v when nothing links to it on layer 0 (a new node whose links were all pruned). */
int vs_hnsw_check_orphan(vs_hnsw *h, uint32_t v, vs_hnsw_scratch *s);
/* Without locks held: retires queued deleted nodes and links every queued live node from a
 * near neighbour again. -1 when out of memory. */
int vs_hnsw_settle(vs_hnsw *h, const vs_kernel_table *kt, vs_hnsw_scratch *s);
/* Recounts in-degrees from the lists (a loaded image becoming writable). */
void vs_hnsw_recount(vs_hnsw *h);
/* Writer only, no lock held: floods layer 0 from the entry point and links every live node
 * it misses from the nearest reachable node, until none is missed. O(n * M0). */
int vs_hnsw_connect(vs_hnsw *h, const vs_kernel_table *kt, vs_hnsw_scratch *s);
/* Runs vs_hnsw_connect when enough nodes were added or deleted since the last run. */
int vs_hnsw_maybe_connect(vs_hnsw *h, const vs_kernel_table *kt, vs_hnsw_scratch *s, size_t changed);
/* Live nodes not reachable on layer 0 from the entry point (tests); SIZE_MAX when out of
 * memory. Must not overlap writers. */
size_t vs_hnsw_unreachable(const vs_index *ix);

/* hnsw_io.c */
int vs_hnsw_save(const vs_index *ix, vs_container_writer *w);
int vs_hnsw_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin);

#endif
