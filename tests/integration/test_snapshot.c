/* Snapshots against a real radosgw: round trips (one of a >= 1 GiB index, through multipart),
 * deduplicated segments, corruption and tampering detected on pull, concurrent publishers,
 * wrong credentials, and a pull that refuses to touch a non-empty directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/snapshot.h"
#include "s3_env.h"
#include "vecscale.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *BUCKET = "vs-test-snap";
static char work[512]; /* scratch directory for this run */
static char run[32];   /* key prefix of this run, so reruns against one store start clean */

/* "s3://vs-test-snap/<run>/<name>" into buf. */
static const char *uri_of(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "s3://vs-test-snap/%s/%s", run, name);
    return buf;
}

static vs_s3 *client(void)
{
    vs_s3 *s3 = NULL;
    int rc = vs_s3_open(NULL, &s3);
    if (rc) fprintf(stderr, "%s\n", vs_last_error());
    assert_int_equal(rc, VS_OK);
    return s3;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void sh(const char *fmt, const char *arg)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, arg);
    assert_int_equal(system(cmd), 0);
}

/* A small directory: a file at the top, one in a subdirectory, an empty file. */
static void make_dir(const char *dir, const char *tag)
{
    char p[700];
    sh("rm -rf '%s'", dir);
    snprintf(p, sizeof p, "%s/sub", dir);
    sh("mkdir -p '%s'", p);
    snprintf(p, sizeof p, "%s/top.txt", dir);
    write_file(p, tag, strlen(tag));
    snprintf(p, sizeof p, "%s/sub/data.bin", dir);
    size_t n = 300000;
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 31 + (unsigned char)tag[0]);
    write_file(p, b, n);
    free(b);
    snprintf(p, sizeof p, "%s/empty", dir);
    write_file(p, "", 0);
}

static void assert_same_dirs(const char *a, const char *b)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s'", a, b);
    assert_int_equal(system(cmd), 0);
}

static int no_leftovers(const char *dir)
{
    /* a failed pull leaves neither the target nor a staging directory beside it */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ls -d '%s' '%s'.pull-* >/dev/null 2>&1", dir, dir);
    return system(cmd) != 0;
}

static int setup(void **state)
{
    (void)state;
    if (s3_env_load()) return -1;
    snprintf(run, sizeof run, "run%ld-%d", (long)time(NULL), (int)getpid());
    char cwd[256];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    snprintf(work, sizeof work, "%s/snapshot_work", cwd);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", work, work);
    if (system(cmd)) return -1;
    vs_s3 *s3 = NULL;
    if (vs_s3_open(NULL, &s3)) return -1;
    int rc = vs_s3_create_bucket(s3, BUCKET);
    vs_s3_free(s3);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    return system(cmd);
}

static void round_trip_and_dedup(void **state)
{
    (void)state;
    vs_s3 *s3 = client();
    char src[600], dst[600], dst2[600];
    snprintf(src, sizeof src, "%s/rt_src", work);
    snprintf(dst, sizeof dst, "%s/rt_dst", work);
    snprintf(dst2, sizeof dst2, "%s/rt_dst2", work);
    make_dir(src, "first");
    char ub[128];
    const char *uri = uri_of("rt", ub, sizeof ub);
    vs_snapshot_stats st = {.struct_size = sizeof st};
    assert_int_equal(vs_snapshot_latest(s3, uri, &st.generation), VS_ERR_NOT_FOUND);
    assert_int_equal(vs_snapshot_push(s3, src, uri, &st), VS_OK);
    assert_int_equal(st.generation, 1);
    assert_int_equal(st.files, 3);
    assert_int_equal(st.bytes, 300000 + 5);
    assert_int_equal(st.bytes_transferred, st.bytes);
    /* unchanged files are not sent again */
    assert_int_equal(vs_snapshot_push(s3, src, uri, &st), VS_OK);
    assert_int_equal(st.generation, 2);
    assert_int_equal(st.bytes_transferred, 0);
    char p[700];
    snprintf(p, sizeof p, "%s/top.txt", src);
    write_file(p, "second", 6);
    assert_int_equal(vs_snapshot_push(s3, src, uri, &st), VS_OK);
    assert_int_equal(st.generation, 3);
    assert_int_equal(st.bytes_transferred, 6);
    uint64_t latest = 0;
    assert_int_equal(vs_snapshot_latest(s3, uri, &latest), VS_OK);
    assert_int_equal(latest, 3);

    assert_int_equal(vs_snapshot_pull(s3, uri, 0, dst, &st), VS_OK);
    assert_int_equal(st.generation, 3);
    assert_same_dirs(src, dst);
    /* an older generation is still there, exactly as it was */
    assert_int_equal(vs_snapshot_pull(s3, uri, 1, dst2, &st), VS_OK);
    size_t len;
    snprintf(p, sizeof p, "%s/top.txt", dst2);
    char *b = read_all(p, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(b, "first", 5);
    free(b);
    /* a non-empty target is refused and left alone */
    assert_int_equal(vs_snapshot_pull(s3, uri, 0, dst2, &st), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "not empty"));
    snprintf(p, sizeof p, "%s/top.txt", dst2);
    b = read_all(p, &len);
    assert_memory_equal(b, "first", 5);
    free(b);
    assert_int_equal(vs_snapshot_pull(s3, uri, 99, dst, &st), VS_ERR_NOT_FOUND);
    vs_s3_free(s3);
}

static void corruption_detected(void **state)
{
    (void)state;
    vs_s3 *s3 = client();
    char src[600], dst[600], p[700];
    snprintf(src, sizeof src, "%s/cor_src", work);
    snprintf(dst, sizeof dst, "%s/cor_dst", work);
    make_dir(src, "corrupt-me");
    char ub[128];
    const char *uri = uri_of("cor", ub, sizeof ub);
    vs_snapshot_stats st = {.struct_size = sizeof st};
    assert_int_equal(vs_snapshot_push(s3, src, uri, &st), VS_OK);

    /* one flipped byte in a stored segment, same size */
    vs_snap_file f = {.size = 300000};
    snprintf(p, sizeof p, "%s/sub/data.bin", src);
    assert_int_equal(vs_snap_hash_file(p, f.xxh128), VS_OK);
    char seg[128], key[300];
    vs_manifest_segment_name(&f, seg, sizeof seg);
    snprintf(key, sizeof key, "%s/cor/segments/%s", run, seg);
    size_t len;
    char *b = read_all(p, &len);
    b[123456] ^= 0x20;
    assert_int_equal(vs_s3_put(s3, BUCKET, key, b, len, 0), VS_OK);
    assert_int_equal(vs_snapshot_pull(s3, uri, 0, dst, &st), VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "'sub/data.bin' is corrupt"));
    assert_true(no_leftovers(dst));
    /* truncated */
    assert_int_equal(vs_s3_put(s3, BUCKET, key, b, len - 1, 0), VS_OK);
    assert_int_equal(vs_snapshot_pull(s3, uri, 0, dst, &st), VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "holds 299999 bytes"));
    assert_true(no_leftovers(dst));
    /* gone */
    assert_int_equal(vs_s3_delete(s3, BUCKET, key), VS_OK);
    assert_int_equal(vs_snapshot_pull(s3, uri, 0, dst, &st), VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "missing"));
    assert_true(no_leftovers(dst));
    free(b);

    /* a tampered manifest */
    void *m = NULL;
    size_t mlen = 0;
    char mkey[200];
    snprintf(mkey, sizeof mkey, "%s/cor/manifests/00000000000000000001.vsm", run);
    assert_int_equal(vs_s3_get(s3, BUCKET, mkey, 0, 0, &m, &mlen), VS_OK);
    char *at = strstr(m, "\"size\":10");
    assert_non_null(at);
    at[8] = '1';
    assert_int_equal(vs_s3_put(s3, BUCKET, mkey, m, mlen, 0), VS_OK);
    assert_int_equal(vs_snapshot_pull(s3, uri, 0, dst, &st), VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "checksum mismatch"));
    assert_true(no_leftovers(dst));
    free(m);
    vs_s3_free(s3);
}

typedef struct {
    int id;
    uint64_t generations[3];
    int rc;
} publisher;

static void *publish(void *arg)
{
    publisher *p = arg;
    vs_s3 *s3 = NULL;
    p->rc = vs_s3_open(NULL, &s3);
    char src[600], tag[32];
    snprintf(src, sizeof src, "%s/conc_src%d", work, p->id);
    for (int i = 0; i < 3 && !p->rc; i++) {
        /* each push has its own content: publisher and round in top.txt */
        snprintf(tag, sizeof tag, "publisher %d round %d", p->id, i);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/sub' && printf '%s' > '%s/top.txt' && head -c 100000 /dev/urandom > '%s/sub/r'",
                 src, tag, src, src);
        if (system(cmd)) p->rc = -1;
        vs_snapshot_stats st = {.struct_size = sizeof st};
        char ub[128];
        if (!p->rc) p->rc = vs_snapshot_push(s3, src, uri_of("conc", ub, sizeof ub), &st);
        p->generations[i] = st.generation;
    }
    vs_s3_free(s3);
    return NULL;
}

static void concurrent_publishers(void **state)
{
    (void)state;
    publisher p[2] = {{.id = 0}, {.id = 1}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, publish, &p[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    assert_int_equal(p[0].rc, VS_OK);
    assert_int_equal(p[1].rc, VS_OK);
    /* six pushes, six distinct generations 1..6, each holding exactly what its pusher sent */
    int seen[7] = {0};
    vs_s3 *s3 = client();
    for (int i = 0; i < 2; i++)
        for (int r = 0; r < 3; r++) {
            uint64_t g = p[i].generations[r];
            assert_true(g >= 1 && g <= 6);
            assert_int_equal(seen[g], 0);
            seen[g] = 1;
            char dst[600], path[700], want[64];
            snprintf(dst, sizeof dst, "%s/conc_dst%llu", work, (unsigned long long)g);
            vs_snapshot_stats st = {.struct_size = sizeof st};
            char ub[128];
            assert_int_equal(vs_snapshot_pull(s3, uri_of("conc", ub, sizeof ub), g, dst, &st), VS_OK);
            snprintf(path, sizeof path, "%s/top.txt", dst);
            size_t len;
            char *b = read_all(path, &len);
            snprintf(want, sizeof want, "publisher %d round %d", i, r);
            assert_int_equal(len, strlen(want));
            assert_memory_equal(b, want, len);
            free(b);
        }
    vs_s3_free(s3);
}

static void wrong_credentials(void **state)
{
    (void)state;
    char src[600], dst[600];
    snprintf(src, sizeof src, "%s/cred_src", work);
    snprintf(dst, sizeof dst, "%s/cred_dst", work);
    make_dir(src, "creds");
    vs_s3_options o = {.struct_size = sizeof(vs_s3_options), .secret_key = "definitely-not-the-secret", .retries = UINT32_MAX};
    vs_s3 *s3 = NULL;
    assert_int_equal(vs_s3_open(&o, &s3), VS_OK);
    vs_snapshot_stats st = {.struct_size = sizeof st};
    char ub[128];
    assert_int_equal(vs_snapshot_push(s3, src, uri_of("cred", ub, sizeof ub), &st), VS_ERR_AUTH);
    assert_non_null(strstr(vs_last_error(), "access denied"));
    assert_int_equal(vs_snapshot_pull(s3, uri_of("rt", ub, sizeof ub), 0, dst, &st), VS_ERR_AUTH);
    assert_non_null(strstr(vs_last_error(), "SignatureDoesNotMatch"));
    assert_true(no_leftovers(dst));
    vs_s3_free(s3);
}

/* >= 1 GiB index file: multipart upload (17 parts of 64 MiB), streamed download, verified. */
static void big_index_round_trip(void **state)
{
    (void)state;
    const uint32_t dim = 256;
    const size_t n = 1060000; /* 1060000 * 1 KiB = 1.01 GiB of vectors */
    vs_index_options io = {.struct_size = sizeof(vs_index_options), .dim = dim, .metric = VS_METRIC_L2, .factory = "Flat"};
    vs_index *ix = NULL;
    assert_int_equal(vs_index_create(&io, &ix), VS_OK);
    double t0 = now();
    const size_t chunk = 65536;
    float *v = malloc(chunk * dim * sizeof *v);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t done = 0; done < n; done += chunk) {
        size_t m = n - done < chunk ? n - done : chunk;
        for (size_t i = 0; i < m * dim; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[i] = (float)(x >> 40) * (1.0f / 16777216.0f);
        }
        assert_int_equal(vs_index_add(ix, m, v, NULL), VS_OK);
    }
    char src[600], dst[600], p[700], q[700];
    snprintf(src, sizeof src, "%s/big_src", work);
    snprintf(dst, sizeof dst, "%s/big_dst", work);
    sh("mkdir -p '%s'", src);
    snprintf(p, sizeof p, "%s/index.vsi", src);
    assert_int_equal(vs_index_save(ix, p), VS_OK);
    struct stat sst;
    assert_int_equal(stat(p, &sst), 0);
    assert_true(sst.st_size >= (1ll << 30));

    double t1 = now();
    vs_s3_options o = {.struct_size = sizeof(vs_s3_options), .part_size = 64u << 20};
    vs_s3 *s3 = NULL;
    assert_int_equal(vs_s3_open(&o, &s3), VS_OK);
    vs_snapshot_stats st = {.struct_size = sizeof st};
    char ub[128];
    int rc = vs_snapshot_push(s3, src, uri_of("big", ub, sizeof ub), &st);
    if (rc) fprintf(stderr, "%s\n", vs_last_error());
    assert_int_equal(rc, VS_OK);
    assert_int_equal(st.bytes, (uint64_t)sst.st_size);
    char etag[128], seg[128], key[300];
    vs_snap_file f = {.size = (uint64_t)sst.st_size};
    assert_int_equal(vs_snap_hash_file(p, f.xxh128), VS_OK);
    vs_manifest_segment_name(&f, seg, sizeof seg);
    snprintf(key, sizeof key, "%s/big/segments/%s", run, seg);
    assert_int_equal(vs_s3_head(s3, BUCKET, key, NULL, etag, sizeof etag), VS_OK);
    assert_non_null(strstr(etag, "-17\"")); /* stored through a 17-part multipart upload */
    double t2 = now();

    rc = vs_snapshot_pull(s3, uri_of("big", ub, sizeof ub), 0, dst, &st);
    if (rc) fprintf(stderr, "%s\n", vs_last_error());
    assert_int_equal(rc, VS_OK);
    double t3 = now();
    printf("index of %.2f GiB: built and saved in %.1f s, pushed in %.1f s (multipart ETag %s), pulled and "
           "verified in %.1f s\n", (double)sst.st_size / (1 << 30), t1 - t0, t2 - t1, etag, t3 - t2);
    snprintf(q, sizeof q, "%s/index.vsi", dst);
    uint8_t h2[16];
    assert_int_equal(vs_snap_hash_file(q, h2), VS_OK);
    assert_memory_equal(h2, f.xxh128, 16);
    vs_index *back = NULL;
    assert_int_equal(vs_index_view(q, &back), VS_OK);
    assert_int_equal(vs_index_size(back), n);
    float d[1];
    int64_t id[1];
    assert_int_equal(vs_index_get(ix, 777777, v), VS_OK);
    assert_int_equal(vs_index_search(back, 1, v, 1, NULL, d, id), VS_OK);
    assert_int_equal(id[0], 777777);
    vs_index_free(back);
    vs_index_free(ix);
    free(v);
    /* the store keeps objects in memory: give the GiB back */
    assert_int_equal(vs_s3_delete(s3, BUCKET, key), VS_OK);
    vs_s3_free(s3);
    sh("rm -rf '%s'", src);
    sh("rm -rf '%s'", dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_and_dedup), cmocka_unit_test(corruption_detected),
        cmocka_unit_test(concurrent_publishers), cmocka_unit_test(wrong_credentials),
        cmocka_unit_test(big_index_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
