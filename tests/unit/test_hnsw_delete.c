/* HNSW deletes: deleted IDs never come back, recall after deleting 20% stays within 0.02 of a
 * fresh build, and after rounds of deletes + inserts every live node is still reachable. */
#include "test_util.h"

#include "index/hnsw.h"
#include "test_hnsw_util.h"

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
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = efs[e]};
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
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = 64};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deletes),
        cmocka_unit_test(delete_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
