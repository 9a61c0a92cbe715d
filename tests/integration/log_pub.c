/* Test helper: publishes writes to the cluster's JetStream log as a router would, one per
 * stdin line "OP SHARD MSG_ID BODY" (BODY is the rest of the line), after making sure the
 * collection's stream exists for every shard; prints each message's stream sequence and
 * whether it was a duplicate. Usage: log_pub NATS_URLS COLLECTION SHARDS < lines
 * "log_pub NATS_URLS COLLECTION SHARDS delete" deletes the collection's streams (a test's
 * cleanup: the fixture's NATS cluster outlives it, and every node follows every stream). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/jetstream.h"
#include "vecscale.h"

int main(int argc, char **argv)
{
    if (argc != 4 && !(argc == 5 && !strcmp(argv[4], "delete"))) {
        fprintf(stderr, "usage: log_pub NATS_URLS COLLECTION SHARDS < \"OP SHARD MSG_ID BODY\" lines\n");
        return 2;
    }
    vs_js *js = NULL;
    if (vs_js_open(argv[1], 5000, &js) != VS_OK) {
        fprintf(stderr, "log_pub: %s\n", vs_last_error());
        return 1;
    }
    int shards = atoi(argv[3]), rc = 0;
    if (argc == 5) {
        for (int s = 0; s < shards; s++)
            if (vs_js_delete_stream(js, argv[2], (uint32_t)s) != VS_OK && rc == 0) {
                fprintf(stderr, "log_pub: %s\n", vs_last_error());
                rc = 1;
            }
        vs_js_close(js);
        vs_js_shutdown();
        return rc;
    }
    for (int s = 0; s < shards && !rc; s++)
        if (vs_js_ensure_stream(js, argv[2], (uint32_t)s, 3, 600) != VS_OK) {
            fprintf(stderr, "log_pub: %s\n", vs_last_error());
            rc = 1;
        }
    static char line[1 << 20];
    while (!rc && fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char op[32], id[256];
        unsigned shard;
        int off = 0;
        if (sscanf(line, "%31s %u %255s %n", op, &shard, id, &off) != 3) continue;
        uint64_t seq = 0;
        int dup = 0;
        if (vs_js_publish(js, argv[2], shard, op, line + off, strlen(line + off), id, 30000, &seq, &dup) != VS_OK) {
            fprintf(stderr, "log_pub: %s\n", vs_last_error());
            rc = 1;
            break;
        }
        printf("%llu%s\n", (unsigned long long)seq, dup ? " duplicate" : "");
        fflush(stdout);
    }
    vs_js_close(js);
    vs_js_shutdown();
    return rc;
}
