/* A safetensors reader (https://huggingface.co/docs/safetensors): u64 little-endian header size,
 * a JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the data. The file is mapped; tensors are converted to float32 on request. */
#ifndef VS_EMBED_SAFETENSORS_H
#define VS_EMBED_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { VS_ST_F32 = 0, VS_ST_F16 = 1, VS_ST_BF16 = 2, VS_ST_OTHER = 3 } vs_st_dtype;

#define VS_ST_MAX_DIMS 8

typedef struct {
    char *name;
    vs_st_dtype dtype;
    char dtype_name[8];
    uint32_t ndim;
    uint64_t shape[VS_ST_MAX_DIMS];
    const uint8_t *data;
    uint64_t bytes;
} vs_st_tensor;

typedef struct vs_safetensors vs_safetensors;

/* Maps and validates path: header bounds, JSON, every tensor's dtype, shape and byte range. */
int vs_safetensors_open(const char *path, vs_safetensors **out);
/* The same over a caller's buffer (borrowed: it must outlive *out); origin names it in errors. */
int vs_safetensors_open_buffer(const void *data, size_t size, const char *origin, vs_safetensors **out);
void vs_safetensors_close(vs_safetensors *st);
size_t vs_safetensors_count(const vs_safetensors *st);
const vs_st_tensor *vs_safetensors_at(const vs_safetensors *st, size_t i);
/* The tensor called name, or NULL. */
const vs_st_tensor *vs_safetensors_find(const vs_safetensors *st, const char *name);
/* Copies tensor `name` as float32 into out, after checking that its shape is exactly
 * dims[0..ndim) (VS_ERR_NOT_FOUND if absent, VS_ERR_CORRUPT naming both shapes if not). */
int vs_safetensors_read_f32(const vs_safetensors *st, const char *name, uint32_t ndim, const uint64_t *dims,
                            float *out);

#endif
