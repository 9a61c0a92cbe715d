/* String ids of collections (vecscale.h, "Document ids"): the rule (what is an integer, what is
 * refused), keyed adds mixed with integers, lookups both ways, duplicates, removal, reopen by
 * log replay and by snapshot, a torn keyed record, internal ids never reused, and the key map
 * itself against a reference under random inserts and removals. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "test_util.h"

#include "collection/keymap.h"

enum { D = 4 };
#define K0 VS_KEYED_ID_MIN

static vs_collection *make(const char *dir, const char *factory)
{
    vs_collection *c = NULL;
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D, .metric = VS_METRIC_L2, .factory = factory};
    assert_int_equal(vs_collection_create(dir, &o, &c), VS_OK);
    return c;
}

static void test_key_rule(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int rc;
        int64_t as_int;
    } cases[] = {
        {"17", VS_OK, 17}, {"0", VS_OK, 0}, {"4611686018427387903", VS_OK, K0 - 1},
        {"4611686018427387904", VS_OK, -1}, /* 2^62: beyond integer ids, so a string id */
        {"99999999999999999999", VS_OK, -1}, {"017", VS_OK, -1}, {"+17", VS_OK, -1}, {"17.0", VS_OK, -1},
        {"-1", VS_OK, -1}, {" 17", VS_OK, -1}, {"doc-17", VS_OK, -1}, {"\xc3\xa9t\xc3\xa9", VS_OK, -1},
        {"", VS_ERR_INVALID_ARG, -1}, {"bad\xff", VS_ERR_INVALID_ARG, -1},
        {"\xc0\x80", VS_ERR_INVALID_ARG, -1} /* overlong NUL */, {"\xed\xa0\x80", VS_ERR_INVALID_ARG, -1} /* surrogate */,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = 12345;
        int rc = vs_collection_key_check(cases[i].key, &v);
        if (rc != cases[i].rc || v != cases[i].as_int)
            fail_msg("'%s': rc %d id %lld, want %d %lld", cases[i].key, rc, (long long)v, cases[i].rc,
                     (long long)cases[i].as_int);
    }
    char k[300];
    memset(k, 'a', sizeof k);
    k[256] = 0;
    assert_int_equal(vs_collection_key_check(k, NULL), VS_OK);
    k[256] = 'a';
    k[257] = 0;
    assert_int_equal(vs_collection_key_check(k, NULL), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "at most 256 bytes (this one has 257)"));
    assert_int_equal(vs_collection_key_check(NULL, NULL), VS_ERR_INVALID_ARG);
}

typedef struct {
    char text[64];
    int calls;
} seen;

static void on_doc(int64_t id, const char *text, const char *meta, void *ctx)
{
    (void)id;
    (void)meta;
    seen *s = ctx;
    snprintf(s->text, sizeof s->text, "%s", text ? text : "(null)");
    s->calls++;
}

static void expect_key(vs_collection *c, const char *key, int64_t id, int is_string, const char *text)
{
    int64_t got = -1;
    if (vs_collection_lookup_key(c, key, &got)) fail_msg("lookup '%s': %s", key, vs_last_error());
    assert_int_equal(got, id);
    char buf[VS_KEY_MAX_BYTES + 1];
    int str = -1;
    assert_int_equal(vs_collection_key_of(c, id, buf, sizeof buf, &str), VS_OK);
    assert_string_equal(buf, key);
    assert_int_equal(str, is_string);
    seen s = {0};
    assert_int_equal(vs_collection_with_doc(c, id, on_doc, &s), VS_OK);
    assert_string_equal(s.text, text);
}

static void expect_absent(vs_collection *c, const char *key)
{
    int64_t got;
    assert_int_equal(vs_collection_lookup_key(c, key, &got), VS_ERR_NOT_FOUND);
}

static void test_keyed_add(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_collection *c = make(dir, "Flat");
    float *x = tu_random_vectors(16, D, 3);
    const char *keys[5] = {"doc-a", "17", NULL, "doc-b", "\xc3\xa9"};
    const char *texts[5] = {"a", "seventeen", "auto", "b", "e"};
    int64_t ids[5];
    assert_int_equal(vs_collection_add_keyed(c, 5, x, keys, texts, NULL, ids), VS_OK);
    /* String ids from 2^62 up; "17" is 17; the automatic id follows the batch's largest integer. */
    assert_int_equal(ids[0], K0);
    assert_int_equal(ids[1], 17);
    assert_int_equal(ids[2], 18);
    assert_int_equal(ids[3], K0 + 1);
    assert_int_equal(ids[4], K0 + 2);
    expect_key(c, "doc-a", K0, 1, "a");
    expect_key(c, "17", 17, 0, "seventeen");
    expect_key(c, "18", 18, 0, "auto");
    expect_key(c, "\xc3\xa9", K0 + 2, 1, "e");
    expect_absent(c, "017");
    /* Search returns internal ids; key_of names them. */
    float dist;
    int64_t hit;
    assert_int_equal(vs_collection_search(c, 1, x + 3 * D, 1, NULL, &dist, &hit), VS_OK);
    assert_int_equal(hit, K0 + 1);
    char small[4];
    assert_int_equal(vs_collection_key_of(c, K0 + 1, small, sizeof small, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_collection_key_of(c, 999, small, sizeof small, NULL), VS_ERR_NOT_FOUND);
    /* Automatic integer ids are not pushed past 2^62 by internal ids. */
    int64_t next;
    assert_int_equal(vs_collection_add(c, 1, x + 5 * D, NULL, NULL, NULL, &next), VS_OK);
    assert_int_equal(next, 19);
    /* All or nothing: each of these changes nothing. */
    size_t before = vs_collection_size(c);
    const char *dup_existing[2] = {"fresh", "doc-a"}, *dup_batch[2] = {"x", "x"}, *dup_int[1] = {"17"},
               *dup_int_batch[2] = {"40", NULL}, *bad[2] = {"fine", ""};
    assert_int_equal(vs_collection_add_keyed(c, 2, x, dup_existing, NULL, NULL, NULL), VS_ERR_DUPLICATE_ID);
    assert_non_null(strstr(vs_last_error(), "\"doc-a\" already exists"));
    assert_int_equal(vs_collection_add_keyed(c, 2, x, dup_batch, NULL, NULL, NULL), VS_ERR_DUPLICATE_ID);
    assert_int_equal(vs_collection_add_keyed(c, 1, x, dup_int, NULL, NULL, NULL), VS_ERR_DUPLICATE_ID);
    int64_t ints[2] = {40, 40};
    assert_int_equal(vs_collection_add(c, 2, x, ints, NULL, NULL, NULL), VS_ERR_DUPLICATE_ID);
    assert_int_equal(vs_collection_add_keyed(c, 2, x, dup_int_batch, NULL, NULL, NULL), VS_OK); /* 40, then 41 */
    before += 2;
    assert_int_equal(vs_collection_add_keyed(c, 2, x, bad, NULL, NULL, NULL), VS_ERR_INVALID_ARG);
    assert_non_null(strstr(vs_last_error(), "id 1 of the batch: an id must not be an empty string"));
    expect_absent(c, "fresh");
    expect_absent(c, "fine");
    expect_absent(c, "x");
    int64_t huge = K0;
    assert_int_equal(vs_collection_add(c, 1, x, &huge, NULL, NULL, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_collection_size(c), before);
    expect_key(c, "41", 41, 0, "(null)");
    assert_int_equal(vs_collection_close(c), VS_OK);
    free(x);
    tu_rmdir(dir);
}

static void test_remove_reopen(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_collection *c = make(dir, "HNSW8");
    float *x = tu_random_vectors(8, D, 5);
    const char *keys[4] = {"a", "b", "c", "5"};
    const char *texts[4] = {"ta", "tb", "tc", "t5"};
    assert_int_equal(vs_collection_add_keyed(c, 4, x, keys, texts, NULL, NULL), VS_OK);
    size_t removed = 9;
    const char *gone[3] = {"a", "missing", "5"};
    assert_int_equal(vs_collection_remove_keys(c, 3, gone, &removed), VS_OK);
    assert_int_equal(removed, 2);
    const char *badkeys[1] = {""};
    assert_int_equal(vs_collection_remove_keys(c, 1, badkeys, &removed), VS_ERR_INVALID_ARG);
    expect_absent(c, "a");
    assert_int_equal(vs_collection_close(c), VS_OK);

    /* Log replay. */
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), 2);
    expect_absent(c, "a");
    expect_absent(c, "5");
    expect_key(c, "b", K0 + 1, 1, "tb");
    expect_key(c, "c", K0 + 2, 1, "tc");
    /* "a" may be added again, under a new internal id (never reused). */
    const char *again[1] = {"a"};
    int64_t id;
    assert_int_equal(vs_collection_add_keyed(c, 1, x + 4 * D, again, texts, NULL, &id), VS_OK);
    assert_int_equal(id, K0 + 3);
    assert_int_equal(vs_collection_snapshot(c), VS_OK);
    const char *post[1] = {"after-snapshot"};
    assert_int_equal(vs_collection_add_keyed(c, 1, x + 5 * D, post, NULL, NULL, &id), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);

    /* Snapshot section + the new log. */
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), 4);
    expect_key(c, "a", K0 + 3, 1, "ta");
    expect_key(c, "b", K0 + 1, 1, "tb");
    expect_key(c, "after-snapshot", K0 + 4, 1, "(null)");
    float dist;
    int64_t hit;
    assert_int_equal(vs_collection_search(c, 1, x + 2 * D, 1, NULL, &dist, &hit), VS_OK);
    assert_int_equal(hit, K0 + 2);
    assert_int_equal(vs_collection_snapshot(c), VS_OK); /* a snapshot over a snapshot with keys */
    const char *gone2[1] = {"b"};
    assert_int_equal(vs_collection_remove_keys(c, 1, gone2, &removed), VS_OK);
    const char *post2[1] = {"z"};
    assert_int_equal(vs_collection_add_keyed(c, 1, x + 6 * D, post2, NULL, NULL, &id), VS_OK);
    assert_int_equal(id, K0 + 5);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    expect_absent(c, "b");
    expect_key(c, "z", K0 + 5, 1, "(null)");
    expect_key(c, "c", K0 + 2, 1, "tc");
    assert_int_equal(vs_collection_close(c), VS_OK);
    free(x);
    tu_rmdir(dir);
}

/* A keyed add cut short by a crash: neither the document nor its key comes back, and the key
 * is free again. */
static void test_torn_keyed_record(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), wal[1100];
    vs_collection *c = make(dir, "Flat");
    float *x = tu_random_vectors(4, D, 9);
    const char *k1[1] = {"kept"}, *k2[1] = {"torn"};
    assert_int_equal(vs_collection_add_keyed(c, 1, x, k1, NULL, NULL, NULL), VS_OK);
    snprintf(wal, sizeof wal, "%s/wal-1.log", dir);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);
    off_t keep = st.st_size;
    assert_int_equal(vs_collection_add_keyed(c, 1, x + D, k2, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(stat(wal, &st), 0);
    for (off_t cut = keep + 1; cut < st.st_size; cut += (st.st_size - keep) / 5) {
        assert_int_equal(truncate(wal, cut), 0);
        assert_int_equal(vs_collection_open(dir, &c), VS_OK);
        assert_int_equal(vs_collection_size(c), 1);
        expect_key(c, "kept", K0, 1, "(null)");
        expect_absent(c, "torn");
        assert_int_equal(vs_collection_close(c), VS_OK);
    }
    free(x);
    tu_rmdir(dir);
}

/* A keyed log record that does not hold together is refused at open (VS_ERR_CORRUPT), never
 * half applied: its string id names no document of the record, or is not valid UTF-8. The
 * record is rewritten with a correct checksum so replay judges its content, not its bytes. */
static void test_corrupt_keyed_record(void **state)
{
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        char *dir = tu_tempdir(), wal[1100];
        vs_collection *c = make(dir, "Flat");
        float *x = tu_random_vectors(2, D, 4);
        const char *k[1] = {"x"};
        assert_int_equal(vs_collection_add_keyed(c, 1, x, k, NULL, NULL, NULL), VS_OK);
        assert_int_equal(vs_collection_close(c), VS_OK);
        snprintf(wal, sizeof wal, "%s/wal-1.log", dir);
        FILE *f = fopen(wal, "r+b");
        assert_non_null(f);
        uint8_t b[512];
        size_t n = fread(b, 1, sizeof b, f);
        uint8_t *rec = b + 32, *p = rec + 16; /* record: u32 len | u32 type | u64 seq | payload | u64 sum */
        uint32_t len;
        memcpy(&len, rec, 4);
        assert_int_equal(n, 32 + 24 + len);
        int64_t id;
        memcpy(&id, p + 4, 8);
        assert_int_equal(id, K0);
        if (variant == 0) id = K0 + 7; /* a string id for a document the record does not add */
        if (variant == 1) p[16] = 0xff; /* the key "x" as invalid UTF-8 */
        if (variant == 2) id = 5;       /* below 2^62: not an internal id of a string id */
        memcpy(p + 4, &id, 8);
        uint64_t sum = XXH3_64bits(rec, 16 + len);
        memcpy(rec + 16 + len, &sum, 8);
        fseek(f, 0, SEEK_SET);
        assert_int_equal(fwrite(b, 1, n, f), n);
        fclose(f);
        c = NULL;
        assert_int_equal(vs_collection_open(dir, &c), VS_ERR_CORRUPT);
        assert_null(c);
        assert_non_null(strstr(vs_last_error(), "keyed add record"));
        free(x);
        tu_rmdir(dir);
    }
}

/* Internal ids from 2^62 up work in every index kind (ids stored in lists, codes, graphs), before
 * and after an IVF index trains, and after a reopen. */
static void test_every_index_kind(void **state)
{
    (void)state;
    static const char *const factories[] = {"Flat", "HNSW8", "HNSW8,SQ8", "IVF4,Flat", "IVF4,SQ8", "IVF4,PQ2", "PQ2"};
    enum { N = 120, DIM = 8 };
    float *x = tu_random_vectors(N, DIM, 11);
    char names[N][16];
    const char *keys[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "key-%d", i);
        keys[i] = names[i];
    }
    for (size_t f = 0; f < sizeof factories / sizeof factories[0]; f++) {
        char *dir = tu_tempdir();
        vs_collection *c = NULL;
        vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = DIM, .metric = VS_METRIC_L2, .factory = factories[f], .train_min = 64};
        assert_int_equal(vs_collection_create(dir, &o, &c), VS_OK);
        assert_int_equal(vs_collection_add_keyed(c, 50, x, keys, NULL, NULL, NULL), VS_OK); /* staging for IVF */
        assert_int_equal(vs_collection_add_keyed(c, N - 50, x + 50 * DIM, keys + 50, NULL, NULL, NULL), VS_OK);
        for (int round = 0; round < 2; round++) {
            int self = 0;
            for (int i = 0; i < N; i++) {
                float dist;
                int64_t hit;
                vs_search_params p = {.struct_size = sizeof(vs_search_params), .nprobe = 4, .ef_search = 64};
                assert_int_equal(vs_collection_search(c, 1, x + i * DIM, 1, &p, &dist, &hit), VS_OK);
                char buf[VS_KEY_MAX_BYTES + 1];
                int is_string = 0;
                assert_int_equal(vs_collection_key_of(c, hit, buf, sizeof buf, &is_string), VS_OK);
                assert_true(is_string);
                self += !strcmp(buf, keys[i]);
                int64_t id;
                assert_int_equal(vs_collection_lookup_key(c, keys[i], &id), VS_OK);
                assert_int_equal(id, K0 + i);
            }
            /* Quantised kinds may miss a few; exact ones find every vector itself. */
            print_message("%-10s %s: %d of %d find themselves\n", factories[f], round ? "reopened" : "built   ", self, N);
            assert_true(self >= N * 8 / 10);
            if (!strcmp(factories[f], "Flat") || !strcmp(factories[f], "IVF4,Flat")) assert_int_equal(self, N);
            assert_int_equal(vs_collection_close(c), VS_OK);
            assert_int_equal(vs_collection_open(dir, &c), VS_OK);
        }
        assert_int_equal(vs_collection_close(c), VS_OK);
        tu_rmdir(dir);
    }
    free(x);
}

/* The key map under random puts and removals, against a plain array. */
static void test_keymap_random(void **state)
{
    (void)state;
    enum { N = 3000 };
    vs_keymap m;
    assert_int_equal(vs_keymap_init(&m), VS_OK);
    static int64_t ref[N]; /* id of key i, or -1 */
    char key[32];
    uint64_t r = 88172645463325252ull;
    for (int i = 0; i < N; i++) ref[i] = -1;
    int64_t next = K0;
    for (int step = 0; step < 40000; step++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int i = (int)(r % N);
        snprintf(key, sizeof key, "k%d", i);
        if (ref[i] < 0) {
            assert_int_equal(vs_keymap_reserve(&m, 1), VS_OK);
            assert_int_equal(vs_keymap_put(&m, key, strlen(key), next), VS_OK);
            ref[i] = next++;
        } else {
            assert_int_equal(vs_keymap_remove_id(&m, ref[i]), 1);
            ref[i] = -1;
        }
        if (step % 4000 == 0 || step == 39999) {
            size_t live = 0;
            for (int j = 0; j < N; j++) {
                snprintf(key, sizeof key, "k%d", j);
                int64_t id = -1;
                int found = vs_keymap_find(&m, key, strlen(key), &id);
                assert_int_equal(found, ref[j] >= 0);
                if (found) {
                    assert_int_equal(id, ref[j]);
                    const vs_keyent *e = vs_keymap_of(&m, id);
                    assert_non_null(e);
                    assert_string_equal(e->key, key);
                    live++;
                }
            }
            assert_int_equal(live, m.count);
        }
    }
    assert_true(m.next_id == next);
    vs_keymap_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_rule),
        cmocka_unit_test(test_keyed_add),
        cmocka_unit_test(test_remove_reopen),
        cmocka_unit_test(test_torn_keyed_record),
        cmocka_unit_test(test_corrupt_keyed_record),
        cmocka_unit_test(test_every_index_kind),
        cmocka_unit_test(test_keymap_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
