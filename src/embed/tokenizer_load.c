/* Loading a BERT tokenizer from tokenizer.json, or vocab.txt + tokenizer_config.json. */
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

static int from_tokenizer_json(vs_tokenizer *t, const char *path)
{
    cJSON *j;
    int rc = vs_json_load(path, &j);
    if (rc) return rc;
    int ok = 1;
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
        if (!ok || id < 0) {
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

static int from_vocab_txt(vs_tokenizer *t, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    char *text;
    size_t len;
    int rc = vs_read_file(path, (size_t)256 << 20, &text, &len);
    if (rc == VS_ERR_NOT_FOUND)
        return vs_fail(VS_ERR_NOT_FOUND, "%s: no tokenizer (neither tokenizer.json nor vocab.txt)", dir);
    if (rc) return rc;
    if (vs_utf8_invalid_at(text, len) != len) {
        free(text);
        return vs_fail(VS_ERR_CORRUPT, "%s: not valid UTF-8", path);
    }
    if ((rc = vs_vocab_init(&t->vocab, len / 8))) goto out;
    int32_t id = 0;
    for (char *p = text; p < text + len; id++) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        if (l == 0 && !nl) break;
        if ((rc = vs_vocab_add(&t->vocab, p, l, id, path))) goto out;
        p += l + 1;
    }
    /* tokenizer_config.json is optional: BERT's defaults are uncased with accents stripped. */
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    cJSON *cfg = NULL;
    int crc = vs_json_load(path, &cfg);
    if (crc && crc != VS_ERR_NOT_FOUND) {
        rc = crc;
        goto out;
    }
    int ok = 1;
    t->clean_text = 1;
    t->lowercase = vs_json_bool(cfg, "do_lower_case", 1, &ok);
    t->strip_accents = vs_json_bool(cfg, "strip_accents", t->lowercase, &ok);
    t->chinese_chars = vs_json_bool(cfg, "tokenize_chinese_chars", 1, &ok);
    cJSON_Delete(cfg);
    if (!ok) {
        rc = vs_fail(VS_ERR_CORRUPT, "%s: a field has the wrong type", path);
        goto out;
    }
    snprintf(t->prefix, sizeof t->prefix, "##");
    t->max_chars_per_word = 100;
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (size_t i = 0; i < 5; i++) {
        int32_t sid = vs_vocab_get(&t->vocab, specials[i], strlen(specials[i]));
        if (sid >= 0 && (rc = add_special(t, specials[i], sid))) goto out;
    }
    t->unk_id = vs_vocab_get(&t->vocab, "[UNK]", 5);
out:
    free(text);
    return rc;
}

int vs_tokenizer_load(const char *dir, vs_tokenizer **out)
{
    *out = NULL;
    vs_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return vs_fail(VS_ERR_NOMEM, "out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *probe = fopen(path, "rb");
    int rc;
    if (probe) {
        fclose(probe);
        rc = from_tokenizer_json(t, path);
    } else
        rc = from_vocab_txt(t, dir);
    if (!rc) {
        t->cls_id = vs_vocab_get(&t->vocab, "[CLS]", 5);
        t->sep_id = vs_vocab_get(&t->vocab, "[SEP]", 5);
        if (t->cls_id < 0 || t->sep_id < 0 || t->unk_id < 0)
            rc = vs_fail(VS_ERR_CORRUPT, "%s: the vocabulary lacks [CLS], [SEP] or the unknown token", dir);
    }
    if (rc) {
        vs_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return VS_OK;
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
