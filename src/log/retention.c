/* vs_js_retain (retention.h). */
#include "log/retention.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "log/jetstream_impl.h"

/* The lowest acknowledged stream sequence over the stream's consumers, and whose it is. */
static int lowest_floor(vs_js *js, const char *stream, uint64_t *floor, uint32_t *n, char *who, size_t cap)
{
    jsConsumerInfoList *list = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_Consumers(&list, js->ctx, stream, NULL, &jerr);
    *n = 0;
    if (s == NATS_NOT_FOUND) return VS_OK; /* no consumer yet */
    if (s != NATS_OK) {
        char what[200];
        snprintf(what, sizeof what, "list the consumers of %s", stream);
        return js_fail(s, jerr, what);
    }
    for (int i = 0; i < list->Count; i++) {
        const jsConsumerInfo *ci = list->List[i];
        if (!ci) continue;
        uint64_t f = ci->AckFloor.Stream;
        if (!*n || f < *floor) {
            *floor = f;
            snprintf(who, cap, "%s", ci->Name ? ci->Name : "");
        }
        ++*n;
    }
    jsConsumerInfoList_Destroy(list);
    return VS_OK;
}

int vs_js_retain(vs_js *js, const char *collection, uint32_t shard, uint64_t covered, uint64_t keep,
                 vs_js_retention *out)
{
    memset(out, 0, sizeof *out);
    char name[128];
    int rc = vs_js_stream_name(collection, shard, name, sizeof name);
    if (rc != VS_OK) return rc;
    uint64_t first = 0, last = 0;
    if ((rc = vs_js_stream_seqs(js, collection, shard, &first, &last)) != VS_OK) return rc;
    out->first_before = out->kept_from = first;
    uint64_t floor = covered;
    char who[64] = "";
    if ((rc = lowest_floor(js, name, &floor, &out->consumers, who, sizeof who)) != VS_OK) return rc;
    out->acked_floor = out->consumers ? floor : covered;
    uint64_t upto = covered < out->acked_floor ? covered : out->acked_floor;
    if (out->acked_floor < covered) snprintf(out->held_by, sizeof out->held_by, "%s", who);
    if (upto > last) upto = last; /* never past what the stream holds */
    uint64_t keep_from = upto + 1 > keep ? upto + 1 - keep : 0;
    if (!first || keep_from <= first) return VS_OK;
    if ((rc = vs_js_purge_below(js, collection, shard, keep_from)) != VS_OK) return rc;
    out->kept_from = keep_from;
    return VS_OK;
}
