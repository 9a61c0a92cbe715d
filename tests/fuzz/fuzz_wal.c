/* Fuzzes write-ahead log replay (src/collection/wal.c + vs_collection_replay): the input,
 * after a valid log header, is the record stream of an empty 4-dimensional collection's log.
 * Records: ADD (1), DELETE (2) and ADD_KEYED (3: string ids, checked both ways after the open).
 * Each record's checksum is rewritten first (fuzz_common.h), so replay sees every record
 * instead of stopping at the first as a torn tail. Opening must succeed or fail with a
 * message, never crash or leak. After a successful open the harness checks the replay against
 * its own reading of the records: replay stops at the first record that is cut short or does
 * not raise the sequence number, the log is truncated right there, and applying the records
 * in order (adds, then deletes) gives exactly the collection's documents, vectors and texts;
 * a search answers consistently. A violated check aborts. Each input is written to a
 * temporary directory removed at exit. Built with -DVS_FUZZ_NO_MAIN only vs_fuzz_wal is
 * defined; test_fuzz_corpus replays tests/fuzz/corpus/wal/. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "fuzz_common.h"
#include "vecscale.h"

int vs_fuzz_wal(const uint8_t *data, size_t size);

vs_fuzz_stats vs_fuzz_wal_stats;

enum { D = 4, MODEL_CAP = 512, ABSENT = -1 };

static char dir[64];

static void cleanup(void)
{
    char p[128];
    static const char *const files[] = {"collection.vsc", "wal-1.log", "index-1.vsi", "LOCK"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0]) return;
    atexit(cleanup);
    snprintf(dir, sizeof dir, "/tmp/vecscale-fuzz-wal-XXXXXX");
    VS_FUZZ_CHECK(mkdtemp(dir) != NULL);
    vs_collection *c;
    vs_collection_options o = {.struct_size = sizeof(vs_collection_options), .dim = D, .metric = VS_METRIC_L2};
    VS_FUZZ_CHECK(vs_collection_create(dir, &o, &c) == VS_OK);
    VS_FUZZ_CHECK(vs_collection_close(c) == VS_OK);
}

/* What the log says the collection holds: documents in the order they were added. */
typedef struct {
    int64_t id;
    const uint8_t *vec; /* D float32, in the input */
    const uint8_t *text;
    int64_t text_len; /* ABSENT: no text */
    int live;
    const uint8_t *key; /* its string id (ADD_KEYED), or NULL */
    uint32_t key_len;
} doc;

typedef struct {
    doc d[MODEL_CAP];
    size_t n;
    int overflow; /* more documents than the model holds: skip the per-document checks */
} model;

static doc *find(model *m, int64_t id)
{
    for (size_t i = m->n; i-- > 0;)
        if (m->d[i].id == id && m->d[i].live) return &m->d[i];
    return NULL;
}

/* Applies one replayed record as the format defines it; the caller only gets here after the
 * collection accepted the whole log, so every record is well formed. */
static void apply(model *m, uint32_t type, const uint8_t *p, uint64_t len)
{
    if (type == 3) { /* keyed add: u32 k | k x (i64 id | u32 key length) | keys | an add payload */
        VS_FUZZ_CHECK(len >= 4 && (uint64_t)vs_fuzz_get32(p) * 12 + 4 <= len);
        uint64_t k = vs_fuzz_get32(p), at = 4 + k * 12;
        const uint8_t *key = p + at;
        for (uint64_t j = 0; j < k; j++) at += vs_fuzz_get32(p + 4 + j * 12 + 8);
        VS_FUZZ_CHECK(at <= len);
        size_t first = m->n;
        apply(m, 1, p + at, len - at);
        for (uint64_t j = 0; j < k; j++) {
            int64_t id = (int64_t)vs_fuzz_get64(p + 4 + j * 12);
            uint32_t kl = vs_fuzz_get32(p + 4 + j * 12 + 8);
            VS_FUZZ_CHECK(id >= VS_KEYED_ID_MIN); /* string ids live above every integer id */
            int named = 0; /* an accepted log never holds a string id without its document */
            for (size_t i = first; i < m->n; i++)
                if (m->d[i].id == id && !m->d[i].key) m->d[i].key = key, m->d[i].key_len = kl, named = 1;
            VS_FUZZ_CHECK(named || m->overflow);
            key += kl;
        }
        return;
    }
    if (type == 2) { /* delete: u32 n | i64 ids[n] */
        VS_FUZZ_CHECK(len >= 4 && len == 4 + (uint64_t)vs_fuzz_get32(p) * 8);
        for (uint64_t i = 0; i < vs_fuzz_get32(p); i++) {
            doc *d = find(m, (int64_t)vs_fuzz_get64(p + 4 + i * 8));
            if (d) d->live = 0;
        }
        return;
    }
    /* add: u32 n | u32 dim | i64 ids[n] | u32 text_len[n] | u32 meta_len[n] | f32 x[n][dim] | strings */
    VS_FUZZ_CHECK(type == 1 && len >= 8 && vs_fuzz_get32(p + 4) == D);
    uint64_t n = vs_fuzz_get32(p), at = 8 + n * 16 + n * D * 4;
    VS_FUZZ_CHECK(at <= len);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t tl = vs_fuzz_get32(p + 8 + n * 8 + i * 4), ml = vs_fuzz_get32(p + 8 + n * 12 + i * 4);
        uint64_t a = tl == UINT32_MAX ? 0 : tl, b = ml == UINT32_MAX ? 0 : ml;
        VS_FUZZ_CHECK(a + b <= len - at);
        int64_t id = (int64_t)vs_fuzz_get64(p + 8 + i * 8);
        VS_FUZZ_CHECK(id >= 0 && !find(m, id)); /* an add of a present ID must fail the open */
        if (m->n == MODEL_CAP) {
            m->overflow = 1;
        } else {
            m->d[m->n++] = (doc){id, p + 8 + n * 16 + i * D * 4, p + at, tl == UINT32_MAX ? (int64_t)ABSENT : (int64_t)tl, 1,
                                 NULL, 0};
        }
        at += a + b;
    }
}

static void on_doc(int64_t id, const char *text, const char *meta, void *ctx)
{
    (void)id;
    (void)meta;
    const doc *d = ctx;
    if (d->text_len == ABSENT) VS_FUZZ_CHECK(text == NULL);
    else VS_FUZZ_CHECK(text && memcmp(text, d->text, (size_t)d->text_len) == 0 && text[d->text_len] == 0);
}

static void check_against_log(vs_collection *c, const uint8_t *rec, size_t size)
{
    /* Replay as wal.c defines it: records in order while they fit and raise the sequence. */
    static model m;
    memset(&m, 0, sizeof m);
    size_t off = 0;
    uint64_t last_seq = 0;
    while (size - off >= 24) {
        uint64_t len = vs_fuzz_get32(rec + off), seq = vs_fuzz_get64(rec + off + 8);
        if (len > size - off - 24 || seq <= last_seq) break;
        apply(&m, vs_fuzz_get32(rec + off + 4), rec + off + 16, len);
        last_seq = seq;
        off += 24 + (size_t)len;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/wal-1.log", dir);
    struct stat st;
    VS_FUZZ_CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == 32 + off); /* the torn tail is cut */
    size_t live = 0;
    for (size_t i = 0; i < m.n; i++) live += m.d[i].live;
    if (m.overflow) return;
    VS_FUZZ_CHECK(vs_collection_size(c) == live);
    float v[D];
    for (size_t i = 0; i < m.n; i++) {
        const doc *d = &m.d[i];
        if (!d->live) {
            if (!find(&m, d->id)) VS_FUZZ_CHECK(vs_collection_get_vector(c, d->id, v) == VS_ERR_NOT_FOUND);
            continue;
        }
        VS_FUZZ_CHECK(vs_collection_get_vector(c, d->id, v) == VS_OK && memcmp(v, d->vec, sizeof v) == 0);
        VS_FUZZ_CHECK(vs_collection_with_doc(c, d->id, on_doc, (void *)d) == VS_OK);
        /* A string id names its document both ways; a document without one is its number. */
        char key[VS_KEY_MAX_BYTES + 1];
        int is_string = -1;
        VS_FUZZ_CHECK(vs_collection_key_of(c, d->id, key, sizeof key, &is_string) == VS_OK);
        VS_FUZZ_CHECK(is_string == (d->key != NULL));
        if (d->key) {
            int64_t back = -1;
            VS_FUZZ_CHECK(strlen(key) == d->key_len && memcmp(key, d->key, d->key_len) == 0);
            VS_FUZZ_CHECK(vs_collection_lookup_key(c, key, &back) == VS_OK && back == d->id);
        }
    }
}

int vs_fuzz_wal(const uint8_t *data, size_t size)
{
    setup();
    vs_fuzz_stats *st = &vs_fuzz_wal_stats;
    st->inputs++;
    uint8_t *rec = malloc(size ? size : 1);
    if (!rec) return 0;
    if (size) memcpy(rec, data, size);
    st->intact += !vs_fuzz_fix_wal_records(rec, size);
    /* Past the checksum: the first record fits, so the collection's record parser gets it. */
    st->past_checksum += size >= 24 && vs_fuzz_get32(rec) <= size - 24 && vs_fuzz_get64(rec + 8) > 0;
    char path[128];
    snprintf(path, sizeof path, "%s/wal-1.log", dir);
    uint8_t h[32] = {'V', 'S', 'W', 'A', 'L', 0, 0, 0, 1, 0, 0, 0, 32, 0, 0, 0, 1};
    uint64_t sum = XXH3_64bits(h, 24);
    memcpy(h + 24, &sum, 8);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    VS_FUZZ_CHECK(fd >= 0);
    VS_FUZZ_CHECK(write(fd, h, sizeof h) == (ssize_t)sizeof h);
    VS_FUZZ_CHECK(size == 0 || write(fd, rec, size) == (ssize_t)size);
    close(fd);
    vs_collection *c = NULL;
    int rc = vs_collection_open(dir, &c);
    if (rc != VS_OK) {
        VS_FUZZ_CHECK(c == NULL && vs_last_error()[0] != 0);
        free(rec);
        return 0;
    }
    st->accepted++;
    check_against_log(c, rec, size);
    size_t n = vs_collection_size(c);
    float q[D] = {0.5f, 0.25f, 0, 1}, d[3];
    int64_t ids[3];
    VS_FUZZ_CHECK(vs_collection_search(c, 1, q, 3, NULL, d, ids) == VS_OK);
    /* Found IDs come first, at most n of them, no repeats (finite vectors whose distances
     * overflow to infinity may be left out, so exactly min(n, 3) is not promised). */
    for (int i = 0; i < 3; i++) {
        VS_FUZZ_CHECK(ids[i] < 0 || (size_t)i < n);
        VS_FUZZ_CHECK(i == 0 || ids[i] < 0 || (ids[i - 1] >= 0 && ids[i] != ids[i - 1]));
    }
    VS_FUZZ_CHECK(vs_collection_close(c) == VS_OK);
    free(rec);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_wal(data, size); }
#endif
