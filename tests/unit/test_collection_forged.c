/* Forged collection files: sections whose checksums were recomputed after their content was
 * changed (what a buggy writer or a hand-made file looks like) pass the container's checks;
 * open must still refuse duplicate, negative or unknown ids and non-finite vectors, with an
 * error that says which document and file. Each forgery rewrites one section of an intact
 * snapshot and recomputes every checksum; an unchanged rewrite must open. */
#include <math.h>

#include "test_util.h"

#include "io/container.h"

enum { D = 8, N = 10 };

typedef void (*mutate_fn)(uint8_t *data, uint64_t len);

/* Rewrites the container at path with section `tag` passed through fn (NULL: unchanged). */
static void forge(const char *path, uint32_t tag, mutate_fn fn)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)size);
    assert_int_equal(fread(b, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    vs_container *ct = malloc(sizeof *ct);
    assert_int_equal(vs_container_open(ct, b, (uint64_t)size, 0, path), VS_OK);
    vs_container_writer *w = NULL;
    assert_int_equal(vs_container_create(path, ct->kind, &w), VS_OK);
    int found = 0;
    for (uint32_t i = 0; i < ct->count; i++) {
        const vs_section *s = &ct->sections[i];
        uint8_t *copy = malloc(s->length + 1);
        memcpy(copy, b + s->offset, s->length);
        if (s->tag == tag && fn) {
            fn(copy, s->length);
            found = 1;
        }
        assert_int_equal(vs_container_add(w, s->tag, s->flags, copy, s->length), VS_OK);
        free(copy);
    }
    assert_int_equal(vs_container_commit(w), VS_OK);
    assert_true(found || !fn);
    free(ct);
    free(b);
}

static void dup_id(uint8_t *p, uint64_t len) { assert_true(len >= 16); memcpy(p + 8, p, 8); }
static void negative_id(uint8_t *p, uint64_t len) { int64_t v = -5; assert_true(len >= 32); memcpy(p + 24, &v, 8); }
static void unknown_id(uint8_t *p, uint64_t len) { int64_t v = 999; assert_true(len >= 40); memcpy(p + 32, &v, 8); }
static void nan_vector(uint8_t *p, uint64_t len)
{
    float v = NAN;
    assert_true(len >= (2 * D + 2) * 4);
    memcpy(p + (2 * D + 1) * 4, &v, 4);
}
static void inf_vector(uint8_t *p, uint64_t len)
{
    float v = INFINITY;
    assert_true(len >= (5 * D) * 4);
    memcpy(p + (5 * D - 1) * 4, &v, 4);
}

struct files {
    char dir[4096], index[4200], conf[4200];
    uint8_t *index_bytes, *conf_bytes;
    long index_len, conf_len;
};

static uint8_t *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)*len);
    assert_int_equal(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

static void put_back(const char *path, const uint8_t *b, long len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
}

/* Opens after a forgery: refused as corrupt, the message naming what. */
static void refused(struct files *fs, const char *path, uint32_t tag, mutate_fn fn, const char *needle)
{
    forge(path, tag, fn);
    vs_collection *c = NULL;
    int rc = vs_collection_open(fs->dir, &c);
    print_message("%s\n", rc ? vs_last_error() : "(opened)");
    assert_int_equal(rc, VS_ERR_CORRUPT);
    assert_non_null(strstr(vs_last_error(), needle));
    assert_null(c);
    put_back(fs->index, fs->index_bytes, fs->index_len);
    put_back(fs->conf, fs->conf_bytes, fs->conf_len);
}

static void run(const char *factory)
{
    struct files fs = {0};
    char *dir = tu_tempdir();
    snprintf(fs.dir, sizeof fs.dir, "%s", dir);
    vs_collection *c = NULL;
    vs_collection_options o = {.dim = D, .metric = VS_METRIC_L2, .factory = factory, .train_min = N};
    assert_int_equal(vs_collection_create(dir, &o, &c), VS_OK);
    float *x = tu_random_vectors(N, D, 21);
    int64_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = i;
    assert_int_equal(vs_collection_add(c, N, x, ids, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_maintain(c), VS_OK); /* IVF: trains */
    assert_int_equal(vs_collection_snapshot(c), VS_OK);
    vs_collection_info in = {.struct_size = sizeof in};
    assert_int_equal(vs_collection_info_get(c, &in), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    snprintf(fs.index, sizeof fs.index, "%s/index-%llu.vsi", dir, (unsigned long long)in.generation);
    snprintf(fs.conf, sizeof fs.conf, "%s/collection.vsc", dir);
    fs.index_bytes = slurp(fs.index, &fs.index_len);
    fs.conf_bytes = slurp(fs.conf, &fs.conf_len);

    /* The rewrite itself is sound: unchanged, it opens and finds every document. */
    forge(fs.index, 0, NULL);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), N);
    vs_collection_close(c);

    int flat = !strcmp(factory, "Flat");
    uint32_t ids_tag = flat ? VS_TAG('F', 'I', 'D', 'S') : VS_TAG('I', 'I', 'D', 'S');
    uint32_t vec_tag = flat ? VS_TAG('F', 'V', 'E', 'C') : VS_TAG('I', 'V', 'E', 'C');
    refused(&fs, fs.index, ids_tag, dup_id, "duplicate id");
    refused(&fs, fs.index, ids_tag, negative_id, "holds no vector for document");
    refused(&fs, fs.index, ids_tag, unknown_id, "holds no vector for document");
    refused(&fs, fs.index, vec_tag, nan_vector, "is not finite");
    refused(&fs, fs.index, vec_tag, inf_vector, "is not finite");
    /* The documents' own ids (collection.vsc): duplicate and negative. */
    refused(&fs, fs.conf, VS_TAG('D', 'I', 'D', 'S'), dup_id, "document 1 repeats an id");
    refused(&fs, fs.conf, VS_TAG('D', 'I', 'D', 'S'), negative_id, "document 3 has a negative id");

    /* Put back: the intact files open again. */
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), N);
    vs_collection_close(c);
    free(fs.index_bytes);
    free(fs.conf_bytes);
    free(x);
    tu_rmdir(dir);
}

static void test_forged_flat(void **state)
{
    (void)state;
    run("Flat");
}

static void test_forged_ivf(void **state)
{
    (void)state;
    run("IVF2,Flat");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_flat),
        cmocka_unit_test(test_forged_ivf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
