/* Shared by the harnesses whose input carries checksums (index and model containers, the
 * write-ahead log, snapshot manifests).
 *
 * Re-checksumming: a mutated input almost never has valid checksums, so a parser behind a
 * checksum would never see it. Fuzzing builds (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) skip
 * the comparisons instead; the corpus replay in the ordinary (and ASan/UBSan) test build must
 * not, so every harness rewrites the checksum fields of its input before parsing. Both builds
 * then give the parser the same bytes, and the library under test is the one that ships.
 *
 * Outcome counts: each harness tallies its inputs in a vs_fuzz_stats, which test_fuzz_corpus
 * prints and checks (how many got past the checksum, how many were accepted). A violated
 * invariant calls vs_fuzz_fail, which names the check and aborts (libFuzzer and the replay
 * test both report an abort as a failure). */
#ifndef VS_FUZZ_COMMON_H
#define VS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct {
    size_t inputs;
    size_t intact;        /* checksums valid as the input came (before re-checksumming) */
    size_t past_checksum; /* after re-checksumming, the checksum stage passed */
    size_t accepted;      /* the parser accepted the input (and the harness checked it) */
} vs_fuzz_stats;

extern vs_fuzz_stats vs_fuzz_load_index_stats, vs_fuzz_glove_model_stats, vs_fuzz_wal_stats, vs_fuzz_s3_answers_stats,
    vs_fuzz_vecfile_stats, vs_fuzz_load_quantizer_stats;

static inline void vs_fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz harness: invariant violated: %s (%s:%d)\n", what, file, line);
    abort();
}
#define VS_FUZZ_CHECK(cond) ((cond) ? (void)0 : vs_fuzz_fail(#cond, __FILE__, __LINE__))

static inline uint32_t vs_fuzz_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t vs_fuzz_get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void vs_fuzz_put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Rewrites the checksums of a section container (src/io/container.h): every section whose
 * range lies inside the image, then the table, then the header, which covers the table's.
 * Returns whether any byte changed. */
static inline int vs_fuzz_fix_container(uint8_t *b, size_t size)
{
    if (size < 64 || memcmp(b, "VECSCALE", 8)) return 0;
    int changed = 0;
    uint64_t table = vs_fuzz_get64(b + 24);
    uint32_t count = vs_fuzz_get32(b + 32);
    if (count <= 256 && table >= 64 && table <= size && (size - table) / 32 >= count) {
        for (uint32_t i = 0; i < count; i++) {
            uint8_t *e = b + table + (size_t)i * 32;
            uint64_t off = vs_fuzz_get64(e + 8), len = vs_fuzz_get64(e + 16);
            if (off > size || len > size - off) continue;
            uint64_t sum = XXH3_64bits(b + off, (size_t)len);
            changed |= vs_fuzz_get64(e + 24) != sum;
            vs_fuzz_put64(e + 24, sum);
        }
        uint64_t sum = XXH3_64bits(b + table, (size_t)count * 32);
        changed |= vs_fuzz_get64(b + 40) != sum;
        vs_fuzz_put64(b + 40, sum);
    }
    uint64_t sum = XXH3_64bits(b, 56);
    changed |= vs_fuzz_get64(b + 56) != sum;
    vs_fuzz_put64(b + 56, sum);
    return changed;
}

/* Rewrites the checksum of every write-ahead log record (src/collection/wal.h: u32 length |
 * u32 type | u64 seq | payload | u64 XXH3 of the rest) that fits in b[0..size), in order.
 * Returns whether any byte changed. */
static inline int vs_fuzz_fix_wal_records(uint8_t *b, size_t size)
{
    int changed = 0;
    for (size_t off = 0; size - off >= 24;) {
        uint64_t len = vs_fuzz_get32(b + off);
        if (len > size - off - 24) break;
        uint64_t sum = XXH3_64bits(b + off, (size_t)(16 + len));
        changed |= vs_fuzz_get64(b + off + 16 + len) != sum;
        vs_fuzz_put64(b + off + 16 + len, sum);
        off += 24 + (size_t)len;
    }
    return changed;
}

/* Rewrites the checksum of a snapshot manifest ("VSMANIFEST <version> <16 hex>\n<json>",
 * src/cluster/snapshot_manifest.c) when its first line has that shape. Returns -1 when it
 * has not (nothing to rewrite), else whether any byte changed. */
static inline int vs_fuzz_fix_manifest(char *buf, size_t len)
{
    const char *nl = len ? memchr(buf, '\n', len < 64 ? len : 64) : NULL;
    if (!nl || len < 11 || memcmp(buf, "VSMANIFEST ", 11)) return -1;
    char head[64], sum[32] = "";
    memcpy(head, buf, (size_t)(nl - buf));
    head[nl - buf] = '\0';
    int at = -1;
    if (sscanf(head, "VSMANIFEST %*u %n%16s", &at, sum) != 1 || at < 0 || strlen(sum) != 16) return -1;
    const char *json = nl + 1;
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)XXH3_64bits(json, len - (size_t)(json - buf)));
    /* %16s skipped white space after at; the token starts at the first non-space. */
    char *tok = buf + at;
    while (*tok == ' ' || *tok == '\t' || *tok == '\r' || *tok == '\v' || *tok == '\f') tok++;
    int changed = memcmp(tok, want, 16) != 0;
    memcpy(tok, want, 16);
    return changed;
}

#endif
