/* The server's fast search-body parser: the committed fuzz corpus replayed through the
 * differential harness (fuzz_search_json.c), plus the cases it must accept and refuse. */
#include <cjson/cJSON.h>

#include "server/server_impl.h"
#include "test_util.h"

int vs_fuzz_search_json(const uint8_t *data, size_t size);

static int parse(const char *s, fast_search *fs)
{
    return fast_parse_search(s, strlen(s), fs, 8);
}

static void test_accepts(void **state)
{
    (void)state;
    float v[8];
    fast_search fs = {.vec = v};
    assert_int_equal(parse(" {\"vector\": [1, -2.5e1, 0.125], \"k\": 7, \"ef\": 32, \"nprobe\": 4}\n", &fs), 1);
    assert_int_equal(fs.n, 3);
    assert_true(v[0] == 1 && v[1] == -25 && v[2] == 0.125f);
    assert_int_equal(fs.k, 7);
    assert_int_equal(fs.ef, 32);
    assert_int_equal(fs.nprobe, 4);
    assert_int_equal(parse("{\"vector\":[]}", &fs), 1);
    assert_int_equal(fs.n, 0);
}

static void test_refuses(void **state)
{
    (void)state;
    float v[8];
    fast_search fs = {.vec = v};
    static const char *const bad[] = {
        "", "{}", "[1]", "{\"vector\":[1,2,]}", "{\"vector\":[01]}", "{\"vector\":[0x1]}", "{\"vector\":[1e999]}",
        "{\"vector\":[.5]}", "{\"vector\":[1.]}", "{\"vector\":[1,2]} x", "{\"vector\":[1],\"vector\":[2]}",
        "{\"k\":1,\"k\":2}", "{\"query\":\"a\"}", "{\"vector\":[1],\"filter\":{}}", "{\"k\":-1}", "{\"k\":1.5}",
        "{\"k\":1e1}", "{\"vector\":[1,2,3,4,5,6,7,8,9]}", "{\"vector\":[NaN]}", "{\"vector\":[1]",
        "{\"vec\\u0074or\":[1]}", "{\"vector\":[\"1\"]}", "{\"vector\":[3.5e38]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], &fs)) fprintf(stderr, "accepted: %s\n", bad[i]);
        assert_int_equal(parse(bad[i], &fs), 0);
    }
}

static void test_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("search_json", vs_fuzz_search_json) >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
