#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define REDRAW_MS 100.0

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void cli_progress_begin(cli_progress_t *p, const char *label) {
  p->enabled = isatty(STDERR_FILENO);
  p->label = label;
  p->last_draw_ms = 0.0;
  p->drawn = 0;
}

void cli_progress_update(cli_progress_t *p, uint64_t done, uint64_t total) {
  if (!p->enabled) return;
  double t = now_ms();
  if (p->drawn && t - p->last_draw_ms < REDRAW_MS && !(total && done >= total)) return;
  p->last_draw_ms = t;
  p->drawn = 1;
  if (total == 0) {
    fprintf(stderr, "\r%s %llu", p->label, (unsigned long long)done);
  } else {
    if (done > total) done = total;
    int filled = (int)((double)done / (double)total * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%%", p->label, bar, (int)(100.0 * (double)done / (double)total));
  }
  fflush(stderr);
}

void cli_progress_end(cli_progress_t *p) {
  if (!p->enabled || !p->drawn) return;
  /* Erase to the end of the line: any terminal that isatty() accepts knows ESC [ K. */
  fputs("\r\033[K", stderr);
  fflush(stderr);
  p->drawn = 0;
}
