/* Replays the committed fuzz corpora through the harnesses on every test run (with ASan and
 * UBSan in CI), so an input that once crashed a parser stays fixed. */
#include <dirent.h>

#include "test_util.h"

int vs_fuzz_load_index(const uint8_t *data, size_t size);
int vs_fuzz_vecfile(const uint8_t *data, size_t size);

static size_t replay(const char *name, int (*fn)(const uint8_t *, size_t))
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", VS_TEST_SOURCE_DIR, name);
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)len + 1);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        assert_int_equal(fn(buf, (size_t)len), 0);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void load_index_corpus(void **state)
{
    (void)state;
    assert_true(replay("load_index", vs_fuzz_load_index) >= 10);
}

static void vecfile_corpus(void **state)
{
    (void)state;
    assert_true(replay("vecfile", vs_fuzz_vecfile) >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_index_corpus),
        cmocka_unit_test(vecfile_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
