/* Filtered search through the collection API (issue 14): queries/s and recall@10 against the
 * exact filtered ground truth, per filter, next to the same queries unfiltered.
 *
 *   filter_bench glove BASE.fvecs QUERIES.fvecs DIR [NQ] [EF]
 *       DIR: an HNSW16 cosine collection of BASE with a synthetic payload {"b": h(id) % 100}
 *       (made on first use, with an integer payload index on "b"); filters b < 1, < 10, < 50.
 *   filter_bench wordnet DIR [NQ] [EF]
 *       DIR: the WordNet collection (scripts/run.sh or vecscale build --input, metadata "pos");
 *       queries are NQ documents' own vectors; filters on pos, and on a synthetic payload
 *       "b" (0..99, b < 1, 10, 50) when the documents have one (bench/filtered.sh wordnet-jsonl).
 *
 * Every query is its own vs_collection_search_where call (parse, compile, search: what a
 * server request costs), on one thread, timed by the thread's CPU clock (the machine is
 * shared; bench/README.md) and by the wall clock. "batch" rows search all NQ queries in one
 * call (one compile). Ground truth: an exact Flat index over the same vectors searched with
 * the allowed IDs as a bitset. Links against build/libvecscale.a (bench/filtered.sh). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vecscale.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "filter_bench: %s: %s (%s)\n", what, vs_last_error(), vs_strerror(rc));
    exit(1);
}
#define CHECK(x, what) do { int rc_ = (x); if (rc_) die(what, rc_); } while (0)

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct {
    const char *name, *json;
    uint8_t *allowed; /* per row; NULL = every row */
} filter_case;

/* Exact top-10 of each query among allowed rows (all rows when allowed is NULL). */
static int64_t *ground_truth(const float *base, size_t n, uint32_t dim, const float *q, size_t nq, const uint8_t *allowed)
{
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = dim, .metric = VS_METRIC_COSINE, .factory = "Flat"};
    vs_index *ix;
    CHECK(vs_index_create(&o, &ix), "gt create");
    CHECK(vs_index_add(ix, n, base, NULL), "gt add");
    uint8_t *bits = calloc(n / 8 + 1, 1);
    for (size_t i = 0; i < n; i++)
        if (!allowed || allowed[i]) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    vs_filter f = {.kind = VS_FILTER_BITSET, .bits = bits, .n_bits = n};
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .n_threads = 2, .filter = allowed ? &f : NULL};
    float *d = malloc(nq * 10 * sizeof *d);
    int64_t *ids = malloc(nq * 10 * sizeof *ids);
    CHECK(vs_index_search(ix, nq, q, 10, &p, d, ids), "gt search");
    free(d);
    free(bits);
    vs_index_free(ix);
    return ids;
}

static double recall(const int64_t *got, const int64_t *gt, size_t nq)
{
    size_t hit = 0, want = 0;
    for (size_t i = 0; i < nq; i++)
        for (int a = 0; a < 10; a++) {
            if (gt[i * 10 + a] < 0) continue;
            want++;
            for (int b = 0; b < 10; b++) hit += got[i * 10 + b] == gt[i * 10 + a];
        }
    return want ? (double)hit / want : 1.0;
}

static void run_cases(vs_collection *c, const float *base, size_t n, uint32_t dim, const float *q, size_t nq,
                      uint32_t ef, filter_case *cases, size_t n_cases)
{
    float *d = malloc(nq * 10 * sizeof *d);
    int64_t *ids = malloc(nq * 10 * sizeof *ids);
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = ef};
    double unf_cpu = 0, unf_batch = 0;
    printf("%-22s %9s %8s %9s %9s %7s %10s %7s %s\n", "filter", "allowed", "recall", "q/s cpu", "q/s wall", "vs unf",
           "batch q/s", "vs unf", "path");
    for (size_t f = 0; f < n_cases; f++) {
        int64_t *gt = ground_truth(base, n, dim, q, nq, cases[f].allowed);
        size_t allowed = 0;
        for (size_t i = 0; i < n; i++) allowed += !cases[f].allowed || cases[f].allowed[i];
        vs_filter_report rep = {.struct_size = sizeof rep};
        /* Warm-up: the first filtered call may start an automatic build; wait for it. */
        if (cases[f].json) {
            for (int t = 0; t < 600; t++) {
                CHECK(vs_collection_search_where(c, 1, q, 10, &p, cases[f].json, d, ids, &rep), "warm-up");
                if (rep.indexed) break;
                sleep(1);
            }
        }
        double c0 = cpu_now(), w0 = wall_now();
        int exact = 0, post = 0, cached = 0, indexed = 1;
        for (size_t i = 0; i < nq; i++) {
            CHECK(vs_collection_search_where(c, 1, q + i * dim, 10, &p, cases[f].json, d + i * 10, ids + i * 10, &rep),
                  "search");
            exact += rep.exact;
            post += rep.post_filter;
            cached += rep.cached;
            indexed &= !cases[f].json || rep.indexed;
        }
        double cpu = cpu_now() - c0, wall = wall_now() - w0;
        double r = recall(ids, gt, nq);
        double b0 = cpu_now();
        CHECK(vs_collection_search_where(c, nq, q, 10, &p, cases[f].json, d, ids, &rep), "batch search");
        double bcpu = cpu_now() - b0;
        double rb = recall(ids, gt, nq);
        double qps = nq / cpu, bqps = nq / bcpu;
        if (!cases[f].json) {
            unf_cpu = qps;
            unf_batch = bqps;
        }
        printf("%-22s %8.2f%% %8.4f %9.0f %9.0f %6.2fx %10.0f %6.2fx %s%s\n", cases[f].name, 100.0 * allowed / n, r,
               qps, nq / wall, qps / unf_cpu, bqps, bqps / unf_batch,
               !cases[f].json ? "unfiltered" : !indexed ? "per-document" : exact == (int)nq ? "index, exact scan of the set"
               : post == (int)nq ? "index, post-filter" : exact || post ? "index, mixed" : "index, bitset graph search",
               fabs(rb - r) > 0.01 ? " (batch recall differs)" : "");
        fflush(stdout);
        free(gt);
    }
    free(d);
    free(ids);
}

static int glove(int argc, char **argv)
{
    const char *base_path = argv[2], *q_path = argv[3], *dir = argv[4];
    size_t nq = argc > 5 ? (size_t)atol(argv[5]) : 1000;
    uint32_t ef = argc > 6 ? (uint32_t)atol(argv[6]) : 200;
    vs_matrix *bm, *qm;
    CHECK(vs_matrix_read(base_path, 0, &bm), "read base");
    CHECK(vs_matrix_read(q_path, nq, &qm), "read queries");
    nq = qm->n;
    size_t n = bm->n;
    uint32_t dim = bm->dim;
    const float *base = bm->data, *q = qm->data;
    vs_collection *c;
    char conf[4096];
    snprintf(conf, sizeof conf, "%s/collection.vsc", dir);
    if (access(conf, F_OK)) {
        vs_payload_index_spec spec = {"b", VS_PAYLOAD_INTEGER};
        vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = dim, .metric = VS_METRIC_COSINE, .factory = "HNSW16", .n_threads = 2,
                                   .payload_indexes = &spec, .n_payload_indexes = 1, .snapshot_log_bytes = 1ull << 40};
        CHECK(vs_collection_create(dir, &o, &c), "create");
        double t0 = wall_now();
        enum { B = 10000 };
        char *mdbuf = malloc(B * 16);
        const char **md = malloc(B * sizeof *md);
        int64_t *ids = malloc(B * sizeof *ids);
        for (size_t s = 0; s < n; s += B) {
            size_t m = n - s < B ? n - s : B;
            for (size_t i = 0; i < m; i++) {
                ids[i] = (int64_t)(s + i);
                snprintf(mdbuf + i * 16, 16, "{\"b\":%u}", (unsigned)(mix(s + i) % 100));
                md[i] = mdbuf + i * 16;
            }
            CHECK(vs_collection_add(c, m, base + s * dim, ids, NULL, md, NULL), "add");
        }
        CHECK(vs_collection_snapshot(c), "snapshot");
        fprintf(stderr, "built %s: %zu documents in %.0f s\n", dir, n, wall_now() - t0);
        free(mdbuf);
        free(md);
        free(ids);
    } else {
        CHECK(vs_collection_open(dir, &c), "open");
    }
    if (vs_collection_size(c) != n) {
        fprintf(stderr, "filter_bench: %s holds %zu documents, %s %zu\n", dir, vs_collection_size(c), base_path, n);
        return 1;
    }
    static const unsigned lt[3] = {1, 10, 50};
    filter_case cases[4] = {{"none", NULL, NULL}};
    char json[3][64], name[3][32];
    for (int s = 0; s < 3; s++) {
        snprintf(json[s], sizeof json[s], "{\"b\": {\"lt\": %u}}", lt[s]);
        snprintf(name[s], sizeof name[s], "b < %u", lt[s]);
        uint8_t *a = malloc(n);
        for (size_t i = 0; i < n; i++) a[i] = mix(i) % 100 < lt[s];
        cases[s + 1] = (filter_case){name[s], json[s], a};
    }
    printf("# GloVe-100 %zu x %u cosine, HNSW16 collection, ef %u, %zu queries, one thread\n", n, dim, ef, nq);
    run_cases(c, base, n, dim, q, nq, ef, cases, 4);
    for (int s = 1; s < 4; s++) free(cases[s].allowed);
    vs_collection_close(c);
    vs_matrix_free(bm);
    vs_matrix_free(qm);
    return 0;
}

typedef struct {
    char pos[16];
    int b; /* synthetic payload, -1 if absent */
} pos_ctx;

static void read_pos(int64_t id, const char *text, const char *md, void *ctx)
{
    (void)id;
    (void)text;
    pos_ctx *p = ctx;
    const char *s = md ? strstr(md, "\"pos\":\"") : NULL;
    p->pos[0] = 0;
    if (s) sscanf(s + 7, "%15[^\"]", p->pos);
    const char *b = md ? strstr(md, "\"b\":") : NULL;
    p->b = b ? atoi(b + 4) : -1;
}

static int wordnet(int argc, char **argv)
{
    const char *dir = argv[2];
    size_t nq = argc > 3 ? (size_t)atol(argv[3]) : 1000;
    uint32_t ef = argc > 4 ? (uint32_t)atol(argv[4]) : 200;
    vs_collection *c;
    CHECK(vs_collection_open(dir, &c), "open");
    size_t n = vs_collection_size(c);
    uint32_t dim = vs_collection_dim(c);
    /* IDs are 0..n-1 in scripts/run.sh's and vecscale build's collections. */
    float *base = malloc(n * dim * sizeof *base);
    char (*pos)[16] = malloc(n * sizeof *pos);
    int *bv = malloc(n * sizeof *bv), has_b = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(vs_collection_get_vector(c, (int64_t)i, base + i * dim), "get vector");
        pos_ctx p;
        CHECK(vs_collection_with_doc(c, (int64_t)i, read_pos, &p), "document");
        memcpy(pos[i], p.pos, 16);
        bv[i] = p.b;
        has_b |= p.b >= 0;
    }
    float *q = malloc(nq * dim * sizeof *q);
    for (size_t i = 0; i < nq; i++) memcpy(q + i * dim, base + (mix(i + 17) % n) * dim, dim * sizeof *q);
    static const char *const names[] = {"pos = adv", "pos = verb", "pos = adj", "pos in [verb, adv]", "pos != noun"};
    static const char *const jsons[] = {"{\"pos\": \"adv\"}", "{\"pos\": \"verb\"}", "{\"pos\": \"adj\"}",
                                        "{\"pos\": {\"in\": [\"verb\", \"adv\"]}}", "{\"not\": {\"pos\": \"noun\"}}"};
    filter_case cases[9] = {{"none", NULL, NULL}};
    size_t n_cases = 6;
    for (int f = 0; f < 5; f++) {
        uint8_t *a = malloc(n);
        for (size_t i = 0; i < n; i++) {
            const char *p = pos[i];
            a[i] = f == 0 ? !strcmp(p, "adv") : f == 1 ? !strcmp(p, "verb") : f == 2 ? !strcmp(p, "adj")
                 : f == 3 ? !strcmp(p, "verb") || !strcmp(p, "adv") : strcmp(p, "noun") != 0;
        }
        cases[f + 1] = (filter_case){names[f], jsons[f], a};
    }
    static const unsigned lt[3] = {1, 10, 50};
    static const char *const bnames[3] = {"b < 1", "b < 10", "b < 50"};
    static const char *const bjson[3] = {"{\"b\": {\"lt\": 1}}", "{\"b\": {\"lt\": 10}}", "{\"b\": {\"lt\": 50}}"};
    for (int s = 0; has_b && s < 3; s++) { /* the synthetic payload of bench/filtered.sh wordnet-b */
        uint8_t *a = malloc(n);
        for (size_t i = 0; i < n; i++) a[i] = bv[i] >= 0 && (unsigned)bv[i] < lt[s];
        cases[n_cases++] = (filter_case){bnames[s], bjson[s], a};
    }
    printf("# WordNet %zu x %u cosine (%s), ef %u, %zu queries (documents' own vectors), one thread\n", n, dim, dir, ef, nq);
    run_cases(c, base, n, dim, q, nq, ef, cases, n_cases);
    for (size_t f = 1; f < n_cases; f++) free(cases[f].allowed);
    free(bv);
    free(base);
    free(pos);
    free(q);
    vs_collection_close(c);
    return 0;
}

extern int vs_collection_filter_path; /* library internal: force a path (1 bitset, 2 exact, 3 post) */

int main(int argc, char **argv)
{
    if (getenv("FILTER_PATH")) vs_collection_filter_path = atoi(getenv("FILTER_PATH"));
    if (argc >= 5 && !strcmp(argv[1], "glove")) return glove(argc, argv);
    if (argc >= 3 && !strcmp(argv[1], "wordnet")) return wordnet(argc, argv);
    fprintf(stderr, "usage: filter_bench glove BASE.fvecs QUERIES.fvecs DIR [NQ] [EF] | wordnet DIR [NQ] [EF]\n");
    return 2;
}
