/* Writes n random d-dimensional vectors (uniform in [-1, 1), splitmix64 from a seed) as
 * .fvecs to stdout: test data of any size without Python. Usage: gen_fvecs N D SEED */
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

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: gen_fvecs N D SEED\n");
        return 2;
    }
    unsigned long long n = strtoull(argv[1], NULL, 10);
    int32_t d = (int32_t)strtol(argv[2], NULL, 10);
    uint64_t s = strtoull(argv[3], NULL, 10);
    if (d <= 0 || d > 65536) return 2;
    float *row = malloc((size_t)d * sizeof *row);
    if (!row) return 1;
    for (unsigned long long i = 0; i < n; i++) {
        for (int32_t j = 0; j < d; j++) row[j] = (float)((next(&s) >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
        if (fwrite(&d, 4, 1, stdout) != 1 || fwrite(row, sizeof *row, (size_t)d, stdout) != (size_t)d) return 1;
    }
    free(row);
    return fflush(stdout) ? 1 : 0;
}
