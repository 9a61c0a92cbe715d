/* The BERT encoder against PyTorch (tools/bert_reference.py): the committed tiny random-weight
 * models in F32, F16 and BF16 must match the expected embeddings within 1e-4 (max absolute
 * difference), with the same token IDs, on 1 and 2 threads; with VS_BERT_PARITY_DIR set (by
 * tests/embed/bert_parity.sh) the full MiniLM-L6 shape too. Then every damaged-model error. */
#include <sys/stat.h>

#include "embed/bert.h"
#include "embed/bert_kernels.h"
#include "embed/json_file.h"
#include "embed/model.h"
#include "embed/qgemm_kernels.h"
#include "test_util.h"

#define FIX VS_TEST_SOURCE_DIR "/fixtures/embed/"

static void parity(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    cJSON *exp;
    assert_int_equal(vs_json_load(path, &exp), VS_OK);
    const cJSON *texts = cJSON_GetObjectItem(exp, "texts"), *ids = cJSON_GetObjectItem(exp, "ids"),
                *emb = cJSON_GetObjectItem(exp, "embeddings");
    size_t n = (size_t)cJSON_GetArraySize(texts);
    vs_model *m;
    if (vs_model_open(dir, &m) != VS_OK) print_error("%s\n", vs_last_error());
    assert_non_null(m);
    const vs_bert *b = m->impl;
    size_t dim = vs_model_dim(m);
    assert_int_equal(dim, (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(emb, 0)));
    assert_true(vs_model_normalizes(m));
    const char **t = malloc(n * sizeof *t);
    int32_t tok[1024];
    for (size_t i = 0; i < n; i++) {
        t[i] = cJSON_GetArrayItem(texts, (int)i)->valuestring;
        size_t nt;
        assert_int_equal(vs_tokenizer_encode(b->tok, t[i], strlen(t[i]), b->max_seq, tok, &nt), VS_OK);
        const cJSON *want = cJSON_GetArrayItem(ids, (int)i);
        assert_int_equal(nt, (size_t)cJSON_GetArraySize(want));
        for (size_t k = 0; k < nt; k++) assert_int_equal(tok[k], cJSON_GetArrayItem(want, (int)k)->valueint);
    }
    float *v1 = malloc(n * dim * sizeof(float)), *v2 = malloc(n * dim * sizeof(float));
    assert_int_equal(vs_model_embed(m, t, n, 1, v1), VS_OK);
    assert_int_equal(vs_model_embed(m, t, n, 2, v2), VS_OK);
    assert_memory_equal(v1, v2, n * dim * sizeof(float));
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < dim; d++) {
            double e = fabs(v1[i * dim + d] - cJSON_GetArrayItem(cJSON_GetArrayItem(emb, (int)i), (int)d)->valuedouble);
            if (e > worst) worst = e;
        }
    print_message("%s: %zu texts, dimension %zu, max |C - PyTorch| = %.3g\n", dir, n, dim, worst);
    assert_true(worst < 1e-4);
    free(v1);
    free(v2);
    free(t);
    vs_model_free(m);
    cJSON_Delete(exp);
}

static void tiny_f32_matches_pytorch(void **state) { (void)state; parity(FIX "bert_tiny_f32"); }
static void tiny_f16_matches_pytorch(void **state) { (void)state; parity(FIX "bert_tiny_f16"); }
static void tiny_bf16_matches_pytorch(void **state) { (void)state; parity(FIX "bert_tiny_bf16"); }

static void full_minilm_shape_matches_pytorch(void **state)
{
    (void)state;
    const char *dir = getenv("VS_BERT_PARITY_DIR");
    if (!dir) skip(); /* run by tests/embed/bert_parity.sh, which generates the 90 MB model */
    parity(dir);
}

static void expect(int rc, int code, const char *needle);

/* Embeds the expected.json texts of dir at precision p (1 and 2 threads must agree). */
static float *embed_at(const char *dir, vs_precision p, size_t *n_out, size_t *dim_out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    cJSON *exp;
    assert_int_equal(vs_json_load(path, &exp), VS_OK);
    const cJSON *texts = cJSON_GetObjectItem(exp, "texts");
    size_t n = (size_t)cJSON_GetArraySize(texts);
    const char **t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = cJSON_GetArrayItem(texts, (int)i)->valuestring;
    vs_model *m;
    vs_model_options o = {.struct_size = sizeof(vs_model_options), .precision = p};
    if (vs_model_open_with(dir, &o, &m) != VS_OK) fail_msg("%s", vs_last_error());
    assert_int_equal(vs_model_precision(m), p == VS_PRECISION_DEFAULT ? VS_PRECISION_FP32 : p);
    size_t dim = vs_model_dim(m);
    float *v = malloc(n * dim * sizeof *v), *v2 = malloc(n * dim * sizeof *v2);
    assert_int_equal(vs_model_embed(m, t, n, 1, v), VS_OK);
    assert_int_equal(vs_model_embed(m, t, n, 2, v2), VS_OK);
    assert_memory_equal(v, v2, n * dim * sizeof *v);
    free(v2);
    free(t);
    vs_model_free(m);
    cJSON_Delete(exp);
    *n_out = n;
    *dim_out = dim;
    return v;
}

static void cosines(const float *a, const float *b, size_t n, size_t dim, double *mean, double *min)
{
    *mean = 0;
    *min = 1;
    for (size_t i = 0; i < n; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t d = 0; d < dim; d++) {
            ab += (double)a[i * dim + d] * b[i * dim + d];
            aa += (double)a[i * dim + d] * a[i * dim + d];
            bb += (double)b[i * dim + d] * b[i * dim + d];
        }
        double c = ab / sqrt(aa * bb);
        *mean += c / (double)n;
        if (c < *min) *min = c;
    }
}

/* --precision int8 / bf16 against fp32 on the tiny model: close (int8 cosine >= 0.995 per
 * text, bf16 >= 0.999), not equal (the low-precision path ran), and int8 bit-identical at every
 * SIMD level the CPU has (qgemm.h: same integer sums and epilogue everywhere). bf16 where the
 * CPU has AVX512-BF16, else (and below avx512) VS_ERR_UNSUPPORTED naming the reason. */
static void low_precision_close_to_fp32(void **state)
{
    (void)state;
    const char *dir = FIX "bert_tiny_f32";
    size_t n, dim;
    float *f = embed_at(dir, VS_PRECISION_DEFAULT, &n, &dim), *q = embed_at(dir, VS_PRECISION_INT8, &n, &dim);
    double mean, min;
    cosines(f, q, n, dim, &mean, &min);
    print_message("int8 vs fp32 (%s): mean cosine %.6f, min %.6f over %zu texts\n", vs_qgemm_kernels_get()->name,
                  mean, min, n);
    assert_true(min >= 0.995);
    assert_true(memcmp(f, q, n * dim * sizeof *f) != 0);
    vs_simd_level start = vs_simd_active();
    const int wide = vs_qgemm_kernels_get()->wide;
    for (int l = VS_SIMD_SCALAR; l <= (int)vs_simd_detected(); l++) {
        assert_int_equal(vs_simd_force((vs_simd_level)l), VS_OK);
        if (vs_qgemm_kernels_get()->wide != wide) continue; /* the other scheme: below */
        float *q2 = embed_at(dir, VS_PRECISION_INT8, &n, &dim);
        if (memcmp(q, q2, n * dim * sizeof *q))
            fail_msg("int8 embeddings at %s (%s) differ from those at %s", vs_simd_name((vs_simd_level)l),
                     vs_qgemm_kernels_get()->name, vs_simd_name(start));
        free(q2);
    }
    /* AVX2 without VNNI (forced here where the CPU has more): int8 runs as int16 layers
     * (qgemm.h), other values than the int8 scheme's and closer to fp32 */
    if (vs_simd_detected() >= VS_SIMD_AVX2) {
        assert_int_equal(vs_simd_force(VS_SIMD_AVX2), VS_OK);
        const char *was = getenv("VECSCALE_QGEMM");
        char *keep = was ? strdup(was) : NULL;
        setenv("VECSCALE_QGEMM", "avx2", 1);
        assert_int_equal(vs_qgemm_kernels_get()->wide, 1);
        float *w16 = embed_at(dir, VS_PRECISION_INT8, &n, &dim);
        double mean16, min16;
        cosines(f, w16, n, dim, &mean16, &min16);
        print_message("int8 as int16 layers (avx2) vs fp32: mean cosine %.7f, min %.7f\n", mean16, min16);
        assert_true(min16 >= 0.9999 && (wide || min16 > min));
        assert_true(memcmp(f, w16, n * dim * sizeof *f) != 0);
        if (wide) assert_memory_equal(q, w16, n * dim * sizeof *q);
        else assert_true(memcmp(q, w16, n * dim * sizeof *q) != 0);
        if (keep) setenv("VECSCALE_QGEMM", keep, 1);
        else unsetenv("VECSCALE_QGEMM");
        free(keep);
        free(w16);
    }
    assert_int_equal(vs_simd_force(start), VS_OK);
    vs_model *m = NULL;
    vs_model_options o = {.struct_size = sizeof(vs_model_options), .precision = VS_PRECISION_BF16};
    /* bf16 only where it beats fp32 (AMX): the AVX512-BF16 table alone is refused */
    assert_false(vs_qgemm_bf16_offered(&vs_qgemm_avx512));
    assert_false(vs_qgemm_bf16_offered(&vs_qgemm_avx512_nobf16));
    assert_int_equal(vs_qgemm_bf16_offered(&vs_qgemm_amx), 1);
    if (vs_qgemm_bf16_offered(vs_qgemm_kernels_get())) {
        float *b = embed_at(dir, VS_PRECISION_BF16, &n, &dim);
        cosines(f, b, n, dim, &mean, &min);
        print_message("bf16 vs fp32: mean cosine %.7f, min %.7f\n", mean, min);
        assert_true(min >= 0.999);
        assert_true(memcmp(f, b, n * dim * sizeof *f) != 0);
        free(b);
        assert_int_equal(vs_simd_force(VS_SIMD_AVX2), VS_OK);
        expect(vs_model_open_with(dir, &o, &m), VS_ERR_UNSUPPORTED, "below avx512");
        assert_int_equal(vs_simd_force(start), VS_OK);
    } else if (vs_qgemm_kernels_get()->linear_bf16) {
        print_message("bf16: AVX512-BF16 without AMX at %s: checking the refusal\n", vs_simd_name(start));
        expect(vs_model_open_with(dir, &o, &m), VS_ERR_UNSUPPORTED, "AMX-BF16 only");
    } else {
        print_message("bf16: not offered at %s on this CPU: checking the refusal\n", vs_simd_name(start));
        expect(vs_model_open_with(dir, &o, &m), VS_ERR_UNSUPPORTED, "needs AVX512-BF16");
    }
    assert_null(m);
    o.precision = (vs_precision)9;
    expect(vs_model_open_with(dir, &o, &m), VS_ERR_INVALID_ARG, "invalid precision");
    vs_precision p;
    assert_int_equal(vs_precision_parse("int8", &p), VS_OK);
    assert_int_equal(p, VS_PRECISION_INT8);
    expect(vs_precision_parse("fp16", &p), VS_ERR_INVALID_ARG, "unknown precision 'fp16'");
    assert_string_equal(vs_precision_name(VS_PRECISION_BF16), "bf16");
    o.precision = VS_PRECISION_INT8; /* GloVe: fp32 whatever is asked */
    assert_int_equal(vs_model_open_with(FIX "glove_tiny_v1.vsm", &o, &m), VS_OK);
    assert_int_equal(vs_model_precision(m), VS_PRECISION_FP32);
    vs_model_free(m);
    free(f);
    free(q);
}

static void expect(int rc, int code, const char *needle)
{
    if (rc != code) print_error("rc %d (%s), want %d\n", rc, vs_last_error(), code);
    assert_int_equal(rc, code);
    if (needle && !strstr(vs_last_error(), needle)) {
        print_error("message \"%s\" lacks \"%s\"\n", vs_last_error(), needle);
        fail();
    }
}

static void copy(const char *from, const char *to)
{
    char *b;
    size_t l;
    assert_int_equal(vs_read_file(from, 64 << 20, &b, &l), VS_OK);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, l, f), l);
    fclose(f);
    free(b);
}

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A safetensors file with this header and data_len bytes of zeros (one NaN at float 10). */
static void fake_st(const char *dir, const char *hdr, size_t data_len, int nan_at_10)
{
    size_t hl = strlen(hdr);
    uint8_t *img = calloc(1, 8 + hl + data_len);
    for (int i = 0; i < 8; i++) img[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(img + 8, hdr, hl);
    if (nan_at_10) {
        float nan = NAN;
        memcpy(img + 8 + hl + 40, &nan, 4);
    }
    put(dir, "model.safetensors", img, 8 + hl + data_len);
    free(img);
}

/* A copy of the tiny model in a temporary directory, to damage. */
static char *tiny_copy(void)
{
    char *dir = tu_tempdir(), a[600], b[600];
    static const char *const files[] = {"config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors",
                                        "modules.json", "sentence_bert_config.json"};
    for (size_t i = 0; i < 6; i++) {
        snprintf(a, sizeof a, FIX "bert_tiny_f32/%s", files[i]);
        snprintf(b, sizeof b, "%s/%s", dir, files[i]);
        copy(a, b);
    }
    return dir;
}

static void read_tiny(const char *dir, const char *name, char **buf, size_t *len)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(vs_read_file(p, 64 << 20, buf, len), VS_OK);
}

static void damaged_models_are_rejected(void **state)
{
    (void)state;
    char *dir = tiny_copy();
    vs_model *m = NULL;
    assert_int_equal(vs_model_open(dir, &m), VS_OK);
    vs_model_free(m);
    char *st, *cfg;
    size_t st_len, cfg_len;
    read_tiny(dir, "model.safetensors", &st, &st_len);
    read_tiny(dir, "config.json", &cfg, &cfg_len);

    /* Tensor shape mismatch: the config says 48 hidden units, the weights have 32. */
    char *c2 = malloc(cfg_len + 16);
    char *at = strstr(cfg, "\"hidden_size\": 32");
    assert_non_null(at);
    snprintf(c2, cfg_len + 16, "%.*s\"hidden_size\": 48%s", (int)(at - cfg), cfg, at + strlen("\"hidden_size\": 32"));
    put(dir, "config.json", c2, strlen(c2));
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "has shape [150, 32], expected [150, 48]");
    assert_null(m);
    put(dir, "config.json", "{\"hidden_size\": 32", 18);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "invalid JSON");
    put(dir, "config.json", "{\"model_type\": \"gpt2\"}", 22);
    expect(vs_model_open(dir, &m), VS_ERR_UNSUPPORTED, "model_type 'gpt2'");
    put(dir, "config.json", cfg, cfg_len);

    /* Truncated weights, a header that lies, bad offsets, unsupported dtypes, NaN. */
    put(dir, "model.safetensors", st, st_len / 2);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "data_offsets lie outside");
    put(dir, "model.safetensors", st, 5);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "truncated");
    uint8_t big[16] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'};
    put(dir, "model.safetensors", big, sizeof big);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "does not fit");
    fake_st(dir, "{\"embeddings.word_embeddings.weight\":{\"dtype\":\"I8\",\"shape\":[150,32],\"data_offsets\":[0,4800]}}", 4800, 0);
    expect(vs_model_open(dir, &m), VS_ERR_UNSUPPORTED, "is I8; F32, F16 and BF16 are supported");
    fake_st(dir, "{\"embeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[150,32],\"data_offsets\":[0,4800]}}", 4800, 0);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "has 4800 bytes, but its shape and dtype need 19200");
    fake_st(dir, "{\"embeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[150,32],\"data_offsets\":[0,19200]}}", 19200, 1);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "element 10 is not finite");
    fake_st(dir, "{\"embeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[150,32],\"data_offsets\":[0,19200]}}", 19200, 0);
    expect(vs_model_open(dir, &m), VS_ERR_NOT_FOUND, "no tensor 'embeddings.position_embeddings.weight'");
    fake_st(dir, "{\"embeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[150,32],\"data_offsets\":[0,99999]}}", 19200, 0);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "data_offsets lie outside");
    fake_st(dir, "[1, 2]", 0, 0);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "not a JSON object");
    put(dir, "model.safetensors", "{}", 0);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "empty");
    char p[600];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    expect(vs_model_open(dir, &m), VS_ERR_NOT_FOUND, "no model.safetensors");
    put(dir, "pytorch_model.bin", "x", 1);
    expect(vs_model_open(dir, &m), VS_ERR_NOT_FOUND, "pytorch_model.bin, a pickle, is not read");
    put(dir, "model.safetensors", st, st_len);

    /* A missing tensor, tokenizer trouble, pooling we do not do. */
    put(dir, "sentence_bert_config.json", "{\"max_seq_length\": 100}", 23);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "max_seq_length must be 2..64");
    put(dir, "sentence_bert_config.json", "{\"max_seq_length\": 40}", 22);
    put(dir, "vocab.txt", "[PAD]\n[UNK]\n", 12);
    expect(vs_model_open(dir, &m), VS_ERR_CORRUPT, "lacks [CLS]");
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    unlink(p);
    expect(vs_model_open(dir, &m), VS_ERR_NOT_FOUND, "neither tokenizer.json nor vocab.txt");
    snprintf(p, sizeof p, FIX "bert_tiny_f32/vocab.txt");
    char q[600];
    snprintf(q, sizeof q, "%s/vocab.txt", dir);
    copy(p, q);
    snprintf(q, sizeof q, "%s/1_Pooling", dir);
    mkdir(q, 0755);
    put(q, "config.json", "{\"pooling_mode_max_tokens\": true}", 33);
    expect(vs_model_open(dir, &m), VS_ERR_UNSUPPORTED, "only one of mean or CLS pooling");
    put(q, "config.json", "{\"pooling_mode_cls_token\": true}", 32);
    assert_int_equal(vs_model_open(dir, &m), VS_OK);
    vs_model_free(m);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    expect(vs_model_open(dir, &m), VS_ERR_NOT_FOUND, "config.json");
    free(st);
    free(cfg);
    free(c2);
    tu_rmdir(dir);
}

static void bad_texts_and_truncation(void **state)
{
    (void)state;
    vs_model *m;
    assert_int_equal(vs_model_open(FIX "bert_tiny_f32", &m), VS_OK);
    float v[3 * 32];
    const char *bad[] = {"fine", "bad \xe2\x82"};
    expect(vs_model_embed(m, bad, 2, 1, v), VS_ERR_INVALID_ARG, "text 1 is not valid UTF-8");
    const char *empty[] = {""};
    expect(vs_model_embed(m, empty, 1, 1, v), VS_ERR_INVALID_ARG, "text 0 is empty");
    /* Over max_seq_length (40): truncated, so a longer tail changes nothing. */
    char a[2000] = "", b[2000] = "";
    for (int i = 0; i < 60; i++) strcat(a, "dog ");
    strcpy(b, a);
    strcat(b, "cat cat cat");
    const char *t[] = {a, b, "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"};
    assert_int_equal(vs_model_embed(m, t, 3, 1, v), VS_OK);
    for (int i = 0; i < 32; i++) /* equal up to where the row sits in the packed GEMM */
        assert_float_equal(v[i], v[32 + i], 1e-6);
    assert_float_equal(vs_norm_sq(v + 64, 32), 1.0, 1e-5); /* all [UNK]: still a unit vector */
    /* What the vocabulary knew: 38 pieces fit between [CLS] and [SEP]; the third is all [UNK]. */
    uint32_t known[3] = {7, 7, 7};
    float w[3 * 32];
    assert_int_equal(vs_model_embed_known(m, t, 3, 1, w, known), VS_OK);
    assert_int_equal(known[0], 38);
    assert_int_equal(known[1], 38);
    assert_int_equal(known[2], 0);
    assert_memory_equal(v, w, sizeof w); /* the counts change nothing in the vectors */
    vs_model_free(m);
}

/* Both copies of the element-wise kernels against libm: GELU's rational erf within 1e-6. */
static void kernels_match_libm(void **state)
{
    (void)state;
    const vs_bert_kernels *ks[2] = {vs_bert_kernels_base(), vs_bert_kernels_avx2()};
    __builtin_cpu_init();
    int n_k = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 2 : 1;
    enum { N = 20001 };
    float *x = malloc(N * sizeof *x);
    for (int k = 0; k < n_k; k++) {
        for (int i = 0; i < N; i++) x[i] = -10.0f + 20.0f * (float)i / (N - 1);
        ks[k]->gelu(x, N);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double v = (double)(-10.0f + 20.0f * (float)i / (N - 1));
            double want = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
            if (fabs(x[i] - want) > worst) worst = fabs(x[i] - want);
        }
        print_message("kernels %d: max GELU error %.3g\n", k, worst);
        assert_true(worst < 2e-6); /* absolute, at |x| up to 10 */
        float s[6] = {1, 2, 3, -1000, 0, 0.5f}, ln[4] = {1, 2, 3, 4}, g[4] = {1, 1, 1, 1}, b[4] = {0};
        ks[k]->softmax_rows(s, 2, 3);
        assert_float_equal(s[0] + s[1] + s[2], 1.0, 1e-6);
        assert_float_equal(s[2], exp(3) / (exp(1) + exp(2) + exp(3)), 1e-6);
        assert_float_equal(s[3], 0.0, 1e-30);
        ks[k]->layer_norm(ln, 1, 4, g, b, 0);
        assert_float_equal(ln[0], -1.5 / sqrt(1.25), 1e-5);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiny_f32_matches_pytorch),
        cmocka_unit_test(tiny_f16_matches_pytorch),
        cmocka_unit_test(tiny_bf16_matches_pytorch),
        cmocka_unit_test(full_minilm_shape_matches_pytorch),
        cmocka_unit_test(damaged_models_are_rejected),
        cmocka_unit_test(bad_texts_and_truncation),
        cmocka_unit_test(kernels_match_libm),
        cmocka_unit_test(low_precision_close_to_fp32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
