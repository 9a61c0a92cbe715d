/* HNSW: recall against exact Flat search (a recall regression test with measured floors),
 * every metric, k > n, ef < k, parallel build, user IDs and duplicates, deletes (never
 * returned, recall close to a fresh build), filters (exactly k, recall vs exact filtered),
 * save / load / view round trips, damaged files. */
#include "test_util.h"

#include "index/hnsw.h"

enum { D = 32, N = 5000, NQ = 200, K = 10 };

static vs_index *make(uint32_t d, vs_metric m, const char *factory, uint32_t threads)
{
    vs_index *ix = NULL;
    vs_index_options o = {.dim = d, .metric = m, .factory = factory, .n_threads = threads, .seed = 42};
    assert_int_equal(vs_index_create(&o, &ix), VS_OK);
    return ix;
}

/* recall@k of got against the exact answer (rows of k IDs; -1 entries never match). */
static double recall(const int64_t *got, const int64_t *exact, size_t nq, size_t k)
{
    size_t hit = 0, total = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < k; j++) {
            if (exact[i * k + j] < 0) continue;
            total++;
            for (size_t t = 0; t < k; t++)
                if (got[i * k + t] == exact[i * k + j]) {
                    hit++;
                    break;
                }
        }
    return total ? (double)hit / (double)total : 1.0;
}

static void search_ids(const vs_index *ix, const float *q, size_t nq, uint32_t k, const vs_search_params *p,
                       int64_t *ids, float *dist)
{
    float *tmp = dist ? dist : malloc(nq * k * sizeof *tmp);
    assert_int_equal(vs_index_search(ix, nq, q, k, p, tmp, ids), VS_OK);
    if (!dist) free(tmp);
}

static void recall_every_metric(void **state)
{
    (void)state;
    float *base = tu_random_vectors(N, D, 1);
    float *q = tu_random_vectors(NQ, D, 2);
    const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP, VS_METRIC_COSINE};
    /* Floors measured on this data (seed 42, M = 16, ef_construction 200, 2 build threads):
     * ef 64 gave 0.9875 (l2), 0.9880 (ip), 0.9880 (cosine); ef 256 gave 1.0 for all. The
     * floors sit about 0.02 below, so a real regression fails and thread scheduling does not. */
    const double floor64[] = {0.965, 0.965, 0.965};
    for (int mi = 0; mi < 3; mi++) {
        vs_index *flat = make(D, metrics[mi], "Flat", 1);
        vs_index *ix = make(D, metrics[mi], "HNSW16", 2);
        assert_int_equal(vs_index_add(flat, N, base, NULL), VS_OK);
        assert_int_equal(vs_index_add(ix, N, base, NULL), VS_OK);
        assert_int_equal(vs_index_size(ix), N);
        assert_string_equal(vs_index_factory(ix), "HNSW16,Flat");
        int64_t *exact = malloc(NQ * K * sizeof *exact), *got = malloc(NQ * K * sizeof *got);
        float *dist = malloc(NQ * K * sizeof *dist);
        search_ids(flat, q, NQ, K, NULL, exact, NULL);
        double prev = 0;
        const uint32_t efs[] = {64, 256};
        for (int e = 0; e < 2; e++) {
            vs_search_params p = {.ef_search = efs[e], .n_threads = 2};
            search_ids(ix, q, NQ, K, &p, got, dist);
            double r = recall(got, exact, NQ, K);
            print_message("metric %s ef %u: recall@10 %.4f\n", vs_metric_name(metrics[mi]), efs[e], r);
            assert_true(r >= (e == 0 ? floor64[mi] : 0.995));
            assert_true(r >= prev - 1e-9);
            prev = r;
            /* Scores are exact for what is returned, best first. */
            for (size_t i = 0; i < NQ; i++)
                for (size_t j = 0; j < K; j++) {
                    int64_t id = got[i * K + j];
                    assert_true(id >= 0 && id < N);
                    double s = tu_score(metrics[mi], q + i * D, base + id * D, D);
                    assert_true(fabs(s - dist[i * K + j]) < 1e-4 * fmax(1.0, fabs(s)));
                    if (j) assert_false(tu_better(metrics[mi], dist[i * K + j], dist[i * K + j - 1]));
                }
        }
        /* Default ef (0) is max(k, 64): the same as ef = 64. */
        int64_t *dflt = malloc(NQ * K * sizeof *dflt);
        vs_search_params p64 = {.ef_search = 64};
        search_ids(ix, q, NQ, K, &p64, got, NULL);
        search_ids(ix, q, NQ, K, NULL, dflt, NULL);
        assert_memory_equal(got, dflt, NQ * K * sizeof *got);
        free(dflt);
        free(exact);
        free(got);
        free(dist);
        vs_index_free(flat);
        vs_index_free(ix);
    }
    free(base);
    free(q);
}

static void small_and_edge_cases(void **state)
{
    (void)state;
    float base[5 * 3], q[3] = {0.1f, 0.2f, 0.3f};
    for (int i = 0; i < 15; i++) base[i] = (float)i;
    vs_index *ix = make(3, VS_METRIC_L2, "HNSW4", 1);
    float s[10];
    int64_t id[10];
    assert_int_equal(vs_index_search(ix, 1, q, 10, NULL, s, id), VS_ERR_EMPTY);
    assert_int_equal(vs_index_add(ix, 5, base, NULL), VS_OK);
    assert_int_equal(vs_index_search(ix, 1, q, 10, NULL, s, id), VS_OK); /* k > n */
    for (int j = 0; j < 5; j++) assert_int_equal(id[j], j);
    for (int j = 5; j < 10; j++) {
        assert_int_equal(id[j], -1);
        assert_true(isinf(s[j]) && s[j] > 0);
    }
    /* ef < k is raised to k. */
    vs_search_params p = {.ef_search = 1};
    assert_int_equal(vs_index_search(ix, 1, q, 3, &p, s, id), VS_OK);
    for (int j = 0; j < 3; j++) assert_int_equal(id[j], j);
    /* Duplicate IDs add nothing; get returns the stored vector. */
    int64_t dup[2] = {7, 3};
    assert_int_equal(vs_index_add(ix, 2, base, dup), VS_ERR_DUPLICATE_ID);
    assert_int_equal(vs_index_size(ix), 5);
    float v[3];
    assert_int_equal(vs_index_get(ix, 4, v), VS_OK);
    assert_memory_equal(v, base + 12, sizeof v);
    assert_int_equal(vs_index_get(ix, 99, v), VS_ERR_NOT_FOUND);
    /* Similarity metrics pad with -inf. */
    vs_index_free(ix);
    ix = make(3, VS_METRIC_IP, "HNSW8,Flat", 1);
    assert_int_equal(vs_index_add(ix, 5, base, NULL), VS_OK);
    assert_int_equal(vs_index_search(ix, 1, q, 10, NULL, s, id), VS_OK);
    assert_int_equal(id[0], 4);
    assert_true(isinf(s[9]) && s[9] < 0);
    vs_index_free(ix);
    /* HNSW over PQ codes is refused with a clear error. */
    vs_index_options o = {.dim = 8, .metric = VS_METRIC_L2, .factory = "HNSW16,PQ4"};
    assert_int_not_equal(vs_index_create(&o, &ix), VS_OK);
    assert_true(strlen(vs_last_error()) > 0);
}

static void parallel_build_and_ef_below_k(void **state)
{
    (void)state;
    float *base = tu_random_vectors(N, 8, 3);
    float *q = tu_random_vectors(NQ, 8, 4);
    vs_index *flat = make(8, VS_METRIC_L2, "Flat", 1);
    assert_int_equal(vs_index_add(flat, N, base, NULL), VS_OK);
    int64_t *exact = malloc(NQ * 50 * sizeof *exact), *got = malloc(NQ * 50 * sizeof *got);
    search_ids(flat, q, NQ, 50, NULL, exact, NULL);
    for (uint32_t t = 1; t <= 3; t += 2) {
        vs_index *ix = make(8, VS_METRIC_L2, "HNSW12", t);
        /* Several batches, so inserts meet an existing graph. */
        for (size_t at = 0; at < N; at += 1250) assert_int_equal(vs_index_add(ix, 1250, base + at * 8, NULL), VS_OK);
        vs_search_params p = {.ef_search = 5}; /* below k = 50: raised to 50 */
        search_ids(ix, q, NQ, 50, &p, got, NULL);
        double r = recall(got, exact, NQ, 50);
        print_message("threads %u, k 50, ef 5 -> 50: recall %.4f\n", t, r);
        assert_true(r >= 0.95);
        for (size_t i = 0; i < NQ * 50; i++) assert_true(got[i] >= 0);
        vs_index_free(ix);
    }
    free(exact);
    free(got);
    vs_index_free(flat);
    free(base);
    free(q);
}

static void deletes(void **state)
{
    (void)state;
    const size_t d = 16;
    float *base = tu_random_vectors(N, d, 5);
    float *q = tu_random_vectors(NQ, d, 6);
    uint8_t *gone = calloc(N, 1);
    int64_t *del = malloc(N * sizeof *del);
    size_t nd = 0;
    uint64_t rng = 77;
    for (size_t i = 0; i < N; i++)
        if (tu_rng_next(&rng) % 5 == 0) {
            gone[i] = 1;
            del[nd++] = (int64_t)i;
        }
    /* The remaining vectors with their IDs, for the exact answer and a fresh build. */
    float *rest = malloc(N * d * sizeof *rest);
    int64_t *rest_ids = malloc(N * sizeof *rest_ids);
    size_t nr = 0;
    for (size_t i = 0; i < N; i++)
        if (!gone[i]) {
            memcpy(rest + nr * d, base + i * d, d * sizeof *rest);
            rest_ids[nr++] = (int64_t)i;
        }
    vs_index *flat = make((uint32_t)d, VS_METRIC_L2, "Flat", 1);
    vs_index *fresh = make((uint32_t)d, VS_METRIC_L2, "HNSW16", 2);
    vs_index *ix = make((uint32_t)d, VS_METRIC_L2, "HNSW16", 2);
    assert_int_equal(vs_index_add(flat, nr, rest, rest_ids), VS_OK);
    assert_int_equal(vs_index_add(fresh, nr, rest, rest_ids), VS_OK);
    assert_int_equal(vs_index_add(ix, N, base, NULL), VS_OK);
    size_t removed = 0;
    assert_int_equal(vs_index_remove(ix, nd, del, &removed), VS_OK);
    assert_int_equal(removed, nd);
    assert_int_equal(vs_index_size(ix), N - nd);
    assert_int_equal(vs_index_remove(ix, nd, del, &removed), VS_OK); /* again: nothing */
    assert_int_equal(removed, 0);
    float v[16];
    assert_int_equal(vs_index_get(ix, del[0], v), VS_ERR_NOT_FOUND);

    int64_t *exact = malloc(NQ * K * sizeof *exact), *a = malloc(NQ * K * sizeof *a), *b = malloc(NQ * K * sizeof *b);
    search_ids(flat, q, NQ, K, NULL, exact, NULL);
    const uint32_t efs[] = {16, 64};
    for (int e = 0; e < 2; e++) {
        vs_search_params p = {.ef_search = efs[e]};
        search_ids(ix, q, NQ, K, &p, a, NULL);
        search_ids(fresh, q, NQ, K, &p, b, NULL);
        for (size_t i = 0; i < NQ * K; i++) assert_true(a[i] >= 0 && !gone[a[i]]);
        double ra = recall(a, exact, NQ, K), rb = recall(b, exact, NQ, K);
        print_message("ef %u: after 20%% deletes %.4f, fresh build %.4f\n", efs[e], ra, rb);
        assert_true(ra >= rb - 0.02);
    }
    /* Delete most of what is left: still never a deleted ID, still k results. */
    int64_t *more = malloc(N * sizeof *more);
    size_t nm = 0;
    for (size_t i = 0; i < nr; i++)
        if (i % 10 != 0) more[nm++] = rest_ids[i];
    assert_int_equal(vs_index_remove(ix, nm, more, &removed), VS_OK);
    assert_int_equal(removed, nm);
    for (size_t i = 0; i < nm; i++) gone[more[i]] = 1;
    search_ids(ix, q, NQ, K, NULL, a, NULL);
    for (size_t i = 0; i < NQ * K; i++) assert_true(a[i] >= 0 && !gone[a[i]]);
    /* Re-adding a deleted ID is allowed and finds the new vector. */
    int64_t again = del[0];
    assert_int_equal(vs_index_add(ix, 1, q, &again), VS_OK);
    float s1;
    int64_t i1;
    assert_int_equal(vs_index_search(ix, 1, q, 1, NULL, &s1, &i1), VS_OK);
    assert_int_equal(i1, again);
    free(more);
    free(exact); free(a); free(b);
    vs_index_free(flat); vs_index_free(fresh); vs_index_free(ix);
    free(rest); free(rest_ids); free(del); free(gone); free(base); free(q);
}

/* Many rounds of deleting 20% and inserting as many new vectors (slots are not reused, so
 * the graph accumulates deleted routing nodes): every live node stays reachable, no deleted
 * ID comes back, and recall stays within 0.02 of a fresh build of the live set. */
static void delete_churn(void **state)
{
    (void)state;
    enum { CN = 3000, ROUNDS = 3, CD = 64 };
    const size_t total = CN + ROUNDS * (CN / 5);
    /* d = 64 and M = 4: plain HNSW strands 1-2% of such a graph (hubs take the links). */
    float *data = tu_random_vectors(total, CD, 31);
    float *q = tu_random_vectors(NQ, CD, 32);
    uint8_t *live = calloc(total, 1);
    int64_t *ids = malloc(total * sizeof *ids);
    vs_index *ix = make(CD, VS_METRIC_L2, "HNSW4", 1);
    assert_int_equal(vs_index_add(ix, CN, data, NULL), VS_OK);
    assert_int_equal(vs_hnsw_unreachable(ix), 0);
    memset(live, 1, CN);
    size_t next = CN;
    uint64_t rng = 99;
    for (int r = 0; r < ROUNDS; r++) {
        size_t nd = 0;
        for (size_t i = 0; i < next; i++)
            if (live[i] && tu_rng_next(&rng) % 5 == 0) {
                ids[nd++] = (int64_t)i;
                live[i] = 0;
            }
        size_t removed = 0;
        assert_int_equal(vs_index_remove(ix, nd, ids, &removed), VS_OK);
        assert_int_equal(removed, nd);
        size_t add = CN / 5;
        for (size_t j = 0; j < add; j++) ids[j] = (int64_t)(next + j);
        assert_int_equal(vs_index_add(ix, add, data + next * CD, ids), VS_OK);
        memset(live + next, 1, add);
        next += add;
        size_t lost = vs_hnsw_unreachable(ix);
        print_message("round %d: %zu deleted, %zu live unreachable\n", r, nd, lost);
        assert_int_equal(lost, 0);
    }
    /* The live set, built fresh and searched exactly. */
    float *rest = malloc(total * CD * sizeof *rest);
    size_t nr = 0;
    for (size_t i = 0; i < next; i++)
        if (live[i]) {
            memcpy(rest + nr * CD, data + i * CD, CD * sizeof *rest);
            ids[nr++] = (int64_t)i;
        }
    assert_int_equal(vs_index_size(ix), nr);
    vs_index *flat = make(CD, VS_METRIC_L2, "Flat", 1), *fresh = make(CD, VS_METRIC_L2, "HNSW4", 1);
    assert_int_equal(vs_index_add(flat, nr, rest, ids), VS_OK);
    assert_int_equal(vs_index_add(fresh, nr, rest, ids), VS_OK);
    int64_t *exact = malloc(NQ * K * sizeof *exact), *a = malloc(NQ * K * sizeof *a), *b = malloc(NQ * K * sizeof *b);
    search_ids(flat, q, NQ, K, NULL, exact, NULL);
    vs_search_params p = {.ef_search = 64};
    vs_hnsw_filter_strategy = 1; /* the graph, even though a third of the nodes are deleted */
    search_ids(ix, q, NQ, K, &p, a, NULL);
    vs_hnsw_filter_strategy = 0;
    search_ids(fresh, q, NQ, K, &p, b, NULL);
    for (size_t i = 0; i < NQ * K; i++) assert_true(a[i] >= 0 && live[a[i]]);
    double ra = recall(a, exact, NQ, K), rb = recall(b, exact, NQ, K);
    print_message("after %d rounds of 20%% deletes + inserts: recall %.4f, fresh build %.4f\n", ROUNDS, ra, rb);
    assert_true(ra >= rb - 0.02);
    free(exact); free(a); free(b); free(rest);
    vs_index_free(flat); vs_index_free(fresh); vs_index_free(ix);
    free(data); free(q); free(live); free(ids);
}

static int allow_mod(int64_t id, void *ctx) { return (id % 1000) < *(const int *)ctx; }

static void filtered(void **state)
{
    (void)state;
    const size_t n = 20000, d = 32, nq = 100;
    float *base = tu_random_vectors(n, d, 7);
    float *q = tu_random_vectors(nq, d, 8);
    vs_index *flat = make((uint32_t)d, VS_METRIC_L2, "Flat", 1);
    vs_index *ix = make((uint32_t)d, VS_METRIC_L2, "HNSW16", 2);
    assert_int_equal(vs_index_add(flat, n, base, NULL), VS_OK);
    assert_int_equal(vs_index_add(ix, n, base, NULL), VS_OK);
    int64_t *exact = malloc(nq * K * sizeof *exact), *got = malloc(nq * K * sizeof *got);
    uint8_t *bits = calloc(n / 8 + 1, 1);
    const int per_mille[] = {10, 100, 500};
    for (int f = 0; f < 3; f++) {
        int pm = per_mille[f];
        memset(bits, 0, n / 8 + 1);
        for (size_t i = 0; i < n; i++)
            if (allow_mod((int64_t)i, &pm)) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
        vs_filter fb = {.kind = VS_FILTER_BITSET, .bits = bits, .n_bits = n};
        vs_filter fp = {.kind = VS_FILTER_PREDICATE, .fn = allow_mod, .ctx = &pm};
        for (int kind = 0; kind < 2; kind++) {
            vs_search_params p = {.filter = kind ? &fp : &fb};
            search_ids(flat, q, nq, K, &p, exact, NULL);
            for (int strategy = 0; strategy <= 2; strategy++) {
                vs_hnsw_filter_strategy = strategy;
                search_ids(ix, q, nq, K, &p, got, NULL);
                for (size_t i = 0; i < nq * K; i++) assert_true(got[i] >= 0 && allow_mod(got[i], &pm));
                double r = recall(got, exact, nq, K);
                print_message("filter %.1f%% (%s), strategy %d: recall %.4f\n", pm / 10.0,
                              kind ? "predicate" : "bitset", strategy, r);
                assert_true(r >= 0.95);
            }
            vs_hnsw_filter_strategy = 0;
        }
    }
    /* Fewer than k pass: all of them, then padding. */
    uint8_t few[2] = {0x0b, 0}; /* ids 0, 1, 3 */
    vs_filter ff = {.kind = VS_FILTER_BITSET, .bits = few, .n_bits = 16};
    vs_search_params p = {.filter = &ff};
    search_ids(ix, q, 1, K, &p, got, NULL);
    int64_t want[3] = {0, 1, 3};
    for (int j = 0; j < 3; j++) {
        int seen = 0;
        for (int t = 0; t < 3; t++) seen |= got[t] == want[j];
        assert_true(seen);
    }
    for (int j = 3; j < K; j++) assert_int_equal(got[j], -1);
    free(bits); free(exact); free(got);
    vs_index_free(flat); vs_index_free(ix);
    free(base); free(q);
}

/* Quantised storage: traversal on SQ8 / fp16 / bf16 codes, with and without re-ranking on
 * the float vectors; SQ8 must be trained first; save / load keep the ranges. */
static void quantised(void **state)
{
    (void)state;
    float *base = tu_random_vectors(N, D, 41);
    float *q = tu_random_vectors(NQ, D, 42);
    const char *specs[] = {"HNSW16,SQ8", "HNSW16,SQfp16", "HNSW16,SQbf16", "HNSW16,SQ8,RFlat"};
    /* Measured at ef 64 (seed 42, d 32, 5,000 uniform vectors; fp32 storage gives 0.9875):
     * SQ8 0.9735 (l2) / 0.9815 (cosine), fp16 0.9835 / 0.9880, bf16 0.9830 / 0.9855,
     * SQ8,RFlat 0.9820 / 0.9875. Floors about 0.02 below. */
    const double floor64[] = {0.95, 0.965, 0.96, 0.965};
    const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_COSINE};
    char *dir = tu_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/q.vsi", dir);
    for (int mi = 0; mi < 2; mi++) {
        vs_index *flat = make(D, metrics[mi], "Flat", 1);
        assert_int_equal(vs_index_add(flat, N, base, NULL), VS_OK);
        int64_t *exact = malloc(NQ * K * sizeof *exact), *got = malloc(NQ * K * sizeof *got), *back_ids = malloc(NQ * K * sizeof *back_ids);
        search_ids(flat, q, NQ, K, NULL, exact, NULL);
        for (int si = 0; si < 4; si++) {
            vs_index *ix = make(D, metrics[mi], specs[si], 2);
            if (si == 0 || si == 3) {
                assert_int_equal(vs_index_add(ix, N, base, NULL), VS_ERR_NOT_TRAINED);
                assert_int_equal(vs_index_train(ix, N, base), VS_OK);
            }
            assert_int_equal(vs_index_add(ix, N, base, NULL), VS_OK);
            assert_string_equal(vs_index_factory(ix), specs[si]);
            vs_search_params p = {.ef_search = 64};
            search_ids(ix, q, NQ, K, &p, got, NULL);
            double r = recall(got, exact, NQ, K);
            print_message("%s %s ef 64: recall@10 %.4f, %zu bytes per vector\n", specs[si], vs_metric_name(metrics[mi]), r,
                          vs_index_code_size(ix));
            assert_true(r >= floor64[si]);
            /* The stored vector comes back within the code's precision. */
            float v[D];
            assert_int_equal(vs_index_get(ix, 17, v), VS_OK);
            for (int j = 0; j < D; j++) {
                float want = base[17 * D + j];
                if (metrics[mi] == VS_METRIC_COSINE) {
                    double nrm = 0;
                    for (int t = 0; t < D; t++) nrm += (double)base[17 * D + t] * base[17 * D + t];
                    want = (float)(want / sqrt(nrm));
                }
                assert_true(fabs(v[j] - want) < 0.02);
            }
            assert_int_equal(vs_index_save(ix, path), VS_OK);
            vs_index *back = NULL;
            assert_int_equal(vs_index_load(path, &back), VS_OK);
            search_ids(back, q, NQ, K, &p, back_ids, NULL);
            assert_memory_equal(got, back_ids, NQ * K * sizeof *got);
            vs_index_free(back);
            vs_index_free(ix);
        }
        free(exact); free(got); free(back_ids);
        vs_index_free(flat);
    }
    tu_rmdir(dir);
    free(base);
    free(q);
}

static void persistence(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char path[512], bad[600];
    snprintf(path, sizeof path, "%s/h.vsi", dir);
    const size_t n = 3000, d = 12;
    float *base = tu_random_vectors(n, d, 9);
    float *q = tu_random_vectors(NQ, d, 10);
    vs_index *ix = make((uint32_t)d, VS_METRIC_COSINE, "HNSW8", 2);
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int64_t)(i * 3 + 1000);
    assert_int_equal(vs_index_add(ix, n, base, ids), VS_OK);
    int64_t rm[3] = {1000, 1003, 4000};
    assert_int_equal(vs_index_remove(ix, 3, rm, NULL), VS_OK);
    assert_int_equal(vs_index_save(ix, path), VS_OK);
    assert_int_equal(vs_index_verify_file(path), VS_OK);
    int64_t *a = malloc(NQ * K * sizeof *a), *b = malloc(NQ * K * sizeof *b);
    float *sa = malloc(NQ * K * sizeof *sa), *sb = malloc(NQ * K * sizeof *sb);
    search_ids(ix, q, NQ, K, NULL, a, sa);
    for (int mode = 0; mode < 2; mode++) {
        vs_index *back = NULL;
        assert_int_equal(mode ? vs_index_view(path, &back) : vs_index_load(path, &back), VS_OK);
        assert_int_equal(vs_index_is_mapped(back), mode);
        assert_int_equal(vs_index_size(back), n - 3);
        assert_string_equal(vs_index_factory(back), "HNSW8,Flat");
        search_ids(back, q, NQ, K, NULL, b, sb);
        assert_memory_equal(a, b, NQ * K * sizeof *a);
        assert_memory_equal(sa, sb, NQ * K * sizeof *sa);
        float v[12], w[12];
        assert_int_equal(vs_index_get(back, 1006, v), VS_OK);
        assert_int_equal(vs_index_get(ix, 1006, w), VS_OK);
        assert_memory_equal(v, w, sizeof v);
        assert_int_equal(vs_index_get(back, 1003, v), VS_ERR_NOT_FOUND);
        /* The first write copies the image; the index keeps working. */
        int64_t nid = 1;
        assert_int_equal(vs_index_add(back, 1, q, &nid), VS_OK);
        assert_int_equal(vs_index_is_mapped(back), 0);
        float s1;
        int64_t i1;
        assert_int_equal(vs_index_search(back, 1, q, 1, NULL, &s1, &i1), VS_OK);
        assert_int_equal(i1, 1);
        assert_int_equal(vs_index_remove(back, 1, &nid, NULL), VS_OK);
        search_ids(back, q, NQ, K, NULL, b, NULL);
        assert_memory_equal(a, b, NQ * K * sizeof *a);
        vs_index_free(back);
    }
    /* Damaged copies fail with a clear error. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *img = malloc((size_t)len);
    assert_int_equal(fread(img, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    vs_index *back = NULL;
    assert_int_equal(vs_index_load_buffer(img, (size_t)len / 2, &back), VS_ERR_CORRUPT);
    for (long at = 100; at < len; at += len / 7) {
        img[at] ^= 0x40;
        int rc = vs_index_load_buffer(img, (size_t)len, &back);
        assert_int_equal(rc, VS_ERR_CORRUPT);
        assert_true(strlen(vs_last_error()) > 0);
        img[at] ^= 0x40;
    }
    snprintf(bad, sizeof bad, "%s/trunc.vsi", dir);
    f = fopen(bad, "wb");
    fwrite(img, 1, (size_t)len - 64, f);
    fclose(f);
    assert_int_equal(vs_index_load(bad, &back), VS_ERR_CORRUPT);
    assert_int_equal(vs_index_view(bad, &back), VS_ERR_CORRUPT);
    free(img);
    free(a); free(b); free(sa); free(sb); free(ids);
    vs_index_free(ix);
    free(base); free(q);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recall_every_metric),
        cmocka_unit_test(small_and_edge_cases),
        cmocka_unit_test(parallel_build_and_ef_below_k),
        cmocka_unit_test(deletes),
        cmocka_unit_test(delete_churn),
        cmocka_unit_test(filtered),
        cmocka_unit_test(quantised),
        cmocka_unit_test(persistence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
