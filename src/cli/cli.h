/* Shared pieces of the `vecscale` command's subcommands. */
#ifndef VS_CLI_H
#define VS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "vecscale.h"

int cmd_build(int argc, char **argv);
int cmd_build_shards(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_groundtruth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_flat(int argc, char **argv);
int cmd_bench_view(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* Documents in (`build --input x.jsonl`), text queries out (`search --query`); the vector
 * commands hand over to these (src/cli/docs_input.h decides). */
int cmd_build_docs(int argc, char **argv);
int cmd_search_docs(int argc, char **argv);

/* Prints "vecscale: <what>: <vs_last_error()>" and returns exit status 1. */
int cli_fail(const char *what, int rc);
/* Opens a model at a precision (--precision; VS_PRECISION_DEFAULT = the model's own) and
 * refuses one the model does not compute in (a GloVe model with int8); 0 or an exit status. */
int cli_model_open(const char *cmd, const char *name, vs_precision p, vs_model **out);
/* Prints a usage error and returns exit status 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a vector file as float32. */
int cli_read_f32(const char *path, vs_matrix **out);
/* The index file inside an index directory ("DIR/index.vsi"); a path to a file is kept. */
void cli_index_file(const char *dir_or_file, char *buf, size_t cap);
/* Loads (load = 1) or views the index of a directory or file, its path into path. A ",Ru8"
 * index opens its store itself; a directory of the older layout (base index + rerank.vsr
 * version 1) gets its store attached. */
int cli_open_index(const char *dir_or_file, int load, char *path, size_t cap, vs_index **out);
/* Creates a directory and its parents. */
int cli_mkdirs(const char *dir);
double cli_now(void);
/* Clock for timing searches: cli_now, or process CPU time when BENCH_CLOCK=cpu. */
double cli_search_clock(void);
/* Parses an unsigned integer option; returns 0 on success. */
int cli_parse_u32(const char *s, unsigned long lo, unsigned long hi, uint32_t *out);
/* Resident set size in bytes from /proc/self/status. */
size_t cli_rss_bytes(void);
/* Recall@k of ids (nq x k, stride k) against ground truth (stride gt_k). */
double cli_recall(const int64_t *ids, size_t nq, uint32_t k, const int32_t *gt, uint32_t gt_k);

/* Progress bar on stderr, shown only when stderr is a terminal. */
typedef struct {
    const char *label;
    size_t total;
    double last_draw, start;
    int enabled;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, size_t total);
void cli_progress_update(cli_progress *p, size_t done);
void cli_progress_finish(cli_progress *p);

/* Row format shared with the reference-library comparators in bench/compare. */
#define CLI_BENCH_HEADER "%-10s %-28s %-22s %9s %11s %9s %10s\n"
#define CLI_BENCH_ROW "%-10s %-28s %-22s %9.4f %11.1f %9.2f %10.1f\n"

#endif
