/* BERT tokenizer: BERT normaliser + basic pre-tokeniser + WordPiece, matching transformers.js
 * (@huggingface/transformers@3, the reference; tests/fixtures/embed/tokenizer_reference.jsonl):
 *   1. special tokens ([CLS], [SEP], [MASK], ... from tokenizer.json's added_tokens, or the
 *      vocabulary's bracketed specials) are cut out of the raw text first, leftmost-longest;
 *   2. each remaining piece: drop NUL, U+FFFD and controls (Cc Cf Co Cs but \t \n \r), turn
 *      white space into ' ', put spaces around CJK ideographs (the BMP blocks only, as the
 *      reference does: it walks UTF-16 code units), lower-case (full mapping: final sigma,
 *      U+0130), NFD, drop non-spacing marks (Mn) when accents are stripped;
 *   3. split on white space and around every punctuation character (\p{P} and ASCII symbols);
 *   4. WordPiece: greedy longest match with "##" continuations; a word of more than 100 code
 *      points, or one that cannot be covered, is [UNK].
 * A loaded tokenizer is read-only: concurrent encodes are safe. */
#ifndef VS_EMBED_TOKENIZER_H
#define VS_EMBED_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct vs_tokenizer vs_tokenizer;

/* Loads dir/tokenizer.json, or else dir/vocab.txt (+ dir/tokenizer_config.json for
 * do_lower_case / strip_accents / tokenize_chinese_chars). */
int vs_tokenizer_load(const char *dir, vs_tokenizer **out);
/* The same from a tokenizer.json held in memory, or a vocab.txt with BERT's default options;
 * origin names the input in errors. */
int vs_tokenizer_from_json(const char *json, size_t len, const char *origin, vs_tokenizer **out);
int vs_tokenizer_from_vocab(const char *vocab_txt, size_t len, const char *origin, vs_tokenizer **out);
void vs_tokenizer_free(vs_tokenizer *t);
size_t vs_tokenizer_vocab_size(const vs_tokenizer *t);
/* Token id of a vocabulary entry, or -1. */
int32_t vs_tokenizer_token_id(const vs_tokenizer *t, const char *token);
/* The id words that cannot be covered become ([UNK]). */
int32_t vs_tokenizer_unk_id(const vs_tokenizer *t);

/* Encodes valid UTF-8 text[0..len) as [CLS] tokens [SEP] into ids, keeping at most max_tokens
 * (>= 2) ids: longer texts lose their last tokens (the [SEP] stays). *n_out receives the
 * count. VS_ERR_NOMEM is the only failure. */
int vs_tokenizer_encode(const vs_tokenizer *t, const char *text, size_t len, size_t max_tokens, int32_t *ids,
                        size_t *n_out);

#endif
