/* The streaming, resumable `vecscale build` for .fvecs / .bvecs / .npy inputs (build_stream.c). */
#ifndef VS_CLI_BUILD_STREAM_H
#define VS_CLI_BUILD_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "vecscale.h"

typedef struct {
    const char *input, *output, *spec; /* spec may end in ",Ru8" */
    vs_metric metric;
    size_t max_rows;     /* 0 = all */
    uint32_t threads;
    size_t chunk;        /* rows read and added per step */
    size_t train_rows;   /* 0 = the default sample (build_stream.c) */
    size_t checkpoint_rows; /* rows between checkpoints; 0 = no checkpoints */
    int resume;
} cli_stream_build;

/* 1 when the input is a file the streaming build reads. */
int cli_stream_input(const char *path);
/* Exit status (0 ok). */
int cli_build_stream(const cli_stream_build *b);

#endif
