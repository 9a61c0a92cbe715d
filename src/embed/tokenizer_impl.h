/* Inside the BERT tokenizer (tokenizer.h): the vocabulary table, options, special tokens. */
#ifndef VS_EMBED_TOKENIZER_IMPL_H
#define VS_EMBED_TOKENIZER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "embed/tokenizer.h"

typedef struct {
    char **tokens;
    size_t *lens; /* tokens may hold NUL bytes (a vocab.txt line can): compare by length */
    int32_t *ids;
    size_t n, cap, max_id_plus_1;
    uint32_t *table; /* entry index + 1, 0 = empty */
    size_t slots;
} vs_vocab;

int vs_vocab_init(vs_vocab *v, size_t expect);
void vs_vocab_free(vs_vocab *v);
/* id of s[0..len), or -1 */
int32_t vs_vocab_get(const vs_vocab *v, const char *s, size_t len);
int vs_vocab_add(vs_vocab *v, const char *s, size_t len, int32_t id, const char *origin);

#define VS_TOK_MAX_SPECIAL 64

struct vs_tokenizer {
    vs_vocab vocab;
    int lowercase, strip_accents, chinese_chars, clean_text;
    int32_t cls_id, sep_id, unk_id;
    size_t max_chars_per_word;
    char prefix[16]; /* WordPiece continuation prefix, "##" */
    size_t n_special;
    char *special[VS_TOK_MAX_SPECIAL]; /* matched in raw text before normalisation */
    int32_t special_id[VS_TOK_MAX_SPECIAL];
};

#endif
