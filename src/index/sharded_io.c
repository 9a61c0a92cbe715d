/* A sharded index's file: the generic META (factory "Shards<n>,...") and one section SHRD
 * holding each shard's complete index image, as vs_index_save_buffer writes it:
 *   u32 shard count, u32 0, then per shard: u64 image length, the image, zeros to 8 bytes.
 * Shards are written one at a time (only one image in memory at once) and loaded with
 * vs_index_load_buffer, which checks each image's own checksums; a view therefore copies the
 * shards (the section is bulk, so the view's open does not hash it twice). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/sharded.h"

#define TAG_SHARDS VS_TAG('S', 'H', 'R', 'D')

int vs_shards_save(const vs_index *ix, vs_container_writer *w)
{
    const vs_shards *s = vs_shards_of(ix);
    uint32_t head[2] = {s->n, 0};
    int rc = vs_container_begin(w, TAG_SHARDS, VS_SECTION_BULK);
    if (!rc) rc = vs_container_write(w, head, sizeof head);
    for (uint32_t i = 0; i < s->n && rc == VS_OK; i++) {
        void *img = NULL;
        size_t len = 0;
        rc = vs_index_save_buffer(s->sh[i], &img, &len);
        uint64_t len64 = len;
        static const uint8_t pad[8];
        if (!rc) rc = vs_container_write(w, &len64, sizeof len64);
        if (!rc) rc = vs_container_write(w, img, len);
        if (!rc && len % 8) rc = vs_container_write(w, pad, 8 - len % 8);
        vs_buffer_free(img);
    }
    if (!rc) rc = vs_container_end(w);
    return rc;
}

int vs_shards_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin)
{
    uint64_t len;
    const uint8_t *p = vs_container_find(c, TAG_SHARDS, &len);
    uint32_t n;
    if (!p || len < 8) return vs_fail(VS_ERR_CORRUPT, "%s: missing or short SHRD section", origin);
    memcpy(&n, p, 4);
    if (n != ix->spec.shards)
        return vs_fail(VS_ERR_CORRUPT, "%s: SHRD holds %u shards, the factory string says %u", origin, n,
                       ix->spec.shards);
    vs_index **sh = calloc(n, sizeof *sh);
    if (!sh) return vs_fail(VS_ERR_NOMEM, "out of memory");
    uint64_t at = 8, total = 0;
    int rc = VS_OK;
    for (uint32_t i = 0; i < n && rc == VS_OK; i++) {
        uint64_t m;
        if (len - at < 8) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: SHRD ends before shard %u", origin, i);
            break;
        }
        memcpy(&m, p + at, 8);
        at += 8;
        if (m > len - at || (m % 8 && 8 - m % 8 > len - at - m)) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: shard %u's image runs past the SHRD section", origin, i);
            break;
        }
        rc = vs_index_load_buffer(p + at, (size_t)m, &sh[i]);
        if (rc) {
            rc = vs_fail(rc, "%s: shard %u: %s", origin, i, vs_last_error());
            break;
        }
        if (sh[i]->dim != ix->dim || sh[i]->metric != ix->metric || sh[i]->spec.shards) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: shard %u (\"%s\") does not fit the sharded index", origin, i,
                         sh[i]->factory);
            break;
        }
        total += sh[i]->ops->size(sh[i]);
        at += m + (m % 8 ? 8 - m % 8 : 0);
    }
    if (rc == VS_OK && at != len) rc = vs_fail(VS_ERR_CORRUPT, "%s: SHRD holds bytes after the last shard", origin);
    if (rc == VS_OK && total != ntotal)
        rc = vs_fail(VS_ERR_CORRUPT, "%s: the shards hold %llu vectors, META says %llu", origin,
                     (unsigned long long)total, (unsigned long long)ntotal);
    if (rc) {
        for (uint32_t i = 0; i < n; i++) vs_index_free(sh[i]);
        free(sh);
        return rc;
    }
    vs_shards_replace(ix, sh, n);
    return VS_OK;
}
