/* libFuzzer harness for the safetensors header parser (vs_safetensors_open_buffer): any bytes
 * give VS_OK or an error with a message; on success every tensor is found by name, lies inside
 * the input, converts to float32 with its own shape (or fails cleanly: non-finite, other
 * dtype) and is refused with another shape. Built with -DVS_FUZZ_NO_MAIN only
 * vs_fuzz_safetensors is defined; test_fuzz_corpus replays tests/fuzz/corpus/safetensors/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "embed/safetensors.h"
#include "vecscale.h"

int vs_fuzz_safetensors(const uint8_t *data, size_t size);

int vs_fuzz_safetensors(const uint8_t *data, size_t size)
{
    vs_safetensors *st = NULL;
    vs_clear_error();
    int rc = vs_safetensors_open_buffer(data, size, "fuzz.safetensors", &st);
    if (rc != VS_OK) {
        if (st || rc >= 0 || !vs_last_error()[0]) abort();
        return 0;
    }
    for (size_t i = 0; i < vs_safetensors_count(st); i++) {
        const vs_st_tensor *t = vs_safetensors_at(st, i);
        const vs_st_tensor *f = vs_safetensors_find(st, t->name);
        if (!f || strcmp(f->name, t->name)) abort();
        if (t->data < data || t->bytes > size || t->data + t->bytes > data + size) abort();
        if (t->ndim > VS_ST_MAX_DIMS) abort();
        if (f != t) continue; /* a repeated name: only the first is reachable */
        uint64_t numel = 1;
        for (uint32_t d = 0; d < t->ndim; d++) numel *= t->shape[d];
        if (t->dtype == VS_ST_OTHER || numel > size) continue; /* the bytes check above bounds real tensors */
        float *out = malloc((size_t)numel * sizeof *out + 1);
        if (!out) continue;
        vs_clear_error();
        rc = vs_safetensors_read_f32(st, t->name, t->ndim, t->shape, out);
        if (rc != VS_OK && (rc != VS_ERR_CORRUPT || !vs_last_error()[0])) abort();
        uint64_t wrong[VS_ST_MAX_DIMS + 1];
        memcpy(wrong, t->shape, sizeof t->shape);
        wrong[t->ndim] = 2; /* one more dimension: never the tensor's shape */
        if (vs_safetensors_read_f32(st, t->name, t->ndim + 1, wrong, out) == VS_OK) abort();
        free(out);
    }
    if (vs_safetensors_find(st, "no such tensor \x01")) abort();
    vs_safetensors_close(st);
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_safetensors(data, size); }
#endif
