/* The smallest program on the core library alone (libvecscale_core.a, no network library):
 * a Flat index, 1000 random vectors, each searched for itself. Exit 0 when every vector is its
 * own nearest neighbour at distance 0; the build proves the core links without curl, libxml2,
 * OpenSSL or libmicrohttpd (tests/house/check_core_deps.sh checks the binary). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vecscale.h"

#define N 1000
#define DIM 32
#define K 3

int main(void)
{
    static float vectors[N * DIM];
    static float dist[N * K];
    static int64_t ids[N * K];
    uint64_t state = 42;
    for (size_t i = 0; i < N * DIM; i++) { /* xorshift: no libc rand() state shared with anyone */
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        vectors[i] = (float)(state >> 40) / (float)(1 << 24);
    }
    vs_index_options o = {.dim = DIM, .metric = VS_METRIC_L2, .factory = "Flat"};
    vs_index *index = NULL;
    int rc = vs_index_create(&o, &index);
    if (!rc) rc = vs_index_add(index, N, vectors, NULL);
    if (!rc) rc = vs_index_search(index, N, vectors, K, NULL, dist, ids);
    if (rc) {
        fprintf(stderr, "consumer: %s (%s)\n", vs_last_error(), vs_strerror(rc));
        vs_index_free(index);
        return 1;
    }
    size_t wrong = 0;
    for (size_t q = 0; q < N; q++)
        if (ids[q * K] != (int64_t)q || dist[q * K] != 0.0f) wrong++;
    printf("consumer: Flat index of %zu vectors (d = %d, %s kernels), %zu of %d queries found themselves first\n",
           vs_index_size(index), DIM, vs_simd_name(vs_simd_active()), (size_t)N - wrong, N);
    vs_index_free(index);
    return wrong ? 1 : 0;
}
