/* Averaged word vectors (the sentence-transformers average_word_embeddings_glove idea).
 *
 * Model file (container kind VS_FILE_KIND_EMBED_MODEL), all sections verified on open:
 *   GMET  u32 model type (1 = averaged word vectors) | u32 dim | u32 dtype (0 f32, 1 f16) |
 *         u32 longest word in bytes | u64 words | u64 hash slots (power of two) |
 *         u64 bytes of GSTR | char name[64] (NUL-padded)
 *   GSTR  the words, lower-case UTF-8, each NUL-terminated, row order
 *   GOFF  u32 offset of each word in GSTR
 *   GHSH  u32 open-addressing table (linear probing on XXH3-64 of the word): row + 1, 0 = empty
 *   GVEC  words x dim vectors in dtype
 *   GUNK  dim float32, the fallback vector (optional: readers skip sections they do not know,
 *         so adding it needed no version bump)
 * Sentences are split into words of letters, digits and combining marks (Unicode categories L,
 * N, M), lower-cased; known words are averaged and the mean normalised to unit length. A text
 * with no known word embeds as GUNK (the mean of all word vectors, written by import),
 * normalised, so every text gets a unit vector a cosine index accepts; files without GUNK
 * give the zero vector there. */
#ifndef VS_EMBED_GLOVE_H
#define VS_EMBED_GLOVE_H

#include <stddef.h>
#include <stdint.h>

#define VS_GLOVE_TYPE_AVG 1u
#define VS_GLOVE_NAME_LEN 64
/* float32 vector components are below 2^VS_GLOVE_MAX_EXP in absolute value (see glove.c). */
#define VS_GLOVE_MAX_EXP 100

typedef struct vs_glove vs_glove;

int vs_glove_load(const char *path, vs_glove **out);
/* The same over a caller's buffer (borrowed: it must outlive *out); origin names it in errors. */
int vs_glove_load_buffer(const void *data, size_t size, const char *origin, vs_glove **out);
void vs_glove_free(vs_glove *g);
uint32_t vs_glove_dim(const vs_glove *g);
size_t vs_glove_count(const vs_glove *g);
const char *vs_glove_name(const vs_glove *g);
/* The word of a row (owned by g). */
const char *vs_glove_word(const vs_glove *g, size_t row);
/* Row of a word (exact bytes), or -1. */
int64_t vs_glove_lookup(const vs_glove *g, const char *word, size_t len);
/* Decodes a row's vector into out (dim floats). */
void vs_glove_vector(const vs_glove *g, size_t row, float *out);
/* The vocabulary rows of the words of one valid UTF-8 text, as embedding splits it (-1 for an
 * unknown word); writes at most cap of them and returns how many there are. */
size_t vs_glove_tokenize(const vs_glove *g, const char *text, size_t len, int32_t *ids, size_t cap);
/* Embeds one valid UTF-8 text; returns the number of known words averaged. */
size_t vs_glove_embed_text(const vs_glove *g, const char *text, size_t len, float *out);

/* Writes a model file from words (n NUL-terminated strings) and n x dim float32 vectors. */
int vs_glove_write(const char *path, const char *name, char *const *words, size_t n, uint32_t dim,
                   const float *vectors, int f32);

#endif
