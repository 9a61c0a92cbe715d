/* FAISS-style factory strings: "[Shards<n>,][IVF<n>,|HNSW<M>,]<codes>[,RFlat|,Ru8]" where <codes> is
 * Flat, SQ8, SQ4, SQfp16, SQbf16 or PQ<m>[x<bits>][fs]. "HNSW32" alone means HNSW32,Flat;
 * "Shards<n>," puts n indexes of the rest behind one (sharded.c). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/options.h"
#include "vecscale.h"

/* Parses a decimal in [lo, hi] at *p, advancing it. */
static int parse_uint(const char **p, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (!isdigit((unsigned char)**p)) return 0;
    char *end;
    errno = 0;
    unsigned long v = strtoul(*p, &end, 10);
    if (errno || v < lo || v > hi) return 0;
    *p = end;
    *out = (uint32_t)v;
    return 1;
}

static int fail_at(const char *spec, const char *at, const char *why)
{
    return vs_fail(VS_ERR_FACTORY, "factory string \"%s\": %s at position %d (expected e.g. "
                   "\"Flat\", \"IVF1024,Flat\", \"IVF4096,PQ32x4fs,RFlat\", \"HNSW32,SQ8\", \"SQ8\")",
                   spec, why, (int)(at - spec));
}

/* Matches a whole comma-delimited token. */
static int token_is(const char *p, const char *word)
{
    size_t n = strlen(word);
    return strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0');
}

static int parse_codes(const char *spec, const char **pp, vs_factory_spec *s)
{
    const char *p = *pp;
    static const struct { const char *word; vs_code_kind kind; } simple[] = {
        {"Flat", VS_CODE_FLAT}, {"SQ8", VS_CODE_SQ8}, {"SQ4", VS_CODE_SQ4},
        {"SQfp16", VS_CODE_SQFP16}, {"SQbf16", VS_CODE_SQBF16},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (token_is(p, simple[i].word)) {
            s->code = simple[i].kind;
            *pp = p + strlen(simple[i].word);
            return VS_OK;
        }
    }
    if (strncmp(p, "PQ", 2) == 0) {
        p += 2;
        s->code = VS_CODE_PQ;
        if (!parse_uint(&p, 1, 65536, &s->pq_m)) return fail_at(spec, p, "PQ needs a sub-quantizer count 1..65536");
        s->pq_bits = 8;
        if (*p == 'x') {
            p++;
            if (!parse_uint(&p, 4, 8, &s->pq_bits)) return fail_at(spec, p, "PQ bits must be 4..8");
        }
        if (strncmp(p, "fs", 2) == 0) {
            if (s->pq_bits != 4) return fail_at(spec, p, "fast-scan (fs) needs 4-bit codes (PQ<m>x4fs)");
            s->pq_fastscan = 1;
            p += 2;
        }
        if (*p != ',' && *p != '\0') return fail_at(spec, p, "unexpected characters after PQ");
        *pp = p;
        return VS_OK;
    }
    return fail_at(spec, p, "unknown encoding");
}

static int parse(const char *spec, vs_factory_spec *out)
{
    vs_factory_spec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    const char *p = spec;
    if (*p == '\0') return fail_at(spec, p, "empty string");
    if (strncmp(p, "Shards", 6) == 0) {
        p += 6;
        if (!parse_uint(&p, 1, VS_MAX_SHARDS, &s.shards)) return fail_at(spec, p, "Shards needs a count 1..4096");
        if (*p != ',') return fail_at(spec, p, "Shards<n> must be followed by ',' and the shards' index");
        p++;
        if (strncmp(p, "Shards", 6) == 0) return fail_at(spec, p, "shards of shards are not supported");
    }

    if (strncmp(p, "IVF", 3) == 0) {
        p += 3;
        s.coarse = VS_COARSE_IVF;
        if (!parse_uint(&p, 1, 1u << 24, &s.nlist)) return fail_at(spec, p, "IVF needs a list count 1..16777216");
        if (*p != ',') return fail_at(spec, p, "IVF<n> must be followed by ',' and an encoding");
        p++;
    } else if (strncmp(p, "HNSW", 4) == 0) {
        p += 4;
        s.coarse = VS_COARSE_HNSW;
        if (!parse_uint(&p, 2, 512, &s.hnsw_m)) return fail_at(spec, p, "HNSW needs M in 2..512");
        if (*p == '\0') {
            s.code = VS_CODE_FLAT;
            *out = s;
            return VS_OK;
        }
        if (*p != ',') return fail_at(spec, p, "HNSW<M> must be followed by ',' or end");
        p++;
    }
    int rc = parse_codes(spec, &p, &s);
    if (rc) return rc;
    if (*p == ',') {
        p++;
        if (token_is(p, "RFlat")) {
            s.refine_flat = 1;
        } else if (token_is(p, "Ru8")) {
            if (s.shards) return fail_at(spec, p, "Ru8 keeps one store file per index and cannot be sharded");
            s.refine_u8 = 1;
        } else {
            return fail_at(spec, p, "only RFlat or Ru8 may follow the encoding");
        }
        if (s.code == VS_CODE_FLAT) return fail_at(spec, p, "re-ranking is for compressed codes; Flat needs none");
        p += s.refine_flat ? 5 : 3;
    }
    if (*p != '\0') return fail_at(spec, p, "unexpected trailing characters");
    if (s.coarse == VS_COARSE_HNSW && s.code == VS_CODE_PQ)
        return fail_at(spec, spec, "HNSW over PQ codes is not supported; use SQ8, SQfp16 or Flat");
    *out = s;
    return VS_OK;
}

/* The caller's struct may be shorter than ours (vecscale.h, "Options and result structs"):
 * checked first, and only its bytes are written. */
int vs_factory_parse(const char *spec, vs_factory_spec *out)
{
    if (!spec || !out) return vs_fail(VS_ERR_INVALID_ARG, "factory string is NULL");
    size_t n = 0;
    int rc = vs_result_size(out, sizeof *out, VS_FACTORY_SPEC_V1, "vs_factory_spec", &n);
    if (rc) return rc;
    vs_factory_spec s;
    rc = parse(spec, &s);
    if (rc == VS_OK) vs_result_write(out, &s, n);
    return rc;
}

int vs_factory_format(const vs_factory_spec *caller_spec, char *buf, size_t cap)
{
    if (!caller_spec || !buf || cap == 0) return vs_fail(VS_ERR_INVALID_ARG, "vs_factory_format: bad arguments");
    VS_READ_OPTIONS(vs_factory_spec, given, caller_spec, VS_FACTORY_SPEC_V1);
    const vs_factory_spec *s = &given;
    char shards[24] = "", coarse[32] = "", codes[32], refine[8] = "";
    if (s->refine_flat && s->refine_u8) return vs_fail(VS_ERR_INVALID_ARG, "RFlat and Ru8 exclude each other");
    if (s->shards) snprintf(shards, sizeof shards, "Shards%u,", s->shards);
    if (s->coarse == VS_COARSE_IVF) snprintf(coarse, sizeof coarse, "IVF%u,", s->nlist);
    else if (s->coarse == VS_COARSE_HNSW) snprintf(coarse, sizeof coarse, "HNSW%u,", s->hnsw_m);
    switch (s->code) {
    case VS_CODE_FLAT: snprintf(codes, sizeof codes, "Flat"); break;
    case VS_CODE_SQ8: snprintf(codes, sizeof codes, "SQ8"); break;
    case VS_CODE_SQ4: snprintf(codes, sizeof codes, "SQ4"); break;
    case VS_CODE_SQFP16: snprintf(codes, sizeof codes, "SQfp16"); break;
    case VS_CODE_SQBF16: snprintf(codes, sizeof codes, "SQbf16"); break;
    case VS_CODE_PQ:
        if (s->pq_bits == 8) snprintf(codes, sizeof codes, "PQ%u", s->pq_m);
        else snprintf(codes, sizeof codes, "PQ%ux%u%s", s->pq_m, s->pq_bits, s->pq_fastscan ? "fs" : "");
        break;
    default: return vs_fail(VS_ERR_INVALID_ARG, "unknown encoding %d", (int)s->code);
    }
    if (s->refine_flat) snprintf(refine, sizeof refine, ",RFlat");
    if (s->refine_u8) snprintf(refine, sizeof refine, ",Ru8");
    int n = snprintf(buf, cap, "%s%s%s%s", shards, coarse, codes, refine);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "factory string buffer too small");
    return VS_OK;
}
