/* Index files: save / load / view / load_buffer round trips, atomic replacement, copy on
 * first write after a view, every corrupt-file case, and fixtures written by format v1. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "test_util.h"

#include "io/container.h"

static void read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    assert_int_equal(fread(*buf, 1, *len, f), *len);
    fclose(f);
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void same_results(const vs_index *a, const vs_index *b, const float *q, size_t nq, size_t k)
{
    float *s1 = malloc(nq * k * 4), *s2 = malloc(nq * k * 4);
    int64_t *i1 = malloc(nq * k * 8), *i2 = malloc(nq * k * 8);
    assert_int_equal(vs_index_search(a, nq, q, (uint32_t)k, NULL, s1, i1), VS_OK);
    assert_int_equal(vs_index_search(b, nq, q, (uint32_t)k, NULL, s2, i2), VS_OK);
    assert_memory_equal(i1, i2, nq * k * 8);
    assert_memory_equal(s1, s2, nq * k * 4);
    free(s1); free(s2); free(i1); free(i2);
}

static void round_trip(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/index.vsi", dir);
    for (int m = 0; m < 3; m++) {
        size_t n = 2500, d = 12;
        float *x = tu_random_vectors(n, d, 100 + m);
        vs_index *ix = tu_flat((uint32_t)d, (vs_metric)m);
        int64_t *ids = malloc(n * 8);
        for (size_t i = 0; i < n; i++) ids[i] = (int64_t)(i * 3 + 1);
        assert_int_equal(vs_index_add(ix, n, x, ids), VS_OK);
        int64_t gone[2] = {4, 7};
        assert_int_equal(vs_index_remove(ix, 2, gone, NULL), VS_OK);
        assert_int_equal(vs_index_save(ix, path), VS_OK);
        assert_int_equal(count_entries(dir), 1); /* no temporary file left behind */

        vs_index *loaded, *viewed, *buffered;
        assert_int_equal(vs_index_load(path, &loaded), VS_OK);
        assert_int_equal(vs_index_view(path, &viewed), VS_OK);
        uint8_t *buf;
        size_t len;
        read_file(path, &buf, &len);
        assert_int_equal(vs_index_load_buffer(buf, len, &buffered), VS_OK);
        free(buf);
        assert_int_equal(vs_index_verify_file(path), VS_OK);
        for (vs_index *o = loaded; o; o = o == loaded ? viewed : o == viewed ? buffered : NULL) {
            assert_int_equal(vs_index_size(o), n - 2);
            assert_int_equal(vs_index_dim(o), d);
            assert_int_equal(vs_index_metric(o), m);
            assert_string_equal(vs_index_factory(o), "Flat");
            assert_int_equal(vs_index_next_id(o), (int64_t)((n - 1) * 3 + 2)); /* saved with the index */
            same_results(ix, o, x, 50, 10);
        }
        assert_true(vs_index_is_mapped(viewed));
        assert_false(vs_index_is_mapped(loaded));
        float v[12];
        assert_int_equal(vs_index_get(viewed, 10, v), VS_OK);
        assert_int_equal(vs_index_get(viewed, 4, v), VS_ERR_NOT_FOUND);

        /* The first write copies the mapping; later automatic IDs continue after the largest. */
        assert_int_equal(vs_index_add(viewed, 1, x, NULL), VS_OK);
        assert_int_equal(vs_index_get(viewed, (int64_t)((n - 1) * 3 + 2), v), VS_OK); /* the ID next_id named */
        assert_int_equal(vs_index_next_id(viewed), (int64_t)((n - 1) * 3 + 3));
        assert_false(vs_index_is_mapped(viewed));
        assert_int_equal(vs_index_add(ix, 1, x, NULL), VS_OK);
        same_results(ix, viewed, x, 50, 10);
        int64_t rm = 10;
        size_t removed;
        assert_int_equal(vs_index_remove(loaded, 1, &rm, &removed), VS_OK);
        assert_int_equal(removed, 1);
        assert_int_equal(vs_index_get(loaded, 10, v), VS_ERR_NOT_FOUND);

        vs_index_free(loaded);
        vs_index_free(viewed);
        vs_index_free(buffered);
        vs_index_free(ix);
        free(ids);
        free(x);
    }
    tu_rmdir(dir);
}

static void save_replaces_atomically(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/index.vsi", dir);
    float x[4] = {1, 2, 3, 4};
    vs_index *ix = tu_flat(4, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, 1, x, NULL), VS_OK);
    assert_int_equal(vs_index_save(ix, path), VS_OK);
    vs_index *v;
    assert_int_equal(vs_index_view(path, &v), VS_OK);
    assert_int_equal(vs_index_add(ix, 1, x, NULL), VS_OK);
    assert_int_equal(vs_index_save(ix, path), VS_OK); /* a reader's mapping stays valid */
    assert_int_equal(vs_index_size(v), 1);
    vs_index *l;
    assert_int_equal(vs_index_load(path, &l), VS_OK);
    assert_int_equal(vs_index_size(l), 2);
    /* Saving into a missing directory fails cleanly. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/missing/index.vsi", dir);
    assert_int_equal(vs_index_save(ix, bad), VS_ERR_IO);
    assert_non_null(strstr(vs_last_error(), "missing"));
    vs_index_free(v);
    vs_index_free(l);
    vs_index_free(ix);
    tu_rmdir(dir);
}

/* Writes a small valid file and returns its bytes. */
static void make_file(const char *path, uint8_t **buf, size_t *len)
{
    float *x = tu_random_vectors(300, 8, 7);
    vs_index *ix = tu_flat(8, VS_METRIC_L2);
    assert_int_equal(vs_index_add(ix, 300, x, NULL), VS_OK);
    assert_int_equal(vs_index_save(ix, path), VS_OK);
    vs_index_free(ix);
    free(x);
    read_file(path, buf, len);
}

static void expect_error(const char *path, int code, const char *needle, int view_too)
{
    vs_index *ix = (vs_index *)0x1;
    assert_int_equal(vs_index_load(path, &ix), code);
    assert_null(ix);
    if (needle && !strstr(vs_last_error(), needle)) {
        print_error("message \"%s\" lacks \"%s\"\n", vs_last_error(), needle);
        fail();
    }
    if (view_too) {
        assert_int_equal(vs_index_view(path, &ix), code);
        assert_null(ix);
    }
}

static void corrupt_files(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.vsi", dir);
    snprintf(bad, sizeof bad, "%s/bad.vsi", dir);
    uint8_t *buf;
    size_t len;
    make_file(good, &buf, &len);

    /* Truncations at every interesting boundary and a sweep through the file. */
    size_t cuts[] = {0, 1, 7, 8, 63, 64, 65, 200, len / 2, len - 33, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(bad, buf, cuts[i]);
        expect_error(bad, VS_ERR_CORRUPT, "truncated", 1);
    }
    for (size_t cut = 0; cut < len; cut += 97) {
        write_file(bad, buf, cut);
        expect_error(bad, VS_ERR_CORRUPT, NULL, 1);
    }
    /* Trailing garbage. */
    uint8_t *longer = malloc(len + 10);
    memcpy(longer, buf, len);
    memset(longer + len, 0xab, 10);
    write_file(bad, longer, len + 10);
    expect_error(bad, VS_ERR_CORRUPT, "trailing", 1);
    free(longer);

    /* Bad magic. */
    uint8_t *c = malloc(len);
    memcpy(c, buf, len);
    c[0] = 'X';
    write_file(bad, c, len);
    expect_error(bad, VS_ERR_CORRUPT, "magic", 1);

    /* Newer format version: a clear upgrade message, before any checksum complaint. */
    memcpy(c, buf, len);
    c[8] = 2;
    write_file(bad, c, len);
    expect_error(bad, VS_ERR_VERSION, "newer", 1);

    /* Every single-byte flip in header, metadata and table is caught by load and view;
     * flips in bulk data by load and verify (a view skips bulk checksums by design). */
    size_t flips = 0;
    for (size_t off = 0; off < len; off += (off < 200 || off > len - 200) ? 1 : 61) {
        memcpy(c, buf, len);
        c[off] ^= 0x20;
        write_file(bad, c, len);
        vs_index *ix = NULL;
        int rc = vs_index_load(bad, &ix);
        if (rc == VS_OK) {
            /* Only padding bytes between sections are outside every checksum. */
            vs_index_free(ix);
            continue;
        }
        assert_true(rc == VS_ERR_CORRUPT || rc == VS_ERR_VERSION);
        assert_int_equal(vs_index_verify_file(bad), rc);
        flips++;
    }
    assert_true(flips > 300);

    /* Bulk corruption: load and verify refuse it; view opens (documented) without crashing. */
    memcpy(c, buf, len);
    c[64 + 128] ^= 0xff; /* inside the first section after META: vectors */
    write_file(bad, c, len);
    vs_index *ix = NULL;
    int rc = vs_index_load(bad, &ix);
    assert_int_equal(rc, VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), "checksum"));
    assert_int_equal(vs_index_verify_file(bad), VS_ERR_CORRUPT);

    /* Missing file, a directory, and a buffer. */
    snprintf(bad, sizeof bad, "%s/none.vsi", dir);
    expect_error(bad, VS_ERR_NOT_FOUND, "none.vsi", 1);
    expect_error(dir, VS_ERR_IO, "regular", 1);
    assert_int_equal(vs_index_load_buffer(buf, 10, &ix), VS_ERR_CORRUPT);
    assert_int_equal(vs_index_load_buffer(NULL, 0, &ix), VS_ERR_CORRUPT);
    free(c);
    free(buf);
    tu_rmdir(dir);
}

/* Fixtures written by format version 1 (tests/fixtures/README.md): they must keep loading
 * with the same contents in every later version. */
static void fixture_values(const char *name, vs_metric metric)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/%s", VS_TEST_SOURCE_DIR, name);
    vs_index *ix;
    assert_int_equal(vs_index_load(path, &ix), VS_OK);
    assert_int_equal(vs_index_dim(ix), 8);
    assert_int_equal(vs_index_size(ix), 20);
    assert_int_equal(vs_index_metric(ix), metric);
    for (int i = 0; i < 20; i++) {
        float v[8], want[8];
        double norm = 0;
        for (int j = 0; j < 8; j++) {
            want[j] = (float)(i + 1) + 0.125f * (float)j;
            norm += (double)want[j] * want[j];
        }
        if (metric == VS_METRIC_COSINE)
            for (int j = 0; j < 8; j++) want[j] = (float)(want[j] / sqrt(norm));
        assert_int_equal(vs_index_get(ix, 100 + i, v), VS_OK);
        for (int j = 0; j < 8; j++) assert_float_equal(v[j], want[j], 1e-6);
    }
    float q[8] = {3, 3, 3, 3, 3, 3, 3, 3}, s[1];
    int64_t id[1];
    assert_int_equal(vs_index_search(ix, 1, q, 1, NULL, s, id), VS_OK);
    if (metric == VS_METRIC_L2) assert_int_equal(id[0], 102);
    vs_index_free(ix);
}

static void write_fixture(const char *name, vs_metric metric)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/%s", VS_TEST_SOURCE_DIR, name);
    vs_index *ix = tu_flat(8, metric);
    for (int i = 0; i < 20; i++) {
        float v[8];
        int64_t id = 100 + i;
        for (int j = 0; j < 8; j++) v[j] = (float)(i + 1) + 0.125f * (float)j;
        assert_int_equal(vs_index_add(ix, 1, v, &id), VS_OK);
    }
    assert_int_equal(vs_index_save(ix, path), VS_OK);
    vs_index_free(ix);
}

static void old_format_fixtures(void **state)
{
    (void)state;
    if (getenv("VS_WRITE_FIXTURES")) { /* only when a new format version is introduced */
        write_fixture("flat_v1_l2.vsi", VS_METRIC_L2);
        write_fixture("flat_v1_cosine.vsi", VS_METRIC_COSINE);
    }
    fixture_values("flat_v1_l2.vsi", VS_METRIC_L2);
    fixture_values("flat_v1_cosine.vsi", VS_METRIC_COSINE);
}

static size_t rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtoull(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

/* A view maps the file and reads only its metadata: opening a 48 MB index must not pull the
 * vectors into the resident set (a memory property, not a timing). */
static void view_reads_only_metadata(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/big.vsi", dir);
    size_t n = 120000, d = 100;
    vs_index *ix = tu_flat((uint32_t)d, VS_METRIC_L2);
    float *chunk = tu_random_vectors(10000, d, 1);
    for (size_t i = 0; i < n; i += 10000) assert_int_equal(vs_index_add(ix, 10000, chunk, NULL), VS_OK);
    free(chunk);
    assert_int_equal(vs_index_save(ix, path), VS_OK);
    vs_index_free(ix);
    size_t before = rss_kb();
    assert_int_equal(vs_index_view(path, &ix), VS_OK);
    size_t after = rss_kb();
    assert_int_equal(vs_index_size(ix), n);
    if (after > before + 4096) {
        print_error("view grew the resident set by %zu kB for a %zu kB file\n", after - before, n * d * 4 / 1024);
        fail();
    }
    vs_index_free(ix);
    tu_rmdir(dir);
}

/* A section written piecewise (vs_container_begin / write / end, as HNSW saves renumbered
 * records) reads back as the same bytes with a valid checksum; misuse is refused. */
static void streamed_section(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/s.vsc", dir);
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + 3);
    vs_container_writer *w = NULL;
    assert_int_equal(vs_container_create(path, 9, &w), VS_OK);
    assert_int_equal(vs_container_write(w, data, 1), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_container_end(w), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_container_add(w, VS_TAG('O', 'N', 'E', ' '), 0, data, 10), VS_OK);
    assert_int_equal(vs_container_begin(w, VS_TAG('S', 'T', 'R', 'M'), VS_SECTION_BULK), VS_OK);
    assert_int_equal(vs_container_begin(w, VS_TAG('X', 'X', 'X', 'X'), 0), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_container_add(w, VS_TAG('X', 'X', 'X', 'X'), 0, data, 1), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_container_write(w, data, 300), VS_OK);
    assert_int_equal(vs_container_write(w, data + 300, 0), VS_OK);
    assert_int_equal(vs_container_write(w, data + 300, 700), VS_OK);
    assert_int_equal(vs_container_end(w), VS_OK);
    assert_int_equal(vs_container_commit(w), VS_OK);
    uint8_t *img;
    size_t len;
    read_file(path, &img, &len);
    vs_container c;
    assert_int_equal(vs_container_open(&c, img, len, 0, path), VS_OK);
    assert_int_equal(vs_container_verify_all(&c, path), VS_OK);
    uint64_t got_len;
    const uint8_t *got = vs_container_find(&c, VS_TAG('S', 'T', 'R', 'M'), &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    /* A flipped byte inside the streamed section fails its checksum. */
    img[(size_t)(got - img) + 500] ^= 1;
    assert_int_equal(vs_container_open(&c, img, len, 0, path), VS_ERR_CORRUPT);
    free(img);
    /* Committing with a section still open fails and leaves no file. */
    snprintf(path, sizeof path, "%s/open.vsc", dir);
    assert_int_equal(vs_container_create(path, 9, &w), VS_OK);
    assert_int_equal(vs_container_begin(w, VS_TAG('S', 'T', 'R', 'M'), 0), VS_OK);
    assert_int_equal(vs_container_write(w, data, 10), VS_OK);
    assert_int_equal(vs_container_commit(w), VS_ERR_INVALID_ARG);
    assert_int_equal(access(path, F_OK), -1);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(streamed_section),
        cmocka_unit_test(save_replaces_atomically),
        cmocka_unit_test(corrupt_files),
        cmocka_unit_test(old_format_fixtures),
        cmocka_unit_test(view_reads_only_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
