/* `vecscale serve`: the HTTP search service (src/server). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "log/jetstream.h"
#include "cli/cli.h"
#include "server/node_sync.h"
#include "server/open_collections.h"
#include "server/server.h"

static const char *HELP =
    "usage: vecscale serve --data DIR [--host 127.0.0.1] [--port 8000] [--threads N] [--api-key KEY]\n"
    "                      [--model NAME | --dim D] [--metric cosine] [--index Flat]\n"
    "                      [--max-body BYTES] [--max-k 1000] [--max-batch 10000] [--timeout SECONDS]\n"
    "                      [--port-file FILE] [--snapshot-interval 300] [--precision fp32|bf16|int8 (BERT models)]\n"
    "                      [--snapshot-uri s3://BUCKET/PREFIX [--s3-endpoint URL] [--s3-region NAME]\n"
    "                       [--s3-profile NAME] [--s3-timeout SECONDS] [--snapshot-keep K]]\n"
    "                      [--cluster http://ETCD:2379 --node-id ID [--advertise URL] [--ttl SECONDS]\n"
    "                       [--prefix /vecscale/] [--nats nats://HOST:4222[,...] [--log-keep N]]]\n\n"
    "Serves the collections in DIR/collections over HTTP (GET /openapi.json describes every route;\n"
    "GET / is a search page). Routes without /collections/{name} act on the collection 'default',\n"
    "created on first start from --model (text embedded with that model, cosine) or --dim (vectors\n"
    "only) and --index. Every acknowledged write is in the collection's write-ahead log on disk.\n"
    "--api-key (or VECSCALE_API_KEY) requires X-API-Key or Authorization: Bearer on every route but\n"
    "/, /health and /openapi.json. --port 0 picks a free port; --port-file receives the port.\n"
    "SIGTERM or SIGINT: stop accepting, finish requests in flight, flush the logs, exit 0.\n"
    "Each collection has a maintenance thread: it trains IVF indexes and writes snapshots (when the\n"
    "log passes the collection's snapshot size, or holds writes older than --snapshot-interval\n"
    "seconds, and on POST /save); requests that add never wait for either.\n\n"
    "--snapshot-uri: on start, when DIR holds no collection, restore the latest snapshot published\n"
    "there (checksums verified; an unreachable store stops the start, nothing published yet does\n"
    "not); after every POST /save publish every collection's saved state as a new generation\n"
    "(the reply's \"published\" says which, or the error: then HTTP 502, the local save stands).\n"
    "Credentials and endpoint as for 'vecscale snapshot' (AWS_* variables, ~/.aws files).\n"
    "--snapshot-keep K: after each publish, delete all but the newest K generations and the\n"
    "segments only they used (as 'vecscale snapshot gc --keep K', grace 3600 s).\n"
    "--cluster: keep node ID registered in etcd under a lease while this server answers (the\n"
    "router finds it there); with --snapshot-uri the node restores and publishes\n"
    "s3://BUCKET/PREFIX/shard-K, K being the shard the etcd shard map assigns to ID.\n"
    "--nats (with --cluster): the cluster's writes come from NATS JetStream (issue 16): this node\n"
    "follows every stream of its shard (vs-<collection>-<shard>) as durable consumer\n"
    "replica-<node-id> and applies it in order, recording the applied sequence with each\n"
    "collection's data, so it resumes exactly where it stopped. With --snapshot-uri, each publish\n"
    "trims the saved collection's stream: it keeps what the snapshot does not hold, what any\n"
    "replica's consumer has not acknowledged, and --log-keep N more messages (default 10000).\n"
    "A replica that was down resumes its streams where it stopped; one started on an empty DIR\n"
    "restores the latest snapshot (--snapshot-uri) and replays only the stream after it.\n";

int cmd_serve(int argc, char **argv)
{
    vs_server_config cfg = {.host = "127.0.0.1", .port = 8000, .api_key = getenv("VECSCALE_API_KEY")};
    serve_extras x = {.log_keep = 10000};
    uint32_t u = 0;
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},      {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},      {"threads", required_argument, 0, 't'},
        {"api-key", required_argument, 0, 'a'},   {"model", required_argument, 0, 'm'},
        {"dim", required_argument, 0, 'D'},       {"metric", required_argument, 0, 'M'},
        {"index", required_argument, 0, 'i'},     {"max-body", required_argument, 0, 'B'},
        {"max-k", required_argument, 0, 'K'},     {"max-batch", required_argument, 0, 'b'},
        {"timeout", required_argument, 0, 'T'},   {"port-file", required_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
        {"snapshot-uri", required_argument, 0, 1}, {"s3-endpoint", required_argument, 0, 2},
        {"s3-region", required_argument, 0, 3},   {"s3-profile", required_argument, 0, 4},
        {"s3-timeout", required_argument, 0, 5},  {"cluster", required_argument, 0, 6},
        {"node-id", required_argument, 0, 7},     {"advertise", required_argument, 0, 8},
        {"ttl", required_argument, 0, 9},         {"prefix", required_argument, 0, 10},
        {"snapshot-keep", required_argument, 0, 12},
        {"snapshot-interval", required_argument, 0, 13},
        {"precision", required_argument, 0, 14},  {"nats", required_argument, 0, 15},
        {"log-keep", required_argument, 0, 16},
        {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:H:p:t:a:m:D:M:i:B:K:b:T:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': cfg.data_dir = optarg; break;
        case 'H': cfg.host = optarg; break;
        case 'p':
            if (cli_parse_u32(optarg, 0, 65535, &u)) return cli_usage_error("serve", "bad --port '%s'", optarg);
            cfg.port = (uint16_t)u;
            break;
        case 't':
            if (cli_parse_u32(optarg, 1, 1024, &u)) return cli_usage_error("serve", "bad --threads '%s'", optarg);
            cfg.threads = u;
            break;
        case 'a': cfg.api_key = optarg; break;
        case 'm': cfg.default_model = optarg; break;
        case 'D':
            if (cli_parse_u32(optarg, 1, 65536, &u)) return cli_usage_error("serve", "bad --dim '%s'", optarg);
            cfg.default_dim = u;
            break;
        case 'M': cfg.default_metric = optarg; break;
        case 'i': cfg.default_index = optarg; break;
        case 'B':
            if (cli_parse_u32(optarg, 1024, 2000000000ul, &u)) return cli_usage_error("serve", "bad --max-body '%s'", optarg);
            cfg.max_body = u;
            break;
        case 'K':
            if (cli_parse_u32(optarg, 1, 100000, &u)) return cli_usage_error("serve", "bad --max-k '%s'", optarg);
            cfg.max_k = u;
            break;
        case 'b':
            if (cli_parse_u32(optarg, 1, 10000000, &u)) return cli_usage_error("serve", "bad --max-batch '%s'", optarg);
            cfg.max_batch = u;
            break;
        case 'T':
            if (cli_parse_u32(optarg, 1, 86400, &u)) return cli_usage_error("serve", "bad --timeout '%s'", optarg);
            cfg.timeout_s = u;
            break;
        case 'f': cfg.port_file = optarg; break;
        case 'q': cfg.quiet = 1; break;
        case 1: x.snapshot_uri = optarg; break;
        case 2: x.s3.endpoint = optarg; break;
        case 3: x.s3.region = optarg; break;
        case 4: x.s3.profile = optarg; break;
        case 5:
            if (cli_parse_u32(optarg, 1, 3600, &u)) return cli_usage_error("serve", "bad --s3-timeout '%s'", optarg);
            x.s3.timeout_ms = u * 1000;
            break;
        case 6: x.etcd = optarg; break;
        case 7: x.node_id = optarg; break;
        case 8: x.advertise = optarg; break;
        case 9:
            if (cli_parse_u32(optarg, 1, 3600, &x.ttl_s)) return cli_usage_error("serve", "bad --ttl '%s'", optarg);
            break;
        case 10: x.prefix = optarg; break;
        case 12:
            if (cli_parse_u32(optarg, 1, 1000000, &x.keep)) return cli_usage_error("serve", "bad --snapshot-keep '%s'", optarg);
            break;
        case 13:
            if (cli_parse_u32(optarg, 1, 31536000, &u)) return cli_usage_error("serve", "bad --snapshot-interval '%s'", optarg);
            cfg.snapshot_interval_s = u;
            break;
        case 14: {
            vs_precision p;
            if (vs_precision_parse(optarg, &p)) return cli_usage_error("serve", "%s", vs_last_error());
            models_set_precision(p);
            break;
        }
        case 15: x.nats = optarg; break;
        case 16: {
            uint32_t k = 0;
            if (cli_parse_u32(optarg, 0, 100000000, &k)) return cli_usage_error("serve", "bad --log-keep '%s'", optarg);
            x.log_keep = k;
            break;
        }
        case 'h': fputs(HELP, stdout); return 0;
        default: fputs(HELP, stderr); return 2;
        }
    }
    if (optind < argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!cfg.data_dir) return cli_usage_error("serve", "--data DIR is required");
    if (cfg.api_key && !*cfg.api_key) cfg.api_key = NULL;
    if (x.etcd && !x.node_id) return cli_usage_error("serve", "--cluster needs --node-id");
    if (x.keep && !x.snapshot_uri) return cli_usage_error("serve", "--snapshot-keep needs --snapshot-uri");
    if (x.nats && !x.etcd) return cli_usage_error("serve", "--nats needs --cluster (the shard map says which shard to follow)");
    if (!x.etcd && (x.node_id || x.advertise)) return cli_usage_error("serve", "--node-id and --advertise need --cluster");
    if (x.etcd && !x.advertise && (!strcmp(cfg.host, "0.0.0.0") || !strcmp(cfg.host, "::")))
        return cli_usage_error("serve", "--host %s is not an address others can call: give --advertise URL", cfg.host);
    if (cli_mkdirs(cfg.data_dir)) return cli_fail("serve: create data directory", VS_ERR_IO);
    x.data_dir = cfg.data_dir;
    x.host = cfg.host;
    x.quiet = cfg.quiet;
#ifdef VS_WITH_CLUSTER
    int rc = serve_extras_prepare(&x);
    if (rc == 0) {
        serve_extras_attach(&x, &cfg);
        rc = vs_server_run(&cfg);
    }
    serve_extras_free(&x);
    if (x.nats) vs_js_shutdown(); /* libnats' own threads and memory, after the applier is gone */
    return rc;
#else
    if (x.snapshot_uri || x.etcd)
        return cli_usage_error("serve", "--snapshot-uri and --cluster: this vecscale was built without VS_WITH_CLUSTER");
    return vs_server_run(&cfg);
#endif
}
