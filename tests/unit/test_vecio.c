/* Unit tests for the vecio API: .fvecs/.ivecs/.bvecs/.npy/idx3-ubyte reading, parsing,
 * writing, conversion, and every error path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vecscale.h"

static char tmpdir[64];

/* ---- helpers -------------------------------------------------------------------------- */

static const char *tpath(const char *name)
{
    static char buf[4][256];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", tmpdir, name);
    return buf[slot];
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long sz = ftell(f);
    assert_true(sz >= 0);
    rewind(f);
    uint8_t *b = malloc((size_t)sz + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return b;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[3] = (uint8_t)v; p[2] = (uint8_t)(v >> 8); p[1] = (uint8_t)(v >> 16); p[0] = (uint8_t)(v >> 24);
}

static size_t esize(vs_dtype t) { return t == VS_DTYPE_U8 ? 1 : 4; }

/* A deterministic n x dim matrix of the given dtype with varied values (negatives for I32). */
static vs_matrix make_matrix(size_t n, uint32_t dim, vs_dtype t)
{
    vs_matrix m = {n, dim, t, malloc(n * dim * esize(t))};
    assert_non_null(m.data);
    for (size_t i = 0; i < n * dim; i++) {
        if (t == VS_DTYPE_F32) ((float *)m.data)[i] = (float)i * 0.25f - 3.5f;
        else if (t == VS_DTYPE_I32) ((int32_t *)m.data)[i] = (int32_t)(i * 2654435761u);
        else ((uint8_t *)m.data)[i] = (uint8_t)(i * 37 + 11);
    }
    return m;
}

static void assert_matrix_equal(const vs_matrix *a, const vs_matrix *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->dim, b->dim);
    assert_int_equal(a->dtype, b->dtype);
    assert_memory_equal(a->data, b->data, a->n * a->dim * esize(a->dtype));
}

/* TEXMEX bytes: n rows of dimension d with element size es. */
static uint8_t *make_texmex(size_t n, uint32_t d, size_t es, size_t *len)
{
    size_t row = 4 + d * es;
    uint8_t *b = malloc(n * row);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        put_le32(b + i * row, d);
        for (size_t j = 0; j < d * es; j++) b[i * row + 4 + j] = (uint8_t)(i + j);
    }
    *len = n * row;
    return b;
}

/* .npy bytes with the given header dict (padded like NumPy) followed by `dlen` data bytes. */
static uint8_t *make_npy(int major, const char *dict, size_t dlen, size_t *len)
{
    size_t prefix = major == 1 ? 10 : 12, dn = strlen(dict);
    size_t total = (prefix + dn + 1 + 63) / 64 * 64, hlen = total - prefix;
    uint8_t *b = malloc(total + dlen + 1);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    if (major == 1) { b[8] = (uint8_t)hlen; b[9] = (uint8_t)(hlen >> 8); }
    else put_le32(b + 8, (uint32_t)hlen);
    memcpy(b + prefix, dict, dn);
    memset(b + prefix + dn, ' ', hlen - dn - 1);
    b[total - 1] = '\n';
    for (size_t i = 0; i < dlen; i++) b[total + i] = (uint8_t)(i * 7);
    *len = total + dlen;
    return b;
}

static uint8_t *make_idx3(uint32_t n, uint32_t rows, uint32_t cols, size_t data_len, size_t *len)
{
    uint8_t *b = malloc(16 + data_len);
    assert_non_null(b);
    put_be32(b, 0x00000803);
    put_be32(b + 4, n);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (size_t i = 0; i < data_len; i++) b[16 + i] = (uint8_t)(i * 13);
    *len = 16 + data_len;
    return b;
}

/* Parses and expects failure `code` with `needle` in the message; *out must stay NULL. */
static void expect_parse_fail(const void *buf, size_t len, const char *fmt, int code,
                              const char *needle)
{
    vs_matrix *m = (vs_matrix *)(uintptr_t)1;
    int rc = vs_matrix_parse(buf, len, fmt, 0, &m);
    if (rc != code || (needle && !strstr(vs_last_error(), needle)))
        print_error("parse(%s, %zu bytes): got %s \"%s\", want %s containing \"%s\"\n", fmt, len,
                    vs_strerror(rc), vs_last_error(), vs_strerror(code), needle ? needle : "");
    assert_int_equal(rc, code);
    assert_null(m);
    if (needle) assert_non_null(strstr(vs_last_error(), needle));
}

/* Same through a real file, which must also name the file in the message. */
static void expect_read_fail(const char *name, const void *buf, size_t len, int code,
                             const char *needle)
{
    const char *p = tpath(name);
    write_bytes(p, buf, len);
    vs_matrix *m = (vs_matrix *)(uintptr_t)1;
    int rc = vs_matrix_read(p, 0, &m);
    if (rc != code) print_error("read(%s): got %s \"%s\"\n", p, vs_strerror(rc), vs_last_error());
    assert_int_equal(rc, code);
    assert_null(m);
    assert_non_null(strstr(vs_last_error(), p));
    if (needle) assert_non_null(strstr(vs_last_error(), needle));
    unlink(p);
}

static int count_tmp_files(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/vs_test_vecio_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rmdir(p);
        else unlink(p);
    }
    closedir(d);
    return rmdir(tmpdir);
}

/* ---- round trips ---------------------------------------------------------------------- */

static void roundtrip(const char *name, vs_dtype t, size_t n, uint32_t dim)
{
    vs_matrix a = make_matrix(n, dim, t);
    const char *p = tpath(name);
    assert_int_equal(vs_matrix_write(p, &a), VS_OK);
    vs_matrix *b = NULL;
    assert_int_equal(vs_matrix_read(p, 0, &b), VS_OK);
    assert_non_null(b);
    assert_matrix_equal(&a, b);
    vs_matrix_free(b);

    /* The same bytes through the in-memory parser. */
    size_t len;
    uint8_t *bytes = read_bytes(p, &len);
    const char *ext = strrchr(name, '.') + 1;
    assert_int_equal(vs_matrix_parse(bytes, len, ext, 0, &b), VS_OK);
    assert_matrix_equal(&a, b);
    vs_matrix_free(b);
    free(bytes);
    free(a.data);
    unlink(p);
}

static void test_roundtrip_fvecs(void **s)
{
    (void)s;
    roundtrip("a.fvecs", VS_DTYPE_F32, 7, 3);
    roundtrip("one.fvecs", VS_DTYPE_F32, 1, 1);
}

static void test_roundtrip_ivecs(void **s)
{
    (void)s;
    roundtrip("a.ivecs", VS_DTYPE_I32, 5, 10);
}

static void test_roundtrip_bvecs(void **s)
{
    (void)s;
    roundtrip("a.bvecs", VS_DTYPE_U8, 9, 128);
}

static void test_roundtrip_npy_all_dtypes(void **s)
{
    (void)s;
    roundtrip("f.npy", VS_DTYPE_F32, 4, 5);
    roundtrip("i.npy", VS_DTYPE_I32, 3, 2);
    roundtrip("u.npy", VS_DTYPE_U8, 6, 7);
    roundtrip("col.npy", VS_DTYPE_F32, 3, 1);
}

/* Larger than the 8 MiB write chunk, with a partial last chunk. */
static void test_roundtrip_large_chunked(void **s)
{
    (void)s;
    roundtrip("big.fvecs", VS_DTYPE_F32, 3001, 1000);
    roundtrip("big.npy", VS_DTYPE_F32, 3001, 1000);
    roundtrip("big.bvecs", VS_DTYPE_U8, 70001, 130);
}

static void test_max_dim_roundtrip(void **s)
{
    (void)s;
    roundtrip("wide.fvecs", VS_DTYPE_F32, 2, 65536);
    roundtrip("wide.npy", VS_DTYPE_U8, 2, 65536);
}

static void test_fvecs_file_layout(void **s)
{
    (void)s;
    vs_matrix a = make_matrix(2, 3, VS_DTYPE_F32);
    const char *p = tpath("layout.fvecs");
    assert_int_equal(vs_matrix_write(p, &a), VS_OK);
    size_t len;
    uint8_t *b = read_bytes(p, &len);
    assert_int_equal(len, 2 * (4 + 12));
    uint8_t hdr[4];
    put_le32(hdr, 3);
    assert_memory_equal(b, hdr, 4);
    assert_memory_equal(b + 16, hdr, 4);
    assert_memory_equal(b + 4, a.data, 12);
    assert_memory_equal(b + 20, (float *)a.data + 3, 12);
    free(b);
    free(a.data);
    unlink(p);
}

static void test_npy_written_header(void **s)
{
    (void)s;
    vs_matrix a = make_matrix(3, 4, VS_DTYPE_I32);
    const char *p = tpath("hdr.npy");
    assert_int_equal(vs_matrix_write(p, &a), VS_OK);
    size_t len;
    uint8_t *b = read_bytes(p, &len);
    assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
    size_t hlen = (size_t)b[8] | (size_t)b[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    assert_int_equal(len, 10 + hlen + 3 * 4 * 4);
    assert_int_equal(b[10 + hlen - 1], '\n');
    char *h = strndup((char *)b + 10, hlen);
    assert_non_null(strstr(h, "'descr': '<i4'"));
    assert_non_null(strstr(h, "'fortran_order': False"));
    assert_non_null(strstr(h, "'shape': (3, 4)"));
    free(h);
    free(b);
    free(a.data);
    unlink(p);
}

static void test_extension_case_insensitive(void **s)
{
    (void)s;
    roundtrip("UP.FVECS", VS_DTYPE_F32, 2, 2);
    roundtrip("Mixed.Npy", VS_DTYPE_U8, 2, 2);
    vs_matrix *m;
    size_t len;
    uint8_t *b = make_texmex(2, 3, 4, &len);
    assert_int_equal(vs_matrix_parse(b, len, "FVECS", 0, &m), VS_OK);
    vs_matrix_free(m);
    assert_int_equal(vs_matrix_parse(b, len, ".ivecs", 0, &m), VS_OK);
    assert_int_equal(m->dtype, VS_DTYPE_I32);
    vs_matrix_free(m);
    free(b);
}

static void test_idx3_read(void **s)
{
    (void)s;
    size_t len;
    uint8_t *b = make_idx3(3, 2, 5, 30, &len);
    const char *names[] = {"train-images-idx3-ubyte", "t10k.idx3-ubyte", "X-IDX3-UBYTE"};
    for (size_t k = 0; k < 3; k++) {
        const char *p = tpath(names[k]);
        write_bytes(p, b, len);
        vs_matrix *m = NULL;
        assert_int_equal(vs_matrix_read(p, 0, &m), VS_OK);
        assert_int_equal(m->n, 3);
        assert_int_equal(m->dim, 10);
        assert_int_equal(m->dtype, VS_DTYPE_U8);
        assert_memory_equal(m->data, b + 16, 30);
        vs_matrix_free(m);
        unlink(p);
    }
    vs_matrix *m = NULL;
    assert_int_equal(vs_matrix_parse(b, len, "idx3-ubyte", 2, &m), VS_OK);
    assert_int_equal(m->n, 2);
    assert_memory_equal(m->data, b + 16, 20);
    vs_matrix_free(m);
    /* A name that merely ends in the same letters is not an idx file. */
    write_bytes(tpath("notidx3-ubyte"), b, len);
    assert_int_equal(vs_matrix_read(tpath("notidx3-ubyte"), 0, &m), VS_ERR_UNSUPPORTED);
    unlink(tpath("notidx3-ubyte"));
    free(b);
}

static void test_npy_header_variants(void **s)
{
    (void)s;
    struct { int major; const char *dict; size_t n, dim; vs_dtype t; } cases[] = {
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 2, 3, VS_DTYPE_F32},
        {1, "{'shape':(2,3),'fortran_order':False,'descr':'<i4'}", 2, 3, VS_DTYPE_I32},
        {1, "{ \"descr\" : \"|u1\" ,\n \"shape\" : ( 4 , 2 , ) , \"fortran_order\" : False }", 4, 2,
         VS_DTYPE_U8},
        {1, "{'descr': '<u1', 'fortran_order': False, 'shape': (5,), }", 5, 1, VS_DTYPE_U8},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", 2, 3, VS_DTYPE_F32},
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 3, 2, VS_DTYPE_F32},
        {3, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 7), }", 1, 7, VS_DTYPE_I32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len, dlen = cases[i].n * cases[i].dim * esize(cases[i].t);
        uint8_t *b = make_npy(cases[i].major, cases[i].dict, dlen, &len);
        vs_matrix *m = NULL;
        int rc = vs_matrix_parse(b, len, "npy", 0, &m);
        if (rc) print_error("case %zu: %s\n", i, vs_last_error());
        assert_int_equal(rc, VS_OK);
        assert_int_equal(m->n, cases[i].n);
        assert_int_equal(m->dim, cases[i].dim);
        assert_int_equal(m->dtype, cases[i].t);
        assert_memory_equal(m->data, b + len - dlen, dlen);
        vs_matrix_free(m);
        free(b);
    }
}

/* ---- max_rows ------------------------------------------------------------------------- */

static void test_max_rows_all_formats(void **s)
{
    (void)s;
    const char *names[] = {"m.fvecs", "m.ivecs", "m.bvecs", "m.npy"};
    vs_dtype types[] = {VS_DTYPE_F32, VS_DTYPE_I32, VS_DTYPE_U8, VS_DTYPE_I32};
    for (size_t k = 0; k < 4; k++) {
        vs_matrix a = make_matrix(10, 4, types[k]);
        const char *p = tpath(names[k]);
        assert_int_equal(vs_matrix_write(p, &a), VS_OK);
        size_t limits[] = {1, 3, 10, 11, 1000};
        for (size_t j = 0; j < 5; j++) {
            vs_matrix *m = NULL;
            assert_int_equal(vs_matrix_read(p, limits[j], &m), VS_OK);
            size_t want = limits[j] < 10 ? limits[j] : 10;
            assert_int_equal(m->n, want);
            assert_int_equal(m->dim, 4);
            assert_memory_equal(m->data, a.data, want * 4 * esize(types[k]));
            vs_matrix_free(m);
        }
        free(a.data);
        unlink(p);
    }
}

/* Reading stops after max_rows rows, so damage past them is not seen. */
static void test_max_rows_stops_before_damage(void **s)
{
    (void)s;
    size_t len;
    uint8_t *b = make_texmex(3, 2, 4, &len);
    put_le32(b + 2 * 12, 5); /* row 2 has a bad dimension */
    vs_matrix *m = NULL;
    assert_int_equal(vs_matrix_parse(b, len, "fvecs", 2, &m), VS_OK);
    assert_int_equal(m->n, 2);
    vs_matrix_free(m);
    expect_parse_fail(b, len, "fvecs", VS_ERR_CORRUPT, "row 2");
    assert_int_equal(vs_matrix_parse(b, len - 3, "fvecs", 2, &m), VS_OK);
    vs_matrix_free(m);
    free(b);
}

/* ---- TEXMEX errors -------------------------------------------------------------------- */

static void test_texmex_truncated_everywhere(void **s)
{
    (void)s;
    const char *fmts[] = {"fvecs", "ivecs", "bvecs"};
    size_t ess[] = {4, 4, 1};
    for (size_t k = 0; k < 3; k++) {
        size_t len, row = 4 + 3 * ess[k];
        uint8_t *b = make_texmex(3, 3, ess[k], &len);
        for (size_t cut = 1; cut < len; cut++) {
            if (cut % row == 0) continue; /* whole rows: a valid, shorter file */
            char needle[48];
            snprintf(needle, sizeof needle, "truncated at row %zu", cut / row);
            expect_parse_fail(b, cut, fmts[k], VS_ERR_CORRUPT, needle);
        }
        free(b);
    }
    size_t len;
    uint8_t *b = make_texmex(2, 3, 4, &len);
    expect_read_fail("trunc.fvecs", b, len - 1, VS_ERR_CORRUPT, "truncated at row 1");
    free(b);
}

static void test_texmex_inconsistent_dim(void **s)
{
    (void)s;
    size_t len;
    uint8_t *b = make_texmex(4, 3, 4, &len);
    put_le32(b + 2 * 16, 2); /* row 2 claims d=2 */
    expect_parse_fail(b, len, "fvecs", VS_ERR_CORRUPT, "row 2 has dimension 2");
    expect_read_fail("incons.ivecs", b, len, VS_ERR_CORRUPT, "row 2");
    put_le32(b + 2 * 16, 3);
    put_le32(b + 3 * 16, 4);
    expect_parse_fail(b, len, "ivecs", VS_ERR_CORRUPT, "row 3 has dimension 4");
    free(b);
}

static void test_texmex_bad_dimension_values(void **s)
{
    (void)s;
    uint8_t b[64] = {0};
    uint32_t bad[] = {0, (uint32_t)-1, (uint32_t)-65536, 65537, 0x7fffffff, 0x80000000u};
    const char *fmts[] = {"fvecs", "ivecs", "bvecs"};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            put_le32(b, bad[i]);
            expect_parse_fail(b, sizeof b, fmts[k], VS_ERR_CORRUPT, "invalid dimension");
        }
    }
    put_le32(b, (uint32_t)-3);
    expect_read_fail("neg.bvecs", b, sizeof b, VS_ERR_CORRUPT, "-3");
    /* A huge but in-range dimension with too little data is truncation, not an allocation. */
    put_le32(b, 65536);
    expect_parse_fail(b, sizeof b, "fvecs", VS_ERR_CORRUPT, "truncated at row 0");
}

/* ---- empty, unknown, missing ---------------------------------------------------------- */

static void test_empty_file(void **s)
{
    (void)s;
    const char *names[] = {"e.fvecs", "e.ivecs", "e.bvecs", "e.npy", "e-idx3-ubyte"};
    for (size_t i = 0; i < 5; i++) expect_read_fail(names[i], "", 0, VS_ERR_EMPTY, "empty");
    const char *fmts[] = {"fvecs", "ivecs", "bvecs", "npy", "idx3-ubyte"};
    for (size_t i = 0; i < 5; i++) {
        expect_parse_fail("", 0, fmts[i], VS_ERR_EMPTY, "empty");
        expect_parse_fail(NULL, 0, fmts[i], VS_ERR_EMPTY, "empty");
    }
}

static void test_unknown_extension(void **s)
{
    (void)s;
    vs_matrix *m = (vs_matrix *)(uintptr_t)1;
    const char *names[] = {"x.txt", "x", "x.fvecs.gz", "fvecs", "x.hdf5", "x.idx1-ubyte"};
    for (size_t i = 0; i < 6; i++) {
        write_bytes(tpath(names[i]), "abcd", 4);
        assert_int_equal(vs_matrix_read(tpath(names[i]), 0, &m), VS_ERR_UNSUPPORTED);
        assert_null(m);
        assert_non_null(strstr(vs_last_error(), ".fvecs"));
        assert_non_null(strstr(vs_last_error(), ".npy"));
        unlink(tpath(names[i]));
    }
    assert_int_equal(vs_matrix_read(tpath("d.fvecs.gz"), 0, &m), VS_ERR_UNSUPPORTED);
    assert_non_null(strstr(vs_last_error(), "decompress"));
    expect_parse_fail("abcd", 4, "csv", VS_ERR_UNSUPPORTED, "fvecs");
    expect_parse_fail("abcd", 4, "", VS_ERR_UNSUPPORTED, "npy");
    vs_matrix a = make_matrix(1, 1, VS_DTYPE_F32);
    assert_int_equal(vs_matrix_write(tpath("out.txt"), &a), VS_ERR_UNSUPPORTED);
    assert_int_equal(vs_matrix_write(tpath("out-idx3-ubyte"), &a), VS_ERR_UNSUPPORTED);
    free(a.data);
}

static void test_missing_and_unreadable(void **s)
{
    (void)s;
    vs_matrix *m = (vs_matrix *)(uintptr_t)1;
    assert_int_equal(vs_matrix_read(tpath("nope.fvecs"), 0, &m), VS_ERR_NOT_FOUND);
    assert_null(m);
    assert_non_null(strstr(vs_last_error(), "nope.fvecs"));
    assert_int_equal(vs_matrix_read(tpath("nodir/x.npy"), 0, &m), VS_ERR_NOT_FOUND);
    assert_int_equal(vs_matrix_read("/etc/passwd/x.fvecs", 0, &m), VS_ERR_NOT_FOUND);
    assert_int_equal(mkdir(tpath("dir.fvecs"), 0700), 0);
    assert_int_equal(vs_matrix_read(tpath("dir.fvecs"), 0, &m), VS_ERR_IO);
    assert_non_null(strstr(vs_last_error(), "directory"));
    rmdir(tpath("dir.fvecs"));
    if (geteuid() != 0) { /* root can read anything */
        size_t len;
        uint8_t *b = make_texmex(1, 2, 4, &len);
        write_bytes(tpath("noperm.fvecs"), b, len);
        chmod(tpath("noperm.fvecs"), 0);
        assert_int_equal(vs_matrix_read(tpath("noperm.fvecs"), 0, &m), VS_ERR_IO);
        unlink(tpath("noperm.fvecs"));
        free(b);
    }
}

static void test_invalid_args(void **s)
{
    (void)s;
    vs_matrix *m = NULL;
    assert_int_equal(vs_matrix_read(NULL, 0, &m), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_matrix_read("", 0, &m), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_matrix_read(tpath("a.fvecs"), 0, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_matrix_parse("x", 1, NULL, 0, &m), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_matrix_parse(NULL, 4, "fvecs", 0, &m), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_matrix_parse("x", 1, "fvecs", 0, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_matrix_write(NULL, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_matrix_write(tpath("a.fvecs"), NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_matrix_to_f32(NULL), VS_ERR_INVALID_ARG);
    vs_matrix_free(NULL);
}

/* Reads from something that cannot be mapped (a FIFO) go through plain read(). */
static void test_read_from_fifo(void **s)
{
    (void)s;
    const char *p = tpath("pipe.ivecs");
    assert_int_equal(mkfifo(p, 0600), 0);
    size_t len;
    uint8_t *b = make_texmex(300, 100, 4, &len); /* > 64 KiB: the read buffer must grow */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(p, O_WRONLY);
        size_t off = 0;
        while (fd >= 0 && off < len) {
            ssize_t w = write(fd, b + off, len - off);
            if (w <= 0) _exit(1);
            off += (size_t)w;
        }
        _exit(fd >= 0 ? 0 : 1);
    }
    vs_matrix *m = NULL;
    int rc = vs_matrix_read(p, 0, &m);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(rc, VS_OK);
    assert_int_equal(m->n, 300);
    assert_int_equal(m->dim, 100);
    assert_memory_equal(m->data, b + 4, 400);
    vs_matrix_free(m);
    free(b);
    unlink(p);
}

/* ---- npy errors ----------------------------------------------------------------------- */

static void test_npy_bad_magic_and_version(void **s)
{
    (void)s;
    size_t len;
    uint8_t *b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", 4, &len);
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    c[1] = 'X';
    expect_parse_fail(c, len, "npy", VS_ERR_CORRUPT, "bad magic");
    expect_read_fail("magic.npy", c, len, VS_ERR_CORRUPT, "bad magic");
    expect_parse_fail(b, 3, "npy", VS_ERR_CORRUPT, "truncated");
    expect_parse_fail(b, 9, "npy", VS_ERR_CORRUPT, "truncated");
    struct { uint8_t major, minor; int code; } v[] = {
        {4, 0, VS_ERR_VERSION}, {1, 1, VS_ERR_VERSION}, {255, 0, VS_ERR_VERSION},
        {0, 0, VS_ERR_CORRUPT}};
    for (size_t i = 0; i < 4; i++) {
        memcpy(c, b, len);
        c[6] = v[i].major;
        c[7] = v[i].minor;
        expect_parse_fail(c, len, "npy", v[i].code, "version");
    }
    free(c);
    free(b);
    /* v2 header needs 12 bytes of prefix. */
    b = make_npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", 4, &len);
    expect_parse_fail(b, 11, "npy", VS_ERR_CORRUPT, "truncated");
    free(b);
}

static void test_npy_header_length_bounds(void **s)
{
    (void)s;
    size_t len;
    uint8_t *b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", 4, &len);
    b[8] = 0xff;
    b[9] = 0xff;
    expect_parse_fail(b, len, "npy", VS_ERR_CORRUPT, "header length");
    /* Header cut before its end. */
    b[8] = 54;
    b[9] = 0;
    expect_parse_fail(b, len, "npy", VS_ERR_CORRUPT, "malformed");
    free(b);
    b = make_npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", 4, &len);
    put_le32(b + 8, 0xffffffffu);
    expect_parse_fail(b, len, "npy", VS_ERR_CORRUPT, "header length");
    put_le32(b + 8, 0);
    expect_parse_fail(b, len, "npy", VS_ERR_CORRUPT, "malformed");
    free(b);
}

static void test_npy_bad_headers(void **s)
{
    (void)s;
    struct { const char *dict; size_t dlen; int code; const char *needle; } cases[] = {
        {"['descr', '<f4']", 4, VS_ERR_CORRUPT, "malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)", 4, VS_ERR_CORRUPT, "malformed"},
        {"{'descr': '<f4', 'fortran_order': False}", 4, VS_ERR_CORRUPT, "missing key 'shape'"},
        {"{'fortran_order': False, 'shape': (1, 1)}", 4, VS_ERR_CORRUPT, "missing key 'descr'"},
        {"{'descr': '<f4', 'shape': (1, 1)}", 4, VS_ERR_CORRUPT, "missing key 'fortran_order'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}", 4,
         VS_ERR_CORRUPT, "duplicate"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'x': 1}", 4, VS_ERR_CORRUPT,
         "unexpected key"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 1)}", 4, VS_ERR_CORRUPT, "fortran_order"},
        {"{'descr': <f4, 'fortran_order': False, 'shape': (1, 1)}", 4, VS_ERR_CORRUPT, "string"},
        {"{'descr': '<f4}", 4, VS_ERR_CORRUPT, "unterminated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [1, 1]}", 4, VS_ERR_CORRUPT, "tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, -1)}", 4, VS_ERR_CORRUPT, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1 1)}", 4, VS_ERR_CORRUPT, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)} junk", 4, VS_ERR_CORRUPT,
         "after the dict"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (1, 1)}", 4, VS_ERR_CORRUPT, "malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 1)}", 4,
         VS_ERR_CORRUPT, "too large"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1)}", 8, VS_ERR_UNSUPPORTED, "<f8"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1)}", 8, VS_ERR_UNSUPPORTED, "<f4"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1)}", 4, VS_ERR_UNSUPPORTED,
         "big-endian"},
        {"{'descr': '>i4', 'fortran_order': False, 'shape': (1, 1)}", 4, VS_ERR_UNSUPPORTED,
         "big-endian"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 1)}", 4,
         VS_ERR_UNSUPPORTED, "structured"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1)}", 4, VS_ERR_UNSUPPORTED,
         "Fortran"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1)}", 4, VS_ERR_UNSUPPORTED,
         "dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1)}", 4, VS_ERR_UNSUPPORTED,
         "dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4, VS_ERR_UNSUPPORTED,
         "dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3)}", 0, VS_ERR_EMPTY, "empty"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0)}", 0, VS_ERR_EMPTY, "empty"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 65537)}", 4 * 65537,
         VS_ERR_UNSUPPORTED, "65536"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 65536)}", 4,
         VS_ERR_CORRUPT, "overflow"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 1)}", 4,
         VS_ERR_CORRUPT, "overflow"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 23, VS_ERR_CORRUPT,
         "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 3)}", 24,
         VS_ERR_CORRUPT, "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 25, VS_ERR_CORRUPT,
         "unexpected bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *b = make_npy(1, cases[i].dict, cases[i].dlen, &len);
        expect_parse_fail(b, len, "npy", cases[i].code, cases[i].needle);
        free(b);
    }
    size_t len;
    uint8_t *b = make_npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1)}", 4, &len);
    expect_read_fail("fortran.npy", b, len, VS_ERR_UNSUPPORTED, "Fortran");
    free(b);
}

/* ---- idx errors ----------------------------------------------------------------------- */

static void test_idx3_errors(void **s)
{
    (void)s;
    size_t len;
    uint8_t *b = make_idx3(2, 3, 3, 18, &len);
    expect_parse_fail(b, 3, "idx3-ubyte", VS_ERR_CORRUPT, "truncated idx header");
    expect_parse_fail(b, 15, "idx3-ubyte", VS_ERR_CORRUPT, "truncated idx header");
    expect_parse_fail(b, len - 1, "idx3-ubyte", VS_ERR_CORRUPT, "truncated at row 1");
    expect_parse_fail(b, 16 + 8, "idx3-ubyte", VS_ERR_CORRUPT, "truncated at row 0");
    expect_read_fail("trunc-idx3-ubyte", b, len - 5, VS_ERR_CORRUPT, "truncated at row 1");

    uint8_t *c = malloc(len + 4);
    memcpy(c, b, len);
    expect_parse_fail(c, len + 4, "idx3-ubyte", VS_ERR_CORRUPT, "unexpected bytes");
    put_be32(c, 0x00000801);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_UNSUPPORTED, "dimensions");
    put_be32(c, 0x00000D03);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_UNSUPPORTED, "element type");
    put_be32(c, 0x12345678);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_CORRUPT, "bad magic");
    put_be32(c, 0x00000F03);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_CORRUPT, "bad magic");
    put_be32(c, 0x00000800);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_CORRUPT, "bad magic");
    memcpy(c, b, len);
    put_be32(c + 4, 0);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_EMPTY, "no images");
    memcpy(c, b, len);
    put_be32(c + 8, 0);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_CORRUPT, "empty");
    memcpy(c, b, len);
    put_be32(c + 8, 1000);
    put_be32(c + 12, 1000);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_UNSUPPORTED, "maximum dimension");
    memcpy(c, b, len);
    put_be32(c + 4, 0xffffffffu);
    put_be32(c + 8, 256);
    put_be32(c + 12, 256);
    expect_parse_fail(c, len, "idx3-ubyte", VS_ERR_CORRUPT, "truncated");
    free(c);
    free(b);
}

/* ---- writing -------------------------------------------------------------------------- */

static void test_write_dtype_mismatch(void **s)
{
    (void)s;
    const char *names[] = {"w.fvecs", "w.ivecs", "w.bvecs"};
    vs_dtype ok[] = {VS_DTYPE_F32, VS_DTYPE_I32, VS_DTYPE_U8};
    for (size_t i = 0; i < 3; i++) {
        for (size_t t = 0; t < 3; t++) {
            if (ok[i] == (vs_dtype)t) continue;
            vs_matrix a = make_matrix(2, 2, (vs_dtype)t);
            assert_int_equal(vs_matrix_write(tpath(names[i]), &a), VS_ERR_INVALID_ARG);
            assert_non_null(strstr(vs_last_error(), names[i]));
            assert_int_equal(access(tpath(names[i]), F_OK), -1);
            free(a.data);
        }
    }
    assert_int_equal(count_tmp_files(), 0);
}

static void test_write_invalid_matrix(void **s)
{
    (void)s;
    vs_matrix a = make_matrix(2, 2, VS_DTYPE_F32);
    vs_matrix bad = a;
    bad.n = 0;
    assert_int_equal(vs_matrix_write(tpath("z.fvecs"), &bad), VS_ERR_EMPTY);
    bad = a;
    bad.dim = 0;
    assert_int_equal(vs_matrix_write(tpath("z.fvecs"), &bad), VS_ERR_INVALID_ARG);
    bad.dim = 65537;
    assert_int_equal(vs_matrix_write(tpath("z.npy"), &bad), VS_ERR_INVALID_ARG);
    bad = a;
    bad.data = NULL;
    assert_int_equal(vs_matrix_write(tpath("z.npy"), &bad), VS_ERR_INVALID_ARG);
    bad = a;
    bad.dtype = (vs_dtype)7;
    assert_int_equal(vs_matrix_write(tpath("z.npy"), &bad), VS_ERR_INVALID_ARG);
    bad = a;
    bad.n = SIZE_MAX / 2;
    assert_int_equal(vs_matrix_write(tpath("z.npy"), &bad), VS_ERR_INVALID_ARG);
    assert_int_equal(access(tpath("z.fvecs"), F_OK), -1);
    assert_int_equal(access(tpath("z.npy"), F_OK), -1);
    /* A directory that does not exist: the temp file cannot be created. */
    assert_int_equal(vs_matrix_write(tpath("nodir/z.fvecs"), &a), VS_ERR_IO);
    free(a.data);
    assert_int_equal(count_tmp_files(), 0);
}

static void test_atomic_write_no_temp_left(void **s)
{
    (void)s;
    const char *p = tpath("atomic.npy");
    vs_matrix a = make_matrix(50, 8, VS_DTYPE_F32);
    assert_int_equal(vs_matrix_write(p, &a), VS_OK);
    assert_int_equal(count_tmp_files(), 0);
    /* Overwriting replaces the content whole. */
    vs_matrix b = make_matrix(3, 2, VS_DTYPE_U8);
    assert_int_equal(vs_matrix_write(p, &b), VS_OK);
    assert_int_equal(count_tmp_files(), 0);
    vs_matrix *m = NULL;
    assert_int_equal(vs_matrix_read(p, 0, &m), VS_OK);
    assert_matrix_equal(&b, m);
    vs_matrix_free(m);
    /* The same for every texmex format. */
    const char *names[] = {"atomic.fvecs", "atomic.ivecs", "atomic.bvecs"};
    vs_dtype t[] = {VS_DTYPE_F32, VS_DTYPE_I32, VS_DTYPE_U8};
    for (size_t i = 0; i < 3; i++) {
        vs_matrix c = make_matrix(4, 4, t[i]);
        assert_int_equal(vs_matrix_write(tpath(names[i]), &c), VS_OK);
        free(c.data);
        unlink(tpath(names[i]));
    }
    assert_int_equal(count_tmp_files(), 0);
    free(a.data);
    free(b.data);
    unlink(p);
}

/* A write that fails midway (file size limit) must remove its temp file and leave any
 * existing target untouched. */
static void test_failed_write_cleans_up(void **s)
{
    (void)s;
    const char *names[] = {"fail.fvecs", "fail.npy"};
    vs_matrix small = make_matrix(2, 2, VS_DTYPE_F32);
    vs_matrix big = make_matrix(1000, 64, VS_DTYPE_F32);
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    for (size_t i = 0; i < 2; i++) {
        const char *p = tpath(names[i]);
        assert_int_equal(vs_matrix_write(p, &small), VS_OK);
        struct rlimit saved, lim;
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        lim = saved;
        lim.rlim_cur = 4096;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        int rc = vs_matrix_write(p, &big);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        assert_int_equal(rc, VS_ERR_IO);
        assert_int_equal(count_tmp_files(), 0);
        vs_matrix *m = NULL;
        assert_int_equal(vs_matrix_read(p, 0, &m), VS_OK);
        assert_matrix_equal(&small, m);
        vs_matrix_free(m);
        unlink(p);
    }
    signal(SIGXFSZ, old);
    free(small.data);
    free(big.data);
}

/* ---- conversion ----------------------------------------------------------------------- */

static void test_to_f32(void **s)
{
    (void)s;
    vs_matrix *m = NULL;
    uint8_t bytes[] = {0, 1, 127, 128, 255, 42};
    size_t len;
    uint8_t *b = make_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}", 0, &len);
    uint8_t *c = malloc(len + 6);
    memcpy(c, b, len);
    memcpy(c + len, bytes, 6);
    assert_int_equal(vs_matrix_parse(c, len + 6, "npy", 0, &m), VS_OK);
    assert_int_equal(vs_matrix_to_f32(m), VS_OK);
    assert_int_equal(m->dtype, VS_DTYPE_F32);
    for (int i = 0; i < 6; i++) assert_true(((float *)m->data)[i] == (float)bytes[i]);
    /* F32 is a no-op. */
    assert_int_equal(vs_matrix_to_f32(m), VS_OK);
    assert_true(((float *)m->data)[4] == 255.0f);
    vs_matrix_free(m);
    free(c);
    free(b);

    int32_t ints[] = {0, -1, 2147483647, -2147483647 - 1, 16777217, 5};
    b = make_npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2)}", 0, &len);
    c = malloc(len + sizeof ints);
    memcpy(c, b, len);
    memcpy(c + len, ints, sizeof ints);
    assert_int_equal(vs_matrix_parse(c, len + sizeof ints, "npy", 0, &m), VS_OK);
    assert_int_equal(m->dtype, VS_DTYPE_I32);
    assert_int_equal(vs_matrix_to_f32(m), VS_OK);
    for (int i = 0; i < 6; i++) assert_true(((float *)m->data)[i] == (float)ints[i]);
    /* The converted matrix can be written as .fvecs. */
    assert_int_equal(vs_matrix_write(tpath("conv.fvecs"), m), VS_OK);
    vs_matrix *r = NULL;
    assert_int_equal(vs_matrix_read(tpath("conv.fvecs"), 0, &r), VS_OK);
    assert_matrix_equal(m, r);
    vs_matrix_free(r);
    vs_matrix_free(m);
    unlink(tpath("conv.fvecs"));
    free(c);
    free(b);

    vs_matrix bad = {1, 1, (vs_dtype)9, NULL};
    assert_int_equal(vs_matrix_to_f32(&bad), VS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_fvecs),
        cmocka_unit_test(test_roundtrip_ivecs),
        cmocka_unit_test(test_roundtrip_bvecs),
        cmocka_unit_test(test_roundtrip_npy_all_dtypes),
        cmocka_unit_test(test_roundtrip_large_chunked),
        cmocka_unit_test(test_max_dim_roundtrip),
        cmocka_unit_test(test_fvecs_file_layout),
        cmocka_unit_test(test_npy_written_header),
        cmocka_unit_test(test_extension_case_insensitive),
        cmocka_unit_test(test_idx3_read),
        cmocka_unit_test(test_npy_header_variants),
        cmocka_unit_test(test_max_rows_all_formats),
        cmocka_unit_test(test_max_rows_stops_before_damage),
        cmocka_unit_test(test_texmex_truncated_everywhere),
        cmocka_unit_test(test_texmex_inconsistent_dim),
        cmocka_unit_test(test_texmex_bad_dimension_values),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_unknown_extension),
        cmocka_unit_test(test_missing_and_unreadable),
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_read_from_fifo),
        cmocka_unit_test(test_npy_bad_magic_and_version),
        cmocka_unit_test(test_npy_header_length_bounds),
        cmocka_unit_test(test_npy_bad_headers),
        cmocka_unit_test(test_idx3_errors),
        cmocka_unit_test(test_write_dtype_mismatch),
        cmocka_unit_test(test_write_invalid_matrix),
        cmocka_unit_test(test_atomic_write_no_temp_left),
        cmocka_unit_test(test_failed_write_cleans_up),
        cmocka_unit_test(test_to_f32),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
