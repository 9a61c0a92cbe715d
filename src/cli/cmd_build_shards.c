/* `vecscale build --shards N --output s3://...`: the distributed build. One coarse quantizer
 * (and PQ/SQ codebooks) is trained once on a sample; every shard's collection starts from a
 * copy of that trained, empty index and receives the rows whose ID vs_shard_of assigns to it
 * (the router's rule), and is published as the snapshot s3://.../shard-K that `vecscale serve
 * --cluster --snapshot-uri` restores on the nodes the shard map gives shard K. Because every
 * shard shares the quantizer, probing the same lists on every shard and merging finds what one
 * index over all rows finds. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "storage/snapshot_data.h"
#include "core/error.h"

static const char *HELP =
    "usage: vecscale build --input FILE --shards N --output s3://BUCKET/PREFIX [--index SPEC]\n"
    "                      [--metric l2|ip|cosine] [--max-rows N] [--threads N] [--train-size N]\n"
    "                      [--collection default] [--work DIR] [--create-bucket]\n"
    "                      [--s3-endpoint URL] [--s3-region NAME] [--s3-profile NAME]\n\n"
    "Trains SPEC once on --train-size rows (default all, at most 262144, evenly spread), then\n"
    "builds N collections that share that training: shard K holds the rows whose ID (the row\n"
    "number) vs_shard_of maps to K, the rule the router routes adds by. Each is published as the\n"
    "snapshot s3://BUCKET/PREFIX/shard-K, which 'vecscale serve --cluster ... --node-id ID\n"
    "--snapshot-uri s3://BUCKET/PREFIX' restores on the nodes the etcd shard map assigns to K.\n"
    "Shards are built one at a time in --work (default: a temporary directory in $TMPDIR or\n"
    "/tmp), removed once published.\n";

enum { ADD_CHUNK = 16384, DEFAULT_TRAIN_MAX = 262144 };

typedef struct {
    const char *input, *output, *spec, *metric_name, *collection, *work;
    uint32_t shards, max_rows, threads, train_size;
    int create_bucket;
    vs_s3_options s3;
} build_args;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* The shared training: every shard gets an identical copy of this (empty) index. */
static int train_once(const build_args *a, const vs_matrix *m, vs_metric metric, const char *trained_path,
                      int *trained)
{
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = m->dim, .metric = metric, .factory = a->spec, .n_threads = a->threads};
    vs_index *ix;
    int rc = vs_index_create(&o, &ix);
    if (rc) return rc;
    *trained = !vs_index_is_trained(ix);
    if (*trained) {
        size_t n = a->train_size ? a->train_size : DEFAULT_TRAIN_MAX;
        if (n > m->n) n = m->n;
        float *sample = malloc(n * m->dim * sizeof *sample);
        if (!sample) rc = vs_fail(VS_ERR_NOMEM, "out of memory for the training sample");
        /* Evenly spread rows: deterministic, and not biased to the file's first part. */
        for (size_t i = 0; sample && i < n; i++)
            memcpy(sample + i * m->dim, (const float *)m->data + (i * m->n / n) * m->dim, m->dim * sizeof(float));
        double t0 = cli_now();
        if (!rc) rc = vs_index_train(ix, n, sample);
        free(sample);
        if (!rc) printf("trained %s on %zu of %zu rows in %.2f s\n", vs_index_factory(ix), n, m->n, cli_now() - t0);
        if (!rc) rc = vs_index_save(ix, trained_path);
    }
    vs_index_free(ix);
    return rc;
}

static int build_shard(const build_args *a, const vs_matrix *m, vs_metric metric, const char *trained_path,
                       int trained, uint32_t k, const char *dir)
{
    vs_index *ix = NULL;
    vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = m->dim, .metric = metric, .factory = a->spec, .n_threads = a->threads};
    int rc = trained ? vs_index_load(trained_path, &ix) : vs_index_create(&o, &ix);
    if (rc) return rc;
    char cdir[4400];
    snprintf(cdir, sizeof cdir, "%s/collections/%s", dir, a->collection);
    vs_collection_options co = {.struct_size = sizeof(vs_collection_options), .dim = m->dim, .metric = metric, .factory = a->spec, .n_threads = a->threads};
    vs_collection *c = NULL;
    rc = vs_collection_create_with_index(cdir, &co, ix, &c);
    if (rc) {
        vs_index_free(ix);
        return rc;
    }
    float *buf = malloc((size_t)ADD_CHUNK * m->dim * sizeof *buf);
    int64_t *ids = malloc(ADD_CHUNK * sizeof *ids);
    if (!buf || !ids) rc = vs_fail(VS_ERR_NOMEM, "out of memory");
    size_t n = 0, total = 0;
    for (size_t i = 0; !rc && i <= m->n; i++) {
        if (n == ADD_CHUNK || (i == m->n && n)) {
            rc = vs_collection_add(c, n, buf, ids, NULL, NULL, NULL);
            total += n;
            n = 0;
        }
        if (i == m->n || vs_shard_of((int64_t)i, a->shards) != k) continue;
        memcpy(buf + n * m->dim, (const float *)m->data + i * m->dim, m->dim * sizeof(float));
        ids[n++] = (int64_t)i;
    }
    free(buf);
    free(ids);
    if (!rc) rc = vs_collection_snapshot(c);
    int crc = vs_collection_close(c);
    if (!rc) rc = crc;
    if (!rc) printf("shard %u: %zu vectors\n", k, total);
    return rc;
}

static int parse(int argc, char **argv, build_args *a)
{
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'},     {"output", required_argument, 0, 'o'},
        {"index", required_argument, 0, 'x'},     {"metric", required_argument, 0, 'm'},
        {"max-rows", required_argument, 0, 'n'},  {"threads", required_argument, 0, 't'},
        {"shards", required_argument, 0, 's'},    {"train-size", required_argument, 0, 'T'},
        {"collection", required_argument, 0, 'c'}, {"work", required_argument, 0, 'w'},
        {"create-bucket", no_argument, 0, 'B'},   {"s3-endpoint", required_argument, 0, 'e'},
        {"s3-region", required_argument, 0, 'r'}, {"s3-profile", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:o:x:m:n:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': a->input = optarg; break;
        case 'o': a->output = optarg; break;
        case 'x': a->spec = optarg; break;
        case 'm': a->metric_name = optarg; break;
        case 'n':
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &a->max_rows)) return cli_usage_error("build", "bad --max-rows '%s'", optarg);
            break;
        case 't':
            if (cli_parse_u32(optarg, 1, 1024, &a->threads)) return cli_usage_error("build", "bad --threads '%s'", optarg);
            break;
        case 's':
            if (cli_parse_u32(optarg, 1, 4096, &a->shards)) return cli_usage_error("build", "--shards takes 1..4096");
            break;
        case 'T':
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &a->train_size)) return cli_usage_error("build", "bad --train-size '%s'", optarg);
            break;
        case 'c': a->collection = optarg; break;
        case 'w': a->work = optarg; break;
        case 'B': a->create_bucket = 1; break;
        case 'e': a->s3.endpoint = optarg; break;
        case 'r': a->s3.region = optarg; break;
        case 'p': a->s3.profile = optarg; break;
        case 'h': fputs(HELP, stdout); return -1;
        default: return cli_usage_error("build", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("build", "unexpected argument '%s'", argv[optind]);
    if (!a->input || !a->output || !a->shards)
        return cli_usage_error("build", "--input, --shards and --output s3://BUCKET/PREFIX are required");
    return 0;
}

int cmd_build_shards(int argc, char **argv)
{
    build_args a = {.spec = "Flat", .metric_name = "l2", .collection = "default", .threads = 1};
    vs_s3_options_init(&a.s3);
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    char bucket[64], prefix[1024];
    if (vs_s3_parse_uri(a.output, bucket, sizeof bucket, prefix, sizeof prefix))
        return cli_usage_error("build", "--shards writes to object storage: --output %s: %s", a.output, vs_last_error());
    if (strlen(a.collection) > 64 || strspn(a.collection, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                                         strlen(a.collection) || !*a.collection)
        return cli_usage_error("build", "--collection: 1 to 64 characters from A-Z a-z 0-9 _ -");
    vs_metric metric;
    if (vs_metric_parse(a.metric_name, &metric)) return cli_fail("--metric", VS_ERR_INVALID_ARG);

    double t0 = cli_now();
    vs_s3 *s3 = NULL;
    if ((rc = vs_s3_open(&a.s3, &s3))) return cli_fail("build", rc);
    if (a.create_bucket && (rc = vs_s3_create_bucket(s3, bucket))) {
        vs_s3_free(s3);
        return cli_fail("build: create bucket", rc);
    }
    vs_matrix *m = NULL;
    rc = vs_matrix_read(a.input, a.max_rows, &m);
    if (!rc) rc = vs_matrix_to_f32(m);
    if (rc) {
        vs_s3_free(s3);
        return cli_fail(a.input, rc);
    }
    char work[4200];
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/vecscale-build-XXXXXX", a.work ? a.work : tmp && *tmp ? tmp : "/tmp");
    if (a.work && cli_mkdirs(a.work)) rc = vs_fail(VS_ERR_IO, "cannot create %s", a.work);
    if (!rc && !mkdtemp(work)) rc = vs_fail(VS_ERR_IO, "mkdtemp %s: %s", work, strerror(errno));
    int have_work = !rc, trained = 0;
    char trained_path[4300];
    snprintf(trained_path, sizeof trained_path, "%s/trained.vsi", work);
    if (!rc) rc = train_once(&a, m, metric, trained_path, &trained);
    size_t total_bytes = 0;
    for (uint32_t k = 0; !rc && k < a.shards; k++) {
        char dir[4300], uri[1200];
        snprintf(dir, sizeof dir, "%s/shard-%u", work, k);
        snprintf(uri, sizeof uri, "%s%sshard-%u", a.output, a.output[strlen(a.output) - 1] == '/' ? "" : "/", k);
        rc = build_shard(&a, m, metric, trained_path, trained, k, dir);
        vs_snapshot_stats st = {.struct_size = sizeof st};
        if (!rc) rc = vs_data_publish(s3, dir, uri, &st);
        if (!rc) {
            printf("published %s generation %llu: %llu files, %.1f MiB\n", uri, (unsigned long long)st.generation,
                   (unsigned long long)st.files, (double)st.bytes / 1048576.0);
            total_bytes += st.bytes;
        }
        rm_rf(dir);
        fflush(stdout);
    }
    if (have_work) rm_rf(work);
    if (!rc)
        printf("built %u shards of %zu vectors (%s, %s) in %.2f s, %.1f MiB in all\n", a.shards, m->n, a.spec,
               vs_metric_name(metric), cli_now() - t0, (double)total_bytes / 1048576.0);
    vs_matrix_free(m);
    vs_s3_free(s3);
    return rc ? cli_fail("build --shards", rc) : 0;
}
