/* Cluster pieces that need no server: snapshot manifests (round trip, tampering, unsafe paths,
 * newer versions), S3 XML answers, URI and key encoding and where credentials come from. The fuzz corpus of
 * everything read from a store is replayed by test_fuzz_corpus. */
#include <sys/stat.h>

#include "cluster/cluster_map.h"
#include "cluster/etcd.h"
#include "storage/s3_impl.h"
#include "storage/snapshot.h"
#include "core/error.h"
#include <xxhash.h>

#include "test_util.h"

static void sample(vs_snap_manifest *m, vs_snap_file *f)
{
    memset(f, 0, 3 * sizeof *f);
    f[0].path = "index.vsi";
    f[0].size = 123456789012ull;
    for (int i = 0; i < 16; i++) f[0].xxh128[i] = (uint8_t)(i * 17);
    f[1].path = "docs/a b.json";
    f[1].size = 0;
    f[2].path = "wal/000001.log";
    f[2].size = 42;
    f[2].xxh128[15] = 0xff;
    *m = (vs_snap_manifest){.generation = 7, .created_unix = 1700000000, .n_files = 3, .files = f};
}

static void manifest_round_trip(void **state)
{
    (void)state;
    vs_snap_file f[3];
    vs_snap_manifest m, back;
    sample(&m, f);
    char *buf;
    size_t len;
    assert_int_equal(vs_manifest_encode(&m, &buf, &len), VS_OK);
    assert_memory_equal(buf, "VSMANIFEST 1 ", 13);
    assert_int_equal(vs_manifest_decode(buf, len, "t", &back), VS_OK);
    assert_int_equal(back.generation, 7);
    assert_int_equal(back.created_unix, 1700000000);
    assert_int_equal(back.n_files, 3);
    /* sorted by path on decode */
    assert_string_equal(back.files[0].path, "docs/a b.json");
    assert_string_equal(back.files[1].path, "index.vsi");
    assert_int_equal(back.files[1].size, 123456789012ull);
    assert_memory_equal(back.files[1].xxh128, f[0].xxh128, 16);
    assert_int_equal(back.files[2].xxh128[15], 0xff);
    char seg[64];
    vs_manifest_segment_name(&back.files[2], seg, sizeof seg);
    assert_string_equal(seg, "000000000000000000000000000000ff-42");
    vs_manifest_clear(&back);

    /* any changed byte after the header line is caught by the checksum */
    for (size_t i = 30; i < len; i += 7) {
        buf[i] ^= 1;
        assert_int_equal(vs_manifest_decode(buf, len, "t", &back), VS_ERR_CORRUPT);
        buf[i] ^= 1;
    }
    assert_int_equal(vs_manifest_decode(buf, len - 1, "t", &back), VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "checksum mismatch"));
    assert_int_equal(vs_manifest_decode(buf, 5, "t", &back), VS_ERR_CORRUPT);
    assert_int_equal(vs_manifest_decode("", 0, "t", &back), VS_ERR_CORRUPT);
    buf[11] = '9'; /* version 9 */
    assert_int_equal(vs_manifest_decode(buf, len, "t", &back), VS_ERR_VERSION);
    free(buf);
}

static void manifest_rejects_unsafe_paths(void **state)
{
    (void)state;
    const char *bad[] = {"../etc/passwd", "/abs", "a/../../b", "a//b", "./a", "a/", "", "a\\b", "a/..", "x\ny"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(vs_manifest_path_ok(bad[i]));
        vs_snap_file f = {.path = (char *)bad[i], .size = 1};
        vs_snap_manifest m = {.generation = 1, .n_files = 1, .files = &f}, back;
        char *buf;
        size_t len;
        assert_int_equal(vs_manifest_encode(&m, &buf, &len), VS_OK);
        assert_int_equal(vs_manifest_decode(buf, len, "t", &back), VS_ERR_CORRUPT);
        free(buf);
    }
    assert_true(vs_manifest_path_ok("a/b/c.vsi"));
    assert_true(vs_manifest_path_ok("..a"));
    /* the same path twice */
    vs_snap_file two[2] = {{.path = "x", .size = 1}, {.path = "x", .size = 2}};
    vs_snap_manifest m = {.generation = 1, .n_files = 2, .files = two}, back;
    char *buf;
    size_t len;
    assert_int_equal(vs_manifest_encode(&m, &buf, &len), VS_OK);
    assert_int_equal(vs_manifest_decode(buf, len, "t", &back), VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "twice"));
    free(buf);
}

static int collect(const vs_s3_object *o, void *ctx)
{
    char *out = ctx;
    char line[300];
    snprintf(line, sizeof line, "%s:%llu:%s;", o->key, (unsigned long long)o->size, o->etag);
    strcat(out, line);
    return 0;
}

static void xml_answers(void **state)
{
    (void)state;
    const char *list =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>tok+/=</NextContinuationToken>"
        "<Contents><Key>p/a&amp;b</Key><Size>10</Size><ETag>&quot;e1&quot;</ETag></Contents>"
        "<Contents><Key>p/c</Key><Size>0</Size><ETag>\"e2\"</ETag></Contents></ListBucketResult>";
    char out[1000] = "", token[100];
    int truncated = 0;
    assert_int_equal(vs_s3_xml_list(list, strlen(list), collect, out, &truncated, token, sizeof token), VS_OK);
    assert_string_equal(out, "p/a&b:10:\"e1\";p/c:0:\"e2\";");
    assert_true(truncated);
    assert_string_equal(token, "tok+/=");
    const char *trunc_no_token = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
    assert_int_equal(vs_s3_xml_list(trunc_no_token, strlen(trunc_no_token), collect, out, &truncated, token, sizeof token),
                     VS_ERR_CORRUPT);
    const char *bad_size = "<ListBucketResult><Contents><Key>k</Key><Size>1x</Size></Contents></ListBucketResult>";
    assert_int_equal(vs_s3_xml_list(bad_size, strlen(bad_size), collect, out, &truncated, token, sizeof token),
                     VS_ERR_CORRUPT);
    assert_int_equal(vs_s3_xml_list("not xml", 7, collect, out, &truncated, token, sizeof token), VS_ERR_CORRUPT);

    const char *err = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key is gone</Message></Error>";
    char code[64], msg[64];
    assert_int_equal(vs_s3_xml_error(err, strlen(err), code, sizeof code, msg, sizeof msg), VS_OK);
    assert_string_equal(code, "NoSuchKey");
    assert_string_equal(msg, "The key is gone");
    const char *init = "<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>2~abc</UploadId></InitiateMultipartUploadResult>";
    char id[64];
    assert_int_equal(vs_s3_xml_text(init, strlen(init), "UploadId", id, sizeof id), VS_OK);
    assert_string_equal(id, "2~abc");
    assert_int_equal(vs_s3_xml_text(err, strlen(err), "UploadId", id, sizeof id), VS_ERR_CORRUPT);
}

static void uris_and_encoding(void **state)
{
    (void)state;
    char b[64], p[256], e[64];
    assert_int_equal(vs_s3_parse_uri("s3://bucket/a/b/", b, sizeof b, p, sizeof p), VS_OK);
    assert_string_equal(b, "bucket");
    assert_string_equal(p, "a/b");
    assert_int_equal(vs_s3_parse_uri("s3://bucket", b, sizeof b, p, sizeof p), VS_OK);
    assert_string_equal(p, "");
    assert_int_equal(vs_s3_parse_uri("http://bucket/x", b, sizeof b, p, sizeof p), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_s3_parse_uri("s3:///x", b, sizeof b, p, sizeof p), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_s3_uri_encode("a b/c~d+e=", 1, e, sizeof e), 0);
    assert_string_equal(e, "a%20b/c~d%2Be%3D");
    assert_int_equal(vs_s3_uri_encode("a/b", 0, e, sizeof e), 0);
    assert_string_equal(e, "a%2Fb");
    assert_int_equal(vs_s3_uri_encode("abcdef", 0, e, 4), -1);
    vs_snap_uri u = {"b", ""};
    char key[64];
    vs_snap_key(&u, "manifests/", "x", key, sizeof key);
    assert_string_equal(key, "manifests/x");
    vs_snap_manifest_name(42, key, sizeof key);
    assert_string_equal(key, "00000000000000000042.vsm");
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void credentials_and_settings(void **state)
{
    (void)state;
    char home[] = "/tmp/vs_cluster_homeXXXXXX", path[128];
    assert_non_null(mkdtemp(home));
    snprintf(path, sizeof path, "%s/.aws", home);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/.aws/credentials", home);
    write_text(path, "# comment\n[default]\naws_access_key_id = DEFKEY\naws_secret_access_key=defsecret\n"
                     "[other]\n aws_access_key_id = OTHERKEY \naws_secret_access_key = othersecret\r\n"
                     "aws_session_token = tok\n");
    snprintf(path, sizeof path, "%s/.aws/config", home);
    write_text(path, "[default]\nregion = eu-west-3\n[profile other]\nregion = ap-south-1\n"
                     "endpoint_url = http://10.1.2.3:9000/\n");
    const char *vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                          "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                          "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) unsetenv(vars[i]);
    setenv("HOME", home, 1);

    vs_s3 *s3 = NULL;
    assert_int_equal(vs_s3_open(NULL, &s3), VS_OK);
    assert_string_equal(s3->access_key, "DEFKEY");
    assert_string_equal(s3->region, "eu-west-3");
    assert_string_equal(s3->endpoint, "https://s3.eu-west-3.amazonaws.com");
    assert_int_equal(s3->path_style, 0); /* AWS: virtual-hosted */
    assert_string_equal(s3->sigv4, "aws:amz:eu-west-3:s3");
    assert_null(s3->session_token);
    vs_s3_free(s3);

    assert_int_equal(vs_s3_open(&(vs_s3_options){.struct_size = sizeof(vs_s3_options), .profile = "other"}, &s3), VS_OK);
    assert_string_equal(s3->access_key, "OTHERKEY");
    assert_string_equal(s3->secret_key, "othersecret");
    assert_string_equal(s3->session_token, "tok");
    assert_string_equal(s3->region, "ap-south-1");
    assert_string_equal(s3->endpoint, "http://10.1.2.3:9000");
    assert_int_equal(s3->path_style, 1); /* other endpoints: path-style */
    vs_s3_free(s3);

    /* the environment beats the files, options beat the environment */
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_REGION", "us-west-2", 1);
    setenv("AWS_ENDPOINT_URL", "https://storage.googleapis.com", 1);
    assert_int_equal(vs_s3_open(&(vs_s3_options){.struct_size = sizeof(vs_s3_options), .region = "auto", .path_style = -1}, &s3), VS_OK);
    assert_string_equal(s3->access_key, "ENVKEY");
    assert_string_equal(s3->region, "auto");
    assert_string_equal(s3->endpoint, "https://storage.googleapis.com");
    assert_int_equal(s3->path_style, 0);
    vs_s3_free(s3);

    assert_int_equal(vs_s3_open(&(vs_s3_options){.struct_size = sizeof(vs_s3_options), .endpoint = "ftp://x"}, &s3), VS_ERR_INVALID_ARG);
    assert_null(s3);
    assert_int_equal(vs_s3_open(&(vs_s3_options){.struct_size = sizeof(vs_s3_options), .endpoint = "http://x/path"}, &s3), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_s3_open(&(vs_s3_options){.struct_size = sizeof(vs_s3_options), .part_size = 1 << 20}, &s3), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "5 MiB"));

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(vs_s3_open(&(vs_s3_options){.struct_size = sizeof(vs_s3_options), .profile = "missing"}, &s3), VS_ERR_AUTH);
    assert_non_null(strstr(vs_last_error(), "no credentials"));
    assert_non_null(strstr(vs_last_error(), "missing"));
    unsetenv("AWS_REGION");
    unsetenv("AWS_ENDPOINT_URL");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    assert_int_equal(system(cmd), 0);
}

static void base64_both_ways(void **state)
{
    (void)state;
    const char *cases[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
                              {"/vecscale/nodes/n1", "L3ZlY3NjYWxlL25vZGVzL24x"}};
    char enc[64];
    uint8_t dec[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(vs_base64_encode(cases[i][0], strlen(cases[i][0]), enc, sizeof enc), 0);
        assert_string_equal(enc, cases[i][1]);
        long n = vs_base64_decode(cases[i][1], strlen(cases[i][1]), dec, sizeof dec);
        assert_int_equal(n, (long)strlen(cases[i][0]));
        assert_memory_equal(dec, cases[i][0], (size_t)n);
    }
    assert_int_equal(vs_base64_decode("Zg=", 3, dec, sizeof dec), -1);
    assert_int_equal(vs_base64_decode("Z===", 4, dec, sizeof dec), -1);
    assert_int_equal(vs_base64_decode("Zg==Zg==", 8, dec, sizeof dec), -1);
    assert_int_equal(vs_base64_decode("Zm9v", 4, dec, 2), -1);
    assert_int_equal(vs_base64_encode("foo", 3, enc, 4), -1);
}

static void cluster_map_documents(void **state)
{
    (void)state;
    vs_cluster_map m;
    assert_int_equal(vs_cluster_map_parse("{\"shards\":2,\"metric\":\"ip\",\"map\":[[\"a\",\"b\"],[\"c\"]]}", &m), VS_OK);
    assert_int_equal(m.n_shards, 2);
    assert_int_equal(m.metric, VS_METRIC_IP);
    assert_int_equal(m.n_replicas[0], 2);
    assert_string_equal(m.replicas[0][1].id, "b");
    assert_string_equal(m.replicas[1][0].url, "");
    uint32_t s = 9;
    assert_int_equal(vs_cluster_map_shard_of_node(&m, "c", &s), VS_OK);
    assert_int_equal(s, 1);
    assert_int_equal(vs_cluster_map_shard_of_node(&m, "zz", &s), VS_ERR_NOT_FOUND);
    const char *bad[] = {"", "[]", "{\"shards\":0,\"metric\":\"l2\",\"map\":[]}",
                         "{\"shards\":1,\"metric\":\"l3\",\"map\":[[\"a\"]]}",
                         "{\"shards\":2,\"metric\":\"l2\",\"map\":[[\"a\"]]}",
                         "{\"shards\":1,\"metric\":\"l2\",\"map\":[[]]}",
                         "{\"shards\":1,\"metric\":\"l2\",\"map\":[[\"a/b\"]]}",
                         "{\"shards\":1.5,\"metric\":\"l2\",\"map\":[[\"a\"]]}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(vs_cluster_map_parse(bad[i], &m), VS_ERR_CORRUPT);
    /* the shard of an ID is fixed forever: routers and nodes of any version must agree */
    assert_int_equal(vs_shard_of(0, 4), vs_shard_of(0, 4));
    uint32_t counts[4] = {0};
    for (int64_t id = 0; id < 4000; id++) counts[vs_shard_of(id, 4)]++;
    for (int i = 0; i < 4; i++) assert_true(counts[i] > 900 && counts[i] < 1100);
    assert_int_equal(vs_shard_of(12345, 1), 0);
    /* String ids (vecscale.h, "Document ids"): "17" lives where 17 does; other strings spread by
     * their hash, the same everywhere. */
    assert_int_equal(vs_shard_of_key("17", 4), vs_shard_of(17, 4));
    assert_int_equal(vs_shard_of_key("doc-1", 4), vs_shard_of((int64_t)(XXH3_64bits("doc-1", 5) >> 1), 4));
    uint32_t kc[4] = {0};
    char key[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(key, sizeof key, "doc-%d", i);
        kc[vs_shard_of_key(key, 4)]++;
    }
    for (int i = 0; i < 4; i++) assert_true(kc[i] > 900 && kc[i] < 1100);
    assert_int_equal(vs_shard_of_key("doc-1", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_round_trip), cmocka_unit_test(manifest_rejects_unsafe_paths),
        cmocka_unit_test(xml_answers),         cmocka_unit_test(uris_and_encoding),
        cmocka_unit_test(credentials_and_settings), cmocka_unit_test(base64_both_ways),
        cmocka_unit_test(cluster_map_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
