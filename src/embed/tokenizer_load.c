/* Loading a BERT tokenizer from tokenizer.json, or vocab.txt + tokenizer_config.json. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/json_file.h"
#include "embed/tokenizer_impl.h"
#include "embed/utf8.h"

static int add_special(vs_tokenizer *t, const char *content, int32_t id)
{
    if (t->n_special == VS_TOK_MAX_SPECIAL || !*content) return VS_OK;
    for (size_t i = 0; i < t->n_special; i++)
        if (!strcmp(t->special[i], content)) return VS_OK;
    if (!(t->special[t->n_special] = strdup(content))) return vs_fail(VS_ERR_NOMEM, "out of memory");
    t->special_id[t->n_special++] = id;
    return VS_OK;
}

/* Takes ownership of j. */
static int from_tokenizer_json(vs_tokenizer *t, cJSON *j, const char *path)
{
    int rc = VS_OK, ok = 1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const char *type = vs_json_str(model, "type", "", &ok);
    if (strcmp(type, "WordPiece")) {
        rc = vs_fail(VS_ERR_UNSUPPORTED, "%s: tokenizer model '%s' is not supported (WordPiece is)", path, type);
        goto out;
    }
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(j, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        const char *nt = vs_json_str(norm, "type", "", &ok);
        if (strcmp(nt, "BertNormalizer")) {
            rc = vs_fail(VS_ERR_UNSUPPORTED, "%s: normalizer '%s' is not supported (BertNormalizer is)", path, nt);
            goto out;
        }
        t->clean_text = vs_json_bool(norm, "clean_text", 1, &ok);
        t->chinese_chars = vs_json_bool(norm, "handle_chinese_chars", 1, &ok);
        t->lowercase = vs_json_bool(norm, "lowercase", 1, &ok);
        t->strip_accents = vs_json_bool(norm, "strip_accents", t->lowercase, &ok);
    } else
        t->clean_text = t->chinese_chars = t->lowercase = t->strip_accents = 0;
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer");
    const char *pt = vs_json_str(pre, "type", "", &ok);
    if (strcmp(pt, "BertPreTokenizer")) {
        rc = vs_fail(VS_ERR_UNSUPPORTED, "%s: pre-tokenizer '%s' is not supported (BertPreTokenizer is)", path, pt);
        goto out;
    }
    const char *prefix = vs_json_str(model, "continuing_subword_prefix", "##", &ok);
    long max_chars = vs_json_int(model, "max_input_chars_per_word", 100, &ok);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!ok || !cJSON_IsObject(vocab) || strlen(prefix) >= sizeof t->prefix || max_chars < 1) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: malformed WordPiece model (vocab, prefix or max_input_chars_per_word)", path);
        goto out;
    }
    snprintf(t->prefix, sizeof t->prefix, "%s", prefix);
    t->max_chars_per_word = (size_t)max_chars;
    if ((rc = vs_vocab_init(&t->vocab, (size_t)cJSON_GetArraySize(vocab)))) goto out;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab)
    {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e8 ||
            vs_utf8_invalid_at(e->string, strlen(e->string)) != strlen(e->string)) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: vocabulary entry '%s' is not a valid token -> id", path, e->string);
            goto out;
        }
        if ((rc = vs_vocab_add(&t->vocab, e->string, strlen(e->string), (int32_t)e->valuedouble, path))) goto out;
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    cJSON_ArrayForEach(e, added)
    {
        const char *content = vs_json_str(e, "content", "", &ok);
        long id = vs_json_int(e, "id", -1, &ok);
        if (!ok || id < 0 || id > INT32_MAX) {
            rc = vs_fail(VS_ERR_CORRUPT, "%s: malformed added_tokens entry", path);
            goto out;
        }
        if ((rc = add_special(t, content, (int32_t)id))) goto out;
    }
    const char *unk = vs_json_str(model, "unk_token", "[UNK]", &ok);
    t->unk_id = vs_vocab_get(&t->vocab, unk, strlen(unk));
out:
    cJSON_Delete(j);
    return rc;
}

/* vocab.txt (one token per line, id = line number - 1) with its optional config (cfg may be
 * NULL: BERT's defaults, uncased with accents stripped). */
static int from_vocab_txt(vs_tokenizer *t, const char *text, size_t len, const cJSON *cfg, const char *path)
{
    if (vs_utf8_invalid_at(text, len) != len) return vs_fail(VS_ERR_CORRUPT, "%s: not valid UTF-8", path);
    int rc = vs_vocab_init(&t->vocab, len / 8);
    if (rc) return rc;
    int32_t id = 0;
    for (const char *p = text; p < text + len; id++) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        if (l == 0 && !nl) break;
        if ((rc = vs_vocab_add(&t->vocab, p, l, id, path))) return rc;
        p += l + 1;
    }
    int ok = 1;
    t->clean_text = 1;
    t->lowercase = vs_json_bool(cfg, "do_lower_case", 1, &ok);
    t->strip_accents = vs_json_bool(cfg, "strip_accents", t->lowercase, &ok);
    t->chinese_chars = vs_json_bool(cfg, "tokenize_chinese_chars", 1, &ok);
    if (!ok) return vs_fail(VS_ERR_CORRUPT, "%s: tokenizer_config.json: a field has the wrong type", path);
    snprintf(t->prefix, sizeof t->prefix, "##");
    t->max_chars_per_word = 100;
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (size_t i = 0; i < 5; i++) {
        int32_t sid = vs_vocab_get(&t->vocab, specials[i], strlen(specials[i]));
        if (sid >= 0 && (rc = add_special(t, specials[i], sid))) return rc;
    }
    t->unk_id = vs_vocab_get(&t->vocab, "[UNK]", 5);
    return VS_OK;
}

/* Checks what every encode needs, and hands t out or frees it. */
static int finish(vs_tokenizer *t, int rc, const char *origin, vs_tokenizer **out)
{
    if (!rc) {
        t->cls_id = vs_vocab_get(&t->vocab, "[CLS]", 5);
        t->sep_id = vs_vocab_get(&t->vocab, "[SEP]", 5);
        if (t->cls_id < 0 || t->sep_id < 0 || t->unk_id < 0)
            rc = vs_fail(VS_ERR_CORRUPT, "%s: the vocabulary lacks [CLS], [SEP] or the unknown token", origin);
    }
    if (rc) {
        vs_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return VS_OK;
}

int vs_tokenizer_load(const char *dir, vs_tokenizer **out)
{
    *out = NULL;
    vs_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return vs_fail(VS_ERR_NOMEM, "out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    cJSON *j = NULL, *cfg = NULL;
    int rc = vs_json_load(path, &j);
    if (!rc) return finish(t, from_tokenizer_json(t, j, path), dir, out);
    if (rc != VS_ERR_NOT_FOUND) return finish(t, rc, dir, out);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    char *text = NULL;
    size_t len;
    rc = vs_read_file(path, (size_t)256 << 20, &text, &len);
    if (rc == VS_ERR_NOT_FOUND)
        rc = vs_fail(VS_ERR_NOT_FOUND, "%s: no tokenizer (neither tokenizer.json nor vocab.txt)", dir);
    /* tokenizer_config.json is optional. */
    char cfg_path[4200];
    snprintf(cfg_path, sizeof cfg_path, "%s/tokenizer_config.json", dir);
    int crc = rc ? VS_OK : vs_json_load(cfg_path, &cfg);
    if (!rc && crc != VS_ERR_NOT_FOUND) rc = crc;
    if (!rc) rc = from_vocab_txt(t, text, len, cfg, path);
    free(text);
    cJSON_Delete(cfg);
    return finish(t, rc, dir, out);
}

int vs_tokenizer_from_json(const char *json, size_t len, const char *origin, vs_tokenizer **out)
{
    *out = NULL;
    vs_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return vs_fail(VS_ERR_NOMEM, "out of memory");
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!j) return finish(t, vs_fail(VS_ERR_CORRUPT, "%s: invalid JSON", origin), origin, out);
    return finish(t, from_tokenizer_json(t, j, origin), origin, out);
}

int vs_tokenizer_from_vocab(const char *vocab_txt, size_t len, const char *origin, vs_tokenizer **out)
{
    *out = NULL;
    vs_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return vs_fail(VS_ERR_NOMEM, "out of memory");
    return finish(t, from_vocab_txt(t, vocab_txt, len, NULL, origin), origin, out);
}

void vs_tokenizer_free(vs_tokenizer *t)
{
    if (!t) return;
    vs_vocab_free(&t->vocab);
    for (size_t i = 0; i < t->n_special; i++) free(t->special[i]);
    free(t);
}

size_t vs_tokenizer_vocab_size(const vs_tokenizer *t) { return t->vocab.max_id_plus_1; }

int32_t vs_tokenizer_token_id(const vs_tokenizer *t, const char *token)
{
    return vs_vocab_get(&t->vocab, token, strlen(token));
}

int32_t vs_tokenizer_unk_id(const vs_tokenizer *t) { return t->unk_id; }
