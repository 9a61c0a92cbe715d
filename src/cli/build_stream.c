/* Streaming build: the input is read in row ranges (io/vecstream.h), never whole, so the
 * build's memory is the training sample + one chunk + the index's in-memory part (codes,
 * IDs, centroids; with ",Ru8" the library's index appends the uint8 re-ranking rows straight
 * to its store, DIR/rerank.vsr, on disk: src/index/refine_u8.c).
 *
 * Training sample: train_rows rows taken at an even stride over the whole file (row
 * j * N / S), so a file sorted by anything still trains on all of it; the default is
 * min(N, max(65536, 64 * nlist)). With S = N it is every row in order, the same training
 * set as the in-memory build. k-means itself subsamples to 256 per centroid.
 *
 * Checkpoints (every checkpoint_rows rows, and once after training), in this order:
 * the partial index is saved as DIR/partial.vsi (vs_index_save: with ",Ru8" it commits the
 * store's rows first, then writes the index file atomically; its vector count is the rows
 * done), then DIR/build.ckpt is replaced atomically. build.ckpt names the input (size, mtime,
 * XXH3-64 of its first 4 KiB, rows, dimension) and the build's parameters; --resume refuses a
 * checkpoint whose input or parameters differ, loads partial.vsi (which opens the store and
 * reads the rows partial.vsi was saved with; the first add cuts off the rest) and continues
 * at that row. Adds are deterministic and append in row order, so a resumed
 * build writes the same index.vsi and rerank.vsr bytes as an uninterrupted one (tests/cli
 * kills a build mid-way and compares them).
 *
 * build.ckpt, little-endian, 160 bytes: magic "VSBLDCKP" | u32 version (1) | u32 dim |
 * u64 input size | i64 input mtime (ns) | u64 input head XXH3 | u64 input rows |
 * u64 chunk | u64 train rows | u64 checkpoint rows | u32 metric | u32 ru8 |
 * char factory[64] (NUL-padded) | u64 rows done | u64 XXH3-64 of bytes 0..143. */
#include "cli/build_stream.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "cli/cli.h"
#include "core/error.h"
#include "index/index_impl.h"
#include "index/rerank_u8.h"
#include "io/atomic_file.h"
#include "io/vecstream.h"

#define CKPT_MAGIC "VSBLDCKP"
#define CKPT_VERSION 1u
enum { CKPT_BYTES = 160, CKPT_SUMMED = 152 };

int cli_stream_input(const char *p)
{
    size_t n = strlen(p);
    return (n > 6 && !strcmp(p + n - 6, ".fvecs")) || (n > 6 && !strcmp(p + n - 6, ".bvecs")) ||
           (n > 4 && !strcmp(p + n - 4, ".npy"));
}

typedef struct {
    uint32_t dim, metric, ru8;
    uint64_t size, head, rows, chunk, train, every, done;
    int64_t mtime;
    char factory[64];
} ckpt;

static void ckpt_encode(const ckpt *c, uint8_t *b)
{
    memset(b, 0, CKPT_BYTES);
    memcpy(b, CKPT_MAGIC, 8);
    uint32_t v = CKPT_VERSION;
    memcpy(b + 8, &v, 4);
    memcpy(b + 12, &c->dim, 4);
    memcpy(b + 16, &c->size, 8);
    memcpy(b + 24, &c->mtime, 8);
    memcpy(b + 32, &c->head, 8);
    memcpy(b + 40, &c->rows, 8);
    memcpy(b + 48, &c->chunk, 8);
    memcpy(b + 56, &c->train, 8);
    memcpy(b + 64, &c->every, 8);
    memcpy(b + 72, &c->metric, 4);
    memcpy(b + 76, &c->ru8, 4);
    memcpy(b + 80, c->factory, 64);
    memcpy(b + 144, &c->done, 8);
    uint64_t sum = XXH3_64bits(b, CKPT_SUMMED);
    memcpy(b + 152, &sum, 8);
}

static int ckpt_write(const char *path, const ckpt *c)
{
    uint8_t b[CKPT_BYTES];
    ckpt_encode(c, b);
    vs_atomic_file *f;
    int rc = vs_atomic_open(path, &f);
    if (rc) return rc;
    rc = vs_atomic_write(f, b, sizeof b);
    if (rc) {
        vs_atomic_abort(f);
        return rc;
    }
    return vs_atomic_commit(f);
}

static int ckpt_read(const char *path, ckpt *c)
{
    FILE *f = fopen(path, "rb");
    if (!f) return vs_fail(VS_ERR_NOT_FOUND, "%s: no checkpoint to resume from (%s)", path, strerror(errno));
    uint8_t b[CKPT_BYTES + 1];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    uint64_t sum;
    memcpy(&sum, b + 152, 8);
    uint32_t v;
    memcpy(&v, b + 8, 4);
    if (n != CKPT_BYTES || memcmp(b, CKPT_MAGIC, 8))
        return vs_fail(VS_ERR_CORRUPT, "%s: not a build checkpoint (%zu bytes)", path, n);
    if (sum != XXH3_64bits(b, CKPT_SUMMED)) return vs_fail(VS_ERR_CORRUPT, "%s: checksum mismatch", path);
    if (v != CKPT_VERSION) return vs_fail(VS_ERR_VERSION, "%s: checkpoint version %u (this vecscale writes %u)", path, v, CKPT_VERSION);
    memcpy(&c->dim, b + 12, 4);
    memcpy(&c->size, b + 16, 8);
    memcpy(&c->mtime, b + 24, 8);
    memcpy(&c->head, b + 32, 8);
    memcpy(&c->rows, b + 40, 8);
    memcpy(&c->chunk, b + 48, 8);
    memcpy(&c->train, b + 56, 8);
    memcpy(&c->every, b + 64, 8);
    memcpy(&c->metric, b + 72, 4);
    memcpy(&c->ru8, b + 76, 4);
    memcpy(c->factory, b + 80, 64);
    c->factory[63] = '\0';
    memcpy(&c->done, b + 144, 8);
    return VS_OK;
}

/* What must agree for a resume: the input's identity and every parameter that shapes the file. */
static int ckpt_same_build(const ckpt *a, const ckpt *b, const char *path)
{
    if (a->size != b->size || a->mtime != b->mtime || a->head != b->head || a->rows != b->rows || a->dim != b->dim)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: the input changed since the checkpoint (checkpoint: %llu bytes, "
                       "%llu rows of %u, mtime %lld ns, head %016llx; now: %llu bytes, %llu rows of %u, mtime %lld ns, "
                       "head %016llx); start again without --resume", path, (unsigned long long)a->size,
                       (unsigned long long)a->rows, a->dim, (long long)a->mtime, (unsigned long long)a->head,
                       (unsigned long long)b->size, (unsigned long long)b->rows, b->dim, (long long)b->mtime,
                       (unsigned long long)b->head);
    if (a->chunk != b->chunk || a->train != b->train || a->every != b->every || a->metric != b->metric ||
        a->ru8 != b->ru8 || strcmp(a->factory, b->factory))
        return vs_fail(VS_ERR_INVALID_ARG, "%s: the checkpoint was made with other parameters (index \"%s\", "
                       "chunk %llu, train %llu); resume with the same ones", path, a->factory,
                       (unsigned long long)a->chunk, (unsigned long long)a->train);
    return VS_OK;
}

/* Test hook for tests/cli: the process kills itself (SIGKILL, as kill -9 would) once this many
 * rows have been added and their re-ranking rows written, before the next checkpoint. */
static size_t crash_at(void)
{
    const char *e = getenv("VS_BUILD_CRASH_AT_ROW");
    return e && *e ? (size_t)strtoull(e, NULL, 10) : 0;
}

static int train_on_sample(vs_index *ix, const vs_vecstream *in, size_t s)
{
    size_t *rows = malloc(s * sizeof *rows);
    float *x = malloc(s * in->dim * sizeof *x);
    int rc = rows && x ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory for a training sample of %zu rows", s);
    for (size_t j = 0; j < s && !rc; j++) rows[j] = (size_t)((unsigned __int128)j * in->n / s);
    if (!rc) rc = s == in->n ? vs_vecstream_read(in, 0, s, NULL, x) : vs_vecstream_gather(in, rows, s, x);
    free(rows);
    if (!rc) rc = vs_index_train(ix, s, x);
    free(x);
    return rc;
}

typedef struct {
    char ckpt[4200], partial[4200], index[4200], part[4200], store[4200];
} paths;

static int checkpoint(const paths *P, vs_index *ix, ckpt *c, size_t done)
{
    int rc = vs_index_save(ix, P->partial);
    c->done = done;
    if (!rc) rc = ckpt_write(P->ckpt, c);
    return rc;
}

int cli_build_stream(const cli_stream_build *b)
{
    double t0 = cli_now();
    vs_factory_spec fs = {.struct_size = sizeof fs};
    int rc = vs_factory_parse(b->spec, &fs);
    if (rc) return cli_fail("build", rc);
    const int ru8 = fs.refine_u8;
    vs_vecstream in;
    rc = vs_vecstream_open(b->input, b->max_rows, &in);
    if (rc) return cli_fail(b->input, rc);
    if (ru8 && in.dtype != VS_DTYPE_U8) {
        vs_vecstream_close(&in);
        return cli_usage_error("build", ",Ru8 re-ranks on the input's uint8 vectors: give a .bvecs or uint8 .npy input");
    }
    if (ru8 && b->metric == VS_METRIC_COSINE) {
        vs_vecstream_close(&in);
        return cli_usage_error("build", ",Ru8 supports --metric l2 or ip");
    }
    if (cli_mkdirs(b->output) != 0) {
        vs_vecstream_close(&in);
        fprintf(stderr, "vecscale: cannot create directory %s\n", b->output);
        return 1;
    }
    paths P;
    snprintf(P.ckpt, sizeof P.ckpt, "%s/build.ckpt", b->output);
    snprintf(P.partial, sizeof P.partial, "%s/partial.vsi", b->output);
    snprintf(P.index, sizeof P.index, "%s/index.vsi", b->output);
    snprintf(P.part, sizeof P.part, "%s/" VS_RU8_FILE ".part", b->output);
    snprintf(P.store, sizeof P.store, "%s/" VS_RU8_FILE, b->output);

    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = in.dim, .metric = b->metric,
                          .factory = b->spec, .n_threads = b->threads, .refine_store = P.store};
    vs_index *ix = NULL;
    float *x = NULL;
    size_t done = 0;
    ckpt want = {.dim = in.dim, .metric = (uint32_t)b->metric, .ru8 = (uint32_t)ru8, .size = in.file_size,
                 .head = in.head_hash, .rows = in.n, .chunk = b->chunk, .every = b->checkpoint_rows,
                 .mtime = in.mtime_ns};
    snprintf(want.factory, sizeof want.factory, "%s", b->spec);
    /* Whether the type trains, from an empty index of the base alone: creating the ",Ru8"
     * index itself would replace the store a resume needs. */
    vs_factory_spec bs = fs;
    bs.refine_u8 = 0;
    char base_spec[64];
    vs_factory_format(&bs, base_spec, sizeof base_spec);
    vs_index_options po = o;
    po.factory = base_spec;
    rc = vs_index_create(&po, &ix);
    if (rc) {
        vs_vecstream_close(&in);
        return cli_fail("create index", rc);
    }
    size_t train = 0;
    if (!vs_index_is_trained(ix)) {
        uint32_t nlist = 1;
        if (fs.coarse == VS_COARSE_IVF) nlist = fs.nlist;
        train = b->train_rows ? b->train_rows : (size_t)nlist * 64 > 65536 ? (size_t)nlist * 64 : 65536;
        if (train > in.n) train = in.n;
    }
    vs_index_free(ix);
    ix = NULL;
    want.train = train;
    int resumed = 0;
    if (b->resume) {
        ckpt have;
        rc = ckpt_read(P.ckpt, &have);
        if (!rc) rc = ckpt_same_build(&have, &want, P.ckpt);
        if (rc) goto out;
        if (access(P.partial, F_OK) == 0) {
            rc = vs_index_load(P.partial, &ix);
            if (rc) goto out;
            /* A loaded index gets default options; the build's threads apply to its adds. */
            ix->n_threads = b->threads;
            done = vs_index_size(ix);
            if (done < have.done || done > in.n) {
                rc = vs_fail(VS_ERR_CORRUPT, "%s holds %zu vectors but the checkpoint says %llu of %zu", P.partial,
                             done, (unsigned long long)have.done, in.n);
                goto out;
            }
            resumed = 1;
            fprintf(stderr, "resuming %s at row %zu of %zu\n", b->output, done, in.n);
        }
    } else {
        unlink(P.ckpt);
        unlink(P.partial);
        unlink(P.part); /* left by a build of an older vecscale */
    }
    if (b->resume && !resumed && access(P.ckpt, F_OK) != 0) {
        rc = vs_fail(VS_ERR_NOT_FOUND, "%s: nothing to resume", P.ckpt);
        goto out;
    }
    if (!resumed) {
        rc = vs_index_create(&o, &ix);
        if (rc) goto out;
    }
    if (!resumed && !vs_index_is_trained(ix)) {
        double tt = cli_now();
        rc = train_on_sample(ix, &in, train);
        if (rc) goto out;
        fprintf(stderr, "trained on %zu of %zu rows in %.1f s\n", train, in.n, cli_now() - tt);
    }
    const size_t every = b->checkpoint_rows && in.n > b->checkpoint_rows ? b->checkpoint_rows : 0;
    if (every && !resumed) {
        rc = checkpoint(&P, ix, &want, 0);
        if (rc) goto out;
    }
    x = malloc(b->chunk * in.dim * sizeof *x);
    if (!x) {
        rc = vs_fail(VS_ERR_NOMEM, "out of memory for a chunk of %zu rows", b->chunk);
        goto out;
    }
    size_t crash = crash_at(), since = 0;
    cli_progress bar;
    cli_progress_start(&bar, "adding", in.n);
    while (done < in.n && !rc) {
        size_t n = in.n - done < b->chunk ? in.n - done : b->chunk;
        rc = vs_vecstream_read(&in, done, n, NULL, x);
        if (!rc) rc = vs_index_add(ix, n, x, NULL);
        if (rc) break;
        done += n;
        since += n;
        if (crash && done >= crash) raise(SIGKILL);
        if (every && since >= every && done < in.n) {
            rc = checkpoint(&P, ix, &want, done);
            since = 0;
        }
        cli_progress_update(&bar, done);
    }
    cli_progress_finish(&bar);
    if (rc) goto out;
    /* Complete: the index (with its store), then the checkpoint goes (a crash in between
     * resumes at the end and redoes these same steps). */
    if (every) rc = checkpoint(&P, ix, &want, done);
    if (!rc) rc = vs_index_save(ix, P.index);
    if (rc) goto out;
    unlink(P.partial);
    unlink(P.ckpt);
    struct stat st;
    stat(P.index, &st);
    printf("built %s (%s, %s): %zu vectors of dimension %u in %.2f s, %.1f MiB on disk\n", P.index,
           vs_index_factory(ix),
           vs_metric_name(b->metric), vs_index_size(ix), vs_index_dim(ix), cli_now() - t0,
           (double)st.st_size / (1 << 20));
    if (ru8 && stat(P.store, &st) == 0)
        printf("re-ranking store %s: %zu uint8 vectors, %.1f MiB on disk (read in batches at search time, not held in RAM)\n",
               P.store, in.n, (double)st.st_size / (1 << 20));
out:
    free(x);
    vs_index_free(ix);
    vs_vecstream_close(&in);
    return rc ? cli_fail("build", rc) : 0;
}
