/* Every route of `vecscale serve` and every error it promises, against a real server on a
 * free loopback port: seed routes, /vectors, documents, batch search, filters, collections,
 * /health, /metrics, /openapi.json, GET /, limits (body, k, batch), malformed JSON, unknown
 * fields, wrong dimension, NaN, unknown collection/document, API keys, text queries and
 * indexing through a real model, and a graceful SIGTERM after which everything acknowledged
 * is still there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server_util.h"

static const char *BIN;
static char DIR_[256];

static su_server start(const char *tag, ...)
{
    su_server s;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", DIR_, tag);
    va_list ap;
    va_start(ap, tag);
    const char *a[16];
    int n = 0;
    while (n < 15 && (a[n] = va_arg(ap, const char *))) n++;
    va_end(ap);
    a[n] = NULL;
    assert_int_equal(su_start(&s, BIN, dir, a), 0);
    return s;
}

/* Sends a request, checks the status, returns the body (caller frees). */
static char *call(su_server *s, const char *method, const char *path, const char *body, int want)
{
    su_resp r;
    assert_int_equal(su_http(s->port, method, path, body, NULL, &r), 0);
    if (r.status != want) fprintf(stderr, "%s %s -> %d: %s\n", method, path, r.status, r.body);
    assert_int_equal(r.status, want);
    return r.body;
}

/* Expects an error reply with this status and error code. */
static void expect_error(su_server *s, const char *method, const char *path, const char *body, int status, const char *code)
{
    char *b = call(s, method, path, body, status);
    char want[128];
    snprintf(want, sizeof want, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
    if (strncmp(b, want, strlen(want))) fprintf(stderr, "expected %s, got %s\n", code, b);
    assert_true(!strncmp(b, want, strlen(want)));
    free(b);
}

static void expect_contains(char *body, const char *needle)
{
    if (!strstr(body, needle)) fprintf(stderr, "missing %s in %s\n", needle, body);
    assert_non_null(strstr(body, needle));
    free(body);
}

static void test_service_routes(void **state)
{
    (void)state;
    su_server s = start("service", "--dim", "4", NULL);
    expect_contains(call(&s, "GET", "/health", NULL, 200), "\"status\":\"ok\"");
    char *page = call(&s, "GET", "/", NULL, 200);
    assert_non_null(strstr(page, "<form"));
    assert_non_null(strstr(page, "/search"));
    free(page);
    char *api = call(&s, "GET", "/openapi.json", NULL, 200);
    static const char *const paths[] = {"\"/search\"", "\"/search/batch\"", "\"/index\"", "\"/vectors\"",
        "\"/documents/{id}\"", "\"/stats\"", "\"/save\"", "\"/collections\"", "\"/collections/{name}\"",
        "\"/collections/{name}/search\"", "\"/health\"", "\"/metrics\"", "\"/openapi.json\"", "\"/\"",
        "\"openapi\":\"3.1.0\""};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (!strstr(api, paths[i])) fprintf(stderr, "openapi lacks %s\n", paths[i]);
        assert_non_null(strstr(api, paths[i]));
    }
    free(api);
    expect_error(&s, "GET", "/nope", NULL, 404, "not_found");
    expect_error(&s, "PUT", "/search", "{}", 405, "method_not_allowed");
    expect_error(&s, "POST", "/health", NULL, 405, "method_not_allowed");
    expect_error(&s, "GET", "/collections/ghost/stats", NULL, 404, "collection_not_found");
    char *m = call(&s, "GET", "/metrics", NULL, 200);
    assert_non_null(strstr(m, "vecscale_http_requests_total{route=\"health\",code=\"200\"} 1"));
    assert_non_null(strstr(m, "vecscale_http_requests_total{route=\"search\",code=\"405\"} 1"));
    assert_non_null(strstr(m, "vecscale_http_request_duration_seconds_bucket{route=\"page\",le=\"+Inf\"} 1"));
    assert_non_null(strstr(m, "vecscale_http_errors_total{route=\"other\"} 2"));
    assert_non_null(strstr(m, "vecscale_collection_vectors{collection=\"default\"} 0"));
    free(m);
    assert_int_equal(su_stop(&s, SIGTERM), 0);
}

static void test_vectors_search_documents(void **state)
{
    (void)state;
    su_server s = start("vectors", "--dim", "4", NULL);
    /* An empty collection answers with no results. */
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,0,0,0]}", 200), "\"results\":[]");
    expect_contains(call(&s, "POST", "/vectors",
                         "{\"vectors\":[[1,0,0,0],[0,1,0,0],[0,0,1,0]],\"ids\":[10,11,12],"
                         "\"texts\":[\"ten\",null,\"twelve\"],\"metadata\":[{\"color\":\"red\"},null,{\"color\":\"blue\"}]}",
                         200),
                    "{\"added\":3,\"total\":3,\"ids\":[10,11,12]}");
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[0,0,0,1]]}", 200), "\"ids\":[13]");
    /* Fast path and general path agree. */
    char *a = call(&s, "POST", "/search", "{\"vector\":[0.9,0.1,0,0],\"k\":2}", 200);
    char *b = call(&s, "POST", "/search", "{ \"k\" : 2, \"vector\" : [0.9, 0.1, 0.0, 0e0], \"filter\": {} }", 200);
    assert_non_null(strstr(a, "\"results\":[{\"id\":10,\"score\":0.0200000051,\"text\":\"ten\",\"metadata\":{\"color\":\"red\"}},{\"id\":11,"));
    *strstr(a, "\"latency_ms\"") = 0;
    *strstr(b, "\"latency_ms\"") = 0;
    assert_string_equal(a, b);
    free(a);
    free(b);
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"k\":5,\"filter\":{\"color\":\"blue\"}}", 200),
                    "\"results\":[{\"id\":12,");
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"filter\":{\"color\":\"green\"}}", 200),
                    "\"results\":[]");
    /* The filter grammar (vecscale.h): the reply says which path answered. */
    expect_contains(call(&s, "POST", "/search",
                         "{\"vector\":[1,0,0,0],\"k\":5,\"filter\":{\"or\":[{\"color\":\"red\"},{\"color\":{\"in\":[\"blue\"]}}]}}",
                         200),
                    "\"results\":[{\"id\":10,\"score\":0,\"text\":\"ten\",\"metadata\":{\"color\":\"red\"}},{\"id\":12,");
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"k\":5,\"filter\":{\"not\":{\"color\":{\"exists\":true}}}}", 200),
                    "\"results\":[{\"id\":11,");
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"filter\":{\"color\":\"red\"}}", 200),
                    "\"filter\":{\"indexed\":");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"filter\":{\"shape\":\"round\"}}", 400, "invalid_filter");
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"filter\":{\"shape\":\"round\"}}", 400),
                    "unknown field 'shape'");
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"filter\":{\"color\":{\"gte\":3}}}", 400),
                    "a range on field 'color'");
    expect_error(&s, "POST", "/search/batch", "{\"vectors\":[[1,0,0,0]],\"filter\":{\"color\":7}}", 400, "invalid_filter");
    /* The first filter on color started an automatic keyword index: /stats lists it, and
     * filters on it are then answered from it. */
    int listed = 0;
    for (double end = su_now() + 60; !listed && su_now() < end;) { /* a deadline: ASan on a loaded machine */
        char *st = call(&s, "GET", "/stats", NULL, 200);
        listed = strstr(st, "\"payload_indexes\":[{\"field\":\"color\",\"type\":\"keyword\",\"ready\":true") != NULL;
        free(st);
        if (!listed) usleep(20000);
    }
    assert_true(listed);
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"filter\":{\"color\":\"red\"}}", 200),
                    "\"filter\":{\"indexed\":true,\"allowed\":1,");
    expect_contains(call(&s, "POST", "/search/batch", "{\"vectors\":[[1,0,0,0],[0,0,1,0]],\"k\":1}", 200),
                    "{\"results\":[{\"query\":null,\"results\":[{\"id\":10,\"score\":0,\"text\":\"ten\",\"metadata\":{\"color\":\"red\"}}]},"
                    "{\"query\":null,\"results\":[{\"id\":12,");
    expect_contains(call(&s, "GET", "/documents/12", NULL, 200),
                    "{\"id\":12,\"text\":\"twelve\",\"metadata\":{\"color\":\"blue\"},\"vector\":[0,0,1,0]}");
    expect_contains(call(&s, "DELETE", "/documents/12", NULL, 200), "{\"deleted\":12,\"total\":3}");
    expect_error(&s, "GET", "/documents/12", NULL, 404, "document_not_found");
    expect_error(&s, "DELETE", "/documents/12", NULL, 404, "document_not_found");
    expect_error(&s, "GET", "/documents/abc", NULL, 404, "document_not_found"); /* a string id nobody added */
    expect_error(&s, "GET", "/documents/-1", NULL, 404, "document_not_found");
    expect_contains(call(&s, "GET", "/stats", NULL, 200),
                    "{\"name\":\"default\",\"total_vectors\":3,\"dimension\":4,\"index_type\":\"Flat\",\"memory_mb\":");

    /* Errors: each is a 400 (409 for a duplicate ID) that changes nothing. */
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0", 400, "invalid_json");
    expect_error(&s, "POST", "/search", "[1,2]", 400, "invalid_json");
    expect_error(&s, "POST", "/search", "", 400, "invalid_json");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"vector\":[1,0,0,0]}", 400, "invalid_json");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"top\":3}", 400, "unknown_field");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0]}", 400, "dimension_mismatch");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,NaN]}", 400, "invalid_json");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,1e999]}", 400, "invalid_vector");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,\"x\"]}", 400, "invalid_vector");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"k\":0}", 400, "invalid_argument");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"k\":1001}", 400, "invalid_argument");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"k\":2.5}", 400, "invalid_argument");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0,0,0],\"filter\":[1]}", 400, "invalid_filter");
    expect_error(&s, "POST", "/search", "{\"k\":3}", 400, "bad_request");
    expect_error(&s, "POST", "/search", "{\"query\":\"hello\"}", 400, "no_model");
    expect_error(&s, "POST", "/search/batch", "{\"vectors\":[]}", 400, "bad_request");
    expect_error(&s, "POST", "/search/batch", "{\"vectors\":[[1,0,0,0],[1,0]]}", 400, "dimension_mismatch");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[10]}", 409, "duplicate_id");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0],[0,1,0,0]],\"ids\":[50,50]}", 409, "duplicate_id");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0],[0,1,0,1e40]]}", 400, "invalid_vector");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[-4]}", 400, "invalid_id");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[1,2]}", 400, "bad_request");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"metadata\":[5]}", 400, "invalid_metadata");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"extra\":1}", 400, "unknown_field");
    expect_error(&s, "POST", "/vectors", "{}", 400, "bad_request");
    expect_error(&s, "POST", "/index", "{\"texts\":[\"a\"]}", 400, "no_model");
    expect_error(&s, "POST", "/index", "{\"texts\":[\"a\"],\"documents\":[]}", 400, "bad_request");
    expect_contains(call(&s, "GET", "/stats", NULL, 200), "\"total_vectors\":3,");

    /* /save's path names an export inside the data directory, never a place outside it
     * (test_server_seed covers named saves); a plain save snapshots and empties the log. */
    expect_error(&s, "POST", "/save", "{\"path\":\"/tmp/evil\"}", 400, "invalid_path");
    expect_contains(call(&s, "POST", "/save", NULL, 200), "{\"saved\":true,\"total_vectors\":3,\"snapshot_generation\":2}");
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[0,0,1,1]],\"ids\":[99],\"texts\":[\"after save\"]}", 200),
                    "\"total\":4");

    /* SIGTERM: exit 0, then everything acknowledged is back after a restart. */
    assert_int_equal(su_stop(&s, SIGTERM), 0);
    s = start("vectors", NULL);
    expect_contains(call(&s, "GET", "/stats", NULL, 200), "\"total_vectors\":4,");
    expect_contains(call(&s, "GET", "/documents/99", NULL, 200), "\"text\":\"after save\"");
    expect_contains(call(&s, "GET", "/documents/10", NULL, 200), "\"metadata\":{\"color\":\"red\"}");
    expect_error(&s, "GET", "/documents/12", NULL, 404, "document_not_found");
    assert_int_equal(su_stop(&s, SIGINT), 0);
}

static void test_collections(void **state)
{
    (void)state;
    su_server s = start("collections", NULL);
    expect_error(&s, "POST", "/search", "{\"vector\":[1]}", 404, "collection_not_found");
    expect_contains(call(&s, "GET", "/collections", NULL, 200), "{\"collections\":[]}");
    expect_contains(call(&s, "POST", "/collections", "{\"name\":\"img\",\"dimension\":3,\"metric\":\"cosine\",\"index\":\"HNSW8\"}", 201),
                    "\"index_type\":\"HNSW8,Flat\"");
    expect_error(&s, "POST", "/collections", "{\"name\":\"img\",\"dimension\":3}", 409, "collection_exists");
    expect_error(&s, "POST", "/collections", "{\"name\":\"bad name\",\"dimension\":3}", 400, "invalid_name");
    expect_error(&s, "POST", "/collections", "{\"name\":\"x\"}", 400, "bad_request");
    expect_error(&s, "POST", "/collections", "{\"name\":\"x\",\"dimension\":3,\"metric\":\"manhattan\"}", 400, "invalid_metric");
    expect_error(&s, "POST", "/collections", "{\"name\":\"x\",\"dimension\":3,\"index\":\"Bogus\"}", 400, "bad_index_spec");
    expect_error(&s, "POST", "/collections", "{\"name\":\"x\",\"dimension\":3,\"shards\":2}", 400, "unknown_field");
    expect_error(&s, "POST", "/collections", "{\"name\":\"x\",\"model\":\"no-such-model\"}", 400, "unknown_model");
    expect_contains(call(&s, "POST", "/collections/img/vectors", "{\"vectors\":[[1,0,0],[0,1,0]],\"texts\":[\"x\",\"y\"]}", 200),
                    "\"ids\":[0,1]");
    expect_error(&s, "POST", "/collections/img/vectors", "{\"vectors\":[[0,0,0]]}", 400, "invalid_argument");
    expect_contains(call(&s, "POST", "/collections/img/search", "{\"vector\":[0,2,0],\"k\":1}", 200),
                    "\"results\":[{\"id\":1,\"score\":1,\"text\":\"y\"");
    expect_contains(call(&s, "GET", "/collections/img", NULL, 200), "\"total_vectors\":2,\"dimension\":3");
    expect_contains(call(&s, "GET", "/collections/img/documents/0", NULL, 200), "\"text\":\"x\"");
    /* IVF: exact answers from a staging index until train_min vectors arrived, then trained. */
    expect_contains(call(&s, "POST", "/collections", "{\"name\":\"ivf\",\"dimension\":2,\"index\":\"IVF2,Flat\",\"train_min\":8}", 201),
                    "\"trained\":false");
    expect_contains(call(&s, "POST", "/collections/ivf/vectors", "{\"vectors\":[[0,0],[0,1],[1,0]]}", 200), "\"total\":3");
    expect_contains(call(&s, "POST", "/collections/ivf/search", "{\"vector\":[1,0.1],\"k\":1}", 200), "\"results\":[{\"id\":2,");
    expect_contains(call(&s, "POST", "/collections/ivf/vectors",
                         "{\"vectors\":[[5,5],[5,6],[6,5],[9,9],[9,8],[8,9]]}", 200), "\"total\":9");
    /* The collection's maintenance thread trains it, not the request that added. */
    int trained = 0;
    for (double end = su_now() + 60; !trained && su_now() < end;) {
        char *info = call(&s, "GET", "/collections/ivf", NULL, 200);
        trained = strstr(info, "\"trained\":true") != NULL;
        free(info);
        if (!trained) usleep(50 * 1000);
    }
    assert_true(trained);
    expect_contains(call(&s, "POST", "/collections/ivf/search", "{\"vector\":[9,9],\"k\":1,\"nprobe\":2}", 200),
                    "\"results\":[{\"id\":6,\"score\":0,");
    char *list = call(&s, "GET", "/collections", NULL, 200);
    assert_non_null(strstr(list, "\"name\":\"img\""));
    assert_non_null(strstr(list, "\"name\":\"ivf\""));
    free(list);
    expect_contains(call(&s, "DELETE", "/collections/img", NULL, 200), "{\"deleted\":\"img\"}");
    expect_error(&s, "DELETE", "/collections/img", NULL, 404, "collection_not_found");
    expect_error(&s, "POST", "/collections/img/search", "{\"vector\":[1,0,0]}", 404, "collection_not_found");
    char path[600];
    snprintf(path, sizeof path, "%s/collections/collections/img", DIR_);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(su_stop(&s, SIGTERM), 0);
    s = start("collections", NULL);
    expect_contains(call(&s, "GET", "/collections", NULL, 200), "\"name\":\"ivf\"");
    expect_contains(call(&s, "GET", "/collections/ivf", NULL, 200), "\"total_vectors\":9,");
    assert_int_equal(su_stop(&s, SIGTERM), 0);
}

static void test_api_key(void **state)
{
    (void)state;
    su_server s = start("auth", "--dim", "2", "--api-key", "s3cret", NULL);
    expect_contains(call(&s, "GET", "/health", NULL, 200), "\"ok\"");
    free(call(&s, "GET", "/", NULL, 200));
    free(call(&s, "GET", "/openapi.json", NULL, 200));
    expect_error(&s, "GET", "/stats", NULL, 401, "unauthorized");
    expect_error(&s, "GET", "/metrics", NULL, 401, "unauthorized");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,0]}", 401, "unauthorized");
    su_resp r;
    assert_int_equal(su_http(s.port, "GET", "/stats", NULL, "X-API-Key: wrong\r\n", &r), 0);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
    su_free(&r);
    assert_int_equal(su_http(s.port, "GET", "/stats", NULL, "X-API-Key: s3cre\r\n", &r), 0);
    assert_int_equal(r.status, 401);
    su_free(&r);
    assert_int_equal(su_http(s.port, "GET", "/stats", NULL, "X-API-Key: s3cret\r\n", &r), 0);
    assert_int_equal(r.status, 200);
    su_free(&r);
    assert_int_equal(su_http(s.port, "POST", "/vectors", "{\"vectors\":[[1,2]]}", "Authorization: Bearer s3cret\r\n", &r), 0);
    assert_int_equal(r.status, 200);
    su_free(&r);
    assert_int_equal(su_stop(&s, SIGTERM), 0);
}

static void test_limits(void **state)
{
    (void)state;
    su_server s = start("limits", "--dim", "2", "--max-body", "1024", "--max-batch", "3", "--max-k", "5", "--timeout", "1", NULL);
    char big[4096];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = 0;
    big[0] = '{';
    big[sizeof big - 2] = '}';
    expect_error(&s, "POST", "/search", big, 413, "payload_too_large");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,2],[1,2],[1,2],[1,2]]}", 400, "batch_too_large");
    expect_error(&s, "POST", "/search/batch", "{\"vectors\":[[1,2],[1,2],[1,2],[1,2]]}", 400, "batch_too_large");
    expect_error(&s, "POST", "/search", "{\"vector\":[1,2],\"k\":6}", 400, "invalid_argument");
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[1,2],[3,4],[5,6]]}", 200), "\"added\":3");
    expect_contains(call(&s, "POST", "/search", "{\"vector\":[1,2],\"k\":5}", 200), "\"results\":[{\"id\":0,\"score\":0,");
    /* A client that sends half a request and stalls is cut off by the timeout; others go on. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *half = "POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"vec";
    assert_int_equal(send(fd, half, strlen(half), 0), (ssize_t)strlen(half));
    expect_contains(call(&s, "GET", "/health", NULL, 200), "\"ok\"");
    /* Cut off means closed by the server (end of file or a reset), told apart from this
     * side's own 60 s receive timeout by errno, not by how long it took. */
    struct timeval tv = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    double t0 = su_now();
    char buf[256];
    errno = 0;
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    int err = errno;
    print_message("a stalled client (--timeout 1): recv %zd (%s) after %.1f s\n", got, got < 0 ? strerror(err) : "closed",
                  su_now() - t0);
    assert_true(got == 0 || (got < 0 && err != EAGAIN && err != EWOULDBLOCK));
    close(fd);
    assert_int_equal(su_stop(&s, SIGTERM), 0);
}

/* Text routes with a real model: the 4-dimensional GloVe fixture of the embedding tests. */
static void test_text_routes(void **state)
{
    (void)state;
    char model[600];
    snprintf(model, sizeof model, "%s/fixtures/embed/glove_tiny_v1.vsm", VS_TEST_SOURCE_DIR);
    su_server s = start("text", "--model", model, "--index", "HNSW8", NULL);
    expect_contains(call(&s, "GET", "/stats", NULL, 200), "\"dimension\":4,\"index_type\":\"HNSW8,Flat\"");
    expect_contains(call(&s, "GET", "/stats", NULL, 200), "\"metric\":\"cosine\",\"model\":\"");
    expect_contains(call(&s, "POST", "/index", "{\"texts\":[\"cat\",\"dog dog\",\"sat on the mat\"]}", 200),
                    "{\"added\":3,\"total\":3,\"ids\":[0,1,2]}");
    expect_contains(call(&s, "POST", "/index", "{\"documents\":[{\"id\":10,\"text\":\"the big cat\",\"metadata\":{\"size\":\"big\"}}]}", 200),
                    "\"ids\":[10]");
    char *r = call(&s, "POST", "/search", "{\"query\":\"cat\",\"k\":2}", 200);
    assert_non_null(strstr(r, "{\"query\":\"cat\",\"results\":[{\"id\":0,\"score\":1,\"text\":\"cat\",\"metadata\":null},{\"id\":10,"));
    free(r);
    expect_contains(call(&s, "POST", "/search", "{\"query\":\"cat\",\"k\":3,\"filter\":{\"size\":\"big\"}}", 200),
                    "\"results\":[{\"id\":10,\"score\":");
    expect_contains(call(&s, "POST", "/search/batch", "{\"queries\":[\"dog\",\"mat\"],\"k\":1}", 200),
                    "{\"results\":[{\"query\":\"dog\",\"results\":[{\"id\":1,\"score\":1,\"text\":\"dog dog\"");
    expect_contains(call(&s, "POST", "/index", "{\"documents\":[{\"id\":\"d-cat\",\"text\":\"cat on the mat\"},"
                                                "{\"id\":12,\"text\":\"mat\"}]}", 200),
                    "\"ids\":[\"d-cat\",12]");
    expect_contains(call(&s, "DELETE", "/documents/d-cat", NULL, 200), "{\"deleted\":\"d-cat\",");
    expect_contains(call(&s, "DELETE", "/documents/12", NULL, 200), "{\"deleted\":12,");
    expect_error(&s, "POST", "/index", "{\"documents\":[{\"id\":\"\",\"text\":\"cat\"}]}", 400, "invalid_id");
    expect_error(&s, "POST", "/index", "{\"documents\":[{\"text\":\"cat\",\"colour\":1}]}", 400, "unknown_field");
    expect_error(&s, "POST", "/index", "{\"documents\":[{\"id\":20,\"text\":\"cat\"},{\"text\":\"dog\"}]}", 400, "bad_request");
    expect_error(&s, "POST", "/index", "{\"documents\":[{\"id\":0,\"text\":\"cat\"}]}", 409, "duplicate_id");
    expect_error(&s, "POST", "/index", "{\"texts\":[\"cat\",7]}", 400, "bad_request");
    expect_error(&s, "POST", "/index", "{\"texts\":[\"cat\",\"zzz qqq\"]}", 400, "empty_embedding");
    expect_contains(call(&s, "POST", "/index", "{\"texts\":[\"zzz qqq\",\"sat\"],\"skip_empty\":true}", 200),
                    "{\"added\":1,\"total\":5,\"ids\":[13],\"skipped\":[0]}"); /* after 12 */
    expect_error(&s, "POST", "/search", "{\"query\":\"\"}", 400, "bad_request");
    expect_error(&s, "POST", "/search", "{\"query\":\"cat\",\"vector\":[1,0,0,0]}", 400, "bad_request");
    expect_contains(call(&s, "GET", "/stats", NULL, 200), "\"total_vectors\":5,");
    /* A named collection with the same model; the dimension comes from the model. */
    char body[900];
    snprintf(body, sizeof body, "{\"name\":\"words\",\"model\":\"%s\",\"dimension\":5}", model);
    expect_error(&s, "POST", "/collections", body, 400, "dimension_mismatch");
    snprintf(body, sizeof body, "{\"name\":\"words\",\"model\":\"%s\",\"index\":\"Flat\"}", model);
    expect_contains(call(&s, "POST", "/collections", body, 201), "\"dimension\":4");
    expect_contains(call(&s, "POST", "/collections/words/index", "{\"texts\":[\"mat\"]}", 200), "\"total\":1");
    expect_contains(call(&s, "POST", "/collections/words/search", "{\"query\":\"the mat\",\"k\":1}", 200),
                    "\"results\":[{\"id\":0,");
    assert_int_equal(su_stop(&s, SIGTERM), 0);
    s = start("text", NULL); /* the model is reopened from the collection's record */
    expect_contains(call(&s, "POST", "/search", "{\"query\":\"dog\",\"k\":1}", 200), "\"results\":[{\"id\":1,");
    assert_int_equal(su_stop(&s, SIGTERM), 0);
}

/* String ids (vecscale.h, "Document ids"): number and string ids in one collection, replies
 * that show ids as given, percent-encoded paths, "17" == 17, duplicates and invalid ids refused
 * with clear errors, and everything back after a restart (log replay) and after a snapshot. */
static void check_string_ids_present(su_server *s)
{
    expect_contains(call(s, "GET", "/documents/doc-1", NULL, 200),
                    "{\"id\":\"doc-1\",\"text\":\"one\",\"metadata\":{\"k\":1},\"vector\":[1,0,0,0]}");
    /* "caf\xc3\xa9/1 ?%" percent-encoded: a slash, a space, a question mark and a percent sign. */
    expect_contains(call(s, "GET", "/documents/caf%C3%A9%2F1%20%3F%25", NULL, 200),
                    "{\"id\":\"caf\xc3\xa9/1 ?%\",\"text\":\"cafe\",");
    expect_contains(call(s, "GET", "/documents/7", NULL, 200), "{\"id\":7,\"text\":\"seven\",");
    expect_error(s, "GET", "/documents/007", NULL, 404, "document_not_found"); /* not canonical: another id */
    char *r = call(s, "POST", "/search", "{\"vector\":[0,0,1,0.1],\"k\":2}", 200);
    if (!strstr(r, "\"results\":[{\"id\":\"caf\xc3\xa9/1 ?%\",\"score\":")) fprintf(stderr, "%s\n", r);
    assert_non_null(strstr(r, "\"results\":[{\"id\":\"caf\xc3\xa9/1 ?%\",\"score\":"));
    free(r);
}

static void test_string_ids(void **state)
{
    (void)state;
    su_server s = start("strids", "--dim", "4", NULL);
    expect_contains(call(&s, "POST", "/vectors",
                         "{\"vectors\":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"
                         "\"ids\":[\"doc-1\",7,\"caf\xc3\xa9/1 ?%\",\"7x\"],\"texts\":[\"one\",\"seven\",\"cafe\",null],"
                         "\"metadata\":[{\"k\":1},null,null,null]}", 200),
                    "{\"added\":4,\"total\":4,\"ids\":[\"doc-1\",7,\"caf\xc3\xa9/1 ?%\",\"7x\"]}");
    /* Automatic ids continue after the largest integer (7), not after internal ids. */
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[1,1,0,0]]}", 200), "\"ids\":[8]");
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[1,1,1,0]],\"ids\":[\"20\"]}", 200), "\"ids\":[20]");
    check_string_ids_present(&s);
    expect_contains(call(&s, "GET", "/documents/7x", NULL, 200), "{\"id\":\"7x\",\"text\":null,");
    expect_contains(call(&s, "POST", "/search/batch", "{\"vectors\":[[1,0,0,0]],\"k\":1}", 200),
                    "\"results\":[{\"id\":\"doc-1\",\"score\":0,\"text\":\"one\"");
    /* Duplicates: against the collection, inside the batch, and 7 == "7". Nothing is added. */
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[\"doc-1\"]}", 409, "duplicate_id");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[\"7\"]}", 409, "duplicate_id");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0],[0,1,0,0]],\"ids\":[\"new\",\"new\"]}", 409, "duplicate_id");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0],[0,1,0,0]],\"ids\":[30,\"30\"]}", 409, "duplicate_id");
    /* Invalid ids: a clear 400 naming the field and the reason. */
    char *e = call(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[\"\"]}", 400);
    expect_contains(e, "'ids'[0]: an id must not be an empty string");
    char body[1200], longid[300];
    memset(longid, 'x', 257);
    longid[257] = 0;
    snprintf(body, sizeof body, "{\"vectors\":[[1,0,0,0]],\"ids\":[\"%s\"]}", longid);
    expect_contains(call(&s, "POST", "/vectors", body, 400), "a string id is at most 256 bytes (this one has 257)");
    longid[256] = 0; /* exactly 256 bytes is allowed */
    snprintf(body, sizeof body, "{\"vectors\":[[1,0,0,0]],\"ids\":[\"%s\"]}", longid);
    expect_contains(call(&s, "POST", "/vectors", body, 200), "\"added\":1");
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[\"bad\xff\"]}", 400),
                    "a string id must be valid UTF-8 (invalid byte at offset 3)");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[true]}", 400, "invalid_id");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[1.5]}", 400, "invalid_id");
    expect_error(&s, "GET", "/documents/bad%FF", NULL, 400, "invalid_id");
    /* A NUL must not cut an id short into another document's ("doc-1"). */
    expect_error(&s, "GET", "/documents/doc-1%00x", NULL, 400, "invalid_id");
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[\"doc-1\\u0000x\"]}", 400),
                    "string ids must not contain NUL");
    expect_contains(call(&s, "GET", "/stats", NULL, 200), "\"total_vectors\":7,");
    /* Delete by string id; the id can be used again afterwards. */
    expect_contains(call(&s, "DELETE", "/documents/7x", NULL, 200), "{\"deleted\":\"7x\",\"total\":6}");
    expect_error(&s, "GET", "/documents/7x", NULL, 404, "document_not_found");
    expect_error(&s, "DELETE", "/documents/7x", NULL, 404, "document_not_found");
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[0,0,0,2]],\"ids\":[\"7x\"],\"texts\":[\"again\"]}", 200),
                    "\"ids\":[\"7x\"]");
    expect_contains(call(&s, "DELETE", "/documents/20", NULL, 200), "{\"deleted\":20,");
    /* Restart: the log replays the keys. */
    assert_int_equal(su_stop(&s, SIGTERM), 0);
    s = start("strids", NULL);
    check_string_ids_present(&s);
    expect_contains(call(&s, "GET", "/documents/7x", NULL, 200), "\"text\":\"again\"");
    expect_error(&s, "GET", "/documents/20", NULL, 404, "document_not_found");
    /* Snapshot, then kill -9: keys come back from the snapshot section and the new log. */
    expect_contains(call(&s, "POST", "/save", NULL, 200), "\"saved\":true");
    expect_contains(call(&s, "POST", "/vectors", "{\"vectors\":[[0,1,1,0]],\"ids\":[\"after-save\"]}", 200),
                    "\"ids\":[\"after-save\"]");
    su_stop(&s, SIGKILL);
    s = start("strids", NULL);
    check_string_ids_present(&s);
    expect_contains(call(&s, "GET", "/documents/after-save", NULL, 200), "{\"id\":\"after-save\",");
    expect_contains(call(&s, "GET", "/stats", NULL, 200), "\"total_vectors\":7,");
    expect_error(&s, "POST", "/vectors", "{\"vectors\":[[1,0,0,0]],\"ids\":[\"doc-1\"]}", 409, "duplicate_id");
    assert_int_equal(su_stop(&s, SIGTERM), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/vecscale\n", argv[0]);
        return 2;
    }
    BIN = argv[1];
    snprintf(DIR_, sizeof DIR_, "/tmp/vecscale-api-XXXXXX");
    if (!mkdtemp(DIR_)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_routes),
        cmocka_unit_test(test_vectors_search_documents),
        cmocka_unit_test(test_collections),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_text_routes),
        cmocka_unit_test(test_string_ids),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", DIR_);
        if (system(cmd)) rc = 1;
    }
    return rc;
}
