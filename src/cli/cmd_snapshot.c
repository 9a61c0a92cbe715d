/* `vecscale snapshot push|pull|latest`: index and collection directories in S3-compatible
 * object storage (see vs_snapshot_push in vecscale.h for the layout and guarantees). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: vecscale snapshot push DIR s3://BUCKET/PREFIX [options]\n"
    "       vecscale snapshot pull s3://BUCKET/PREFIX DIR [--generation N] [options]\n"
    "       vecscale snapshot latest s3://BUCKET/PREFIX [options]\n"
    "       vecscale snapshot gc s3://BUCKET/PREFIX --keep K [--grace SECONDS] [--dry-run] [options]\n\n"
    "push publishes every file of DIR as a new generation: files are stored once under their\n"
    "checksum, and the manifest naming them is written last with a conditional PUT, so readers\n"
    "never see half a snapshot and concurrent pushes cannot overwrite each other.\n"
    "pull downloads a generation (default: the latest) into DIR, which must not exist or be\n"
    "empty; every file is checked against the manifest's size and XXH3-128 before DIR appears.\n"
    "gc keeps the newest K generations, deletes older manifests, then the segments no kept\n"
    "manifest names and older than --grace (default 3600 s: a push in flight stores segments\n"
    "before its manifest, so keep it above the longest push).\n\n"
    "options:\n"
    "  --endpoint URL      S3 endpoint, e.g. http://127.0.0.1:7480 (default: AWS_ENDPOINT_URL,\n"
    "                      the profile's endpoint_url, else AWS)\n"
    "  --region NAME       signing region (default: AWS_REGION, the profile's, us-east-1)\n"
    "  --profile NAME      profile in ~/.aws/credentials and ~/.aws/config\n"
    "  --path-style        http://host/bucket/key (default for non-AWS endpoints)\n"
    "  --virtual-hosted    http://bucket.host/key (default for AWS)\n"
    "  --part-size MIB     multipart part size (default 64)\n"
    "  --timeout SEC       connect timeout and longest stall (default 30)\n"
    "  --create-bucket     create the bucket first if it does not exist (push)\n"
    "  --generation N      generation to pull (pull)\n"
    "  --keep K            generations to keep (gc)\n"
    "  --grace SECONDS     leave unreferenced segments younger than this (gc; default 3600)\n"
    "  --dry-run           say what gc would delete, delete nothing\n"
    "Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) or the profile.\n";

int cmd_snapshot(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("snapshot", "expected push, pull or latest");
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
        fputs(HELP, stdout);
        return 0;
    }
    if (strcmp(verb, "push") && strcmp(verb, "pull") && strcmp(verb, "latest") && strcmp(verb, "gc"))
        return cli_usage_error("snapshot", "unknown action '%s' (push, pull, latest or gc)", verb);
    vs_s3_options o = {.struct_size = sizeof(vs_s3_options)};
    int create_bucket = 0;
    uint32_t part_mib = 0, timeout_s = 0;
    uint64_t generation = 0;
    uint32_t keep = 0, grace_s = 3600;
    int dry_run = 0;
    static const struct option opts[] = {
        {"endpoint", required_argument, 0, 'e'}, {"region", required_argument, 0, 'r'},
        {"profile", required_argument, 0, 'p'},  {"path-style", no_argument, 0, 'P'},
        {"virtual-hosted", no_argument, 0, 'V'}, {"part-size", required_argument, 0, 's'},
        {"timeout", required_argument, 0, 't'},  {"create-bucket", no_argument, 0, 'c'},
        {"generation", required_argument, 0, 'g'}, {"keep", required_argument, 0, 'k'},
        {"grace", required_argument, 0, 'G'},    {"dry-run", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    argc--, argv++; /* getopt sees "push ..." with the verb as argv[0] */
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': o.endpoint = optarg; break;
        case 'r': o.region = optarg; break;
        case 'p': o.profile = optarg; break;
        case 'P': o.path_style = 1; break;
        case 'V': o.path_style = -1; break;
        case 's':
            if (cli_parse_u32(optarg, 5, 5000, &part_mib))
                return cli_usage_error("snapshot", "--part-size takes 5..5000 (MiB)");
            o.part_size = (uint64_t)part_mib << 20;
            break;
        case 't':
            if (cli_parse_u32(optarg, 1, 3600, &timeout_s)) return cli_usage_error("snapshot", "--timeout takes 1..3600");
            o.timeout_ms = timeout_s * 1000;
            break;
        case 'c': create_bucket = 1; break;
        case 'g': {
            char *end;
            generation = strtoull(optarg, &end, 10);
            if (*end || !generation || optarg[0] == '-')
                return cli_usage_error("snapshot", "--generation takes a positive integer");
            break;
        }
        case 'k':
            if (cli_parse_u32(optarg, 1, 1000000, &keep)) return cli_usage_error("snapshot", "--keep takes a positive integer");
            break;
        case 'G':
            if (cli_parse_u32(optarg, 0, 100000000, &grace_s)) return cli_usage_error("snapshot", "bad --grace '%s'", optarg);
            break;
        case 'n': dry_run = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("snapshot", "unknown option");
        }
    }
    if (!strcmp(verb, "gc") && !keep) return cli_usage_error("snapshot", "gc needs --keep K (generations to keep)");
    int npos = argc - optind, want = !strcmp(verb, "latest") || !strcmp(verb, "gc") ? 1 : 2;
    if (npos != want)
        return cli_usage_error("snapshot", "%s expects %s", verb,
                               want == 1 ? "s3://BUCKET/PREFIX" : !strcmp(verb, "push") ? "DIR s3://BUCKET/PREFIX"
                                                                                        : "s3://BUCKET/PREFIX DIR");
    const char *uri = !strcmp(verb, "push") ? argv[optind + 1] : argv[optind];
    char bucket[64], prefix[1024];
    int rc = vs_s3_parse_uri(uri, bucket, sizeof bucket, prefix, sizeof prefix);
    if (rc) return cli_usage_error("snapshot", "%s", vs_last_error());

    vs_s3 *s3 = NULL;
    if ((rc = vs_s3_open(&o, &s3))) return cli_fail("snapshot", rc);
    vs_snapshot_stats st = {.struct_size = sizeof st};
    double t0 = cli_now();
    if (!strcmp(verb, "push")) {
        if (create_bucket && (rc = vs_s3_create_bucket(s3, bucket))) {
            vs_s3_free(s3);
            return cli_fail("snapshot push", rc);
        }
        rc = vs_snapshot_push(s3, argv[optind], uri, &st);
        if (rc == VS_OK)
            printf("pushed %s to %s: generation %llu, %llu files, %.1f MiB (%.1f MiB uploaded) in %.2f s\n",
                   argv[optind], uri, (unsigned long long)st.generation, (unsigned long long)st.files,
                   (double)st.bytes / 1048576.0, (double)st.bytes_transferred / 1048576.0, cli_now() - t0);
    } else if (!strcmp(verb, "pull")) {
        rc = vs_snapshot_pull(s3, uri, generation, argv[optind + 1], &st);
        if (rc == VS_OK)
            printf("pulled %s generation %llu to %s: %llu files, %.1f MiB, checksums verified, in %.2f s\n", uri,
                   (unsigned long long)st.generation, argv[optind + 1], (unsigned long long)st.files,
                   (double)st.bytes / 1048576.0, cli_now() - t0);
    } else if (!strcmp(verb, "gc")) {
        vs_snapshot_gc_stats g = {.struct_size = sizeof g};
        rc = vs_snapshot_gc(s3, uri, keep, grace_s, dry_run, &g);
        if (rc == VS_OK)
            printf("%s %s: kept %llu generations (from %llu), %s %llu manifests and %llu segments (%.1f MiB); "
                   "%llu unreferenced segments younger than %u s left\n",
                   dry_run ? "would collect" : "collected", uri, (unsigned long long)g.generations_kept,
                   (unsigned long long)g.oldest_kept, dry_run ? "would delete" : "deleted",
                   (unsigned long long)g.manifests_deleted, (unsigned long long)g.segments_deleted,
                   (double)g.bytes_freed / 1048576.0, (unsigned long long)g.segments_kept_young, grace_s);
    } else {
        rc = vs_snapshot_latest(s3, uri, &generation);
        if (rc == VS_OK) printf("%llu\n", (unsigned long long)generation);
    }
    vs_s3_free(s3);
    if (rc) {
        char what[80];
        snprintf(what, sizeof what, "snapshot %s", verb);
        return cli_fail(what, rc);
    }
    return 0;
}
