/* Averaged word vectors (the sentence-transformers average_word_embeddings_glove idea).
 *
 * Model file (container kind VS_FILE_KIND_EMBED_MODEL), all sections verified on open:
 *   GMET  u32 format version (1: plain average, 2: SIF, GSIF required) | u32 dim |
 *         u32 dtype (0 f32, 1 f16) |
 *         u32 longest word in bytes | u64 words | u64 hash slots (power of two) |
 *         u64 bytes of GSTR | char name[64] (NUL-padded)
 *   GSTR  the words, lower-case UTF-8, each NUL-terminated, row order
 *   GOFF  u32 offset of each word in GSTR
 *   GHSH  u32 open-addressing table (linear probing on XXH3-64 of the word): row + 1, 0 = empty
 *   GVEC  words x dim vectors in dtype
 *   GUNK  dim float32, the fallback vector (optional: readers skip sections they do not know,
 *         so adding it needed no version bump)
 *   GSIF  (version 2) u32 components k (0..VS_GLOVE_MAX_COMPONENTS) | f32 a | u64 words |
 *         f32 weight[words] in [0, 1] | f32 component[k][dim], each of unit length.
 *         Smooth inverse frequency (Arora, Liang and Ma, ICLR 2017): a text is the weighted sum
 *         of its known words' vectors, weight a / (a + p(w)), minus its projections on the k
 *         common components, normalised. A version-1 reader stops at the version with
 *         "unknown model type 2"; the weights change every vector, so skipping GSIF (as GUNK
 *         can be skipped) would give silently different embeddings.
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
#define VS_GLOVE_TYPE_SIF 2u
/* The newest GMET format version this build reads and writes. */
#define VS_GLOVE_FORMAT_VERSION VS_GLOVE_TYPE_SIF
#define VS_GLOVE_MAX_COMPONENTS 8u
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
/* Whether the vectors are stored as float32 (else float16). */
int vs_glove_is_f32(const vs_glove *g);
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

/* The SIF part of a version-2 model (see GSIF above). */
typedef struct {
    float a;
    const float *weights;    /* one per word, in [0, 1] */
    uint32_t n_components;   /* 0..VS_GLOVE_MAX_COMPONENTS */
    const float *components; /* n_components x dim, unit length */
} vs_glove_sif;

/* The model's SIF part (weights NULL for a version-1 model). */
vs_glove_sif vs_glove_sif_of(const vs_glove *g);

/* Writes a model file from words (n NUL-terminated strings) and n x dim float32 vectors;
 * format version 1 when sif is NULL, else 2 with its GSIF section. */
int vs_glove_write(const char *path, const char *name, char *const *words, size_t n, uint32_t dim,
                   const float *vectors, int f32, const vs_glove_sif *sif);

/* Makes a SIF model (version 2) from a GloVe model file whose words are stored most frequent
 * first (GloVe's own order): p(w) from the rank through Zipf-Mandelbrot, p ~ 1 / (rank + 2.7),
 * weights a / (a + p(w)), and the first principal component (uncentred, as the paper's
 * TruncatedSVD) of the weighted sums of the corpus's lines (one text per line; "-" reads
 * standard input). The vectors are copied unchanged (float16 stays float16). *lines gets the
 * number of corpus lines with a known word. */
int vs_glove_make_sif(const char *model_path, const char *corpus_path, const char *out_path, const char *name,
                      float a, size_t *lines);

#endif
