/* Lloyd's k-means, FAISS-style: seeded subsample (at most max_points_per_centroid * k
 * points), random-distinct or k-means++ init, BLAS assignment in tiles, exact per-centroid
 * means accumulated in double, and empty clusters repaired by splitting a large cluster
 * (FAISS's rule: pick cluster j with probability ~ (size_j - 1), perturb both copies by
 * +-1/1024 symmetrically, halve its count). */
#include "quant/kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/options.h"
#include "core/parallel.h"
#include "core/validate.h"
#include "kernels/blas.h"
#include "kernels/kernels.h"
#include "kernels/topk.h"

enum { ROW_BLOCK = 256, CENT_BLOCK = 1024, SELECT_CHUNK = 128, MAX_WORKERS = 256 };

typedef struct {
    size_t n;
    uint32_t d, k, m;
    const float *x, *c, *cnorms;
    float *keys;
    int64_t *labels;
    float **tile;    /* per worker: ROW_BLOCK x CENT_BLOCK */
    uint32_t **pos;  /* per worker: CENT_BLOCK */
} nearest_job;

enum { FEW_ROWS = 4 };

static void nearest_task(size_t task, unsigned worker, void *ctx)
{
    const nearest_job *J = ctx;
    const vs_kernel_table *kt = vs_kernels();
    size_t r0 = task * ROW_BLOCK, rn = J->n - r0 < ROW_BLOCK ? J->n - r0 : ROW_BLOCK;
    float *tile = J->tile[worker];
    uint32_t *pos = J->pos[worker];
    const float alpha = J->cnorms ? -2.0f : -1.0f;
    vs_heap_reset(J->keys + r0 * J->m, J->labels + r0 * J->m, rn * J->m);
    for (size_t c0 = 0; c0 < J->k; c0 += CENT_BLOCK) {
        size_t cn = J->k - c0 < CENT_BLOCK ? J->k - c0 : CENT_BLOCK;
        if (rn <= FEW_ROWS) {
            /* A query or a few (an IVF search of one query per call): sgemm would pack the
             * whole centroid block for them, ~15x the instructions of the dot products. */
            for (size_t r = 0; r < rn; r++) {
                float *t = tile + r * cn;
                kt->dot_many(J->x + (r0 + r) * J->d, J->c + c0 * J->d, cn, J->d, t);
                for (size_t j = 0; j < cn; j++) t[j] *= alpha;
            }
        } else {
            vs_sgemm_abt(rn, cn, J->d, alpha, J->x + r0 * J->d, J->d, J->c + c0 * J->d, J->d, tile, cn);
        }
        const float *bias = J->cnorms ? J->cnorms + c0 : NULL;
        for (size_t r = 0; r < rn; r++) {
            float *kh = J->keys + (r0 + r) * J->m;
            int64_t *lh = J->labels + (r0 + r) * J->m;
            const float *row = tile + r * cn;
            if (J->m == 1) {
                /* Plain argmin (k-means, IVF add): a heap of one only adds overhead. The SIMD
                 * select finds the few entries of a chunk below the best so far (a scalar
                 * scan of the row was a quarter of a large IVF build); strict comparison in
                 * increasing order keeps the smaller centroid number on ties. */
                float best = kh[0];
                int64_t arg = lh[0];
                for (size_t s0 = 0; s0 < cn; s0 += SELECT_CHUNK) {
                    size_t sn = cn - s0 < SELECT_CHUNK ? cn - s0 : SELECT_CHUNK;
                    size_t cnt = kt->select_lt(row + s0, bias ? bias + s0 : NULL, sn, best, pos);
                    for (size_t i = 0; i < cnt; i++) {
                        size_t j = s0 + pos[i];
                        float v = row[j] + (bias ? bias[j] : 0.0f);
                        if (v < best) {
                            best = v;
                            arg = (int64_t)(c0 + j);
                        }
                    }
                }
                kh[0] = best;
                lh[0] = arg;
                continue;
            }
            /* Sub-chunks let the threshold tighten as the heap fills: one select over the
             * whole row would let every centroid through while the heap is still empty.
             * select_lt is strict: a centroid tying the current worst is skipped, which
             * keeps the smaller centroid number, as the heap's tie rule would. */
            for (size_t s0 = 0; s0 < cn; s0 += SELECT_CHUNK) {
                size_t sn = cn - s0 < SELECT_CHUNK ? cn - s0 : SELECT_CHUNK;
                size_t cnt = kt->select_lt(row + s0, bias ? bias + s0 : NULL, sn, kh[0], pos);
                for (size_t i = 0; i < cnt; i++) {
                    size_t j = s0 + pos[i];
                    vs_heap_push(kh, lh, J->m, row[j] + (bias ? bias[j] : 0.0f), (int64_t)(c0 + j));
                }
            }
        }
    }
    for (size_t r = 0; r < rn; r++) {
        vs_heap_sort(J->keys + (r0 + r) * J->m, J->labels + (r0 + r) * J->m, J->m);
        /* Finite inputs can still overflow to inf - inf = NaN in the GEMM form (|x| ~ 1e20),
         * and NaN passes no comparison: such a row would have no centroid at all. Give it
         * centroid 0 so every caller can index with the label; later slots may stay -1. */
        if (J->labels[(r0 + r) * J->m] < 0) J->labels[(r0 + r) * J->m] = 0;
    }
}

int vs_nearest_centroids(size_t n, uint32_t d, const float *x, uint32_t k, const float *c, const float *cnorms,
                         uint32_t m, unsigned threads, float *keys, int64_t *labels)
{
    if (n == 0) return VS_OK;
    size_t tasks = (n + ROW_BLOCK - 1) / ROW_BLOCK;
    if (threads < 1) threads = 1;
    if (threads > MAX_WORKERS) threads = MAX_WORKERS;
    if (threads > tasks) threads = (unsigned)tasks;
    nearest_job J = {.n = n, .d = d, .k = k, .m = m, .x = x, .c = c, .cnorms = cnorms, .keys = keys, .labels = labels};
    J.tile = calloc(threads, sizeof *J.tile);
    J.pos = calloc(threads, sizeof *J.pos);
    int ok = J.tile && J.pos;
    for (unsigned w = 0; ok && w < threads; w++) {
        /* Only the rows there are: a 1 MiB tile for one query was an mmap, page faults and an
         * munmap per search call. */
        J.tile[w] = malloc(sizeof(float) * (n < ROW_BLOCK ? n : ROW_BLOCK) * CENT_BLOCK);
        J.pos[w] = malloc(sizeof(uint32_t) * CENT_BLOCK);
        ok = J.tile[w] && J.pos[w];
    }
    if (ok) vs_parallel_for(tasks, threads, nearest_task, &J);
    for (unsigned w = 0; w < threads; w++) {
        if (J.tile) free(J.tile[w]);
        if (J.pos) free(J.pos[w]);
    }
    free(J.tile);
    free(J.pos);
    return ok ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for nearest-centroid scratch");
}

/* Uniform integer in [0, n). Bias is negligible for n << 2^64. */
static size_t rng_below(uint64_t *s, size_t n) { return (size_t)(vs_rng_next(s) % n); }
static double rng_unit(uint64_t *s) { return (double)(vs_rng_next(s) >> 11) / 9007199254740992.0; }

/* The first `take` entries of a seeded partial Fisher-Yates shuffle of 0..n-1. */
static size_t *sample_indices(size_t n, size_t take, uint64_t *rng)
{
    size_t *perm = malloc(n * sizeof *perm);
    if (!perm) return NULL;
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = 0; i < take; i++) {
        size_t j = i + rng_below(rng, n - i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return perm;
}

static void normalize_rows(float *c, size_t k, size_t d)
{
    for (size_t i = 0; i < k; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)c[i * d + j] * c[i * d + j];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (size_t j = 0; j < d; j++) c[i * d + j] *= inv;
        }
    }
}

/* k-means++: each next centroid is a point drawn with probability ~ its squared distance to
 * the nearest centroid chosen so far (always L2: a spread-out start helps either metric). */
static int init_plusplus(size_t n, uint32_t d, const float *x, uint32_t k, uint64_t *rng, float *c)
{
    const vs_kernel_table *kt = vs_kernels();
    float *mind = malloc(n * sizeof *mind);
    if (!mind) return vs_fail(VS_ERR_NOMEM, "out of memory for k-means++");
    size_t first = rng_below(rng, n);
    memcpy(c, x + first * d, d * sizeof *c);
    kt->l2sq_many(c, x, n, d, mind);
    for (uint32_t ci = 1; ci < k; ci++) {
        double total = 0;
        for (size_t i = 0; i < n; i++) total += mind[i];
        size_t pick = n - 1;
        if (total > 0) {
            double r = rng_unit(rng) * total, acc = 0;
            for (size_t i = 0; i < n; i++) {
                acc += mind[i];
                if (acc > r) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = rng_below(rng, n); /* every point coincides with a centroid */
        }
        float *cc = c + (size_t)ci * d;
        memcpy(cc, x + pick * d, d * sizeof *cc);
        for (size_t i = 0; i < n; i++) {
            float dd = kt->l2sq(cc, x + i * d, d);
            if (dd < mind[i]) mind[i] = dd;
        }
    }
    free(mind);
    return VS_OK;
}

/* Repairs every empty cluster by splitting a populated one (FAISS's split_clusters). Returns
 * how many were split. */
static size_t split_empty(uint32_t k, uint32_t d, size_t n, float *c, size_t *count, uint64_t *rng)
{
    const float eps = 1.0f / 1024.0f;
    size_t splits = 0;
    for (uint32_t ci = 0; ci < k; ci++) {
        if (count[ci] != 0) continue;
        uint32_t cj = 0;
        for (;;) {
            /* A cluster of size s is chosen with probability (s - 1) / (n - k): only a
             * cluster with at least two points can give one away. */
            double p = ((double)count[cj] - 1.0) / (double)(n - k);
            if (rng_unit(rng) < p) break;
            cj = (cj + 1) % k;
        }
        float *a = c + (size_t)ci * d, *b = c + (size_t)cj * d;
        memcpy(a, b, d * sizeof *a);
        for (uint32_t j = 0; j < d; j++) {
            if (j % 2 == 0) {
                a[j] *= 1 + eps;
                b[j] *= 1 - eps;
            } else {
                a[j] *= 1 - eps;
                b[j] *= 1 + eps;
            }
        }
        count[ci] = count[cj] / 2;
        count[cj] -= count[ci];
        splits++;
    }
    return splits;
}

void vs_kmeans_params_init(vs_kmeans_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->n_iter = 25;
    p->max_points_per_centroid = 256;
    p->seed = 1234;
}

int vs_kmeans(size_t n, uint32_t d, const float *x, uint32_t k, const vs_kmeans_params *caller_p, float *centroids,
              float *objective)
{
    if (!x || !centroids) return vs_fail(VS_ERR_INVALID_ARG, "vs_kmeans: x and centroids must not be NULL");
    if (d == 0 || d > 65536) return vs_fail(VS_ERR_INVALID_ARG, "vs_kmeans: dimension %u is out of range 1..65536", d);
    if (k == 0) return vs_fail(VS_ERR_INVALID_ARG, "vs_kmeans: k must be at least 1");
    if (n < k)
        return vs_fail(VS_ERR_INVALID_ARG, "k-means into %u clusters needs at least %u training vectors, got %zu",
                       k, k, n);
    VS_READ_OPTIONS(vs_kmeans_params, given, caller_p, VS_KMEANS_PARAMS_V1);
    const vs_kmeans_params *p = &given;
    if ((unsigned)p->init > VS_KMEANS_INIT_PLUSPLUS)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_kmeans: unknown init %d", (int)p->init);
    int rc = vs_check_finite(x, n, d, "training vector");
    if (rc) return rc;
    uint32_t iters = p->n_iter ? p->n_iter : 25;
    size_t maxpp = p->max_points_per_centroid ? p->max_points_per_centroid : 256;
    uint64_t rng = p->seed ? p->seed : 1234;
    unsigned threads = p->n_threads > 1 ? p->n_threads : 1;
    int ip = p->inner_product != 0;
    if (n < (size_t)k * VS_KMEANS_MIN_POINTS_PER_CENTROID)
        vs_log(VS_LOG_WARNING, "k-means: %zu training vectors for %u centroids; at least %zu (39 per centroid) "
               "are recommended", n, k, (size_t)k * VS_KMEANS_MIN_POINTS_PER_CENTROID);

    /* Subsample: more points barely move the centroids but cost time linearly. */
    size_t ns = n;
    float *xs_owned = NULL;
    const float *xs = x;
    if (maxpp <= SIZE_MAX / k && n > (size_t)k * maxpp) {
        ns = (size_t)k * maxpp;
        size_t *perm = sample_indices(n, ns, &rng);
        xs_owned = perm ? malloc(ns * d * sizeof *xs_owned) : NULL;
        if (!xs_owned) {
            free(perm);
            return vs_fail(VS_ERR_NOMEM, "out of memory subsampling %zu training vectors", ns);
        }
        for (size_t i = 0; i < ns; i++) memcpy(xs_owned + i * d, x + perm[i] * d, d * sizeof(float));
        free(perm);
        xs = xs_owned;
    }

    float *c = malloc((size_t)k * d * sizeof *c);
    float *cnorms = malloc((size_t)k * sizeof *cnorms);
    float *xnorms = malloc(ns * sizeof *xnorms);
    float *keys = malloc(ns * sizeof *keys);
    int64_t *assign = malloc(ns * sizeof *assign);
    double *sums = malloc((size_t)k * d * sizeof *sums);
    size_t *count = malloc((size_t)k * sizeof *count);
    if (!c || !cnorms || !xnorms || !keys || !assign || !sums || !count) {
        rc = vs_fail(VS_ERR_NOMEM, "out of memory for k-means (%u centroids, %zu points)", k, ns);
        goto done;
    }
    if (p->init == VS_KMEANS_INIT_PLUSPLUS) {
        rc = init_plusplus(ns, d, xs, k, &rng, c);
        if (rc) goto done;
    } else {
        size_t *perm = sample_indices(ns, k, &rng);
        if (!perm) {
            rc = vs_fail(VS_ERR_NOMEM, "out of memory for k-means init");
            goto done;
        }
        for (uint32_t i = 0; i < k; i++) memcpy(c + (size_t)i * d, xs + perm[i] * d, d * sizeof *c);
        free(perm);
    }
    if (p->spherical) normalize_rows(c, k, d);
    const vs_kernel_table *kt = vs_kernels();
    for (size_t i = 0; i < ns; i++) xnorms[i] = kt->norm_sq(xs + i * d, d);

    double obj = 0;
    for (uint32_t it = 0; it < iters; it++) {
        for (uint32_t i = 0; i < k; i++) cnorms[i] = kt->norm_sq(c + (size_t)i * d, d);
        rc = vs_nearest_centroids(ns, d, xs, k, c, ip ? NULL : cnorms, 1, threads, keys, assign);
        if (rc) goto done;
        obj = 0;
        memset(sums, 0, (size_t)k * d * sizeof *sums);
        memset(count, 0, (size_t)k * sizeof *count);
        for (size_t i = 0; i < ns; i++) {
            /* The GEMM form can go slightly negative by cancellation: a distance cannot. */
            obj += ip ? -(double)keys[i] : fmax(0.0, (double)keys[i] + xnorms[i]);
            size_t a = (size_t)assign[i];
            count[a]++;
            double *s = sums + a * d;
            const float *xi = xs + i * d;
            for (uint32_t j = 0; j < d; j++) s[j] += xi[j];
        }
        for (uint32_t ci = 0; ci < k; ci++) {
            if (!count[ci]) continue; /* repaired below */
            double inv = 1.0 / (double)count[ci];
            for (uint32_t j = 0; j < d; j++) c[(size_t)ci * d + j] = (float)(sums[(size_t)ci * d + j] * inv);
        }
        split_empty(k, d, ns, c, count, &rng);
        if (p->spherical) normalize_rows(c, k, d);
    }
    memcpy(centroids, c, (size_t)k * d * sizeof *c);
    if (objective) *objective = (float)obj;
done:
    free(xs_owned);
    free(c);
    free(cnorms);
    free(xnorms);
    free(keys);
    free(assign);
    free(sums);
    free(count);
    return rc;
}
