/* libFuzzer harness for the vector-file parsers (vs_matrix_parse).
 * Byte 0 picks the format (value % 5) and a max_rows limit ((value / 5) % 4); the rest of the
 * input is the file. Built with -DVS_FUZZ_NO_MAIN it only defines vs_fuzz_vecfile, which the
 * ctest test_fuzz_corpus uses to replay tests/fuzz/corpus/vecfile/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "fuzz_common.h"
#include "vecscale.h"

int vs_fuzz_vecfile(const uint8_t *data, size_t size);

vs_fuzz_stats vs_fuzz_vecfile_stats; /* no checksums: only inputs and accepted are counted */

int vs_fuzz_vecfile(const uint8_t *data, size_t size)
{
    static const char *const formats[5] = {"fvecs", "ivecs", "bvecs", "npy", "idx3-ubyte"};
    static const size_t limits[4] = {0, 1, 2, 7};
    if (size < 1) return 0;
    vs_fuzz_vecfile_stats.inputs++;
    const char *format = formats[data[0] % 5];
    size_t max_rows = limits[(data[0] / 5) % 4];
    vs_matrix *m = NULL;
    vs_clear_error();
    int rc = vs_matrix_parse(data + 1, size - 1, format, max_rows, &m);
    if (rc == VS_OK) {
        vs_fuzz_vecfile_stats.accepted++;
        /* Invariants a successful parse must satisfy; a violation is a bug worth a crash. */
        if (!m || !m->data || m->n == 0 || m->dim == 0 || m->dim > 65536 ||
            (max_rows && m->n > max_rows))
            abort();
        /* Touch every element so ASan checks the allocation size. */
        size_t es = m->dtype == VS_DTYPE_U8 ? 1 : 4;
        const volatile uint8_t *p = m->data;
        uint8_t acc = 0;
        for (size_t i = 0; i < m->n * m->dim * es; i++) acc ^= p[i];
        (void)acc;
        if (vs_matrix_to_f32(m) != VS_OK || m->dtype != VS_DTYPE_F32) abort();
    } else if (m != NULL || rc >= 0 || vs_last_error()[0] == '\0') {
        /* Failures must leave *out NULL and explain themselves. */
        abort();
    }
    vs_matrix_free(m);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_vecfile(data, size); }
#endif
