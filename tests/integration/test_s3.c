/* The S3 client against a real radosgw: every operation, pagination, multipart, conditional
 * PUT, and the errors a user meets (wrong keys, missing objects, no server). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3_env.h"
#include "vecscale.h"

static const char *BUCKET = "vs-test-s3";

static vs_s3 *open_client(uint64_t part_size, uint32_t list_page)
{
    vs_s3_options o = {.struct_size = sizeof(vs_s3_options), .part_size = part_size, .list_page = list_page, .timeout_ms = 10000};
    vs_s3 *s3 = NULL;
    int rc = vs_s3_open(&o, &s3);
    if (rc) fprintf(stderr, "%s\n", vs_last_error());
    assert_int_equal(rc, VS_OK);
    return s3;
}

static int setup(void **state)
{
    (void)state;
    if (s3_env_load()) return -1;
    vs_s3 *s3 = open_client(0, 0);
    int rc = vs_s3_create_bucket(s3, BUCKET);
    if (rc) fprintf(stderr, "create bucket: %s\n", vs_last_error());
    vs_s3_free(s3);
    return rc;
}

static void put_get_head_delete(void **state)
{
    (void)state;
    vs_s3 *s3 = open_client(0, 0);
    const char *body = "hello, object storage";
    assert_int_equal(vs_s3_put(s3, BUCKET, "dir/a b+c.txt", body, strlen(body), 0), VS_OK);
    uint64_t size = 0;
    char etag[128];
    assert_int_equal(vs_s3_head(s3, BUCKET, "dir/a b+c.txt", &size, etag, sizeof etag), VS_OK);
    assert_int_equal(size, strlen(body));
    assert_true(etag[0] == '"');
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(vs_s3_get(s3, BUCKET, "dir/a b+c.txt", 0, 0, &data, &len), VS_OK);
    assert_int_equal(len, strlen(body));
    assert_memory_equal(data, body, len);
    free(data);
    /* ranged: bytes 7..13 are "object " */
    assert_int_equal(vs_s3_get(s3, BUCKET, "dir/a b+c.txt", 7, 7, &data, &len), VS_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(data, "object ", 7);
    free(data);
    assert_int_equal(vs_s3_get(s3, BUCKET, "dir/a b+c.txt", 15, 0, &data, &len), VS_OK);
    assert_int_equal(len, strlen(body) - 15);
    free(data);
    assert_int_equal(vs_s3_delete(s3, BUCKET, "dir/a b+c.txt"), VS_OK);
    assert_int_equal(vs_s3_head(s3, BUCKET, "dir/a b+c.txt", &size, NULL, 0), VS_ERR_NOT_FOUND);
    assert_int_equal(vs_s3_get(s3, BUCKET, "dir/a b+c.txt", 0, 0, &data, &len), VS_ERR_NOT_FOUND);
    assert_non_null(strstr(vs_last_error(), "NoSuchKey"));
    assert_int_equal(vs_s3_delete(s3, BUCKET, "dir/a b+c.txt"), VS_OK); /* idempotent */
    vs_s3_free(s3);
}

static void conditional_put(void **state)
{
    (void)state;
    vs_s3 *s3 = open_client(0, 0);
    vs_s3_delete(s3, BUCKET, "cond");
    assert_int_equal(vs_s3_put(s3, BUCKET, "cond", "one", 3, 1), VS_OK);
    assert_int_equal(vs_s3_put(s3, BUCKET, "cond", "two", 3, 1), VS_ERR_CONFLICT);
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(vs_s3_get(s3, BUCKET, "cond", 0, 0, &data, &len), VS_OK);
    assert_memory_equal(data, "one", 3); /* the loser changed nothing */
    free(data);
    vs_s3_free(s3);
}

typedef struct {
    int n;
    char last[256];
    int ordered;
} list_state;

static int count_cb(const vs_s3_object *o, void *ctx)
{
    list_state *st = ctx;
    if (strcmp(o->key, st->last) <= 0) st->ordered = 0;
    snprintf(st->last, sizeof st->last, "%s", o->key);
    assert_int_equal(o->size, 1);
    st->n++;
    return 0;
}

static int stop_cb(const vs_s3_object *o, void *ctx)
{
    (void)o;
    return ++*(int *)ctx == 3 ? 42 : 0;
}

static void list_paginates(void **state)
{
    (void)state;
    vs_s3 *s3 = open_client(0, 7); /* 7 per page: 25 objects take 4 pages */
    char key[64];
    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof key, "list/k%03d", i);
        assert_int_equal(vs_s3_put(s3, BUCKET, key, "x", 1, 0), VS_OK);
    }
    assert_int_equal(vs_s3_put(s3, BUCKET, "listing-not-in-prefix", "x", 1, 0), VS_OK);
    list_state st = {0, "", 1};
    assert_int_equal(vs_s3_list(s3, BUCKET, "list/", count_cb, &st), VS_OK);
    assert_int_equal(st.n, 25);
    assert_true(st.ordered);
    assert_string_equal(st.last, "list/k024");
    int seen = 0;
    assert_int_equal(vs_s3_list(s3, BUCKET, "list/", stop_cb, &seen), 42);
    assert_int_equal(seen, 3);
    st = (list_state){0, "", 1};
    assert_int_equal(vs_s3_list(s3, BUCKET, "no-such-prefix/", count_cb, &st), VS_OK);
    assert_int_equal(st.n, 0);
    vs_s3_free(s3);
}

static void multipart_round_trip(void **state)
{
    (void)state;
    vs_s3 *s3 = open_client(5u << 20, 0);
    char path[] = "/tmp/vs_s3_mpXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = (12u << 20) + 12345; /* three parts, the last one short */
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    assert_int_equal(vs_s3_put_file(s3, BUCKET, "mp/big", path), VS_OK);
    uint64_t size = 0;
    char etag[128];
    assert_int_equal(vs_s3_head(s3, BUCKET, "mp/big", &size, etag, sizeof etag), VS_OK);
    assert_int_equal(size, n);
    assert_non_null(strstr(etag, "-3")); /* a multipart ETag names its part count */
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(vs_s3_get(s3, BUCKET, "mp/big", 0, 0, &data, &len), VS_OK);
    assert_int_equal(len, n);
    assert_memory_equal(data, buf, n);
    free(data);
    /* a range across the part boundary */
    assert_int_equal(vs_s3_get(s3, BUCKET, "mp/big", (5u << 20) - 10, 20, &data, &len), VS_OK);
    assert_int_equal(len, 20);
    assert_memory_equal(data, buf + (5u << 20) - 10, 20);
    free(data);
    /* streamed to a file descriptor */
    char out[] = "/tmp/vs_s3_getXXXXXX";
    int ofd = mkstemp(out);
    assert_int_equal(vs_s3_get_fd(s3, BUCKET, "mp/big", ofd, NULL, NULL), VS_OK);
    struct stat st;
    fstat(ofd, &st);
    assert_int_equal(st.st_size, (off_t)n);
    close(ofd);
    unlink(out);
    close(fd);
    unlink(path);
    free(buf);
    vs_s3_free(s3);
}

static void wrong_credentials(void **state)
{
    (void)state;
    vs_s3_options o = {.struct_size = sizeof(vs_s3_options), .access_key = "NOSUCHACCESSKEY", .secret_key = "nope", .retries = UINT32_MAX};
    vs_s3 *s3 = NULL;
    assert_int_equal(vs_s3_open(&o, &s3), VS_OK);
    assert_int_equal(vs_s3_put(s3, BUCKET, "x", "x", 1, 0), VS_ERR_AUTH);
    assert_non_null(strstr(vs_last_error(), "InvalidAccessKeyId"));
    assert_non_null(strstr(vs_last_error(), "check the credentials"));
    vs_s3_free(s3);

    o.access_key = getenv("AWS_ACCESS_KEY_ID"); /* right key, wrong secret */
    assert_int_equal(vs_s3_open(&o, &s3), VS_OK);
    void *data;
    size_t len;
    assert_int_equal(vs_s3_get(s3, BUCKET, "x", 0, 0, &data, &len), VS_ERR_AUTH);
    assert_non_null(strstr(vs_last_error(), "SignatureDoesNotMatch"));
    vs_s3_free(s3);
}

static void no_server(void **state)
{
    (void)state;
    vs_s3_options o = {.struct_size = sizeof(vs_s3_options), .endpoint = "http://127.0.0.1:1", .retries = 1, .timeout_ms = 2000};
    vs_s3 *s3 = NULL;
    assert_int_equal(vs_s3_open(&o, &s3), VS_OK);
    assert_int_equal(vs_s3_put(s3, BUCKET, "x", "x", 1, 0), VS_ERR_NETWORK);
    assert_non_null(strstr(vs_last_error(), "after 2 attempts"));
    assert_int_equal(vs_s3_put_file(s3, BUCKET, "x", "/nonexistent/file"), VS_ERR_IO);
    vs_s3_free(s3);
}

static void credentials_from_shared_files(void **state)
{
    (void)state;
    char home[] = "/tmp/vs_s3_homeXXXXXX";
    assert_non_null(mkdtemp(home));
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/.aws", home);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/credentials", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[vs]\n"
               "aws_access_key_id = %s\naws_secret_access_key = %s\n", getenv("AWS_ACCESS_KEY_ID"),
            getenv("AWS_SECRET_ACCESS_KEY"));
    fclose(f);
    snprintf(path, sizeof path, "%s/config", dir);
    f = fopen(path, "w");
    fprintf(f, "[profile vs]\nregion = us-east-1\nendpoint_url = %s\n", getenv("S3_ENDPOINT"));
    fclose(f);
    char *saved_key = strdup(getenv("AWS_ACCESS_KEY_ID")), *saved_secret = strdup(getenv("AWS_SECRET_ACCESS_KEY"));
    char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_ENDPOINT_URL");
    setenv("HOME", home, 1);
    setenv("AWS_PROFILE", "vs", 1);
    vs_s3 *s3 = NULL;
    assert_int_equal(vs_s3_open(NULL, &s3), VS_OK);
    assert_int_equal(vs_s3_put(s3, BUCKET, "from-profile", "p", 1, 0), VS_OK);
    vs_s3_free(s3);
    unsetenv("AWS_PROFILE"); /* [default] holds wrong keys */
    assert_int_equal(vs_s3_open(&(vs_s3_options){.struct_size = sizeof(vs_s3_options), .endpoint = getenv("S3_ENDPOINT"), .retries = UINT32_MAX}, &s3),
                     VS_OK);
    assert_int_equal(vs_s3_put(s3, BUCKET, "from-default", "p", 1, 0), VS_ERR_AUTH);
    vs_s3_free(s3);
    setenv("AWS_ACCESS_KEY_ID", saved_key, 1);
    setenv("AWS_SECRET_ACCESS_KEY", saved_secret, 1);
    setenv("AWS_ENDPOINT_URL", getenv("S3_ENDPOINT"), 1);
    if (saved_home) setenv("HOME", saved_home, 1);
    free(saved_key);
    free(saved_secret);
    free(saved_home);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_head_delete), cmocka_unit_test(conditional_put),
        cmocka_unit_test(list_paginates),      cmocka_unit_test(multipart_round_trip),
        cmocka_unit_test(wrong_credentials),   cmocka_unit_test(no_server),
        cmocka_unit_test(credentials_from_shared_files),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
