/* Synthetic vectors for bench/scale.sh: a mixture of Gaussian clusters (uniform data has no
 * neighbourhood structure, so no ANN index is meaningful on it). Writes .fvecs to stdout.
 *   synth N DIM CLUSTERS SEED > out.fvecs
 * Queries: the same command with another seed draws from the same clusters (the centres come
 * from a fixed seed). Plain C, no vecscale code: build with `cc -O2 synth.c -lm`. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return (double)(next(s) >> 11) / 9007199254740992.0; }

static double gauss(uint64_t *s)
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: synth N DIM CLUSTERS SEED > out.fvecs\n");
        return 2;
    }
    size_t n = strtoull(argv[1], 0, 10), c = strtoull(argv[3], 0, 10);
    int d = atoi(argv[2]);
    uint64_t cs = 12345, s = strtoull(argv[4], 0, 10);
    float *centres = malloc(c * (size_t)d * sizeof *centres), *row = malloc((size_t)d * sizeof *row);
    if (!centres || !row || d <= 0 || !c) return 1;
    for (size_t i = 0; i < c * (size_t)d; i++) centres[i] = (float)uniform(&cs);
    for (size_t i = 0; i < n; i++) {
        const float *ce = centres + (next(&s) % c) * (size_t)d;
        for (int j = 0; j < d; j++) row[j] = ce[j] + (float)(0.08 * gauss(&s));
        if (fwrite(&d, 4, 1, stdout) != 1 || fwrite(row, 4, (size_t)d, stdout) != (size_t)d) return 1;
    }
    return 0;
}
