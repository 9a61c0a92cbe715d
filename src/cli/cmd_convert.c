/* `vecscale convert`: vector files between formats (the extension picks the format). */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: vecscale convert --input FILE --output FILE [--max-rows N]\n\n"
    "Reads .fvecs/.ivecs/.bvecs/.npy/idx3-ubyte and writes .fvecs/.ivecs/.bvecs/.npy. Writing\n"
    ".fvecs converts values to float32.\n";

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    uint32_t max_rows = 0;
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'}, {"output", required_argument, 0, 'o'},
        {"max-rows", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "i:o:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'n':
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &max_rows)) return cli_usage_error("convert", "bad --max-rows");
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_usage_error("convert", "unknown option");
        }
    }
    if (!in || !out) return cli_usage_error("convert", "--input and --output are required");
    vs_matrix *m;
    int rc = vs_matrix_read(in, max_rows, &m);
    if (rc) return cli_fail(in, rc);
    if (ends_with(out, ".fvecs")) rc = vs_matrix_to_f32(m);
    if (!rc) rc = vs_matrix_write(out, m);
    if (!rc) printf("wrote %s: %zu x %u\n", out, m->n, m->dim);
    vs_matrix_free(m);
    return rc ? cli_fail(out, rc) : 0;
}
