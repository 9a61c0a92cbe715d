/* k-means (public vs_kmeans) and the blocked nearest-centroid search it shares with IVF's
 * add (nearest list) and search (nprobe nearest lists). */
#ifndef VS_QUANT_KMEANS_H
#define VS_QUANT_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

/* FAISS's IndexIVF trains its coarse quantizer with 10 iterations (ClusteringParameters
 * default is 25, but IndexIVF's constructor lowers it): we match it so recall at equal
 * nlist/nprobe is comparable. */
#define VS_IVF_KMEANS_ITER 10
/* Below this many training points per centroid FAISS warns; so do we. */
#define VS_KMEANS_MIN_POINTS_PER_CENTROID 39

/* For each of the n rows of x, the m nearest of the k centroids c, best first, as keys
 * (smaller is better) and centroid numbers. L2 (cnorms = the k squared centroid norms): key =
 * ||c||^2 - 2<x,c>, i.e. the squared distance minus ||x||^2. Inner product (cnorms NULL):
 * key = -<x,c>. Ties go to the smaller centroid number. Computed by sgemm in tiles of
 * 256 rows x 1024 centroids; threads > 1 splits rows. keys/labels hold n * m entries. The
 * first label of a row is always a valid centroid (0 if every key was NaN by overflow); the
 * others are -1 when fewer than m centroids compared. */
int vs_nearest_centroids(size_t n, uint32_t d, const float *x, uint32_t k, const float *c, const float *cnorms,
                         uint32_t m, unsigned threads, float *keys, int64_t *labels);

/* Deterministic 64-bit generator (splitmix64) shared by k-means and its tests. */
static inline uint64_t vs_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
