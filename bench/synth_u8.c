/* BIGANN-like uint8 vectors (.bvecs on stdout) for bench/scale.sh: a Gaussian mixture with
 * anisotropic, randomly oriented clusters, clipped to 0..255 like SIFT descriptors.
 *
 *   synth_u8 N DIM K PARAM_SEED SAMPLE_SEED [FIRST_ROW] > out.bvecs
 *
 * The mixture (drawn from PARAM_SEED, so a base and its queries share it):
 *   - a global mean profile m_j ~ U(4, 60) per dimension (SIFT's bins have different means);
 *   - K centres c_k = m + 24 g (g standard normal per dimension);
 *   - per cluster, an orthonormal basis U_k of R = 24 random directions (Gram-Schmidt of
 *     Gaussian vectors) and decaying scales s_ki = sigma_k (i + 1)^-0.7 with
 *     sigma_k = 30 * U(0.5, 1.5): most of a cluster's spread lies in a few random directions;
 *   - cluster weights w_k proportional to exp(0.75 g) (unequal cluster sizes).
 * A row picks cluster k with probability w_k and is round(c_k + U_k (s_k * z) + 4 e) clipped to
 * [0, 255] (z in R^R, e in R^DIM standard normal); clipping at 0 makes the many zeros of SIFT.
 * Row r draws from its own generator seeded by (SAMPLE_SEED, r), so the output does not
 * depend on the thread count, and FIRST_ROW (default 0) writes rows FIRST_ROW.. of the same
 * stream: a larger base is a smaller one plus its continuation. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { R = 24, BLOCK = 65536 };

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unif(uint64_t *s) { return ((splitmix(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static double gauss(uint64_t *s) { return sqrt(-2 * log(unif(s))) * cos(6.283185307179586 * unif(s)); }

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: synth_u8 N DIM K PARAM_SEED SAMPLE_SEED [FIRST_ROW] > out.bvecs\n");
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10);
    int d = atoi(argv[2]), K = atoi(argv[3]);
    uint64_t ps = strtoull(argv[4], NULL, 10), ss = strtoull(argv[5], NULL, 10);
    uint64_t first = argc == 7 ? strtoull(argv[6], NULL, 10) : 0;
    if (!n || d < R || d > 4096 || K < 1) return 2;
    float *cent = malloc((size_t)K * d * sizeof *cent), *basis = malloc((size_t)K * R * d * sizeof *basis);
    double *cdf = malloc((size_t)K * sizeof *cdf), *m = malloc((size_t)d * sizeof *m);
    if (!cent || !basis || !cdf || !m) return 1;
    uint64_t g = ps * 0x2545F4914F6CDD1Dull + 1;
    for (int j = 0; j < d; j++) m[j] = 4 + 56 * unif(&g);
    double tot = 0;
    for (int k = 0; k < K; k++) {
        for (int j = 0; j < d; j++) cent[(size_t)k * d + j] = (float)(m[j] + 24 * gauss(&g));
        double sigma = 30 * (0.5 + unif(&g));
        float *U = basis + (size_t)k * R * d;
        for (int i = 0; i < R; i++) {
            float *u = U + (size_t)i * d;
            for (int j = 0; j < d; j++) u[j] = (float)gauss(&g);
            for (int p = 0; p < i; p++) { /* Gram-Schmidt against the earlier directions */
                double dot = 0;
                for (int j = 0; j < d; j++) dot += (double)u[j] * U[(size_t)p * d + j];
                for (int j = 0; j < d; j++) u[j] -= (float)(dot * U[(size_t)p * d + j]);
            }
            double nn = 0;
            for (int j = 0; j < d; j++) nn += (double)u[j] * u[j];
            for (int j = 0; j < d; j++) u[j] = (float)(u[j] / sqrt(nn));
        }
        /* Scales fold into the directions once all are orthonormal: U_k s_k z = sum_i (s_ki u_i) z_i. */
        for (int i = 0; i < R; i++)
            for (int j = 0; j < d; j++) U[(size_t)i * d + j] *= (float)(sigma * pow(i + 1, -0.7));
        tot += exp(0.75 * gauss(&g));
        cdf[k] = tot;
    }
    for (int k = 0; k < K; k++) cdf[k] /= tot;
    size_t rowb = 4 + (size_t)d;
    uint8_t *out = malloc(BLOCK * rowb);
    if (!out) return 1;
    for (size_t b0 = 0; b0 < n; b0 += BLOCK) {
        size_t bn = n - b0 < BLOCK ? n - b0 : BLOCK;
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < bn; r++) {
            uint64_t s = ss * 0x9E3779B97F4A7C15ull ^ (first + b0 + r) * 0xD1B54A32D192ED03ull;
            splitmix(&s);
            double u = unif(&s);
            int lo = 0, hi = K - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cdf[mid] < u) lo = mid + 1;
                else hi = mid;
            }
            float x[4096], z[R];
            for (int i = 0; i < R; i++) z[i] = (float)gauss(&s);
            const float *c = cent + (size_t)lo * d, *U = basis + (size_t)lo * R * d;
            for (int j = 0; j < d; j++) x[j] = c[j] + 4 * (float)gauss(&s);
            for (int i = 0; i < R; i++)
                for (int j = 0; j < d; j++) x[j] += z[i] * U[(size_t)i * d + j];
            uint8_t *o = out + r * rowb;
            uint32_t dd = (uint32_t)d;
            memcpy(o, &dd, 4);
            for (int j = 0; j < d; j++) {
                float v = rintf(x[j]);
                o[4 + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
        if (fwrite(out, rowb, bn, stdout) != bn) return 1;
    }
    return fflush(stdout) ? 1 : 0;
}
