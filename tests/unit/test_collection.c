/* Collections: add/search/get/remove, all-or-nothing errors, log replay after reopen, a torn
 * log tail, snapshots that compact the log, IVF staging then training, every index type. */
#include <fcntl.h>
#include <sys/stat.h>

#include "test_util.h"

enum { D = 8 };

static vs_collection *make(const char *dir, const char *factory, vs_metric m)
{
    vs_collection *c = NULL;
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D, .metric = m, .factory = factory, .model = "test-model"};
    assert_int_equal(vs_collection_create(dir, &o, &c), VS_OK);
    return c;
}

/* The nearest neighbour of each stored vector is itself. */
static void assert_finds(vs_collection *c, const float *x, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float s;
        int64_t got;
        vs_search_params p = {.struct_size = sizeof(vs_search_params), .ef_search = 64, .nprobe = 64};
        assert_int_equal(vs_collection_search(c, 1, x + i * D, 1, &p, &s, &got), VS_OK);
        assert_int_equal(got, ids[i]);
    }
}

typedef struct {
    char text[64], meta[64];
    int calls;
} doc_seen;

static void on_doc(int64_t id, const char *text, const char *meta, void *ctx)
{
    (void)id;
    doc_seen *s = ctx;
    snprintf(s->text, sizeof s->text, "%s", text ? text : "(null)");
    snprintf(s->meta, sizeof s->meta, "%s", meta ? meta : "(null)");
    s->calls++;
}

static void test_add_search_reopen(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_collection *c = make(dir, "Flat", VS_METRIC_L2);
    float *x = tu_random_vectors(100, D, 1);
    const char *texts[3] = {"alpha", NULL, "gamma"};
    const char *meta[3] = {"{\"k\":1}", "{}", NULL};
    int64_t got[3];
    assert_int_equal(vs_collection_add(c, 3, x, NULL, texts, meta, got), VS_OK);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[2], 2);
    int64_t ids[97];
    for (int i = 0; i < 97; i++) ids[i] = 1000 + i;
    assert_int_equal(vs_collection_add(c, 97, x + 3 * D, ids, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_size(c), 100);
    doc_seen s = {0};
    assert_int_equal(vs_collection_with_doc(c, 0, on_doc, &s), VS_OK);
    assert_string_equal(s.text, "alpha");
    assert_string_equal(s.meta, "{\"k\":1}");
    assert_int_equal(vs_collection_with_doc(c, 1, on_doc, &s), VS_OK);
    assert_string_equal(s.text, "(null)");
    assert_int_equal(vs_collection_with_doc(c, 5, on_doc, &s), VS_ERR_NOT_FOUND);
    size_t removed;
    int64_t del[2] = {1000, 424242};
    assert_int_equal(vs_collection_remove(c, 2, del, &removed), VS_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(vs_collection_close(c), VS_OK);

    /* Reopen: everything comes back from the log alone (no snapshot since create). */
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), 99);
    assert_int_equal(vs_collection_with_doc(c, 1000, on_doc, &s), VS_ERR_NOT_FOUND);
    assert_int_equal(vs_collection_with_doc(c, 2, on_doc, &s), VS_OK);
    assert_string_equal(s.text, "gamma");
    assert_finds(c, x + 4 * D, ids + 1, 96);
    /* Automatic IDs continue after the largest ever used. */
    assert_int_equal(vs_collection_add(c, 1, x, NULL, NULL, NULL, got), VS_OK);
    assert_int_equal(got[0], 1097);
    vs_collection_info info = {.struct_size = sizeof info};
    assert_int_equal(vs_collection_info_get(c, &info), VS_OK);
    assert_string_equal(info.model, "test-model");
    assert_int_equal(info.count, 100);
    assert_true(info.memory_bytes > 100 * D * 4);
    assert_int_equal(vs_collection_close(c), VS_OK);
    free(x);
    tu_rmdir(dir);
}

static void test_errors_change_nothing(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_collection *c = make(dir, "Flat", VS_METRIC_COSINE);
    float *x = tu_random_vectors(4, D, 2);
    int64_t ids[4] = {1, 2, 3, 4};
    assert_int_equal(vs_collection_add(c, 2, x, ids, NULL, NULL, NULL), VS_OK);
    int64_t dup[2] = {5, 2};
    assert_int_equal(vs_collection_add(c, 2, x + 2 * D, dup, NULL, NULL, NULL), VS_ERR_DUPLICATE_ID);
    int64_t twice[2] = {7, 7};
    assert_int_equal(vs_collection_add(c, 2, x + 2 * D, twice, NULL, NULL, NULL), VS_ERR_DUPLICATE_ID);
    x[2 * D + 3] = NAN;
    assert_int_equal(vs_collection_add(c, 2, x + 2 * D, ids + 2, NULL, NULL, NULL), VS_ERR_INVALID_ARG);
    float zero[D] = {0};
    assert_int_equal(vs_collection_add(c, 1, zero, ids + 3, NULL, NULL, NULL), VS_ERR_INVALID_ARG);
    int64_t neg = -3;
    assert_int_equal(vs_collection_add(c, 1, x, &neg, NULL, NULL, NULL), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_collection_size(c), 2);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), 2);
    /* A second opener (another server on the same data) is refused while the first has it. */
    vs_collection *c2 = NULL;
    assert_int_equal(vs_collection_open(dir, &c2), VS_ERR_IO);
    assert_non_null(strstr(vs_last_error(), "in use by another process"));
    assert_int_equal(vs_collection_close(c), VS_OK);
    /* Create refuses a directory that already holds a collection. */
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D};
    assert_int_equal(vs_collection_create(dir, &o, &c), VS_ERR_INVALID_ARG);
    o.factory = "NotAnIndex";
    char sub[600];
    snprintf(sub, sizeof sub, "%s/other", dir);
    assert_int_not_equal(vs_collection_create(sub, &o, &c), VS_OK);
    assert_int_equal(vs_collection_open("/nonexistent/vecscale", &c), VS_ERR_NOT_FOUND);
    free(x);
    tu_rmdir(dir);
}

static off_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void test_torn_tail_and_snapshot(void **state)
{
    (void)state;
    char *dir = tu_tempdir(), wal[700], wal2[700];
    vs_collection *c = make(dir, "HNSW16", VS_METRIC_L2);
    float *x = tu_random_vectors(300, D, 3);
    int64_t ids[300];
    for (int i = 0; i < 300; i++) ids[i] = i;
    for (int b = 0; b < 3; b++) assert_int_equal(vs_collection_add(c, 100, x + b * 100 * D, ids + b * 100, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    /* A crash in the middle of a write: half a record at the end. */
    snprintf(wal, sizeof wal, "%s/wal-1.log", dir);
    off_t before = file_size(wal);
    int fd = open(wal, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    uint8_t junk[40] = {200, 0, 0, 0, 1, 0, 0, 0, 4};
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(file_size(wal), before);
    assert_int_equal(vs_collection_size(c), 300);
    assert_finds(c, x, ids, 300);

    /* A snapshot starts generation 2 with an empty log; the old files go. */
    assert_int_equal(vs_collection_snapshot(c), VS_OK);
    snprintf(wal2, sizeof wal2, "%s/wal-2.log", dir);
    assert_int_equal(file_size(wal2), 32);
    assert_int_equal(access(wal, F_OK), -1);
    size_t removed;
    assert_int_equal(vs_collection_remove(c, 10, ids, &removed), VS_OK);
    assert_int_equal(removed, 10);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), 290);
    assert_finds(c, x + 10 * D, ids + 10, 290);
    /* The first write to a loaded HNSW index runs exclusively; more writes follow normally. */
    int64_t more[2] = {5000, 5001};
    assert_int_equal(vs_collection_add(c, 2, x, more, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_add(c, 1, x + D, ids, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), 293);
    assert_int_equal(vs_collection_close(c), VS_OK);

    /* A log shorter than its header is a creation cut short (a crash while a snapshot
     * switched logs): no record can be in it, so open starts it afresh. */
    assert_int_equal(truncate(wal2, 7), 0);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_size(c), 300); /* the snapshot, before the log's deletes */
    assert_int_equal(file_size(wal2), 32);
    assert_int_equal(vs_collection_add(c, 2, x, more, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);

    /* A bad log header is an error, not an empty collection. */
    fd = open(wal2, O_WRONLY);
    assert_int_equal(pwrite(fd, "X", 1, 0), 1);
    close(fd);
    assert_int_equal(vs_collection_open(dir, &c), VS_ERR_CORRUPT);
    free(x);
    tu_rmdir(dir);
}

/* The replicated log's position survives a reopen through the log, a snapshot, and a log
 * replayed over that snapshot; it only grows. */
static void test_log_position(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_collection *c = make(dir, "Flat", VS_METRIC_L2);
    float *x = tu_random_vectors(4, D, 5);
    int64_t ids[4] = {1, 2, 3, 4};
    assert_int_equal(vs_collection_log_position(c), 0);
    assert_int_equal(vs_collection_add(c, 2, x, ids, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_set_log_position(c, 7), VS_OK);
    assert_int_equal(vs_collection_set_log_position(c, 7), VS_OK);
    assert_int_equal(vs_collection_set_log_position(c, 6), VS_ERR_INVALID_ARG);
    assert_int_equal(vs_collection_log_position(c), 7);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK); /* from the log */
    assert_int_equal(vs_collection_log_position(c), 7);
    assert_int_equal(vs_collection_snapshot(c), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK); /* from collection.vsc */
    assert_int_equal(vs_collection_log_position(c), 7);
    assert_int_equal(vs_collection_size(c), 2);
    assert_int_equal(vs_collection_add(c, 2, x + 2 * D, ids + 2, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_set_log_position(c, 12), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK); /* snapshot 7, then the log's 12 */
    assert_int_equal(vs_collection_log_position(c), 12);
    assert_int_equal(vs_collection_size(c), 4);
    assert_int_equal(vs_collection_snapshot(c), VS_OK);
    assert_int_equal(vs_collection_log_position(c), 12);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_log_position(c), 12);
    assert_int_equal(vs_collection_close(c), VS_OK);
    free(x);
    tu_rmdir(dir);
}

static void test_ivf_trains_when_enough(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    vs_collection *c = NULL;
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D, .metric = VS_METRIC_L2, .factory = "IVF4,Flat", .train_min = 200};
    assert_int_equal(vs_collection_create(dir, &o, &c), VS_OK);
    float *x = tu_random_vectors(400, D, 4);
    int64_t ids[400];
    for (int i = 0; i < 400; i++) ids[i] = 10 * i;
    assert_int_equal(vs_collection_add(c, 150, x, ids, NULL, NULL, NULL), VS_OK);
    vs_collection_info info = {.struct_size = sizeof info};
    assert_int_equal(vs_collection_info_get(c, &info), VS_OK);
    assert_int_equal(info.trained, 0);
    assert_string_equal(info.factory, "IVF4,Flat");
    assert_finds(c, x, ids, 150); /* exact while staging */
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_add(c, 100, x + 150 * D, ids + 150, NULL, NULL, NULL), VS_OK);
    /* Enough vectors, but an add never trains: maintenance does, when asked. */
    assert_int_equal(vs_collection_info_get(c, &info), VS_OK);
    assert_int_equal(info.trained, 0);
    assert_finds(c, x, ids, 250);
    assert_int_equal(vs_collection_maintain(c), VS_OK);
    assert_int_equal(vs_collection_info_get(c, &info), VS_OK);
    assert_int_equal(info.trained, 1);
    assert_finds(c, x, ids, 250);
    assert_int_equal(vs_collection_snapshot(c), VS_OK);
    assert_int_equal(vs_collection_add(c, 150, x + 250 * D, ids + 250, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir, &c), VS_OK);
    assert_int_equal(vs_collection_info_get(c, &info), VS_OK);
    assert_int_equal(info.trained, 1);
    assert_int_equal(info.count, 400);
    assert_finds(c, x, ids, 400);
    assert_int_equal(vs_collection_close(c), VS_OK);
    /* A log that reaches train_min: staged in generation 1, trained at open (no add). */
    char *dir2 = tu_tempdir();
    assert_int_equal(vs_collection_create(dir2, &o, &c), VS_OK);
    assert_int_equal(vs_collection_add(c, 300, x, ids, NULL, NULL, NULL), VS_OK);
    assert_int_equal(vs_collection_close(c), VS_OK);
    assert_int_equal(vs_collection_open(dir2, &c), VS_OK);
    assert_int_equal(vs_collection_info_get(c, &info), VS_OK);
    assert_int_equal(info.trained, 1);
    assert_finds(c, x, ids, 300);
    assert_int_equal(vs_collection_close(c), VS_OK);
    free(x);
    tu_rmdir(dir);
    tu_rmdir(dir2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_search_reopen),
        cmocka_unit_test(test_errors_change_nothing),
        cmocka_unit_test(test_torn_tail_and_snapshot),
        cmocka_unit_test(test_ivf_trains_when_enough),
        cmocka_unit_test(test_log_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
