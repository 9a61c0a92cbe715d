/* Per-probe cost of an IVF index (issue 21): searches the first NQ queries of a saved index
 * at nprobe LO and HI and prints the CPU time per probed list, (t(HI) - t(LO)) / (NQ (HI - LO)),
 * best of R runs each. MODE "batch" passes all NQ queries in one call, "single" one per call.
 * Under callgrind run it with LO == HI and subtract the instruction counts of two runs.
 *
 *   cc -O2 bench/ivf_probe.c -Iinclude -Ibuild/include build/libvecscale.a -lm -lpthread -o /tmp/ivf_probe
 *   /tmp/ivf_probe INDEX.vsi QUERIES.fvecs NQ LO HI [batch|single] [R] [k_factor] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vecscale.h"

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double run(const vs_index *ix, const float *q, size_t nq, uint32_t nprobe, int single, float kf,
                  float *dis, int64_t *ids)
{
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .nprobe = nprobe, .k_factor = kf};
    uint32_t d = vs_index_dim(ix);
    double t0 = cpu_s();
    if (single) {
        for (size_t i = 0; i < nq; i++)
            if (vs_index_search(ix, 1, q + i * d, 10, &p, dis + i * 10, ids + i * 10)) exit(1);
    } else if (vs_index_search(ix, nq, q, 10, &p, dis, ids)) {
        exit(1);
    }
    return cpu_s() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: ivf_probe INDEX QUERIES NQ LO HI [batch|single] [R] [k_factor]\n");
        return 2;
    }
    vs_index *ix;
    vs_matrix *m;
    size_t nq = strtoul(argv[3], NULL, 10);
    uint32_t lo = (uint32_t)atoi(argv[4]), hi = (uint32_t)atoi(argv[5]);
    int single = argc > 6 && !strcmp(argv[6], "single");
    int runs = argc > 7 ? atoi(argv[7]) : 3;
    float kf = argc > 8 ? (float)atof(argv[8]) : 1.0f;
    if (vs_index_load(argv[1], &ix) || vs_matrix_read(argv[2], nq, &m) || vs_matrix_to_f32(m)) {
        fprintf(stderr, "ivf_probe: %s\n", vs_last_error());
        return 1;
    }
    nq = m->n;
    float *dis = malloc(nq * 10 * sizeof *dis);
    int64_t *ids = malloc(nq * 10 * sizeof *ids);
    double best_lo = 1e30, best_hi = 1e30;
    for (int r = 0; r < runs; r++) {
        double a = run(ix, m->data, nq, lo, single, kf, dis, ids);
        double b = hi == lo ? 0 : run(ix, m->data, nq, hi, single, kf, dis, ids);
        best_lo = a < best_lo ? a : best_lo;
        best_hi = b < best_hi ? b : best_hi;
    }
    printf("%s nq=%zu nprobe %u: %.2f us/query", single ? "single" : "batch", nq, lo, 1e6 * best_lo / nq);
    if (hi != lo)
        printf("; nprobe %u: %.2f us/query; per probe %.3f us", hi, 1e6 * best_hi / nq,
               1e6 * (best_hi - best_lo) / ((double)nq * (hi - lo)));
    printf("\n");
    free(dis);
    free(ids);
    vs_matrix_free(m);
    vs_index_free(ix);
    return 0;
}
