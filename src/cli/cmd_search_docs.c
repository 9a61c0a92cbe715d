/* `vecscale search --index DIR --query TEXT`: embed the query with the collection's model and
 * print the best documents with their stored fields. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: vecscale search --index DIR --query TEXT [--query TEXT ...] [-k N] [--json]\n"
    "                       [--model NAME|PATH] [--nprobe N] [--ef N] [--filter JSON]\n\n"
    "Searches a collection built by `vecscale build --input docs.jsonl` (or created through\n"
    "`vecscale serve`): each query is embedded with the model recorded in the collection (or\n"
    "--model) and the k best documents are printed with their score (cosine similarity for\n"
    "cosine collections), id, text and stored fields. --json prints one JSON object per hit:\n"
    "{\"query\", \"rank\", \"id\", \"score\", \"text\", \"fields\"}.\n"
    "--filter restricts the hits to documents whose fields pass a filter (JSON, the grammar of\n"
    "POST /search's \"filter\"): {\"pos\": \"verb\"}, {\"year\": {\"gte\": 1990, \"lt\": 2000}},\n"
    "{\"tag\": {\"in\": [\"a\", \"b\"]}}, {\"field\": {\"exists\": true}}, {\"and\"|\"or\": [...]}, {\"not\": {...}}.\n"
    "Fields without a payload index are evaluated per document (said on stderr).\n"
    "A query none of whose words the model knows has no meaning to search by (it would embed to\n"
    "the model's fallback vector, whose neighbours score high and mean nothing): it gets no hits\n"
    "and a warning on stderr, as POST /search answers it with \"warning\": no_known_word.\n";

enum { MAX_QUERIES = 64 };

typedef struct {
    char *text, *meta;
} doc_copy;

static void grab(int64_t id, const char *text, const char *metadata, void *ctx)
{
    (void)id;
    doc_copy *o = ctx;
    o->text = text ? strdup(text) : NULL;
    o->meta = metadata ? strdup(metadata) : NULL;
}

/* The id as the document file gave it (vecscale.h, "Document ids"): a string id or a number. */
static void print_hit(vs_collection *col, int json, const char *query, uint32_t rank, int64_t id, float score,
                      const doc_copy *doc)
{
    char key[VS_KEY_MAX_BYTES + 1];
    int is_string = 0;
    if (vs_collection_key_of(col, id, key, sizeof key, &is_string)) snprintf(key, sizeof key, "%lld", (long long)id);
    if (!json) {
        printf("  %2u. %.4f  id %s  %s%s%s\n", rank, score, key, doc->text ? doc->text : "",
               doc->meta ? "  " : "", doc->meta ? doc->meta : "");
        return;
    }
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "query", query);
    cJSON_AddNumberToObject(h, "rank", rank);
    if (is_string) cJSON_AddStringToObject(h, "id", key);
    else cJSON_AddNumberToObject(h, "id", (double)id);
    char sc[32];
    snprintf(sc, sizeof sc, "%.6g", score); /* a float's digits, not a double's */
    cJSON_AddRawToObject(h, "score", sc);
    if (doc->text) cJSON_AddStringToObject(h, "text", doc->text);
    else cJSON_AddNullToObject(h, "text");
    cJSON *meta = doc->meta ? cJSON_Parse(doc->meta) : NULL;
    cJSON_AddItemToObject(h, "fields", meta ? meta : cJSON_CreateObject());
    char *s = cJSON_PrintUnformatted(h);
    if (s) puts(s);
    cJSON_free(s);
    cJSON_Delete(h);
}

int cmd_search_docs(int argc, char **argv)
{
    const char *dir = NULL, *model_name = NULL, *filter = NULL;
    const char *queries[MAX_QUERIES];
    size_t nq = 0;
    uint32_t k = 10, nprobe = 0, ef = 0;
    int json = 0;
    static const struct option opts[] = {
        {"index", required_argument, 0, 'x'}, {"query", required_argument, 0, 'q'},
        {"k", required_argument, 0, 'k'},     {"json", no_argument, 0, 'j'},
        {"model", required_argument, 0, 'm'}, {"nprobe", required_argument, 0, 'p'},
        {"ef", required_argument, 0, 'e'},    {"help", no_argument, 0, 'h'},
        {"filter", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "x:q:k:jm:p:e:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'x': dir = optarg; break;
        case 'q':
            if (nq == MAX_QUERIES) return cli_usage_error("search", "at most %d --query", MAX_QUERIES);
            queries[nq++] = optarg;
            break;
        case 'k':
            if (cli_parse_u32(optarg, 1, 10000, &k)) return cli_usage_error("search", "-k must be 1..10000, got '%s'", optarg);
            break;
        case 'j': json = 1; break;
        case 'm': model_name = optarg; break;
        case 'p':
            if (cli_parse_u32(optarg, 1, 1u << 24, &nprobe)) return cli_usage_error("search", "bad --nprobe '%s'", optarg);
            break;
        case 'e':
            if (cli_parse_u32(optarg, 1, 1u << 20, &ef)) return cli_usage_error("search", "bad --ef '%s'", optarg);
            break;
        case 'h': fputs(HELP, stdout); return 0;
        case 'f': filter = optarg; break;
        default: return cli_usage_error("search", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("search", "unexpected argument '%s'", argv[optind]);
    if (!dir || !nq) return cli_usage_error("search", "--index and --query are required");
    vs_collection *col;
    int rc = vs_collection_open(dir, &col);
    if (rc) return cli_fail(dir, rc);
    vs_collection_set_auto_index(col, 0); /* one query: no background index build to wait for */
    vs_collection_info info = {.struct_size = sizeof info};
    rc = vs_collection_info_get(col, &info);
    if (rc) {
        vs_collection_close(col);
        return cli_fail(dir, rc);
    }
    if (!model_name && !info.model[0]) {
        vs_collection_close(col);
        fprintf(stderr, "vecscale: %s records no text model: name one with --model\n", dir);
        return 1;
    }
    if (!model_name) model_name = info.model;
    vs_model *m = NULL;
    if ((rc = vs_model_open(model_name, &m))) {
        vs_collection_close(col);
        return cli_fail(model_name, rc);
    }
    int status = 0;
    if (vs_model_dim(m) != info.dim) {
        fprintf(stderr, "vecscale: model %s gives dimension %u but the collection %s holds dimension %u\n",
                model_name, vs_model_dim(m), dir, info.dim);
        status = 1;
    }
    float *q = malloc(nq * info.dim * sizeof *q), *scores = malloc(nq * k * sizeof *scores);
    int64_t *ids = malloc(nq * k * sizeof *ids);
    uint32_t *known = malloc(nq * sizeof *known);
    if (!status && (!q || !scores || !ids || !known)) status = (fprintf(stderr, "vecscale: out of memory\n"), 1);
    double t0 = cli_now();
    if (!status && (rc = vs_model_embed_known(m, queries, nq, 1, q, known))) status = cli_fail("--query", rc);
    vs_search_params p = {.struct_size = sizeof(vs_search_params), .nprobe = nprobe, .ef_search = ef};
    vs_filter_report fr = {.struct_size = sizeof fr};
    if (!status && (rc = vs_collection_search_where(col, nq, q, k, &p, filter, scores, ids, &fr)))
        status = cli_fail(filter ? "--filter" : "search", rc);
    if (!status && filter && !fr.indexed)
        fprintf(stderr, "filter evaluated per document (no payload index on: %s)\n", fr.unindexed);
    double dt = cli_now() - t0;
    for (size_t i = 0; !status && i < nq; i++) {
        if (!json) printf("query: %s\n", queries[i]);
        if (!known[i]) {
            /* The server's rule (routes_search.c, no_known_word): no hits rather than the
             * fallback vector's neighbours at a score that reads as a match. */
            fprintf(stderr, "vecscale: warning: the model %s knows none of the words of the query '%s', so it has no "
                            "meaning to search by: no results (rephrase it)\n", vs_model_name(m), queries[i]);
            if (!json) printf("  (no results: no known word)\n");
            continue;
        }
        for (uint32_t r = 0; r < k && ids[i * k + r] >= 0; r++) {
            doc_copy doc = {0};
            vs_collection_with_doc(col, ids[i * k + r], grab, &doc); /* absent: printed without text */
            print_hit(col, json, queries[i], r + 1, ids[i * k + r], scores[i * k + r], &doc);
            free(doc.text);
            free(doc.meta);
        }
    }
    if (!status)
        fprintf(stderr, "%zu quer%s embedded and searched in %.1f ms (model %s, %zu documents)\n", nq,
                nq == 1 ? "y" : "ies", dt * 1e3, vs_model_name(m), info.count);
    free(q);
    free(scores);
    free(ids);
    free(known);
    vs_model_free(m);
    vs_collection_close(col);
    return status;
}
