/* HNSW sections. One set per storage block b (two decimal digits in the tag), so a viewed
 * file's blocks point straight into the mapping with the same layout as in memory:
 *   HNSW      (metadata) u32 layout | u32 M | u32 ef_construction | u32 keep_pruned |
 *             u64 nodes | u64 deleted | u64 entry (level << 32 | node, or all ones) |
 *             u64 seed | u64 record size
 *   HRbb bulk level-0 records of the block's nodes (id, flags, count, links, vector)
 *   HLbb      u8 level of each of the block's nodes (read on open to find upper lists)
 *   HUbb bulk the block's upper lists, node by node, level x (1 + M) u32 each
 *   HSQR      (HNSW{M},SQ8 / SQ4 only) dim float32 minima, then dim float32 ranges
 * With quantised storage a record holds the vector's code instead of its floats. Layout 2
 * (HNSW{M},SQ8 under L2 only) follows each code with float32 sum_i (s_i c_i)^2 (hnsw_sq8.h);
 * every other index is written as layout 1, which older builds read.
 * Link IDs are not validated on open (that would read every page of a view); every read of a
 * link is bound-checked instead, so a damaged file yields wrong answers, not wild reads. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/hnsw.h"

#define TAG_HNSW VS_TAG('H', 'N', 'S', 'W')
#define TAG_SQR VS_TAG('H', 'S', 'Q', 'R')
#define HDR_BYTES 56

static uint32_t block_tag(char kind, unsigned b) { return VS_TAG('H', kind, '0' + b / 10, '0' + b % 10); }

static unsigned blocks_for(size_t n)
{
    unsigned nb = 0;
    while (nb < VS_HNSW_MAX_BLOCKS && vs_hnsw_block_start(nb) < n) nb++;
    return nb;
}

static size_t used_in_block(unsigned b, size_t n)
{
    size_t start = vs_hnsw_block_start(b), len = vs_hnsw_block_len(b);
    return n > start ? (n - start < len ? n - start : len) : 0;
}

/* Node numbering of a saved file: breadth-first over layer 0 from the entry point (nodes it
 * does not reach follow in their old order). A search walks from a node to its neighbours, and
 * in this order they sit near each other in memory, so a query's hops share pages and DRAM rows
 * instead of landing anywhere in the index. The file format does not change (a renumbered
 * graph is just another graph), so older builds read these files and older files load as they
 * are. order[new] = old, pos[old] = new; NULL when out of memory. */
static uint32_t *bfs_order(const vs_hnsw *h, size_t n, uint32_t **pos_out)
{
    uint32_t *order = malloc((n ? n : 1) * sizeof *order), *pos = malloc((n ? n : 1) * sizeof *pos);
    if (!order || !pos) {
        free(order);
        free(pos);
        return NULL;
    }
    memset(pos, 0xff, n * sizeof *pos);
    size_t placed = 0;
    uint64_t entry = atomic_load(&((vs_hnsw *)h)->entry);
    for (size_t next = 0, seed = entry == VS_HNSW_EMPTY ? 0 : (uint32_t)entry; placed < n; seed = next++) {
        if (seed >= n || pos[seed] != UINT32_MAX) continue;
        pos[seed] = (uint32_t)placed;
        order[placed] = (uint32_t)seed;
        for (size_t head = placed++; head < placed; head++) {
            uint32_t cap;
            const vs_hnsw_word *list = vs_hnsw_list(h, order[head], 0, &cap);
            uint32_t cnt = vs_hnsw_count(list, cap);
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t v = atomic_load_explicit(&list[1 + j], memory_order_relaxed);
                if (v >= n || pos[v] != UINT32_MAX) continue;
                pos[v] = (uint32_t)placed;
                order[placed++] = v;
            }
        }
    }
    *pos_out = pos;
    return order;
}

/* Link IDs through the renumbering; out-of-range IDs (a damaged image) stay out of range. */
static void renumber(uint32_t *links, size_t k, const uint32_t *pos, size_t n)
{
    for (size_t j = 0; j < k; j++)
        if (links[j] < n) links[j] = pos[links[j]];
}

/* One block's level-0 records in the new order, links renumbered, written in chunks. */
static int write_records(vs_container_writer *w, const vs_hnsw *h, unsigned b, size_t used, const uint32_t *order,
                         const uint32_t *pos, size_t n)
{
    enum { CHUNK = 256 };
    uint8_t *buf = malloc(CHUNK * h->rec_size);
    if (!buf) return vs_fail(VS_ERR_NOMEM, "out of memory saving the index");
    int rc = vs_container_begin(w, block_tag('R', b), VS_SECTION_BULK);
    size_t start = vs_hnsw_block_start(b);
    for (size_t i = 0; !rc && i < used; i += CHUNK) {
        size_t m = used - i < CHUNK ? used - i : CHUNK;
        for (size_t r = 0; r < m; r++) {
            uint8_t *dst = buf + r * h->rec_size;
            memcpy(dst, vs_hnsw_rec(h, order[start + i + r]), h->rec_size);
            for (uint32_t j = 0; j < h->M0; j++) {
                uint32_t v;
                memcpy(&v, dst + 16 + 4 * j, 4);
                renumber(&v, 1, pos, n);
                memcpy(dst + 16 + 4 * j, &v, 4);
            }
        }
        rc = vs_container_write(w, buf, (uint64_t)m * h->rec_size);
    }
    free(buf);
    return rc ? rc : vs_container_end(w);
}

int vs_hnsw_save(const vs_index *ix, vs_container_writer *w)
{
    const vs_hnsw *h = ix->impl;
    size_t n = atomic_load(&((vs_hnsw *)h)->n);
    uint32_t *pos = NULL, *order = bfs_order(h, n, &pos);
    if (!order) return vs_fail(VS_ERR_NOMEM, "out of memory saving the index");
    uint8_t hdr[HDR_BYTES];
    uint32_t layout = h->sq8_norm ? 2 : 1, keep = (uint32_t)h->keep_pruned;
    uint64_t nodes = n, del = atomic_load(&((vs_hnsw *)h)->n_deleted);
    uint64_t entry = atomic_load(&((vs_hnsw *)h)->entry), rs = h->rec_size;
    if (entry != VS_HNSW_EMPTY && (uint32_t)entry < n) entry = (entry & ~(uint64_t)UINT32_MAX) | pos[(uint32_t)entry];
    memcpy(hdr, &layout, 4);
    memcpy(hdr + 4, &h->M, 4);
    memcpy(hdr + 8, &h->efc, 4);
    memcpy(hdr + 12, &keep, 4);
    memcpy(hdr + 16, &nodes, 8);
    memcpy(hdr + 24, &del, 8);
    memcpy(hdr + 32, &entry, 8);
    memcpy(hdr + 40, &h->seed, 8);
    memcpy(hdr + 48, &rs, 8);
    int rc = vs_container_add(w, TAG_HNSW, 0, hdr, sizeof hdr);
    if (!rc && h->quant && h->sq.vmin) {
        const void *parts[2] = {h->sq.vmin, h->sq.vdiff};
        uint64_t lens[2] = {(uint64_t)h->dim * sizeof(float), (uint64_t)h->dim * sizeof(float)};
        rc = vs_container_add_parts(w, TAG_SQR, 0, parts, lens, 2);
    }
    unsigned nb = blocks_for(n);
    for (unsigned b = 0; !rc && b < nb; b++) {
        size_t used = used_in_block(b, n), start = vs_hnsw_block_start(b), words = 0;
        uint8_t *lv = malloc(used ? used : 1);
        if (!lv) {
            rc = vs_fail(VS_ERR_NOMEM, "out of memory saving the index");
            break;
        }
        for (size_t i = 0; i < used; i++) {
            lv[i] = (uint8_t)vs_hnsw_meta_of(h, order[start + i])->level;
            words += (size_t)lv[i] * (1 + h->M);
        }
        uint32_t *up = malloc((words ? words : 1) * sizeof *up);
        if (!up) {
            free(lv);
            rc = vs_fail(VS_ERR_NOMEM, "out of memory saving the index");
            break;
        }
        size_t at = 0;
        for (size_t i = 0; i < used; i++) {
            const vs_hnsw_meta *m = vs_hnsw_meta_of(h, order[start + i]);
            for (uint32_t l = 0; l < lv[i]; l++) {
                const vs_hnsw_word *src = m->upper + (size_t)l * (1 + h->M);
                up[at] = atomic_load_explicit(&src[0], memory_order_relaxed); /* the count */
                for (uint32_t j = 0; j < h->M; j++) up[at + 1 + j] = atomic_load_explicit(&src[1 + j], memory_order_relaxed);
                renumber(up + at + 1, h->M, pos, n);
                at += 1 + h->M;
            }
        }
        rc = write_records(w, h, b, used, order, pos, n);
        if (!rc) rc = vs_container_add(w, block_tag('L', b), 0, lv, used);
        if (!rc) rc = vs_container_add(w, block_tag('U', b), VS_SECTION_BULK, up, (uint64_t)words * 4);
        free(lv);
        free(up);
    }
    free(order);
    free(pos);
    return rc;
}

static const void *need(const vs_container *c, uint32_t tag, uint64_t expect, const char *origin, int *rc)
{
    uint64_t len;
    const void *p = vs_container_find(c, tag, &len);
    if (!p) *rc = vs_fail(VS_ERR_CORRUPT, "%s: missing section '%.4s'", origin, (const char *)&tag);
    else if (expect != UINT64_MAX && len != expect)
        *rc = vs_fail(VS_ERR_CORRUPT, "%s: section '%.4s' has %llu bytes, expected %llu", origin, (const char *)&tag,
                      (unsigned long long)len, (unsigned long long)expect);
    return *rc ? NULL : p;
}

int vs_hnsw_load(vs_index *ix, const vs_container *c, uint64_t ntotal, const char *origin)
{
    vs_hnsw *h = ix->impl;
    int rc = VS_OK;
    const uint8_t *hdr = need(c, TAG_HNSW, HDR_BYTES, origin, &rc);
    if (rc) return rc;
    uint32_t layout, M, efc, keep;
    uint64_t nodes, del, entry, seed, rs;
    memcpy(&layout, hdr, 4);
    memcpy(&M, hdr + 4, 4);
    memcpy(&efc, hdr + 8, 4);
    memcpy(&keep, hdr + 12, 4);
    memcpy(&nodes, hdr + 16, 8);
    memcpy(&del, hdr + 24, 8);
    memcpy(&entry, hdr + 32, 8);
    memcpy(&seed, hdr + 40, 8);
    memcpy(&rs, hdr + 48, 8);
    if (layout > 2) return vs_fail(VS_ERR_VERSION, "%s: HNSW layout %u is newer than this build reads (2)", origin, layout);
    if (layout != (h->sq8_norm ? 2u : 1u))
        return vs_fail(layout == 1 ? VS_ERR_VERSION : VS_ERR_CORRUPT,
                       "%s: HNSW layout %u does not fit this index (an HNSW,SQ8 L2 index written before "
                       "layout 2 must be rebuilt)", origin, layout);
    if (M != h->M || rs != h->rec_size || keep > 1)
        return vs_fail(VS_ERR_CORRUPT, "%s: HNSW metadata (M %u, record %llu bytes) does not match the factory string",
                       origin, M, (unsigned long long)rs);
    /* The next insert sizes its candidate list by it: 2^31 asked for 32 GB (found by the
     * mutated seeds of test_fuzz_corpus). */
    if (efc == 0 || efc > VS_MAX_K)
        return vs_fail(VS_ERR_CORRUPT, "%s: HNSW ef_construction %u is outside 1..%u", origin, efc, VS_MAX_K);
    if (nodes >= UINT32_MAX || del > nodes || nodes - del != ntotal)
        return vs_fail(VS_ERR_CORRUPT, "%s: HNSW node counts (%llu nodes, %llu deleted) disagree with META (%llu)",
                       origin, (unsigned long long)nodes, (unsigned long long)del, (unsigned long long)ntotal);
    if (nodes == 0 ? entry != VS_HNSW_EMPTY : ((uint32_t)entry >= nodes || (entry >> 32) >= VS_HNSW_MAX_LEVEL))
        return vs_fail(VS_ERR_CORRUPT, "%s: HNSW entry point is invalid", origin);
    if (h->quant && h->sq.vmin) {
        const float *rg = need(c, TAG_SQR, 2 * (uint64_t)h->dim * sizeof(float), origin, &rc);
        if (rc) return rc;
        float *tmp = malloc(2 * (size_t)h->dim * sizeof *tmp); /* the section may be unaligned */
        if (!tmp) return vs_fail(VS_ERR_NOMEM, "out of memory opening %s", origin);
        memcpy(tmp, rg, 2 * (size_t)h->dim * sizeof *tmp);
        rc = vs_sq_set_ranges(&h->sq, tmp, tmp + h->dim);
        free(tmp);
        if (rc) return rc;
        ix->trained = 1;
    }
    size_t n = (size_t)nodes;
    unsigned nb = blocks_for(n);
    const uint8_t *recs[VS_HNSW_MAX_BLOCKS] = {0};
    vs_hnsw_meta *metas[VS_HNSW_MAX_BLOCKS] = {0};
    for (unsigned b = 0; !rc && b < nb; b++) {
        size_t used = used_in_block(b, n);
        recs[b] = need(c, block_tag('R', b), (uint64_t)used * h->rec_size, origin, &rc);
        const uint8_t *lv = rc ? NULL : need(c, block_tag('L', b), used, origin, &rc);
        size_t words = 0;
        for (size_t i = 0; !rc && i < used; i++) {
            if (lv[i] >= VS_HNSW_MAX_LEVEL) rc = vs_fail(VS_ERR_CORRUPT, "%s: HNSW node level %u is invalid", origin, lv[i]);
            words += (size_t)lv[i] * (1 + h->M);
        }
        const uint8_t *up = rc ? NULL : need(c, block_tag('U', b), (uint64_t)words * 4, origin, &rc);
        if (rc) break;
        metas[b] = calloc(vs_hnsw_block_len(b), sizeof *metas[b]);
        if (!metas[b]) {
            rc = vs_fail(VS_ERR_NOMEM, "out of memory opening %s", origin);
            break;
        }
        size_t at = 0;
        for (size_t i = 0; i < used; i++) {
            metas[b][i].level = lv[i];
            /* Upper lists are read in place (never written while the image backs the index). */
            metas[b][i].upper = lv[i] ? (vs_hnsw_word *)(uintptr_t)(up + at * 4) : NULL;
            at += (size_t)lv[i] * (1 + h->M);
        }
    }
    if (!rc && n) {
        uint32_t ep = (uint32_t)entry;
        size_t off;
        unsigned b = vs_hnsw_block_of(ep, &off);
        if ((entry >> 32) != metas[b][off].level)
            rc = vs_fail(VS_ERR_CORRUPT, "%s: HNSW entry point level disagrees with its node", origin);
    }
    if (rc) {
        for (unsigned b = 0; b < nb; b++) free(metas[b]);
        return rc;
    }
    for (unsigned b = 0; b < VS_HNSW_MAX_BLOCKS; b++) {
        free(h->meta[b]);
        if (h->owned) free(h->rec[b]);
        h->rec[b] = (uint8_t *)(uintptr_t)recs[b];
        h->meta[b] = metas[b];
    }
    h->n_blocks = nb;
    h->owned = 0;
    h->efc = ix->ef_construction ? ix->ef_construction : efc;
    h->keep_pruned = (int)keep;
    h->seed = seed;
    atomic_store(&h->n, n);
    atomic_store(&h->n_deleted, (size_t)del);
    atomic_store(&h->entry, entry);
    vs_idmap_destroy(&h->map);
    h->map_ready = 0; /* built from the records at the first get, add or remove */
    return VS_OK;
}
