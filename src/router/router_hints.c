/* Hinted hand-off (router_impl.h): adds a replica missed, because it was down or its leg
 * failed, are kept per replica in arrival order and replayed to it once it is live again, so a
 * restarted replica catches up with its peers. Adds carry explicit IDs and a collection refuses
 * a batch whose IDs it already holds (409), so a replay of something that did arrive is
 * harmless, and adds of distinct IDs commute: new adds need not wait for the replay. The queue
 * lives in the router's memory: bounded per replica (beyond it the replica is marked as needing
 * a resync from a snapshot) and lost if the router restarts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_client.h"
#include "router/router_impl.h"

struct router_hint {
    struct router_hint *next;
    char *path;
    char *body;
    size_t len;
};

void router_hint_add(router *r, uint32_t shard, uint32_t replica, const char *path, const char *body, size_t len)
{
    router_hints *h = &r->hints[shard][replica];
    pthread_mutex_lock(&r->hint_lock);
    if (h->overflowed || h->bytes + len > r->hint_cap_bytes) {
        if (!h->overflowed)
            fprintf(stderr, "vecscale route: more than %zu bytes of adds queued for shard %u replica %u: dropped; "
                            "resync that replica from a snapshot\n", r->hint_cap_bytes, shard, replica);
        h->overflowed = 1;
        h->dropped++;
        pthread_mutex_unlock(&r->hint_lock);
        return;
    }
    struct router_hint *n = malloc(sizeof *n);
    char *p = n ? strdup(path) : NULL, *b = p ? malloc(len + 1) : NULL;
    if (!b) {
        free(n), free(p);
        h->overflowed = 1;
        h->dropped++;
        pthread_mutex_unlock(&r->hint_lock);
        return;
    }
    memcpy(b, body, len);
    b[len] = 0;
    *n = (struct router_hint){NULL, p, b, len};
    if (h->tail) h->tail->next = n;
    else h->head = n;
    h->tail = n;
    h->count++;
    h->bytes += len;
    pthread_mutex_unlock(&r->hint_lock);
}

/* POST one queued add; 2xx, or 409 (it had arrived after all), counts as delivered. */
static int deliver(CURL *c, const char *url, const struct router_hint *h, long timeout_ms)
{
    char full[600];
    snprintf(full, sizeof full, "%s%s", url, h->path);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    vs_http_timeouts to = {.total_ms = timeout_ms};
    vs_http_setup(c, full, &to, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)h->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    vs_http_discard(c);
    CURLcode cc = curl_easy_perform(c);
    long status = vs_http_status(c);
    curl_slist_free_all(hdr);
    return cc == CURLE_OK && ((status >= 200 && status < 300) || status == 409);
}

void router_hints_replay(router *r, const vs_cluster_map *m)
{
    CURL *c = NULL;
    for (uint32_t s = 0; s < m->n_shards; s++) {
        for (uint32_t rep = 0; rep < m->n_replicas[s]; rep++) {
            router_hints *h = &r->hints[s][rep];
            if (!m->replicas[s][rep].url[0]) continue;
            /* At most a bounded batch per round, so the map refresh is not held up for long. */
            for (int done = 0; done < 64; done++) {
                pthread_mutex_lock(&r->hint_lock);
                struct router_hint *first = h->head;
                pthread_mutex_unlock(&r->hint_lock);
                if (!first) break;
                if (!c && vs_http_easy(&c)) return;
                if (!deliver(c, m->replicas[s][rep].url, first, (long)r->cfg->request_timeout_ms)) break;
                pthread_mutex_lock(&r->hint_lock);
                h->head = first->next; /* only this thread removes, and only from the head */
                if (!h->head) h->tail = NULL;
                h->count--;
                h->bytes -= first->len;
                h->replayed++;
                pthread_mutex_unlock(&r->hint_lock);
                free(first->path), free(first->body), free(first);
            }
        }
    }
    if (c) curl_easy_cleanup(c);
}

void router_hints_stats(router *r, uint32_t shard, uint32_t replica, router_hints *out)
{
    pthread_mutex_lock(&r->hint_lock);
    *out = r->hints[shard][replica];
    out->head = out->tail = NULL;
    pthread_mutex_unlock(&r->hint_lock);
}

void router_hints_free(router *r)
{
    for (uint32_t s = 0; s < VS_CLUSTER_MAX_SHARDS; s++)
        for (uint32_t rep = 0; rep < VS_CLUSTER_MAX_REPLICAS; rep++) {
            struct router_hint *n = r->hints[s][rep].head;
            while (n) {
                struct router_hint *next = n->next;
                free(n->path), free(n->body), free(n);
                n = next;
            }
            r->hints[s][rep] = (router_hints){0};
        }
}
