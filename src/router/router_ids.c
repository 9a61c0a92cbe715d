/* Automatic document ids for the cluster (router_impl.h). One server gives a document without
 * an id the integer after the largest its collection has seen; a cluster has several shards
 * (and may have several routers), so each collection's counter lives in etcd,
 * <prefix>next_id/<collection>, advanced by compare-and-swap: a request reserves its n ids in
 * one transaction, so two routers never hand out the same id. Integer ids that clients give
 * through a router push the counter past them, as on one server. The ids are then routed like
 * any other (vs_shard_of), so GET /documents/{id} finds them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "router/router_impl.h"

struct router_ids {
    char coll[80];
    int64_t floor; /* the etcd counter is known to be at least this */
    int64_t owed;  /* a floor etcd was away for: raised on the next reservation */
    int exact;     /* floor is the key's value as this router last read or wrote it */
    int64_t lease; /* the requests' records (router_ids_reserve_for) made until lease_until */
    double lease_until;
};

static struct router_ids *state_of(router *r, const char *coll)
{
    for (size_t i = 0; i < r->n_ids; i++)
        if (!strcmp(r->ids[i].coll, coll)) return &r->ids[i];
    struct router_ids *grown = realloc(r->ids, (r->n_ids + 1) * sizeof *grown);
    if (!grown) return NULL;
    r->ids = grown;
    struct router_ids *s = &r->ids[r->n_ids++];
    *s = (struct router_ids){.floor = 0};
    snprintf(s->coll, sizeof s->coll, "%s", coll);
    return s;
}

static void key_of(router *r, const char *coll, char *key, size_t cap)
{
    snprintf(key, cap, "%snext_id/%s", r->cfg->prefix, *coll ? coll : "default");
}

/* Moves the counter to at least `floor` + n and returns in *first where the n ids start. */
static int advance(router *r, struct router_ids *st, int64_t floor, size_t n, int64_t *first)
{
    char key[600], want[32];
    key_of(r, st->coll, key, sizeof key);
    for (int attempt = 0; attempt < 100; attempt++) {
        char *cur = NULL;
        int rc = VS_OK;
        /* Usually nobody else moved it: swap from the value last seen (one etcd round trip,
         * not two); a failed swap reads it. */
        if (attempt == 0 && st->exact && st->floor > 0) {
            char seen[32];
            snprintf(seen, sizeof seen, "%" PRId64, st->floor);
            cur = strdup(seen);
            if (!cur) return vs_fail(VS_ERR_NOMEM, "out of memory");
        } else {
            rc = vs_etcd_get(r->ids_etcd, key, &cur);
        }
        st->exact = 0;
        if (rc && rc != VS_ERR_NOT_FOUND) return rc;
        int64_t at = cur ? strtoll(cur, NULL, 10) : 0;
        int64_t start = at > floor ? at : floor;
        if (n == 0 && start == at && cur) { /* already past it: nothing to write */
            free(cur);
            st->floor = at;
            st->exact = 1;
            *first = start;
            return VS_OK;
        }
        snprintf(want, sizeof want, "%" PRId64, start + (int64_t)n);
        int swapped = 0;
        rc = vs_etcd_cas(r->ids_etcd, key, cur, want, &swapped);
        free(cur);
        if (rc) return rc;
        if (swapped) {
            st->floor = start + (int64_t)n;
            st->exact = 1;
            *first = start;
            return VS_OK;
        }
        /* another router moved it meanwhile: read it again */
    }
    return vs_fail(VS_ERR_CONFLICT, "automatic ids: etcd key %s kept changing under 100 attempts", key);
}

int router_ids_reserve(router *r, const char *coll, size_t n, int64_t *first)
{
    pthread_mutex_lock(&r->ids_lock);
    struct router_ids *st = state_of(r, coll);
    int rc = st ? advance(r, st, st->owed, n, first) : vs_fail(VS_ERR_NOMEM, "out of memory");
    if (rc == VS_OK) st->owed = 0;
    pthread_mutex_unlock(&r->ids_lock);
    return rc;
}

/* A retried request must get the ids of its first attempt: they name the documents in the
 * log's message ids (Nats-Msg-Id), which is how the stream stores the retry once, and the
 * client was told them. Ids cannot be a hash of the request_id alone (JSON numbers hold 53
 * bits: random ids would collide within a few million requests, and a collision is a
 * document the replicas refuse), so the first attempt reserves them from the counter and
 * records "first count" under <prefix>request_ids/<collection>/<request_id> for as long as
 * the stream deduplicates (a lease of keep_s to 2 * keep_s, one per keep_s per collection). */
int router_ids_reserve_for(router *r, const char *coll, const char *request_id, size_t n, uint32_t keep_s,
                           int64_t *first)
{
    char key[800], val[64];
    snprintf(key, sizeof key, "%srequest_ids/%s/%s", r->cfg->prefix, *coll ? coll : "default", request_id);
    pthread_mutex_lock(&r->ids_lock);
    struct router_ids *st = state_of(r, coll);
    int rc = st ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
    for (int attempt = 0; rc == VS_OK && attempt < 2; attempt++) {
        char *cur = NULL;
        rc = vs_etcd_get(r->ids_etcd, key, &cur);
        if (rc == VS_OK) {
            long long at = -1;
            size_t count = 0;
            if (sscanf(cur, "%lld %zu", &at, &count) != 2 || at < 0)
                rc = vs_fail(VS_ERR_CORRUPT, "etcd key %s holds '%.40s', not 'first count'", key, cur);
            else if (count != n)
                rc = vs_fail(VS_ERR_CONFLICT, "request_id '%s' was used for a request of %zu documents, this one has %zu",
                             request_id, count, n);
            else *first = at;
            free(cur);
            break;
        }
        if (rc != VS_ERR_NOT_FOUND) break;
        double now = router_now();
        if (!st->lease || now >= st->lease_until) {
            rc = vs_etcd_lease_grant(r->ids_etcd, (int)(2 * keep_s), &st->lease);
            if (rc != VS_OK) break;
            st->lease_until = now + keep_s;
        }
        rc = advance(r, st, st->owed, n, first);
        if (rc != VS_OK) break;
        st->owed = 0;
        snprintf(val, sizeof val, "%" PRId64 " %zu", *first, n);
        int made = 0;
        rc = vs_etcd_cas_lease(r->ids_etcd, key, NULL, val, st->lease, &made);
        if (rc == VS_OK && made) break;
        /* another attempt of the same request recorded its ids first: take those (the range
         * just reserved stays unused) */
        if (rc == VS_OK) rc = attempt ? vs_fail(VS_ERR_CONFLICT, "etcd key %s vanished while read", key) : VS_OK;
        if (rc == VS_OK) continue;
        if (rc == VS_ERR_NOT_FOUND) st->lease = 0; /* expired meanwhile: the next try grants one */
    }
    pthread_mutex_unlock(&r->ids_lock);
    return rc;
}

/* Notes waiting for ids_lock, per router and collection: the first to get the lock pushes the
 * largest of them, in one etcd write, and the others then find the counter past theirs.
 * Concurrent writes with rising ids (the common case) otherwise made one etcd write each,
 * one after the other under ids_lock: 81% of an add's time through the log with 4 clients
 * (bench/RESULTS_log.md). A full table just means no company for a note. */
static pthread_mutex_t wants_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const router *r;
    char coll[80];
    int64_t want;
} wants[32];

static void want_raise(const router *r, const char *coll, int64_t v)
{
    pthread_mutex_lock(&wants_mu);
    size_t free_slot = sizeof wants / sizeof wants[0];
    for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++) {
        if (wants[i].want && wants[i].r == r && !strcmp(wants[i].coll, coll)) {
            if (v > wants[i].want) wants[i].want = v;
            pthread_mutex_unlock(&wants_mu);
            return;
        }
        if (!wants[i].want && free_slot == sizeof wants / sizeof wants[0]) free_slot = i;
    }
    if (free_slot < sizeof wants / sizeof wants[0] && strlen(coll) < sizeof wants[0].coll) {
        wants[free_slot].r = r;
        strcpy(wants[free_slot].coll, coll);
        wants[free_slot].want = v;
    }
    pthread_mutex_unlock(&wants_mu);
}

static int64_t want_take(const router *r, const char *coll)
{
    int64_t v = 0;
    pthread_mutex_lock(&wants_mu);
    for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++)
        if (wants[i].want && wants[i].r == r && !strcmp(wants[i].coll, coll)) {
            v = wants[i].want;
            wants[i].want = 0;
        }
    pthread_mutex_unlock(&wants_mu);
    return v;
}

void router_ids_note(router *r, const char *coll, int64_t max_id)
{
    int64_t first;
    want_raise(r, coll, max_id + 1);
    pthread_mutex_lock(&r->ids_lock);
    struct router_ids *st = state_of(r, coll);
    /* the counter only grows: below what we saw, nothing to do */
    if (st && max_id >= st->floor && max_id >= st->owed) {
        int64_t want = want_take(r, coll);
        if (want < max_id + 1) want = max_id + 1;
        if (advance(r, st, want, 0, &first) != VS_OK)
            st->owed = want; /* writes with their own ids do not need etcd: owe it */
    }
    pthread_mutex_unlock(&r->ids_lock);
}

void router_ids_drop(router *r, const char *coll)
{
    char key[600];
    key_of(r, coll, key, sizeof key);
    pthread_mutex_lock(&r->ids_lock);
    struct router_ids *st = state_of(r, coll);
    if (st) st->floor = st->owed = 0, st->exact = 0;
    /* if etcd is away the old counter stays: ids then only start higher, still unique */
    vs_etcd_delete(r->ids_etcd, key);
    pthread_mutex_unlock(&r->ids_lock);
}

void router_ids_free(router *r)
{
    pthread_mutex_lock(&wants_mu);
    for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++)
        if (wants[i].r == r) wants[i].want = 0;
    pthread_mutex_unlock(&wants_mu);
    free(r->ids);
    r->ids = NULL;
    r->n_ids = 0;
}
