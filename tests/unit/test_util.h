/* Shared helpers for the unit tests: seeded data, a double-precision brute-force reference,
 * temporary directories. Header-only so each test binary stays self-contained. */
#ifndef VS_TEST_UTIL_H
#define VS_TEST_UTIL_H

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "vecscale.h"

static inline uint64_t tu_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline float tu_uniform(uint64_t *s) { return (float)((tu_rng_next(s) >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f; }

static inline float *tu_random_vectors(size_t n, size_t d, uint64_t seed)
{
    float *x = malloc(n * d * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n * d; i++) x[i] = tu_uniform(&seed);
    return x;
}

/* Exact score of metric m in double precision (squared L2, IP, or cosine similarity). */
static inline double tu_score(vs_metric m, const float *a, const float *b, size_t d)
{
    double s = 0, na = 0, nb = 0;
    for (size_t i = 0; i < d; i++) {
        if (m == VS_METRIC_L2) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        else s += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (m == VS_METRIC_COSINE) s /= sqrt(na) * sqrt(nb);
    return s;
}

static inline int tu_better(vs_metric m, double a, double b) { return m == VS_METRIC_L2 ? a < b : a > b; }

typedef struct {
    double score;
    int64_t id;
    vs_metric m;
} tu_hit;

static int tu_hit_cmp_l2(const void *a, const void *b)
{
    const tu_hit *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}
static int tu_hit_cmp_sim(const void *a, const void *b)
{
    const tu_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Brute-force top-k over base rows (ids[i], or i when ids is NULL) passing allow (or all). */
static inline size_t tu_reference(vs_metric m, const float *base, const int64_t *ids, size_t n, size_t d,
                                  const float *q, size_t k, const uint8_t *allow, double *out_s, int64_t *out_id)
{
    tu_hit *h = malloc((n ? n : 1) * sizeof *h);
    assert_non_null(h);
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (allow && !allow[i]) continue;
        h[c].score = tu_score(m, q, base + i * d, d);
        h[c].id = ids ? ids[i] : (int64_t)i;
        c++;
    }
    qsort(h, c, sizeof *h, m == VS_METRIC_L2 ? tu_hit_cmp_l2 : tu_hit_cmp_sim);
    size_t r = c < k ? c : k;
    for (size_t i = 0; i < r; i++) {
        out_s[i] = h[i].score;
        out_id[i] = h[i].id;
    }
    free(h);
    return r;
}

/* Checks one query's results against the reference: the same number of hits, every returned
 * ID's exact score equals the reference score at its rank (so ties may permute IDs but never
 * change the answer), reported scores within 1e-5 relative, IDs unique, tail padded. */
static inline void tu_check_row(vs_metric m, const float *base, size_t n, size_t d, const float *q, size_t k,
                                const uint8_t *allow, const float *got_s, const int64_t *got_id)
{
    double *rs = malloc(k * sizeof *rs);
    int64_t *rid = malloc(k * sizeof *rid);
    size_t r = tu_reference(m, base, NULL, n, d, q, k, allow, rs, rid);
    for (size_t j = 0; j < k; j++) {
        if (j >= r) {
            assert_int_equal(got_id[j], -1);
            continue;
        }
        assert_true(got_id[j] >= 0 && (size_t)got_id[j] < n);
        if (allow) assert_true(allow[got_id[j]]);
        for (size_t t = 0; t < j; t++) assert_true(got_id[t] != got_id[j]);
        double exact = tu_score(m, q, base + (size_t)got_id[j] * d, d);
        double tol = 1e-5 * fmax(1.0, fabs(rs[j])) + (m == VS_METRIC_L2 ? 1e-5 * d * 1e-2 : 1e-6);
        if (fabs(exact - rs[j]) > tol) {
            print_error("rank %zu: got id %lld (score %.9g), reference id %lld (score %.9g)\n", j,
                        (long long)got_id[j], exact, (long long)rid[j], rs[j]);
            fail();
        }
        if (fabs((double)got_s[j] - rs[j]) > tol) {
            print_error("rank %zu: reported score %.9g, reference %.9g\n", j, got_s[j], rs[j]);
            fail();
        }
    }
    free(rs);
    free(rid);
}

static inline char *tu_tempdir(void)
{
    char *t = strdup("/tmp/vecscale-test-XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

static inline void tu_rmdir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static inline vs_index *tu_flat(uint32_t d, vs_metric m)
{
    vs_index *ix = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = d, .metric = m, .factory = "Flat"};
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    return ix;
}

/* Feeds every file of the committed fuzz corpus tests/fuzz/corpus/NAME to a libFuzzer
 * harness (which must return 0), so an input that once broke a parser stays fixed under the
 * sanitizer builds. Returns how many inputs were replayed. */
static inline size_t tu_replay_corpus(const char *name, int (*harness)(const uint8_t *, size_t))
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", VS_TEST_SOURCE_DIR, name);
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        long len = ftell(f);
        assert_true(len >= 0);
        assert_int_equal(fseek(f, 0, SEEK_SET), 0);
        uint8_t *buf = malloc((size_t)len + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        if (harness(buf, (size_t)len) != 0) fail_msg("fuzz input %s was not handled", path);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

/* Runs fn on n threads at once, thread i getting (char *)args + i * arg_size, and joins
 * them all (the concurrent tests' reader and writer fleets). */
static inline void tu_run_threads(size_t n, void *(*fn)(void *), void *args, size_t arg_size)
{
    pthread_t *t = calloc(n, sizeof *t);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) assert_int_equal(pthread_create(&t[i], NULL, fn, (char *)args + i * arg_size), 0);
    for (size_t i = 0; i < n; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    free(t);
}

#endif
