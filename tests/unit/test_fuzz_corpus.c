/* Replays the committed fuzz corpora through the harnesses on every test run (with ASan and
 * UBSan in CI), so an input that once crashed a parser stays fixed. */
#include "test_util.h"

int vs_fuzz_load_index(const uint8_t *data, size_t size);
int vs_fuzz_vecfile(const uint8_t *data, size_t size);

static void load_index_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("load_index", vs_fuzz_load_index) >= 10);
}

static void vecfile_corpus(void **state)
{
    (void)state;
    assert_true(tu_replay_corpus("vecfile", vs_fuzz_vecfile) >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_index_corpus),
        cmocka_unit_test(vecfile_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
