/* BERT normalisation, pre-tokenisation and WordPiece (the steps are listed in tokenizer.h).
 * Where transformers.js and the Python/Rust tokenizers differ, this follows transformers.js. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "embed/tokenizer_impl.h"
#include "embed/utf8.h"

typedef struct {
    int32_t *v;
    size_t n, cap;
} cps;

static int cps_reserve(cps *a, size_t need)
{
    if (need <= a->cap) return 0;
    size_t nc = a->cap ? a->cap : 64;
    while (nc < need) nc *= 2;
    int32_t *nv = realloc(a->v, nc * sizeof *nv);
    if (!nv) return -1;
    a->v = nv;
    a->cap = nc;
    return 0;
}

/* JavaScript's \s after controls are gone (\v, \f, U+FEFF are Cc/Cf and removed first). */
static int is_space(int32_t c)
{
    return c == ' ' || (c >= 9 && c <= 13) || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

static int is_control(int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO ||
           k == UTF8PROC_CATEGORY_CS;
}

static int is_punct(int32_t c)
{
    if ((c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E))
        return 1;
    if (c < 0x80) return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* The reference tests UTF-16 code units, so only the BMP blocks ever match. */
static int is_cjk(int32_t c) { return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF); }

/* Unicode "Cased" and "Case_Ignorable" (DerivedCoreProperties), for the Final_Sigma rule. */
static int is_cased(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    if (k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT) return 1;
    return c == 0xAA || c == 0xBA || (c >= 0x2B0 && c <= 0x2B8) || c == 0x2C0 || c == 0x2C1 ||
           (c >= 0x2E0 && c <= 0x2E4) || c == 0x345 || c == 0x37A || (c >= 0x1D2C && c <= 0x1D6A) ||
           c == 0x1D78 || (c >= 0x1D9B && c <= 0x1DBF) || c == 0x2071 || c == 0x207F ||
           (c >= 0x2090 && c <= 0x209C) || (c >= 0x2160 && c <= 0x217F) || (c >= 0x24B6 && c <= 0x24E9) ||
           (c >= 0x2C7C && c <= 0x2C7D) || (c >= 0xA69C && c <= 0xA69D) || c == 0xA770 ||
           (c >= 0xA7F8 && c <= 0xA7F9) || (c >= 0xAB5C && c <= 0xAB5F);
}

static int is_case_ignorable(int32_t c)
{
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A: return 1;
    default: break;
    }
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
}

static int final_sigma(const int32_t *v, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && is_case_ignorable(v[j - 1])) j--;
    if (j == 0 || !is_cased(v[j - 1])) return 0;
    j = i + 1;
    while (j < n && is_case_ignorable(v[j])) j++;
    return !(j < n && is_cased(v[j]));
}

/* Steps 2 of tokenizer.h on one piece of text between special tokens: in -> out. */
static int normalize(const vs_tokenizer *t, const char *s, size_t len, cps *a, cps *b, char **u8, size_t *u8cap)
{
    a->n = 0;
    if (cps_reserve(a, 3 * len + 1)) return -1;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        int32_t c;
        i += (size_t)vs_utf8_decode(p + i, &c);
        if (t->clean_text) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (is_space(c)) c = ' ';
        }
        if (t->chinese_chars && is_cjk(c)) {
            a->v[a->n++] = ' ';
            a->v[a->n++] = c;
            a->v[a->n++] = ' ';
        } else
            a->v[a->n++] = c;
    }
    if (t->lowercase) {
        b->n = 0;
        if (cps_reserve(b, 2 * a->n + 1)) return -1;
        for (size_t i = 0; i < a->n; i++) {
            int32_t c = a->v[i];
            if (c == 0x130) { /* SpecialCasing: İ -> i + combining dot above */
                b->v[b->n++] = 'i';
                b->v[b->n++] = 0x307;
            } else if (c == 0x3A3)
                b->v[b->n++] = final_sigma(a->v, a->n, i) ? 0x3C2 : 0x3C3;
            else
                b->v[b->n++] = utf8proc_tolower(c);
        }
        cps tmp = *a;
        *a = *b;
        *b = tmp;
    }
    if (!t->strip_accents) return 0;
    /* NFD (with canonical reordering) through utf8proc, then drop non-spacing marks. */
    if (*u8cap < 4 * a->n + 1) {
        char *nb = realloc(*u8, 4 * a->n + 1);
        if (!nb) return -1;
        *u8 = nb;
        *u8cap = 4 * a->n + 1;
    }
    size_t bl = 0;
    for (size_t i = 0; i < a->n; i++) bl += (size_t)vs_utf8_encode(a->v[i], *u8 + bl);
    if (bl == 0) {
        a->n = 0;
        return 0;
    }
    utf8proc_ssize_t need = utf8proc_decompose((const utf8proc_uint8_t *)*u8, (utf8proc_ssize_t)bl, b->v,
                                               (utf8proc_ssize_t)b->cap, UTF8PROC_DECOMPOSE);
    if (need < 0) return -1;
    if ((size_t)need > b->cap) {
        if (cps_reserve(b, (size_t)need)) return -1;
        need = utf8proc_decompose((const utf8proc_uint8_t *)*u8, (utf8proc_ssize_t)bl, b->v, (utf8proc_ssize_t)b->cap,
                                  UTF8PROC_DECOMPOSE);
        if (need < 0) return -1;
    }
    a->n = 0;
    if (cps_reserve(a, (size_t)need)) return -1;
    for (utf8proc_ssize_t i = 0; i < need; i++)
        if (utf8proc_category(b->v[i]) != UTF8PROC_CATEGORY_MN) a->v[a->n++] = b->v[i];
    return 0;
}

typedef struct {
    int32_t *ids;
    size_t n, max; /* max content tokens */
    char *buf;     /* the word's UTF-8 */
    char *cand;    /* prefix + a piece of it */
    size_t *off;   /* byte offset of each code point of the word, and the end */
} emitter;

static void emit(emitter *e, int32_t id)
{
    if (e->n < e->max) e->ids[e->n++] = id;
}

/* Greedy longest-match-first WordPiece over code points w[0..n). */
static void wordpiece(const vs_tokenizer *t, const int32_t *w, size_t n, emitter *e)
{
    if (n > t->max_chars_per_word) {
        emit(e, t->unk_id);
        return;
    }
    size_t pl = strlen(t->prefix), bl = 0;
    char *word = e->buf, *cand = e->cand;
    for (size_t i = 0; i < n; i++) {
        e->off[i] = bl;
        bl += (size_t)vs_utf8_encode(w[i], word + bl);
    }
    e->off[n] = bl;
    memcpy(cand, t->prefix, pl);
    size_t first = e->n, start = 0;
    while (start < n) {
        int32_t found = -1;
        size_t end = n;
        for (; end > start; end--) {
            size_t sl = e->off[end] - e->off[start];
            if (start == 0) found = vs_vocab_get(&t->vocab, word, sl);
            else {
                memcpy(cand + pl, word + e->off[start], sl);
                found = vs_vocab_get(&t->vocab, cand, pl + sl);
            }
            if (found >= 0) break;
        }
        if (found < 0) { /* one uncoverable piece makes the whole word [UNK] */
            e->n = first;
            emit(e, t->unk_id);
            return;
        }
        emit(e, found);
        start = end;
    }
}

int vs_tokenizer_encode(const vs_tokenizer *t, const char *text, size_t len, size_t max_tokens, int32_t *ids,
                        size_t *n_out)
{
    if (max_tokens < 2) return vs_fail(VS_ERR_INVALID_ARG, "max_tokens must be at least 2");
    cps a = {0}, b = {0};
    char *u8 = NULL;
    size_t u8cap = 0;
    emitter e = {.ids = ids + 1, .max = max_tokens - 2};
    int rc = VS_OK;
    size_t seg = 0;
    for (size_t i = 0; i <= len && e.n < e.max;) {
        /* Special tokens are cut out of the raw text first, leftmost-longest. */
        size_t best = 0;
        int32_t best_id = -1;
        if (i < len && text[i] == '[')
            for (size_t k = 0; k < t->n_special; k++) {
                size_t sl = strlen(t->special[k]);
                if (sl > best && sl <= len - i && !memcmp(text + i, t->special[k], sl)) best = sl, best_id = t->special_id[k];
            }
        if (i < len && !best) {
            i++;
            continue;
        }
        if (i > seg) {
            if (normalize(t, text + seg, i - seg, &a, &b, &u8, &u8cap)) {
                rc = vs_fail(VS_ERR_NOMEM, "out of memory");
                break;
            }
            size_t pl = strlen(t->prefix);
            char *nb = realloc(e.buf, 4 * a.n + 8), *nc = nb ? realloc(e.cand, pl + 4 * a.n + 8) : NULL;
            size_t *no = nc ? realloc(e.off, (a.n + 2) * sizeof *no) : NULL;
            if (nb) e.buf = nb;
            if (nc) e.cand = nc;
            if (no) e.off = no;
            if (!no) {
                rc = vs_fail(VS_ERR_NOMEM, "out of memory");
                break;
            }
            size_t w0 = 0;
            for (size_t k = 0; k <= a.n && e.n < e.max; k++) {
                int32_t c = k < a.n ? a.v[k] : ' ';
                int sp = is_space(c), pu = !sp && is_punct(c);
                if (!sp && !pu) continue;
                if (k > w0) wordpiece(t, a.v + w0, k - w0, &e);
                if (pu) wordpiece(t, a.v + k, 1, &e);
                w0 = k + 1;
            }
        }
        if (best) emit(&e, best_id);
        i += best ? best : 1;
        seg = i;
    }
    free(a.v);
    free(b.v);
    free(u8);
    free(e.buf);
    free(e.cand);
    free(e.off);
    if (rc) return rc;
    ids[0] = t->cls_id;
    ids[e.n + 1] = t->sep_id;
    *n_out = e.n + 2;
    return VS_OK;
}
