/* A one-line progress bar on stderr. It draws only when stderr is a terminal, so logs and pipes
 * that capture stderr see error lines and nothing else. */
#ifndef AIC_CLI_PROGRESS_H
#define AIC_CLI_PROGRESS_H

#include <stdint.h>

typedef struct cli_progress {
  int enabled;
  const char *label;
  double last_draw_ms;
  int drawn;
} cli_progress_t;

/* Starts a bar labelled `label` (kept by pointer: a string literal or the caller's string). */
void cli_progress_begin(cli_progress_t *p, const char *label);

/* Shows `done` of `total` units; total 0 means unknown (only the count is shown). Redraws at
 * most ten times a second so a fast loop does not spend its time on the terminal. */
void cli_progress_update(cli_progress_t *p, uint64_t done, uint64_t total);

/* Erases the bar so the next line starts clean. */
void cli_progress_end(cli_progress_t *p);

#endif
