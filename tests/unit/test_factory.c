/* FAISS-style factory strings: what parses, what it means, its canonical form, and the
 * errors for what does not parse. */
#include "test_util.h"

static void valid_strings(void **state)
{
    (void)state;
    static const struct {
        const char *in, *canonical;
        vs_coarse_kind coarse;
        uint32_t nlist, m;
        vs_code_kind code;
        uint32_t pq_m, bits;
        int fs, refine;
        uint32_t shards;
    } cases[] = {
        {"Flat", "Flat", VS_COARSE_NONE, 0, 0, VS_CODE_FLAT, 0, 0, 0, 0, 0},
        {"SQ8", "SQ8", VS_COARSE_NONE, 0, 0, VS_CODE_SQ8, 0, 0, 0, 0, 0},
        {"SQfp16", "SQfp16", VS_COARSE_NONE, 0, 0, VS_CODE_SQFP16, 0, 0, 0, 0, 0},
        {"PQ16", "PQ16", VS_COARSE_NONE, 0, 0, VS_CODE_PQ, 16, 8, 0, 0, 0},
        {"PQ16x8", "PQ16", VS_COARSE_NONE, 0, 0, VS_CODE_PQ, 16, 8, 0, 0, 0},
        {"PQ32x4fs", "PQ32x4fs", VS_COARSE_NONE, 0, 0, VS_CODE_PQ, 32, 4, 1, 0, 0},
        {"IVF1024,Flat", "IVF1024,Flat", VS_COARSE_IVF, 1024, 0, VS_CODE_FLAT, 0, 0, 0, 0, 0},
        {"IVF4096,PQ32x4fs,RFlat", "IVF4096,PQ32x4fs,RFlat", VS_COARSE_IVF, 4096, 0, VS_CODE_PQ, 32, 4, 1, 1, 0},
        {"IVF256,SQ4", "IVF256,SQ4", VS_COARSE_IVF, 256, 0, VS_CODE_SQ4, 0, 0, 0, 0, 0},
        {"IVF100,PQ10x6", "IVF100,PQ10x6", VS_COARSE_IVF, 100, 0, VS_CODE_PQ, 10, 6, 0, 0, 0},
        {"HNSW32", "HNSW32,Flat", VS_COARSE_HNSW, 0, 32, VS_CODE_FLAT, 0, 0, 0, 0, 0},
        {"HNSW32,Flat", "HNSW32,Flat", VS_COARSE_HNSW, 0, 32, VS_CODE_FLAT, 0, 0, 0, 0, 0},
        {"HNSW32,SQ8", "HNSW32,SQ8", VS_COARSE_HNSW, 0, 32, VS_CODE_SQ8, 0, 0, 0, 0, 0},
        {"HNSW16,SQbf16,RFlat", "HNSW16,SQbf16,RFlat", VS_COARSE_HNSW, 0, 16, VS_CODE_SQBF16, 0, 0, 0, 1, 0},
        {"SQ8,RFlat", "SQ8,RFlat", VS_COARSE_NONE, 0, 0, VS_CODE_SQ8, 0, 0, 0, 1, 0},
        {"Shards4,Flat", "Shards4,Flat", VS_COARSE_NONE, 0, 0, VS_CODE_FLAT, 0, 0, 0, 0, 4},
        {"Shards1,HNSW32", "Shards1,HNSW32,Flat", VS_COARSE_HNSW, 0, 32, VS_CODE_FLAT, 0, 0, 0, 0, 1},
        {"Shards4096,IVF4096,PQ32x4fs,RFlat", "Shards4096,IVF4096,PQ32x4fs,RFlat", VS_COARSE_IVF, 4096, 0, VS_CODE_PQ, 32,
         4, 1, 1, 4096},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vs_factory_spec s = {.struct_size = sizeof s};
        if (vs_factory_parse(cases[i].in, &s) != VS_OK) {
            print_error("%s: %s\n", cases[i].in, vs_last_error());
            fail();
        }
        assert_int_equal(s.coarse, cases[i].coarse);
        assert_int_equal(s.nlist, cases[i].nlist);
        assert_int_equal(s.hnsw_m, cases[i].m);
        assert_int_equal(s.code, cases[i].code);
        assert_int_equal(s.pq_m, cases[i].pq_m);
        assert_int_equal(s.pq_bits, cases[i].bits);
        assert_int_equal(s.pq_fastscan, cases[i].fs);
        assert_int_equal(s.refine_flat, cases[i].refine);
        assert_int_equal(s.shards, cases[i].shards);
        char buf[64];
        assert_int_equal(vs_factory_format(&s, buf, sizeof buf), VS_OK);
        assert_string_equal(buf, cases[i].canonical);
    }
}

static void invalid_strings(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "flat", "Flat,", ",Flat", "IVF", "IVF0,Flat", "IVF1024", "IVF1024,", "IVFx,Flat", "IVF1024,Falt",
        "PQ", "PQ0", "PQ8x3", "PQ8x9", "PQ8x8fs", "PQ8fs", "PQ8x4f", "HNSW", "HNSW1", "HNSW32,", "HNSW32,PQ8",
        "Flat,RFlat", "SQ8,RFlat,RFlat", "SQ8,Refine", "IVF99999999999,Flat", "SQ16", " Flat", "Flat ", "IVF-1,Flat",
        "IVF1024,PQ32x4fs,RFlat,", "HNSW32SQ8", "Shards", "Shards4", "Shards4,", "Shards0,Flat", "Shards4097,Flat",
        "Shards2,Shards2,Flat", "Flat,Shards2", "shards2,Flat",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vs_factory_spec s = {.struct_size = sizeof s};
        int rc = vs_factory_parse(bad[i], &s);
        if (rc != VS_ERR_FACTORY) {
            print_error("\"%s\" gave %d, expected VS_ERR_FACTORY\n", bad[i], rc);
            fail();
        }
        assert_non_null(strstr(vs_last_error(), "position"));
    }
    vs_factory_spec s = {.struct_size = sizeof s};
    assert_int_equal(vs_factory_parse(NULL, &s), VS_ERR_INVALID_ARG);
    char small[4];
    assert_int_equal(vs_factory_parse("IVF4096,Flat", &s), VS_OK);
    assert_int_equal(vs_factory_format(&s, small, sizeof small), VS_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_strings),
        cmocka_unit_test(invalid_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
