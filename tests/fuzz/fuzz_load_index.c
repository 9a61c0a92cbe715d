/* libFuzzer harness for the index loader: any byte string must give VS_OK or a clean error,
 * and a loaded index must survive a search, a get and an add. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vecscale.h"

int vs_fuzz_load_index(const uint8_t *data, size_t size);

int vs_fuzz_load_index(const uint8_t *data, size_t size)
{
    vs_index *ix = NULL;
    if (vs_index_load_buffer(data, size, &ix) != VS_OK) return 0;
    uint32_t d = vs_index_dim(ix);
    float *q = calloc(d, sizeof *q);
    float s[4];
    int64_t id[4];
    if (q) {
        q[0] = 1.0f;
        vs_index_search(ix, 1, q, 4, NULL, s, id);
        vs_index_get(ix, 0, q);
        vs_index_add(ix, 1, q, NULL);
        free(q);
    }
    vs_index_free(ix);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_load_index(data, size); }
#endif
