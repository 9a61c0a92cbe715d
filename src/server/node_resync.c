/* `vecscale serve --cluster ... --snapshot-uri ... --resync`: a replica that was down catches up
 * from a live peer of its shard before it serves. The peer saves every collection, which
 * publishes them to the shard's snapshot prefix (it runs with the same --snapshot-uri); this
 * node then restores that generation. Its own previous collections are moved aside, not
 * deleted. Adds the router sends the peer after the peer's save reach this node through the
 * router's queue of missed adds (router_hints.c) once it registers. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/node_sync.h"
#include "server/server_impl.h" /* now_seconds */
#include "cluster/cluster_map.h"
#include "storage/snapshot_data.h"
#include "core/error.h"
#include "http/http_client.h"

/* One request to the peer; *out is the parsed JSON answer (caller deletes). */
static long call(CURL *c, const char *method, const char *url, cJSON **out)
{
    vs_buf b = {0};
    vs_http_timeouts to = {.connect_ms = 3000, .total_ms = 600000}; /* a save of a large collection takes a while */
    vs_http_setup(c, url, &to, NULL);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST")) curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    vs_http_collect(c, &b);
    const char *key = getenv("VECSCALE_API_KEY");
    char hdr[600];
    struct curl_slist *h = NULL;
    if (key && *key) {
        snprintf(hdr, sizeof hdr, "X-API-Key: %s", key);
        h = curl_slist_append(NULL, hdr);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) status = vs_http_status(c);
    curl_slist_free_all(h);
    *out = b.data ? cJSON_Parse(b.data) : NULL;
    vs_buf_free(&b);
    return status;
}

/* Asks the peer to save (and so publish) every collection; *generation = the last published. */
static int peer_publish(const char *peer, uint64_t *generation)
{
    CURL *c = NULL;
    int rc = vs_http_easy(&c);
    if (rc) return rc;
    char url[800];
    snprintf(url, sizeof url, "%s/collections", peer);
    cJSON *list = NULL;
    long st = call(c, "GET", url, &list);
    rc = st == 200 ? VS_OK : vs_fail(VS_ERR_NETWORK, "resync: GET %s answered HTTP %ld", url, st);
    const cJSON *it, *all = rc ? NULL : cJSON_GetObjectItemCaseSensitive(list, "collections");
    *generation = 0;
    cJSON_ArrayForEach(it, all)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (!cJSON_IsString(name)) continue;
        snprintf(url, sizeof url, "%s/collections/%s/save", peer, name->valuestring);
        cJSON *a = NULL;
        st = call(c, "POST", url, &a);
        const cJSON *pub = cJSON_GetObjectItemCaseSensitive(a, "published");
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(pub, "generation");
        if (st == 200 && cJSON_IsNumber(g)) *generation = (uint64_t)g->valuedouble;
        else if (st == 200) rc = vs_fail(VS_ERR_INVALID_ARG, "resync: %s saved but published nothing: the peer runs "
                                                            "without --snapshot-uri", peer);
        else rc = vs_fail(VS_ERR_NETWORK, "resync: POST %s answered HTTP %ld", url, st);
        cJSON_Delete(a);
        if (rc) break;
    }
    if (rc == VS_OK && !*generation) rc = vs_fail(VS_ERR_NOT_FOUND, "resync: %s holds no collection", peer);
    cJSON_Delete(list);
    curl_easy_cleanup(c);
    return rc;
}

int serve_resync(serve_extras *x)
{
    vs_etcd *e = NULL;
    vs_cluster_map *m = malloc(sizeof *m);
    int rc = m ? vs_etcd_open(x->etcd, 2000, &e) : vs_fail(VS_ERR_NOMEM, "out of memory");
    if (rc == VS_OK) rc = vs_cluster_map_load(e, x->prefix, m);
    vs_etcd_free(e);
    const char *peer = NULL, *peer_id = NULL;
    for (uint32_t r = 0; rc == VS_OK && r < m->n_replicas[x->shard] && !peer; r++) {
        const vs_replica *p = &m->replicas[x->shard][r];
        if (p->url[0] && strcmp(p->id, x->node_id)) peer = p->url, peer_id = p->id;
    }
    if (rc || !peer) {
        if (rc == VS_OK)
            printf("vecscale serve: --resync: no live peer of shard %u: serving the local data\n", x->shard);
        free(m);
        return rc ? node_fail("serve --resync", rc) : 0;
    }
    uint64_t gen = 0;
    double t0 = now_seconds();
    rc = peer_publish(peer, &gen);
    if (rc) {
        free(m);
        return node_fail("serve --resync", rc);
    }
    /* The local collections step aside (kept) so the restore sees an empty directory. */
    char cur[4200], aside[4300], keep[4400];
    snprintf(cur, sizeof cur, "%s/collections", x->data_dir);
    snprintf(aside, sizeof aside, "%s/.before-resync-%lld", x->data_dir, (long long)time(NULL));
    snprintf(keep, sizeof keep, "%s/collections", aside);
    struct stat st;
    int moved = 0;
    if (stat(cur, &st) == 0) {
        if (mkdir(aside, 0755) && errno != EEXIST) rc = vs_fail(VS_ERR_IO, "mkdir %s: %s", aside, strerror(errno));
        else if (rename(cur, keep)) rc = vs_fail(VS_ERR_IO, "rename %s to %s: %s", cur, keep, strerror(errno));
        else moved = 1;
    }
    vs_snapshot_stats ss = {.struct_size = sizeof ss};
    int restored = 0;
    if (rc == VS_OK) rc = vs_data_restore(x->s3_handle, x->data_dir, x->uri, gen, &ss, &restored);
    if (rc && moved) {
        char failed[4400];
        snprintf(failed, sizeof failed, "%s.failed", cur);
        rename(cur, failed); /* a partial install never happens (restore is all or nothing), but be safe */
        rename(keep, cur);
        rmdir(aside);
    }
    if (rc) {
        free(m);
        return node_fail("serve --resync", rc);
    }
    printf("vecscale serve: resynced shard %u from %s (%s): %s generation %llu, %llu files, %.1f MiB in %.2f s%s%s\n",
           x->shard, peer_id, peer, x->uri, (unsigned long long)gen, (unsigned long long)ss.files,
           (double)ss.bytes / 1048576.0, now_seconds() - t0, moved ? "; the previous data is in " : "", moved ? aside : "");
    fflush(stdout);
    free(m);
    return 0;
}
