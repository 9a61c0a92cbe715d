/*
 * vecscale.h — the one public header of libvecscale.
 *
 * Conventions (they hold for every function below):
 *  - Every name is prefixed `vs_`; handles are opaque and created through an out-parameter.
 *  - Functions that can fail return an `int`: VS_OK (0) or a negative VS_ERR_* code. The
 *    human-readable reason is available from vs_last_error() on the same thread until the next
 *    failing call on that thread. The library never calls exit() or abort().
 *  - Ownership is stated at every function that returns memory. Output arrays passed in by the
 *    caller are always caller-owned.
 *  - The library never starts a thread the caller did not ask for: calls run on the calling
 *    thread unless vs_search_params.n_threads > 1 asks for helpers, which are joined before the
 *    call returns. One exception, owned by a collection and opted out of with
 *    vs_collection_options.no_auto_index / vs_collection_set_auto_index: the thread that builds
 *    an automatic payload index (see "Payload indexes and metadata filters"), joined by
 *    vs_collection_close.
 *  - Thread-safety: concurrent read calls (search, range_search, save, getters) on one index
 *    are safe; a mutating call (add, remove, train) must not overlap any other call on the
 *    same index.
 *    Exception, HNSW indexes: one add or remove at a time may run concurrently with any number
 *    of search, range_search, get and vs_index_size calls (searches take no lock and never
 *    wait for a writer; they see each inserted vector either not at all or completely).
 *    Writers must still not overlap each other, save, or vs_index_memory_bytes, and the first
 *    write to a loaded or viewed HNSW index (which copies the file image) must not overlap
 *    any other call.
 */
#ifndef VECSCALE_H
#define VECSCALE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of the shared library are hidden unless marked as public API here. */
#if defined(VS_BUILDING_LIBRARY)
#define VS_API __attribute__((visibility("default")))
#else
#define VS_API
#endif

#define VS_VERSION_MAJOR 0
#define VS_VERSION_MINOR 1
#define VS_VERSION_PATCH 0

/** @defgroup errors Error codes
 * @{ */
enum {
    VS_OK = 0,
    VS_ERR_INVALID_ARG = -1,  /**< an argument is out of range, NULL, NaN/Inf, or malformed */
    VS_ERR_DIMENSION = -2,    /**< vector dimension does not match the index */
    VS_ERR_NOMEM = -3,        /**< an allocation failed */
    VS_ERR_IO = -4,           /**< the operating system refused a read, write, open or mmap */
    VS_ERR_CORRUPT = -5,      /**< a file is truncated, has a bad checksum or is inconsistent */
    VS_ERR_VERSION = -6,      /**< a file was written by a newer, unknown format version */
    VS_ERR_UNSUPPORTED = -7,  /**< valid request that this build does not implement */
    VS_ERR_NOT_FOUND = -8,    /**< an ID or file does not exist */
    VS_ERR_DUPLICATE_ID = -9, /**< an ID being added is already in the index */
    VS_ERR_NOT_TRAINED = -10, /**< the index needs vs_index_train() first */
    VS_ERR_EMPTY = -11,       /**< the operation needs a non-empty input */
    VS_ERR_FACTORY = -12,     /**< the factory string cannot be parsed */
};
/** @} */

/** Message for the last failure on the calling thread ("" if none). The string is owned by
 *  the library, stays valid until the next vecscale call on this thread, and needs no freeing. */
VS_API const char *vs_last_error(void);

/** Static name of an error code ("VS_ERR_DIMENSION"); never NULL, never to be freed. */
VS_API const char *vs_strerror(int code);

/** Library version string, e.g. "0.1.0"; static. */
VS_API const char *vs_version(void);

/** @defgroup metrics Metrics
 * Scores returned by searches: VS_METRIC_L2 gives the squared Euclidean distance (smaller is
 * better); VS_METRIC_IP the inner product and VS_METRIC_COSINE the cosine similarity (larger is
 * better). Cosine indexes normalise vectors on add and queries on search.
 * @{ */
typedef enum { VS_METRIC_L2 = 0, VS_METRIC_IP = 1, VS_METRIC_COSINE = 2 } vs_metric;

/** Parses "l2", "ip", "cosine" (also "inner_product", "euclidean", "cos"). */
VS_API int vs_metric_parse(const char *name, vs_metric *out);
/** Static lower-case name of a metric. */
VS_API const char *vs_metric_name(vs_metric m);
/** @} */

/** @defgroup kernels Distance kernels
 * Runtime-dispatched SIMD kernels (scalar, AVX2+FMA, AVX-512). Usable on their own.
 * @{ */
typedef enum { VS_SIMD_SCALAR = 0, VS_SIMD_AVX2 = 1, VS_SIMD_AVX512 = 2 } vs_simd_level;

/** The best level this CPU and OS support (from CPUID and XGETBV). */
VS_API vs_simd_level vs_simd_detected(void);
/** The level the kernels currently use. */
VS_API vs_simd_level vs_simd_active(void);
/** Forces a level (for tests and measurements); fails if the CPU lacks it. Not thread-safe
 *  against concurrent searches. The environment variable VECSCALE_SIMD=scalar|avx2|avx512
 *  sets the starting level. */
VS_API int vs_simd_force(vs_simd_level level);
/** Static name: "scalar", "avx2", "avx512". */
VS_API const char *vs_simd_name(vs_simd_level level);

VS_API float vs_l2sq(const float *a, const float *b, size_t d);
VS_API float vs_dot(const float *a, const float *b, size_t d);
VS_API float vs_norm_sq(const float *a, size_t d);
/** @} */

/** @defgroup factory Factory strings
 * FAISS-style index descriptions: "Flat", "IVF4096,Flat", "IVF4096,PQ32x4fs,RFlat",
 * "HNSW32", "HNSW32,SQ8", "SQ8", "PQ16", "IVF1024,SQfp16", ... Whitespace is not allowed.
 * @{ */
typedef enum { VS_COARSE_NONE = 0, VS_COARSE_IVF = 1, VS_COARSE_HNSW = 2 } vs_coarse_kind;
typedef enum {
    VS_CODE_FLAT = 0, /**< float32 vectors */
    VS_CODE_SQ8 = 1,
    VS_CODE_SQ4 = 2,
    VS_CODE_SQFP16 = 3,
    VS_CODE_SQBF16 = 4,
    VS_CODE_PQ = 5
} vs_code_kind;

typedef struct {
    vs_coarse_kind coarse;
    uint32_t nlist;     /**< IVF lists (coarse == VS_COARSE_IVF) */
    uint32_t hnsw_m;    /**< HNSW M (coarse == VS_COARSE_HNSW) */
    vs_code_kind code;
    uint32_t pq_m;      /**< PQ sub-quantizers */
    uint32_t pq_bits;   /**< bits per PQ code, 4..8 */
    int pq_fastscan;    /**< "fs" suffix: 4-bit SIMD fast-scan layout */
    int refine_flat;    /**< ",RFlat": re-rank on the original vectors */
} vs_factory_spec;

/** Parses a factory string without creating anything. */
VS_API int vs_factory_parse(const char *spec, vs_factory_spec *out);
/** Writes the canonical factory string of `spec` into buf (NUL-terminated, truncated to cap). */
VS_API int vs_factory_format(const vs_factory_spec *spec, char *buf, size_t cap);
/** @} */

/** @defgroup index Indexes
 * @{ */
typedef struct vs_index vs_index;

typedef struct {
    uint32_t dim;        /**< vector dimension, 1..65536 */
    vs_metric metric;
    const char *factory; /**< factory string; NULL means "Flat" */
    uint32_t n_threads;  /**< threads vs_index_train / vs_index_add may use; 0 or 1 = caller only */
    uint32_t ef_construction; /**< HNSW build candidate list (0 = 200) */
    uint64_t seed;       /**< seed for training / level generation (0 = a fixed default) */
} vs_index_options;

/** Creates an empty index. On success *out is owned by the caller: free with vs_index_free. */
VS_API int vs_index_create(const vs_index_options *opts, vs_index **out);
/** Frees an index and everything it owns (including a mapping made by vs_index_view). NULL is ok. */
VS_API void vs_index_free(vs_index *index);

/** Trains the index on n vectors (a no-op for Flat). */
VS_API int vs_index_train(vs_index *index, size_t n, const float *vectors);

/** Adds n vectors (row-major, n x dim floats). `ids` holds n user IDs (>= 0, unique, not yet in
 *  the index), or is NULL to assign consecutive IDs after the largest ever assigned. Nothing is
 *  added if any vector is invalid (NaN/Inf, or zero under cosine) or any ID is a duplicate. The
 *  index copies the data; the caller keeps ownership of its arrays. */
VS_API int vs_index_add(vs_index *index, size_t n, const float *vectors, const int64_t *ids);

/** Removes the vectors with the given IDs. IDs not present are ignored; *n_removed (may be
 *  NULL) receives how many were removed. */
VS_API int vs_index_remove(vs_index *index, size_t n, const int64_t *ids, size_t *n_removed);

/** Copies the stored vector of `id` into out (dim floats; normalised for cosine). */
VS_API int vs_index_get(const vs_index *index, int64_t id, float *out);

/** Predicate for filtered search: return non-zero to allow `id`. Called from the searching
 *  threads, possibly concurrently; must be thread-safe. */
typedef int (*vs_id_predicate)(int64_t id, void *ctx);

typedef enum { VS_FILTER_NONE = 0, VS_FILTER_BITSET = 1, VS_FILTER_PREDICATE = 2 } vs_filter_kind;

/** Restricts a search to a subset of IDs. BITSET: id is allowed iff id < n_bits and bit
 *  (bits[id >> 3] >> (id & 7)) & 1 is set. PREDICATE: id is allowed iff fn(id, ctx) != 0. */
typedef struct {
    vs_filter_kind kind;
    const uint8_t *bits;
    uint64_t n_bits;
    vs_id_predicate fn;
    void *ctx;
} vs_filter;

/** Per-call search parameters. Zero-initialise and set what you need; zero means default. */
typedef struct {
    uint32_t n_threads;      /**< threads for this call; 0 or 1 = the calling thread only */
    const vs_filter *filter; /**< NULL = no filter */
    uint32_t nprobe;         /**< IVF lists to visit (IVF indexes) */
    uint32_t ef_search;      /**< HNSW candidate list size (0 = max(k, 64); raised to k if smaller) */
    float k_factor;          /**< re-ranking: k * k_factor candidates (",RFlat" indexes) */
} vs_search_params;

/** k-nearest-neighbour search for nq queries. distances and ids are caller-owned arrays of
 *  nq * k; row i holds query i's results best first. When fewer than k vectors qualify, the
 *  tail of a row has id -1 and distance +inf (L2) or -inf (IP, cosine). params may be NULL. */
VS_API int vs_index_search(const vs_index *index, size_t nq, const float *queries, uint32_t k,
                    const vs_search_params *params, float *distances, int64_t *ids);

/** Range search result: results of query i are ids[lims[i] .. lims[i+1]) with their distances,
 *  best first. Owned by the caller; free with vs_range_result_free. */
typedef struct {
    size_t nq;
    size_t *lims;     /**< nq + 1 entries */
    int64_t *ids;
    float *distances;
} vs_range_result;

/** All vectors within `radius`: squared L2 distance < radius for L2; score > radius for IP and
 *  cosine. On success *out is owned by the caller. */
VS_API int vs_index_range_search(const vs_index *index, size_t nq, const float *queries, float radius,
                          const vs_search_params *params, vs_range_result **out);
VS_API void vs_range_result_free(vs_range_result *r);

VS_API uint32_t vs_index_dim(const vs_index *index);
VS_API size_t vs_index_size(const vs_index *index);
VS_API vs_metric vs_index_metric(const vs_index *index);
VS_API int vs_index_is_trained(const vs_index *index);
/** Whether the index reads its data from a read-only mapping (vs_index_view) that has not yet
 *  been copied by a mutation. */
VS_API int vs_index_is_mapped(const vs_index *index);
/** Canonical factory string; owned by the index, valid until it is freed. */
VS_API const char *vs_index_factory(const vs_index *index);
/** Heap bytes the index holds (mapped file pages not counted). */
VS_API size_t vs_index_memory_bytes(const vs_index *index);
/** Bytes of encoded data per vector (4 * dim for Flat), without IDs. */
VS_API size_t vs_index_code_size(const vs_index *index);
/** The first ID the next vs_index_add with ids == NULL would assign (one after the largest ID
 *  ever added, removed ones included; saved with the index). Lets a binding report the IDs
 *  of an automatic add; read it under the same exclusion as vs_index_add. */
VS_API int64_t vs_index_next_id(const vs_index *index);
/** @} */

struct vs_matrix; /* defined in the vecio group below */

/** Matrix forms of add and search: they check that m is float32 with the index's dimension
 *  (VS_ERR_DIMENSION otherwise). Same ownership rules as the pointer forms. */
VS_API int vs_index_add_matrix(vs_index *index, const struct vs_matrix *m, const int64_t *ids);
VS_API int vs_index_search_matrix(const vs_index *index, const struct vs_matrix *queries, uint32_t k,
                           const vs_search_params *params, float *distances, int64_t *ids);

/** @defgroup persistence Persistence
 * Index files: magic "VECSCALE", format version, section table, XXH3-64 checksums; see
 * ARCHITECTURE.md. Saving writes a temporary file in the same directory, fsyncs it and renames
 * it over `path`, so a crash leaves either the old or the new file, never a mix.
 * @{ */
#define VS_FORMAT_VERSION 1

VS_API int vs_index_save(const vs_index *index, const char *path);
/** Reads the whole file into memory, verifying every checksum. *out owned by the caller. */
VS_API int vs_index_load(const char *path, vs_index **out);
/** Maps the file read-only; bulk vector data is not copied or read until used, and its checksum
 *  is not verified (header, section table and metadata are). The first mutation copies the data
 *  into memory. *out owned by the caller; the mapping is released by vs_index_free. */
VS_API int vs_index_view(const char *path, vs_index **out);
/** Loads from a memory buffer (copied; the caller keeps `buf`). Verifies every checksum. */
VS_API int vs_index_load_buffer(const void *buf, size_t len, vs_index **out);
/** Verifies every checksum of a file, including bulk data (what vs_index_view skips). */
VS_API int vs_index_verify_file(const char *path);
/** @} */

/** @defgroup vecio Vector files
 * .fvecs, .ivecs, .bvecs (TEXMEX format), .npy (NumPy, C order, <f4 / <i4 / |u1), and
 * idx-ubyte (MNIST). The format is chosen from the file name's extension.
 * @{ */
typedef enum { VS_DTYPE_F32 = 0, VS_DTYPE_I32 = 1, VS_DTYPE_U8 = 2 } vs_dtype;

typedef struct vs_matrix {
    size_t n;       /**< rows */
    uint32_t dim;   /**< columns */
    vs_dtype dtype;
    void *data;     /**< n * dim elements, row-major */
} vs_matrix;

/** Reads a vector file. On success *out (and its data) is owned by the caller: free with
 *  vs_matrix_free. max_rows limits how many rows are read (0 = all). */
VS_API int vs_matrix_read(const char *path, size_t max_rows, vs_matrix **out);
/** Parses a vector file held in memory; `format` is an extension such as "fvecs" or "npy". */
VS_API int vs_matrix_parse(const void *buf, size_t len, const char *format, size_t max_rows,
                    vs_matrix **out);
/** Converts m to float32 in place (u8 and i32 values become floats). */
VS_API int vs_matrix_to_f32(vs_matrix *m);
/** Writes .fvecs (F32), .ivecs (I32), .bvecs (U8) or .npy, atomically. */
VS_API int vs_matrix_write(const char *path, const vs_matrix *m);
VS_API void vs_matrix_free(vs_matrix *m);
/** @} */

/** @defgroup logging Library messages
 * The library never prints. Conditions worth telling a user about that are not errors (for
 * example training an IVF index on fewer than 39 vectors per list) go to a process-wide
 * handler, if one is installed.
 * @{ */
typedef enum { VS_LOG_WARNING = 1, VS_LOG_INFO = 2 } vs_log_level;
/** Receives one message (NUL-terminated, no trailing newline; valid only during the call).
 *  May be called from any thread that is inside a vecscale call, possibly concurrently. */
typedef void (*vs_log_fn)(vs_log_level level, const char *message, void *ctx);
/** Installs fn (NULL = discard messages, the default) with ctx for the whole process.
 *  Thread-safe; a message being delivered while the handler changes goes to one of the two. */
VS_API void vs_set_log_handler(vs_log_fn fn, void *ctx);
/** @} */

/** @defgroup quantizers Vector quantizers
 * The codecs the compressed indexes use, usable alone: compress vectors to codes and back.
 * Codes are caller-owned byte arrays of n * code_size bytes; vectors are n * dim floats.
 * Encoding rejects NaN/Inf with VS_ERR_INVALID_ARG and writes nothing.
 * @{ */
typedef struct vs_scalar_quantizer vs_scalar_quantizer;
typedef struct vs_product_quantizer vs_product_quantizer;

/** Scalar quantizer of kind VS_CODE_SQ8, VS_CODE_SQ4 (per-dimension min/max ranges learnt by
 *  training), VS_CODE_SQFP16 or VS_CODE_SQBF16 (no training needed). Free with
 *  vs_scalar_quantizer_free. */
VS_API int vs_scalar_quantizer_create(uint32_t dim, vs_code_kind kind, vs_scalar_quantizer **out);
VS_API void vs_scalar_quantizer_free(vs_scalar_quantizer *q);
VS_API int vs_scalar_quantizer_train(vs_scalar_quantizer *q, size_t n, const float *x);
/** Bytes per vector: dim (SQ8), ceil(dim / 2) (SQ4), 2 * dim (fp16, bf16). */
VS_API size_t vs_scalar_quantizer_code_size(const vs_scalar_quantizer *q);
VS_API int vs_scalar_quantizer_encode(const vs_scalar_quantizer *q, size_t n, const float *x, uint8_t *codes);
VS_API int vs_scalar_quantizer_decode(const vs_scalar_quantizer *q, size_t n, const uint8_t *codes, float *x);

/** Product quantizer: m sub-quantizers (m divides dim) of 2^nbits centroids, nbits 4..8,
 *  trained by k-means per sub-space (25 iterations, at most 256 points per centroid). Free
 *  with vs_product_quantizer_free. */
VS_API int vs_product_quantizer_create(uint32_t dim, uint32_t m, uint32_t nbits, vs_product_quantizer **out);
VS_API void vs_product_quantizer_free(vs_product_quantizer *q);
/** Needs n >= 2^nbits. seed 0 = a fixed default; n_threads 0 or 1 = the calling thread. */
VS_API int vs_product_quantizer_train(vs_product_quantizer *q, size_t n, const float *x, uint64_t seed,
                                      uint32_t n_threads);
/** Bytes per vector: ceil(m / 2) for 4-bit codes (two per byte), else m (one byte each). */
VS_API size_t vs_product_quantizer_code_size(const vs_product_quantizer *q);
VS_API int vs_product_quantizer_encode(const vs_product_quantizer *q, size_t n, const float *x, uint8_t *codes);
VS_API int vs_product_quantizer_decode(const vs_product_quantizer *q, size_t n, const uint8_t *codes, float *x);
/** @} */

/** @defgroup kmeans k-means clustering
 * Lloyd's k-means as FAISS does it (the trainer of IVF indexes): point-to-centroid distances
 * through BLAS in blocks (never an n x k matrix), at most max_points_per_centroid * k points
 * (a seeded random subsample), empty clusters repaired by splitting a large one.
 * @{ */
typedef enum { VS_KMEANS_INIT_RANDOM = 0, VS_KMEANS_INIT_PLUSPLUS = 1 } vs_kmeans_init;

/** Zero-initialise and set what you need; zero means the default given. */
typedef struct {
    uint32_t n_iter;                  /**< Lloyd iterations (0 = 25, FAISS's default) */
    uint32_t max_points_per_centroid; /**< subsample above k * this (0 = 256, as FAISS) */
    uint64_t seed;                    /**< seeds init and subsampling (0 = 1234, FAISS's) */
    uint32_t n_threads;               /**< 0 or 1 = the calling thread only */
    vs_kmeans_init init;              /**< random distinct points (FAISS) or k-means++ */
    int inner_product;                /**< assign by largest inner product instead of L2 */
    int spherical;                    /**< renormalise centroids to unit length each iteration */
} vs_kmeans_params;

/** Clusters n vectors of dimension d (row-major) into k centroids. centroids is caller-owned,
 *  k * d floats; *objective (may be NULL) receives the final sum of squared distances (L2) or
 *  of inner products (inner_product) of the points used. p may be NULL. Fails with
 *  VS_ERR_INVALID_ARG if n < k, k == 0 or d == 0; inputs must be finite. Deterministic for a
 *  given seed whatever n_threads is. */
VS_API int vs_kmeans(size_t n, uint32_t d, const float *x, uint32_t k, const vs_kmeans_params *p,
                     float *centroids, float *objective);
/** @} */

/** @defgroup s3 S3-compatible object storage
 * A small S3 client on libcurl (SigV4 signing): AWS S3, Google Cloud Storage (its XML API with
 * HMAC keys), Ceph radosgw and MinIO. Errors of these calls, beyond the general ones:
 * VS_ERR_AUTH (the store refused the credentials or signature), VS_ERR_NETWORK (no answer,
 * timeout, or a server error that persisted through the retries), VS_ERR_CONFLICT (a
 * conditional write lost: the object already exists), VS_ERR_NOT_FOUND (no such object or
 * bucket). A vs_s3 handle keeps one connection; use it from one thread at a time.
 * @{ */
enum {
    VS_ERR_NETWORK = -20,  /**< the remote service did not answer, timed out, or kept failing */
    VS_ERR_AUTH = -21,     /**< the remote service refused the credentials or the signature */
    VS_ERR_CONFLICT = -22, /**< a conditional write lost against a concurrent writer */
};

typedef struct vs_s3 vs_s3;

/** Zero-initialise and set what you need. Every NULL/0 field falls back, in order, to the
 *  environment (AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
 *  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE), then to the shared files
 *  (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, AWS_CONFIG_FILE or ~/.aws/config, the
 *  profile's aws_access_key_id, aws_secret_access_key, aws_session_token, region,
 *  endpoint_url), then to the defaults given. The strings are copied. */
typedef struct {
    const char *endpoint;      /**< "http://127.0.0.1:7480", "https://storage.googleapis.com";
                                    NULL = AWS (https://s3.REGION.amazonaws.com) */
    const char *region;        /**< signing region; default "us-east-1" */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /**< temporary credentials only */
    const char *profile;       /**< profile in the shared files; default "default" */
    int path_style;            /**< 1 = http://host/bucket/key, -1 = virtual-hosted
                                    (http://bucket.host/key), 0 = virtual-hosted for AWS,
                                    path-style for any other endpoint */
    uint32_t timeout_ms;       /**< connect timeout, and the longest a transfer may stall;
                                    0 = 30000 */
    uint32_t retries;          /**< extra attempts after a network error or a 5xx (0 = 3;
                                    UINT32_MAX = none) */
    uint64_t part_size;        /**< multipart part size for vs_s3_put_file (0 = 64 MiB,
                                    at least 5 MiB); smaller files go up in one PUT */
    uint32_t list_page;        /**< objects per LIST request (0 = 1000, S3's maximum) */
} vs_s3_options;

/** Opens a client. Fails with VS_ERR_AUTH if no credentials are found anywhere (the message
 *  names the places looked at). opts may be NULL. *out owned by the caller: vs_s3_free. */
VS_API int vs_s3_open(const vs_s3_options *opts, vs_s3 **out);
VS_API void vs_s3_free(vs_s3 *s3);

/** Splits "s3://bucket/prefix/part" into its bucket and key prefix (without a leading or
 *  trailing '/'; may be empty). The buffers are the caller's. */
VS_API int vs_s3_parse_uri(const char *uri, char *bucket, size_t bucket_cap, char *prefix, size_t prefix_cap);

/** Creates a bucket; an existing bucket owned by the caller is not an error. */
VS_API int vs_s3_create_bucket(vs_s3 *s3, const char *bucket);

/** Stores len bytes as bucket/key. if_none_match != 0 makes the write conditional on the
 *  key not existing yet (If-None-Match: *): VS_ERR_CONFLICT if it does. */
VS_API int vs_s3_put(vs_s3 *s3, const char *bucket, const char *key, const void *data, size_t len,
                     int if_none_match);

/** Uploads a file: one PUT up to part_size, a multipart upload above it (aborted on
 *  failure, so no parts are left behind). The file is streamed, never held in memory. */
VS_API int vs_s3_put_file(vs_s3 *s3, const char *bucket, const char *key, const char *path);

/** Reads bytes [offset, offset + length) of an object (length 0 = to the end). On success
 *  *data is owned by the caller (free()) and *len says how many bytes it holds. */
VS_API int vs_s3_get(vs_s3 *s3, const char *bucket, const char *key, uint64_t offset, uint64_t length,
                     void **data, size_t *len);

/** Streams an object into an open file descriptor (from its current position), calling
 *  on_data (may be NULL) with each piece as it arrives, e.g. to hash it. */
VS_API int vs_s3_get_fd(vs_s3 *s3, const char *bucket, const char *key, int fd,
                        void (*on_data)(const void *piece, size_t len, void *ctx), void *ctx);

/** Size and ETag (quotes kept; may be NULL, etag_cap >= 64 recommended) of an object. */
VS_API int vs_s3_head(vs_s3 *s3, const char *bucket, const char *key, uint64_t *size, char *etag,
                      size_t etag_cap);

/** One listed object; the strings are valid only during the callback. */
typedef struct {
    const char *key;
    uint64_t size;
    const char *etag;
    const char *last_modified; /**< as the store wrote it, ISO 8601 UTC; "" if absent */
} vs_s3_object;
/** Calls fn for every object whose key starts with prefix, in key order, following the
 *  pagination (ListObjectsV2) until the end or until fn returns non-zero (which is then
 *  returned). */
VS_API int vs_s3_list(vs_s3 *s3, const char *bucket, const char *prefix,
                      int (*fn)(const vs_s3_object *obj, void *ctx), void *ctx);

/** Deletes an object; deleting a missing object is not an error (as in S3). */
VS_API int vs_s3_delete(vs_s3 *s3, const char *bucket, const char *key);
/** @} */

/** @defgroup snapshot Snapshots in object storage
 * A snapshot of a directory (an index or collection directory) at s3://bucket/prefix:
 *   prefix/segments/<xxh3-128>-<size>   each file, named by its content, never overwritten
 *   prefix/manifests/<generation>.vsm   the list of files, written last with If-None-Match
 * A manifest is published only after every segment it names is stored, and a generation is
 * claimed by a conditional PUT, so a reader never sees a partial snapshot and two concurrent
 * publishers cannot overwrite each other (the later one takes the next generation). Pull
 * verifies sizes and XXH3-128 checksums of everything before anything appears at the target.
 * @{ */
typedef struct {
    uint64_t generation;     /**< manifest generation written or read */
    uint64_t files;          /**< files in the snapshot */
    uint64_t bytes;          /**< total bytes of the files */
    uint64_t bytes_transferred; /**< bytes actually sent or received (unchanged segments skip) */
} vs_snapshot_stats;

/** Publishes directory `dir` (regular files, recursively) as a new generation under uri
 *  ("s3://bucket/prefix"). stats may be NULL. */
VS_API int vs_snapshot_push(vs_s3 *s3, const char *dir, const char *uri, vs_snapshot_stats *stats);
/** Restores a generation (0 = the latest) into `dir`, which must not exist or be empty. The
 *  files are downloaded and verified next to it and renamed into place only when all are good;
 *  on failure `dir` is left as it was. */
VS_API int vs_snapshot_pull(vs_s3 *s3, const char *uri, uint64_t generation, const char *dir,
                            vs_snapshot_stats *stats);
/** The latest published generation at uri (VS_ERR_NOT_FOUND if none). */
VS_API int vs_snapshot_latest(vs_s3 *s3, const char *uri, uint64_t *generation);
typedef struct {
    uint64_t generations_kept;    /**< manifests left */
    uint64_t oldest_kept;         /**< the oldest generation left */
    uint64_t manifests_deleted;
    uint64_t segments_deleted;
    uint64_t segments_kept_young; /**< unreferenced, but newer than the grace period */
    uint64_t bytes_freed;
} vs_snapshot_gc_stats;
/** Keeps the newest `keep` (>= 1) generations at uri and deletes the older manifests, then every
 *  segment none of the kept manifests names and that is older than grace_s seconds (by the
 *  store's LastModified): a publish in flight stores its segments before its manifest, so give
 *  grace_s longer than a publish takes. Manifests published while gc runs are honoured. A
 *  reader pulling a deleted generation at that moment fails with a clear error. dry_run counts
 *  without deleting. stats may be NULL. */
VS_API int vs_snapshot_gc(vs_s3 *s3, const char *uri, uint32_t keep, uint32_t grace_s, int dry_run,
                          vs_snapshot_gc_stats *stats);
/** @} */

/** @defgroup sharded Sharded index
 * Several indexes behind one: each ID lives in the shard vs_shard_of(id, n_shards) names (the
 * same rule the cluster router uses), a search asks every shard and merges their top-k, as
 * FAISS's IndexShards. Thread-safety follows vs_index: searches may run concurrently;
 * add/remove/train must not overlap anything else.
 * @{ */
typedef struct vs_sharded_index vs_sharded_index;

/** The shard that owns `id` among n_shards (a fixed 64-bit mix of the ID, modulo n_shards):
 *  stable across versions and machines. */
VS_API uint32_t vs_shard_of(int64_t id, uint32_t n_shards);
/** The shard that owns a document id given as text (vecscale.h, "Document ids"): a canonical
 *  integer ("17") goes where the integer goes; a string id by its XXH3-64 (shifted right by
 *  one) through vs_shard_of. The cluster router routes string ids of POST /vectors by it.
 *  An invalid key gives shard 0 (check it with vs_collection_key_check first). */
VS_API uint32_t vs_shard_of_key(const char *key, uint32_t n_shards);

/** Creates n_shards (1..4096) empty indexes made from opts. *out owned by the caller. */
VS_API int vs_sharded_create(const vs_index_options *opts, uint32_t n_shards, vs_sharded_index **out);
/** Wraps existing indexes (same dimension and metric), taking ownership of every one of them
 *  on success; on failure the caller keeps them. Their IDs must follow vs_shard_of for adds
 *  and removes to reach them, which searches do not need. */
VS_API int vs_sharded_from(vs_index **shards, uint32_t n_shards, vs_sharded_index **out);
VS_API void vs_sharded_free(vs_sharded_index *s);

/** Trains every shard on the same vectors (shards created from one seed train identically).
 *  n_threads of the creating options' vs_index_options applies per shard. */
VS_API int vs_sharded_train(vs_sharded_index *s, size_t n, const float *vectors);
/** Adds vectors, each to the shard owning its ID; ids NULL assigns IDs after the largest seen.
 *  As vs_index_add, nothing is added if a vector is not finite or an ID is negative, repeated
 *  in the batch or already stored (all checked before any shard changes). */
VS_API int vs_sharded_add(vs_sharded_index *s, size_t n, const float *vectors, const int64_t *ids);
VS_API int vs_sharded_remove(vs_sharded_index *s, size_t n, const int64_t *ids, size_t *n_removed);
/** Searches every shard, in parallel when params->n_threads > 1 (threads are shared out over
 *  the shards and joined before returning), and merges: same output contract as
 *  vs_index_search. */
VS_API int vs_sharded_search(const vs_sharded_index *s, size_t nq, const float *queries, uint32_t k,
                             const vs_search_params *params, float *distances, int64_t *ids);
VS_API size_t vs_sharded_size(const vs_sharded_index *s);
VS_API uint32_t vs_sharded_count(const vs_sharded_index *s);
/** Shard i, still owned by s (for save, stats, or searching one shard). */
VS_API vs_index *vs_sharded_shard(const vs_sharded_index *s, uint32_t i);

/** Merges the best-first result rows of n_lists searches of the same nq queries (list j has
 *  k_in[j] results per query in dists[j] / idss[j]; id -1 marks padding) into the best k per
 *  query, for the metric's order (L2: smaller first; IP, cosine: larger first). Ties go to the
 *  smaller ID, so the result does not depend on the order the lists arrive in. */
VS_API int vs_topk_merge(vs_metric metric, size_t nq, uint32_t k, size_t n_lists, const float *const *dists,
                         const int64_t *const *idss, const uint32_t *k_in, float *distances, int64_t *ids);
/** @defgroup embed Text embedding models
 * Turns text into vectors in C: the offline default VS_MODEL_DEFAULT, "glove-100-sif" (GloVe 6B
 * 100-d word vectors weighted by smooth inverse frequency, the corpus's common component
 * removed, normalised), the plain average "glove-100", and BERT encoders in the sentence-transformers layout (all-MiniLM-L6-v2:
 * 384-d, mean pooling, normalised).
 *
 * Model names are resolved in this order: a path to an existing file (a vecscale model file,
 * ".vsm") or directory (sentence-transformers / Hugging Face layout: config.json, vocab.txt or
 * tokenizer.json, model.safetensors, ...); otherwise NAME is looked up as NAME.vsm or NAME/ in
 * $VECSCALE_MODEL_DIR, then in the source tree's models/ directory (where scripts/fetch_models.sh
 * writes glove-100.vsm and glove-100-sif.vsm), then in the installed share/vecscale/models directory.
 *
 * A model is read-only once open: concurrent vs_model_embed calls on one model are safe.
 * Texts must be non-empty valid UTF-8 of at most VS_MODEL_MAX_TEXT_BYTES bytes; a batch with any
 * bad text fails as a whole (VS_ERR_INVALID_ARG naming the text) and writes nothing.
 * @{ */
typedef struct vs_model vs_model;

#define VS_MODEL_MAX_TEXT_BYTES (1u << 20) /**< longest accepted text, bytes */
/** The model the command line uses without --model: twice plain glove-100's recall@10 on a
 *  WordNet retrieval task (bench/RESULTS_embeddings.md). */
#define VS_MODEL_DEFAULT "glove-100-sif"

/** Opens a model (see the resolution order above). *out is owned by the caller: release it
 *  with vs_model_close. Missing files give VS_ERR_NOT_FOUND, damaged ones VS_ERR_CORRUPT. */
VS_API int vs_model_open(const char *name_or_path, vs_model **out);
/** Releases a model; NULL is ok. */
VS_API void vs_model_close(vs_model *m);
/** Arithmetic of a BERT encoder's Linear layers (attention softmax, layer norm and GELU stay
 *  fp32 in every mode). INT8: weights quantized per output channel at open, activations per
 *  row (asymmetric around the row's middle, per call), int32 sums; the attention block's
 *  projections with their rounding residuals quantized once more (three int8 products per
 *  weight); AVX2, AVX-VNNI or AVX512-VNNI kernels where present, bit-identical results on
 *  every machine. BF16: AVX512-BF16 only (VS_ERR_UNSUPPORTED
 *  elsewhere, or when VECSCALE_SIMD / vs_simd_force is below avx512). GloVe models are fp32. */
typedef enum {
    VS_PRECISION_DEFAULT = 0, /**< the model's default: FP32 */
    VS_PRECISION_FP32 = 1,
    VS_PRECISION_BF16 = 2,
    VS_PRECISION_INT8 = 3
} vs_precision;
/** Parses "fp32", "bf16", "int8" (also "default"). */
VS_API int vs_precision_parse(const char *name, vs_precision *out);
/** Static name: "default", "fp32", "bf16", "int8". */
VS_API const char *vs_precision_name(vs_precision p);
/** Options of vs_model_open_with; zero-initialise and set what you need. */
typedef struct {
    vs_precision precision; /**< VS_PRECISION_DEFAULT = the model's default */
} vs_model_options;
/** As vs_model_open, with options (NULL = all defaults). The precision applies to BERT
 *  models; one the CPU does not offer (bf16 without AVX512-BF16) is VS_ERR_UNSUPPORTED with the
 *  reason in vs_last_error(). GloVe models open in fp32 whatever is asked: compare
 *  vs_model_precision with the request where that matters. */
VS_API int vs_model_open_with(const char *name_or_path, const vs_model_options *opts, vs_model **out);
/** The precision the model computes in (FP32 for GloVe). */
VS_API vs_precision vs_model_precision(const vs_model *m);

/** Output dimension (100 for glove-100, 384 for all-MiniLM-L6-v2). */
VS_API size_t vs_model_dim(const vs_model *m);
/** Embeds n texts into out (caller-owned, n * vs_model_dim floats, row-major). n_threads <= 1
 *  runs on the calling thread only; more asks for that many worker threads, joined before the
 *  call returns. Results do not depend on n_threads. */
VS_API int vs_model_embed(vs_model *m, const char *const *texts, size_t n, int n_threads, float *out);
/** As vs_model_embed, and says how much of each text the model recognised: known[i]
 *  (caller-owned, n entries) receives the number of words (GloVe) or word pieces (BERT, not
 *  counting [CLS], [SEP] and [UNK]) of text i that the model knows, saturated at UINT32_MAX.
 *  known[i] == 0 means text i holds nothing the model knows: its row is then the model's
 *  fallback (GloVe: the mean word vector, or zeros in model files written before it existed;
 *  BERT: the encoding of unknown tokens), the same for every such text, so it must not be
 *  read as the text's meaning (a search with it returns arbitrary neighbours). Callers decide
 *  what to do with such texts; the server answers a query with no known word by an empty
 *  result and a warning. known may be NULL (then this is vs_model_embed). */
VS_API int vs_model_embed_known(vs_model *m, const char *const *texts, size_t n, int n_threads, float *out,
                                uint32_t *known);
/** Splits one text into the tokens the model embeds (same checks as vs_model_embed): for BERT
 *  models the WordPiece ids [CLS] ... [SEP], cut to the model's max_seq_length; for GloVe models
 *  the vocabulary row of each word, -1 for a word the model does not know. ids is caller-owned
 *  with room for cap entries (may be NULL when cap is 0); at most cap are written and
 *  *n_tokens receives how many there are, so a call with cap 0 sizes the buffer. Safe
 *  concurrently with other calls on the model. */
VS_API int vs_model_tokenize(const vs_model *m, const char *text, int32_t *ids, size_t cap, size_t *n_tokens);
/** The model's name ("glove-100", or the directory's last component); owned by the model. */
VS_API const char *vs_model_name(const vs_model *m);
/** Whether output vectors have unit length (1 for both built-in kinds with their defaults). */
VS_API int vs_model_normalizes(const vs_model *m);
/** Options of vs_model_pull; zero-initialise and set what you need. */
typedef struct {
    const char *endpoint; /**< hub base URL; NULL = $HF_ENDPOINT or "https://huggingface.co" */
    const char *revision; /**< branch, tag or commit; NULL = "main" */
    const char *dest_dir; /**< models directory; NULL = $VECSCALE_MODEL_DIR, else the source tree's models/ */
    long timeout_s;       /**< connect timeout, and a transfer stalled this long fails (0 = 30) */
    /** Called as bytes arrive (total 0 when unknown); may be NULL. */
    void (*progress)(const char *file, uint64_t done, uint64_t total, void *ctx);
    void *ctx;
} vs_model_pull_options;

/** Downloads a sentence-transformers model ("owner/name") from a Hugging Face hub-style server
 *  into dest_dir/owner/name/ with libcurl: the files a BERT directory needs (config, tokenizer,
 *  model.safetensors, sentence-transformers configs). Each file arrives as NAME.part, resumes
 *  with an HTTP Range request after an interruption, and is checked against the size and
 *  SHA-256 of the hub's listing before it is renamed into place. $HF_TOKEN, if set, is sent as
 *  a bearer token. out_dir (may be NULL) receives the model directory. Blocking; every transfer
 *  has the timeouts above; no thread is started. */
VS_API int vs_model_pull(const char *repo, const vs_model_pull_options *opts, char *out_dir, size_t cap);
/** Converts a GloVe text file (one "word v1 ... vD" per line) into a vecscale model file
 *  (kind 3, float16 vectors unless f32 is nonzero), written atomically to out_path. */
VS_API int vs_model_import_glove(const char *text_path, const char *out_path, int f32);

/** @defgroup collection Collections
 * A collection is an index plus the documents behind its IDs (optional text and metadata
 * JSON) plus a write-ahead log, kept in one directory. Every vs_collection_add and
 * vs_collection_remove that returns VS_OK is on disk (written and fdatasync'd; concurrent
 * calls share one sync, "group commit"); snapshots compact the log; vs_collection_open replays
 * it. Usable without the server.
 *
 * Visibility: a write is applied (seen by searches, gets and vs_collection_size) only after
 * its log record is on disk, just before the call returns VS_OK. A write whose log write or
 * sync fails is never applied; the call returns VS_ERR_IO and the collection refuses further
 * writes until it is reopened (the message says whether the log could be cut back to its last
 * durable record; if not, the failed write may reappear at the reopen).
 *
 * Maintenance (IVF training, snapshots) never runs inside vs_collection_add or
 * vs_collection_remove. It runs when the caller calls vs_collection_maintain or
 * vs_collection_snapshot, or on a maintenance thread the caller starts explicitly with
 * vs_collection_start_maintenance (the library starts no other thread of its own); without
 * either, a staging IVF collection stays exact and the log grows.
 *
 * Thread-safety: every function may be called concurrently on one collection. Searches and
 * gets never wait for a snapshot nor for a long add: HNSW collections insert while searches
 * run; other index types apply adds in chunks of at most 256 vectors, each under a short
 * exclusive lock. Writers run one at a time.
 * IVF collections answer exactly (from a staging Flat index) until `train_min` vectors have
 * arrived and maintenance has trained the real index on them; the switch blocks neither
 * searches nor writes, and writes made during the training are carried over.
 * @{ */
typedef struct vs_collection vs_collection;

typedef struct {
    uint32_t dim;            /**< vector dimension */
    vs_metric metric;
    const char *factory;     /**< index factory string; NULL = "Flat" */
    const char *model;       /**< embedding model name recorded for the caller; NULL = none */
    uint32_t train_min;      /**< IVF: vectors needed before training (0 = 39 * nlist) */
    uint32_t n_threads;      /**< threads an add or a training may use (0 or 1 = caller only) */
    uint64_t snapshot_log_bytes; /**< log size that triggers an automatic snapshot (0 = 64 MiB) */
    const struct vs_payload_index_spec *payload_indexes; /**< indexes to create (see below); may be NULL */
    size_t n_payload_indexes;
    int no_auto_index;       /**< 1 = never build a payload index on a filter's behalf (no thread) */
} vs_collection_options;

/** Creates a collection in `dir` (created if missing; must not already hold one). On success
 *  *out is owned by the caller: release with vs_collection_close. */
VS_API int vs_collection_create(const char *dir, const vs_collection_options *opts, vs_collection **out);
/** Opens the collection in `dir`: loads the last snapshot and replays the log (a torn final
 *  write from a crash is dropped: it was never acknowledged). *out owned by the caller. */
VS_API int vs_collection_open(const char *dir, vs_collection **out);
/** Flushes the log and frees everything. NULL is ok. Returns the flush result. */
VS_API int vs_collection_close(vs_collection *c);

/** Adds n documents: vectors (n x dim), ids (NULL = automatic, after the largest ever used;
 *  given ids must be below VS_KEYED_ID_MIN, see "Document ids" below),
 *  texts and metadata (each NULL or n entries, entries may be NULL; metadata is stored as
 *  given). All or nothing: a NaN, a wrong-size input or an ID already present fails the whole
 *  call (VS_ERR_INVALID_ARG / VS_ERR_DUPLICATE_ID) and changes nothing. assigned_ids (may be
 *  NULL) receives the n IDs used. Returns after the log is on disk. */
VS_API int vs_collection_add(vs_collection *c, size_t n, const float *vectors, const int64_t *ids,
                             const char *const *texts, const char *const *metadata, int64_t *assigned_ids);
/** Removes documents by ID; IDs not present are ignored. *n_removed (may be NULL). Durable on
 *  return like add. */
VS_API int vs_collection_remove(vs_collection *c, size_t n, const int64_t *ids, size_t *n_removed);
/** k-NN search, same contract as vs_index_search, except that an empty collection answers
 *  with every row empty (id -1) instead of VS_ERR_EMPTY. */
VS_API int vs_collection_search(vs_collection *c, size_t nq, const float *queries, uint32_t k,
                                const vs_search_params *params, float *distances, int64_t *ids);
/** Calls fn with the document's text and metadata (NULL when absent) while they are locked
 *  against removal; the strings are valid only during the call. VS_ERR_NOT_FOUND if absent. */
typedef void (*vs_doc_fn)(int64_t id, const char *text, const char *metadata, void *ctx);
VS_API int vs_collection_with_doc(vs_collection *c, int64_t id, vs_doc_fn fn, void *ctx);
/** Copies the stored vector of id into out (dim floats). */
VS_API int vs_collection_get_vector(vs_collection *c, int64_t id, float *out);
/** Writes a snapshot (index + documents) and starts a new log, on the calling thread (on the
 *  maintenance thread, at its background priority, when one runs); returns once it is
 *  committed. Searches and writers continue meanwhile: the snapshot is rebuilt from
 *  the files (the previous snapshot plus the logs) in a scratch copy, so it needs up to a second
 *  copy of the collection's memory while it runs. Covers every write acknowledged before the
 *  call. One snapshot or training at a time per collection (a second call waits). */
VS_API int vs_collection_snapshot(vs_collection *c);

/** When the maintenance thread acts. Zero-initialise for the defaults. */
typedef struct {
    uint64_t snapshot_log_bytes;  /**< snapshot once the log holds this much (0 = the collection's snapshot_log_bytes) */
    uint32_t snapshot_interval_s; /**< also snapshot when the log holds records and the last snapshot
                                       (or the start) is this many seconds old (0 = never by time) */
    uint32_t poll_ms;             /**< how often the thread looks (0 = 200 ms); writes that make
                                       something due wake it at once */
} vs_maintenance_policy;

/** Runs due maintenance once on the calling thread: trains a staging IVF collection that has
 *  train_min vectors, then snapshots if the log holds snapshot_log_bytes or more. Searches and
 *  writers continue meanwhile. Returns the first error (a failed training is not retried until
 *  the collection is reopened). */
VS_API int vs_collection_maintain(vs_collection *c);
/** Starts the collection's maintenance thread: it does what vs_collection_maintain does, when
 *  `policy` (NULL = defaults) says so, and the snapshots vs_collection_snapshot asks for, until
 *  vs_collection_stop_maintenance or vs_collection_close. It runs at background priority (its
 *  nice value raised by 10) so requests get the CPU first. Its errors go to the log handler;
 *  it retries after 10 s. At most one per collection (VS_ERR_INVALID_ARG if already running). */
VS_API int vs_collection_start_maintenance(vs_collection *c, const vs_maintenance_policy *policy);
/** Stops and joins the maintenance thread (waiting for a snapshot or training in progress).
 *  VS_OK if none runs. */
VS_API int vs_collection_stop_maintenance(vs_collection *c);

typedef struct {
    uint32_t dim;
    vs_metric metric;
    size_t count;            /**< documents (= vectors) */
    int trained;             /**< 0 while an IVF collection is still staging */
    uint64_t generation;     /**< snapshot generation */
    uint64_t log_bytes;      /**< current log size */
    uint64_t log_syncs;      /**< fdatasync calls on the log since open */
    size_t memory_bytes;     /**< heap bytes of index, documents and payload indexes (measured) */
    char factory[64];        /**< configured index factory string */
    char model[256];         /**< model name or path, or "" */
} vs_collection_info;

/** Statistics as of the last completed write or snapshot (never waits for a running one;
 *  count is always current). */
VS_API int vs_collection_info_get(vs_collection *c, vs_collection_info *out);
/** Number of documents; lock-free, safe at any time. */
VS_API size_t vs_collection_size(vs_collection *c);
VS_API uint32_t vs_collection_dim(const vs_collection *c);
/** @} */

/** @addtogroup collection
 * @{ */
/** @name Document ids
 * One rule for every way a collection takes ids (vs_collection_add_keyed, the server's
 * "id"/"ids" and /documents/{id}, `vecscale build --input`):
 *  - An id is a non-negative integer below VS_KEYED_ID_MIN (2^62; JSON numbers, which are
 *    doubles, only up to 2^53-1: send larger integers as strings) or a string ("key") of 1 to
 *    VS_KEY_MAX_BYTES (256) bytes of valid UTF-8 without NUL.
 *  - A string that is the canonical decimal form of such an integer (digits only, no sign, no
 *    leading zero, e.g. "17") IS that integer: "17" and 17 name the same document, reported
 *    as the number 17. Clients that stringify ids (JavaScript, shells, CSV) and paths like
 *    /documents/17 then mean what the seed's integer ids meant; "017", "+17" or "17.0" are
 *    other string ids.
 *  - Any other string is mapped to an internal int64 id, assigned from VS_KEYED_ID_MIN up and
 *    never reused. The mapping is in the log (record ADD_KEYED) and the snapshot (section
 *    KEYS), so it survives restarts and crashes like the documents; ids are unique across both
 *    kinds. Searches return internal ids; vs_collection_key_of turns one back into the id as
 *    the client gave it.
 * @{ */
#define VS_KEY_MAX_BYTES 256
#define VS_KEYED_ID_MIN ((int64_t)1 << 62)
/** Checks one id given as text against the rule above: VS_OK and *int_id = the integer it
 *  names, or -1 for a string id; VS_ERR_INVALID_ARG (vs_last_error says why) if it is empty,
 *  longer than VS_KEY_MAX_BYTES or not valid UTF-8. int_id may be NULL. */
VS_API int vs_collection_key_check(const char *key, int64_t *int_id);
/** vs_collection_add with ids given as text: keys is NULL (all automatic) or n entries, each
 *  NULL (automatic integer id, after the largest integer id used so far and in this batch)
 *  or an id under the rule above, so one batch may mix integers ("17") and strings. All or
 *  nothing: an invalid key (VS_ERR_INVALID_ARG) or a key already present or repeated in the
 *  batch (VS_ERR_DUPLICATE_ID) changes nothing. assigned_ids (may be NULL, else n entries)
 *  receives the internal ids. Durable on return. The keys are copied. */
VS_API int vs_collection_add_keyed(vs_collection *c, size_t n, const float *vectors, const char *const *keys,
                                   const char *const *texts, const char *const *metadata, int64_t *assigned_ids);
/** The internal id of the document named `key` (a string id or a canonical integer):
 *  VS_ERR_NOT_FOUND if there is no such document, VS_ERR_INVALID_ARG for a key the rule
 *  refuses. */
VS_API int vs_collection_lookup_key(vs_collection *c, const char *key, int64_t *id);
/** Writes the id of document `id` as the client gave it into buf (cap bytes, NUL-terminated;
 *  VS_KEY_MAX_BYTES + 1 always suffices): its string id, or the integer in decimal.
 *  *is_string (may be NULL) says which. VS_ERR_NOT_FOUND if no document has this id,
 *  VS_ERR_INVALID_ARG if cap is too small. */
VS_API int vs_collection_key_of(vs_collection *c, int64_t id, char *buf, size_t cap, int *is_string);
/** vs_collection_remove by ids given as text; ids not present are ignored, an invalid key fails
 *  the call (VS_ERR_INVALID_ARG) before anything is removed. Durable on return. */
VS_API int vs_collection_remove_keys(vs_collection *c, size_t n, const char *const *keys, size_t *n_removed);
/** @} */

/** Creates a collection in `dir` (as vs_collection_create) whose index is `index`: trained and
 *  empty, with opts->dim and opts->metric (opts->factory is ignored: the index's own is
 *  recorded). Used by the distributed build so every shard shares one trained quantizer. On
 *  success the collection owns `index`; on failure the caller keeps it. */
VS_API int vs_collection_create_with_index(const char *dir, const vs_collection_options *opts, vs_index *index,
                                           vs_collection **out);
/** @} */

/** @defgroup payload Payload indexes and metadata filters
 * A collection filters searches by the metadata JSON of its documents. A filter is JSON:
 *
 *   filter  := { clause, ... }                      every clause must hold (an empty object: all)
 *   clause  := "and": [filter, ...]                 all hold ([] = all documents)
 *            | "or":  [filter, ...]                 at least one holds ([] = none)
 *            | "not": filter                        does not hold
 *            | "<field>": scalar                    the field equals the scalar
 *            | "<field>": { op: arg, ... }          every operator holds
 *   op      := "eq": scalar | "in": [scalar, ...] | "gt" | "gte" | "lt" | "lte": number
 *            | "exists": true | false
 *   scalar  := string | number | true | false
 *
 * Fields are top-level keys of the metadata object ("and", "or" and "not" cannot be used as
 * field names in a filter). A field whose value is an array matches when any element does.
 * Numbers compare as numbers (1 equals 1.0); a string never equals a number. `exists` means
 * present with a non-null value; a document without metadata has no fields. null is not a
 * scalar (use exists). Errors (VS_ERR_INVALID_ARG, naming the field): malformed JSON or
 * grammar, an operator not listed, a field no document holds and no index declares
 * ("unknown field"), and a type mismatch: a comparison whose value type the field never
 * holds (a string against a field of numbers, a range on a field without numbers).
 *
 * A payload index answers clauses on one field from bitmaps of document IDs (CRoaring):
 * keyword (string equality / in), integer and float (equality, in, ranges; both hold the
 * values as doubles, exact for integers up to 2^53), bool. Every index also answers exists.
 * Indexes are declared with the collection (vs_collection_options.payload_indexes), added
 * later (vs_collection_create_payload_index), or created automatically: the first filter
 * naming a field without an index starts building one of the type the field's values
 * suggest (strings: keyword, integers: integer, numbers: float, booleans: bool; none for
 * mixed types). Adds and removes keep every index current; snapshots write them (file
 * "payload-<generation>.vsp") and vs_collection_open replays the log over them.
 *
 * Threads: an automatic build runs on ONE background thread owned by the collection. It is
 * started only when a filter names a field without an index and exits when no build is
 * left; vs_collection_close stops and joins it. Set vs_collection_options.no_auto_index at
 * create, or call vs_collection_set_auto_index(c, 0) after vs_collection_open (which turns it
 * on: the setting is not stored), and the library starts no thread. While an index
 * builds (about 1 µs per document, in chunks that hold writers back for a few ms each),
 * filters on that field take the per-document path.
 *
 * Searches compile a filter once per call into a set of IDs. By the set's size against the
 * index (HNSW: |set|^2 < ef * 2M * n, as hnsw_search.c decides between walk and scan): a small
 * set is answered by an exact scan of its vectors; on HNSW a set of at least 20% of the
 * documents by an unfiltered search for 3k / selectivity candidates filtered afterwards;
 * otherwise by the index scan testing each candidate with one bit test (vs_filter BITSET).
 * The collection caches the last 4 compiled filters (keyed by the filter text, dropped by any
 * write), with the bitset and the gathered vectors of an exactly scanned set, so a repeated
 * filter costs no compilation. When a field lacks a ready index (or the collection holds an
 * integer id of 2^31 or more: CRoaring's C bitmaps are 32-bit, keyed by integer ids below
 * 2^31 and by string ids' internal ids) the filter is evaluated per candidate document
 * (parsing its metadata: slower); vs_filter_report says which path ran.
 * @{ */
typedef enum { VS_PAYLOAD_KEYWORD = 1, VS_PAYLOAD_INTEGER = 2, VS_PAYLOAD_FLOAT = 3, VS_PAYLOAD_BOOL = 4 } vs_payload_type;
#define VS_PAYLOAD_FIELD_MAX 128 /**< field names are 1..127 bytes */

typedef struct vs_payload_index_spec {
    const char *field;
    vs_payload_type type;
} vs_payload_index_spec;

/** What a filtered search did. */
typedef struct {
    int indexed;            /**< 1 = answered from payload indexes (and the allowed set below) */
    int exact;              /**< 1 = the allowed set was small: exact scan of its vectors */
    int post_filter;        /**< 1 = the set was large: unfiltered graph search for about
                                 3k / selectivity candidates, kept if in the set (a query that
                                 keeps fewer than k is answered by an exact scan of the set) */
    int cached;             /**< 1 = the compiled filter came from the collection's cache */
    uint64_t allowed;       /**< documents passing the filter (indexed path only; else 0) */
    char unindexed[256];    /**< per-document path: the fields without a ready index, comma
                                 separated, or the reason ("document ids above 2^32") */
} vs_filter_report;

/** k-NN search restricted to documents whose metadata passes filter_json (grammar above;
 *  NULL or "" = no filter, same as vs_collection_search). params->filter must be NULL (one
 *  filter per call). report (may be NULL, caller-owned) says whether the indexed path ran.
 *  Rows are padded with id -1 when fewer than k documents pass. Errors: VS_ERR_INVALID_ARG
 *  for a bad filter (message names the field and why). A field that has no index yet may
 *  start an automatic build (see above). */
VS_API int vs_collection_search_where(vs_collection *c, size_t nq, const float *queries, uint32_t k,
                                      const vs_search_params *params, const char *filter_json, float *distances,
                                      int64_t *ids, vs_filter_report *report);
/** Counts the documents passing filter_json (through the same paths as a search). */
VS_API int vs_collection_count_where(vs_collection *c, const char *filter_json, uint64_t *count,
                                     vs_filter_report *report);
/** Creates a payload index on `field` and builds it from the stored documents before
 *  returning (on the calling thread). Durable like an add (logged). An index of the same type
 *  is a no-op (an automatic one becomes declared); another type is VS_ERR_INVALID_ARG. */
VS_API int vs_collection_create_payload_index(vs_collection *c, const char *field, vs_payload_type type);

typedef struct {
    char field[VS_PAYLOAD_FIELD_MAX];
    vs_payload_type type;
    int ready;               /**< 0 while being built */
    int automatic;           /**< created on a filter's behalf */
    uint64_t documents;      /**< documents with a non-null value */
    uint64_t values;         /**< distinct keywords, bool values, or numeric entries */
    size_t memory_bytes;
} vs_payload_index_info;

/** Copies up to cap index descriptions into out (caller-owned) and the total into *n. */
VS_API int vs_collection_payload_indexes(vs_collection *c, vs_payload_index_info *out, size_t cap, size_t *n);
/** Enables (1) or disables (0) automatic payload indexes for this open collection. */
VS_API int vs_collection_set_auto_index(vs_collection *c, int enabled);
/** Static name of a payload index type ("keyword", ...). */
VS_API const char *vs_payload_type_name(vs_payload_type type);
/** @} */

#ifdef __cplusplus
}
#endif
#endif /* VECSCALE_H */
