/* `vecscale cluster init|join|status` and `vecscale route`: the sharded cluster's shard map in
 * etcd, a node's registration under a lease, and the router. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cluster/cluster_map.h"
#include "cluster/member.h"
#include "router/router.h"

static const char *CLUSTER_HELP =
    "usage: vecscale cluster init --etcd URL --shards N --nodes ID,ID,... [--replicas R] [--metric l2]\n"
    "       vecscale cluster join --etcd URL --node-id ID --url http://HOST:PORT [--ttl SECONDS]\n"
    "       vecscale cluster status --etcd URL\n\n"
    "init writes the shard map: shard s is served by the nodes s*R .. s*R+R-1 of --nodes.\n"
    "join keeps node ID registered under an etcd lease while http://HOST:PORT/health answers\n"
    "(run it beside 'vecscale serve'). A node whose /health has not answered for twice the TTL\n"
    "(at least 3 s) is withdrawn, so a node busy with a long request stays; one whose process\n"
    "died drops out when its lease expires (one TTL).\n"
    "status prints the shard map and which replicas are live.\n"
    "--prefix KEY (default /vecscale/) namespaces several clusters in one etcd.\n";

static const char *ROUTE_HELP =
    "usage: vecscale route --cluster URL --nats nats://HOST:4222[,...] [--host 127.0.0.1] [--port 8080]\n"
    "                      [--port-file FILE] [--attempt-timeout MS] [--request-timeout MS]\n"
    "                      [--prefix /vecscale/] [--log-replicas 3] [--max-lag 1000]\n\n"
    "The single server's API (routes, bodies, replies and their error codes) over a sharded cluster.\n"
    "Writes go through the cluster's replicated log on NATS JetStream (a router needs one: --nats):\n"
    "POST /collections, DELETE /collections/NAME, POST .../vectors and .../index (documents without\n"
    "ids get ids unique over the cluster, from etcd) and DELETE .../documents/ID are checked as one\n"
    "server checks them, split by the shard owning each document id, published to those shards'\n"
    "streams (vs-<collection>-<shard>, --log-replicas copies) and answered once stored there; the\n"
    "replicas (serve --nats) apply the streams in order. A body's \"request_id\" makes a retried\n"
    "request store once; \"wait\": \"applied\" answers once every live replica applied it. The\n"
    "router keeps no state: any number of routers can run.\n"
    "POST /search (and /collections/NAME/search) asks one live replica of every shard in parallel,\n"
    "retrying another replica after a failure or --attempt-timeout (1000 ms), and merges the top k;\n"
    "a shard with no live replica makes the answer \"partial\": true with \"missing_shards\". A\n"
    "replica more than --max-lag messages behind its streams is searched only when no other replica\n"
    "of its shard is current. GET /documents/ID asks one replica of its shard; GET /stats and\n"
    "/collections sum every shard; POST /save saves on every node. GET /cluster shows the shard map,\n"
    "the live replicas and each one's log_lag.\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int cmd_route(int argc, char **argv)
{
    vs_router_config cfg = {.prefix = "/vecscale/", .host = "127.0.0.1", .port = 8080};
    static const struct option opts[] = {
        {"cluster", required_argument, 0, 'c'}, {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},    {"port-file", required_argument, 0, 'f'},
        {"attempt-timeout", required_argument, 0, 'a'}, {"request-timeout", required_argument, 0, 'r'},
        {"prefix", required_argument, 0, 'P'},  {"quiet", no_argument, 0, 'q'},
        {"nats", required_argument, 0, 'n'},
        {"log-replicas", required_argument, 0, 'R'}, {"max-lag", required_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int c;
    uint32_t u;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cfg.etcd = optarg; break;
        case 'H': cfg.host = optarg; break;
        case 'p':
            if (cli_parse_u32(optarg, 0, 65535, &u)) return cli_usage_error("route", "bad --port '%s'", optarg);
            cfg.port = (uint16_t)u;
            break;
        case 'f': cfg.port_file = optarg; break;
        case 'a':
            if (cli_parse_u32(optarg, 10, 600000, &cfg.attempt_timeout_ms))
                return cli_usage_error("route", "bad --attempt-timeout '%s'", optarg);
            break;
        case 'r':
            if (cli_parse_u32(optarg, 10, 600000, &cfg.request_timeout_ms))
                return cli_usage_error("route", "bad --request-timeout '%s'", optarg);
            break;
        case 'P': cfg.prefix = optarg; break;
        case 'n': cfg.nats = optarg; break;
        case 'R':
            if (cli_parse_u32(optarg, 1, 5, &cfg.log_replicas)) return cli_usage_error("route", "bad --log-replicas '%s'", optarg);
            break;
        case 'L':
            if (cli_parse_u32(optarg, 1, 4000000000u, &cfg.max_lag)) return cli_usage_error("route", "bad --max-lag '%s'", optarg);
            break;
        case 'q': cfg.quiet = 1; break;
        case 'h': fputs(ROUTE_HELP, stdout); return 0;
        default: return cli_usage_error("route", "unknown option");
        }
    }
    if (!cfg.etcd) return cli_usage_error("route", "--cluster http://HOST:2379 (etcd) is required");
    if (!cfg.nats)
        return cli_usage_error("route", "--nats nats://HOST:4222[,...] is required: a router writes through the "
                                        "cluster's replicated log (NATS JetStream), which the replicas (serve --nats) apply");
    int rc = vs_router_run(&cfg);
    return rc ? cli_fail("route", rc) : 0;
}

static int cluster_init(const char *etcd, const char *prefix, uint32_t shards, uint32_t replicas, const char *nodes,
                        const char *metric)
{
    vs_cluster_map m = {.n_shards = shards};
    if (vs_metric_parse(metric, &m.metric)) return cli_usage_error("cluster", "unknown --metric '%s'", metric);
    char *list = strdup(nodes), *save = NULL;
    uint32_t i = 0;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
        if (i >= shards * replicas) break;
        if (strlen(t) >= sizeof m.replicas[0][0].id || strchr(t, '/')) {
            free(list);
            return cli_usage_error("cluster", "bad node id '%s'", t);
        }
        uint32_t s = i / replicas;
        snprintf(m.replicas[s][m.n_replicas[s]++].id, sizeof m.replicas[0][0].id, "%s", t);
    }
    free(list);
    if (i != shards * replicas)
        return cli_usage_error("cluster", "--nodes must name exactly shards x replicas = %u nodes (got %u or more)",
                               shards * replicas, i);
    vs_etcd *e = NULL;
    int rc = vs_etcd_open(etcd, 2000, &e);
    if (rc == VS_OK) rc = vs_cluster_map_store(e, prefix, &m);
    vs_etcd_free(e);
    if (rc) return cli_fail("cluster init", rc);
    printf("shard map written: %u shards x %u replicas, metric %s\n", shards, replicas, metric);
    return 0;
}

static int cluster_status(const char *etcd, const char *prefix)
{
    vs_etcd *e = NULL;
    vs_cluster_map m;
    int rc = vs_etcd_open(etcd, 2000, &e);
    if (rc == VS_OK) rc = vs_cluster_map_load(e, prefix, &m);
    vs_etcd_free(e);
    if (rc) return cli_fail("cluster status", rc);
    printf("%u shards, metric %s\n", m.n_shards, vs_metric_name(m.metric));
    for (uint32_t s = 0; s < m.n_shards; s++) {
        printf("shard %u:", s);
        for (uint32_t r = 0; r < m.n_replicas[s]; r++)
            printf("  %s %s", m.replicas[s][r].id, m.replicas[s][r].url[0] ? m.replicas[s][r].url : "(down)");
        printf("\n");
    }
    return 0;
}

int cmd_cluster(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(CLUSTER_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    const char *etcd = NULL, *prefix = "/vecscale/", *nodes = NULL, *metric = "l2", *node_id = NULL, *url = NULL;
    uint32_t shards = 0, replicas = 1, ttl = 3;
    static const struct option opts[] = {
        {"etcd", required_argument, 0, 'e'},    {"cluster", required_argument, 0, 'e'},
        {"prefix", required_argument, 0, 'P'},  {"shards", required_argument, 0, 's'},
        {"replicas", required_argument, 0, 'r'}, {"nodes", required_argument, 0, 'n'},
        {"metric", required_argument, 0, 'm'},  {"node-id", required_argument, 0, 'i'},
        {"url", required_argument, 0, 'u'},     {"ttl", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    argc--, argv++;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': etcd = optarg; break;
        case 'P': prefix = optarg; break;
        case 's':
            if (cli_parse_u32(optarg, 1, VS_CLUSTER_MAX_SHARDS, &shards)) return cli_usage_error("cluster", "bad --shards");
            break;
        case 'r':
            if (cli_parse_u32(optarg, 1, VS_CLUSTER_MAX_REPLICAS, &replicas))
                return cli_usage_error("cluster", "bad --replicas");
            break;
        case 'n': nodes = optarg; break;
        case 'm': metric = optarg; break;
        case 'i': node_id = optarg; break;
        case 'u': url = optarg; break;
        case 't':
            if (cli_parse_u32(optarg, 1, 3600, &ttl)) return cli_usage_error("cluster", "bad --ttl");
            break;
        case 'h': fputs(CLUSTER_HELP, stdout); return 0;
        default: return cli_usage_error("cluster", "unknown option");
        }
    }
    if (!etcd) return cli_usage_error("cluster", "--etcd http://HOST:2379 is required");
    if (!strcmp(verb, "init")) {
        if (!shards || !nodes) return cli_usage_error("cluster", "init needs --shards and --nodes");
        return cluster_init(etcd, prefix, shards, replicas, nodes, metric);
    }
    if (!strcmp(verb, "status")) return cluster_status(etcd, prefix);
    if (!strcmp(verb, "join")) {
        if (!node_id || !url) return cli_usage_error("cluster", "join needs --node-id and --url");
        struct sigaction sa = {0};
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        vs_member_config mc = {.etcd = etcd, .prefix = prefix, .node_id = node_id, .url = url, .ttl_s = ttl};
        int rc = vs_member_run(&mc, &stop_flag);
        return rc ? cli_fail("cluster join", rc) : 0;
    }
    return cli_usage_error("cluster", "unknown action '%s' (init, join or status)", verb);
}
