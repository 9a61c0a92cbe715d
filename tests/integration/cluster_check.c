/* Client side of the cluster test (test_cluster.sh), talking HTTP like any user:
 *   cluster_check gen N DIM SEED OUT.fvecs        random vectors
 *   cluster_check load URL BASE.fvecs [FIRST]     POST /vectors in batches, IDs FIRST..FIRST+N-1
 *                                                 (FIRST defaults to 0)
 *   cluster_check recall URL BASE.fvecs Q.fvecs K prints "recall@K R partial P" against
 *                                                 exact neighbours computed here
 *   cluster_check partial URL Q.fvecs SHARD       exits 0 iff an answer is partial and
 *                                                 names SHARD among the missing shards */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vecscale.h"

typedef struct {
    char *d;
    size_t n;
} buf;

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    buf *b = u;
    char *d = realloc(b->d, b->n + s * n + 1);
    if (!d) return 0;
    memcpy(d + b->n, p, s * n);
    b->d = d;
    b->n += s * n;
    d[b->n] = 0;
    return s * n;
}

static long post(const char *url, const char *body, buf *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    out->d = NULL;
    out->n = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static vs_matrix *read_f32(const char *path)
{
    vs_matrix *m = NULL;
    if (vs_matrix_read(path, 0, &m) || vs_matrix_to_f32(m)) {
        fprintf(stderr, "cluster_check: %s: %s\n", path, vs_last_error());
        exit(1);
    }
    return m;
}

static cJSON *vec_json(const float *v, uint32_t d)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t j = 0; j < d; j++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[j]));
    return a;
}

static int gen(size_t n, uint32_t d, uint64_t seed, const char *out)
{
    vs_matrix m = {n, d, VS_DTYPE_F32, malloc(n * d * sizeof(float))};
    float *x = m.data;
    for (size_t i = 0; i < n * d; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        x[i] = (float)(seed >> 40) / 16777216.0f;
    }
    int rc = vs_matrix_write(out, &m);
    free(m.data);
    return rc ? 1 : 0;
}

static int load(const char *base_url, const char *path, long long first)
{
    vs_matrix *m = read_f32(path);
    char url[600];
    snprintf(url, sizeof url, "%s/vectors", base_url);
    const float *x = m->data;
    for (size_t s = 0; s < m->n; s += 500) {
        size_t e = s + 500 < m->n ? s + 500 : m->n;
        cJSON *o = cJSON_CreateObject(), *vs = cJSON_CreateArray(), *ids = cJSON_CreateArray();
        for (size_t i = s; i < e; i++) {
            cJSON_AddItemToArray(vs, vec_json(x + i * m->dim, m->dim));
            cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)(first + (long long)i)));
        }
        cJSON_AddItemToObject(o, "vectors", vs);
        cJSON_AddItemToObject(o, "ids", ids);
        char *body = cJSON_PrintUnformatted(o);
        buf b;
        long st = post(url, body, &b);
        if (st != 200) {
            fprintf(stderr, "cluster_check: POST %s rows %zu..%zu: HTTP %ld %s\n", url, s, e, st, b.d ? b.d : "");
            free(b.d);
            cJSON_free(body);
            cJSON_Delete(o);
            vs_matrix_free(m);
            return 1;
        }
        free(b.d);
        cJSON_free(body);
        cJSON_Delete(o);
    }
    printf("loaded %zu vectors through %s\n", m->n, base_url);
    vs_matrix_free(m);
    return 0;
}

/* One search; fills ids (k, -1 padded); returns HTTP status; *partial from the answer. */
static long search(const char *url, const float *q, uint32_t d, uint32_t k, int64_t *ids, int *partial, cJSON **answer)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "vector", vec_json(q, d));
    cJSON_AddNumberToObject(o, "k", k);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    buf b;
    long st = post(url, body, &b);
    cJSON_free(body);
    for (uint32_t i = 0; i < k; i++) ids[i] = -1;
    cJSON *a = b.d ? cJSON_Parse(b.d) : NULL;
    free(b.d);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(a, "results"), *it;
    uint32_t i = 0;
    cJSON_ArrayForEach(it, res)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (i < k && cJSON_IsNumber(id)) ids[i++] = (int64_t)id->valuedouble;
    }
    *partial = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "partial"));
    if (answer) *answer = a;
    else cJSON_Delete(a);
    return st;
}

static int recall(const char *base_url, const char *bpath, const char *qpath, uint32_t k)
{
    vs_matrix *b = read_f32(bpath), *q = read_f32(qpath);
    vs_index *ix = NULL;
    vs_index_options io = {.struct_size = sizeof(vs_index_options), .dim = b->dim, .metric = VS_METRIC_L2};
    if (vs_index_create(&io, &ix) || vs_index_add(ix, b->n, b->data, NULL)) return 1;
    int64_t *gt = malloc(q->n * k * sizeof *gt), *got = malloc(k * sizeof *got);
    float *dist = malloc(q->n * k * sizeof *dist);
    vs_index_search(ix, q->n, q->data, k, NULL, dist, gt);
    char url[600];
    snprintf(url, sizeof url, "%s/search", base_url);
    size_t hits = 0, partial = 0, failed = 0;
    for (size_t i = 0; i < q->n; i++) {
        int p = 0;
        if (search(url, (const float *)q->data + i * q->dim, q->dim, k, got, &p, NULL) != 200) failed++;
        partial += (size_t)p;
        for (uint32_t a = 0; a < k; a++)
            for (uint32_t c = 0; c < k; c++)
                if (got[a] >= 0 && got[a] == gt[i * k + c]) hits++;
    }
    printf("recall@%u %.4f partial %zu failed %zu queries %zu\n", k, (double)hits / (double)(q->n * k), partial, failed,
           q->n);
    vs_index_free(ix);
    free(gt);
    free(got);
    free(dist);
    vs_matrix_free(b);
    vs_matrix_free(q);
    return 0;
}

static int expect_partial(const char *base_url, const char *qpath, int shard)
{
    vs_matrix *q = read_f32(qpath);
    char url[600];
    snprintf(url, sizeof url, "%s/search", base_url);
    int64_t ids[10];
    int p = 0;
    cJSON *a = NULL;
    long st = search(url, q->data, q->dim, 10, ids, &p, &a);
    char *text = a ? cJSON_PrintUnformatted(a) : NULL;
    printf("HTTP %ld %s\n", st, text ? text : "(no JSON)");
    const cJSON *miss = cJSON_GetObjectItemCaseSensitive(a, "missing_shards"), *m;
    int named = 0;
    cJSON_ArrayForEach(m, miss) if (cJSON_IsNumber(m) && (int)m->valuedouble == shard) named = 1;
    int ok = st == 200 && p && named && ids[0] >= 0;
    free(text);
    cJSON_Delete(a);
    vs_matrix_free(q);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc == 6 && !strcmp(argv[1], "gen")) return gen(strtoull(argv[2], 0, 10), (uint32_t)atoi(argv[3]), strtoull(argv[4], 0, 10), argv[5]);
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "load"))
        return load(argv[2], argv[3], argc == 5 ? strtoll(argv[4], NULL, 10) : 0);
    if (argc == 6 && !strcmp(argv[1], "recall")) return recall(argv[2], argv[3], argv[4], (uint32_t)atoi(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "partial")) return expect_partial(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: see the comment at the top of cluster_check.c\n");
    return 2;
}
