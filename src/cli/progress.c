/* A progress bar for long work, drawn only on a terminal and at most ten times a second. */
#include <unistd.h>

#include "cli/cli.h"

void cli_progress_start(cli_progress *p, const char *label, size_t total)
{
    p->label = label;
    p->total = total;
    p->enabled = isatty(STDERR_FILENO) && total > 0;
    p->start = cli_now();
    p->last_draw = 0;
}

static void draw(cli_progress *p, size_t done)
{
    enum { WIDTH = 30 };
    double frac = p->total ? (double)done / (double)p->total : 1;
    int fill = (int)(frac * WIDTH);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    double el = cli_now() - p->start;
    double eta = frac > 0 ? el / frac - el : 0;
    fprintf(stderr, "\r%-10s [%s] %5.1f%% %zu/%zu  %.1fs elapsed, %.1fs left ", p->label, bar, frac * 100,
            done, p->total, el, eta);
}

void cli_progress_update(cli_progress *p, size_t done)
{
    if (!p->enabled) return;
    double now = cli_now();
    if (now - p->last_draw < 0.1) return;
    p->last_draw = now;
    draw(p, done);
}

void cli_progress_finish(cli_progress *p)
{
    if (!p->enabled) return;
    draw(p, p->total);
    fputc('\n', stderr);
}
