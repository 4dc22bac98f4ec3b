/* Small helpers every subcommand shares: error lines, option parsing, file names, byte order. */
#ifndef AIC_CLI_UTIL_H
#define AIC_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of aic. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* Prints one line "aic: ..." on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints one line "aic: warning: ..." on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies `s` into `out` (at most size - 1 characters) with every byte outside printable ASCII
 * replaced by '?', for quoting text read from a file. Returns `out`. */
const char *cli_printable(const char *s, char *out, size_t size);

/* 1 when `arg` asks for help (-h, --help). */
int cli_is_help(const char *arg);

/* Matches argv[*i] against the option `name` as "--name VALUE" or "--name=VALUE". Returns 1 and
 * sets *value (moving *i past a separate value), 0 when argv[*i] is not this option, -1 when
 * the value is missing (reported). */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses a whole decimal number in [min, max]. Returns 0, or -1 after reporting "OPT wants ...".
 */
int cli_parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out);
int cli_parse_double(const char *opt, const char *s, double min, double max, double *out);

/* 1 when `path` ends in `ext` (".png"), compared without regard to case. */
int cli_has_ext(const char *path, const char *ext);

/* The size of an open file when it is a regular file, else UINT64_MAX (pipes, devices). */
uint64_t cli_file_size(FILE *f);

/* Reads a whole file of at most `max` bytes. On success *data is malloc'd (caller frees).
 * Returns 0, or -1 after reporting. */
int cli_read_file(const char *path, size_t max, uint8_t **data, size_t *size);

/* Writes a whole file. Returns 0, or -1 after reporting (and removing the partial file). */
int cli_write_file(const char *path, const uint8_t *data, size_t size);

/* fclose that reports a failed flush (a full disk shows up here). Returns 0 or -1. */
int cli_close_output(FILE *f, const char *path);

/* Closes an output a writer owns: on a failed flush the partial file is removed. Sets *file to
 * NULL. Returns 0, or -1 after reporting. A NULL *file is a no-op returning 0. */
int cli_output_finish(FILE **file, const char *path);

/* Gives up on an output a writer owns: closes and removes it, sets *file to NULL. */
void cli_output_abort(FILE **file, const char *path);

static inline uint32_t cli_get_u16le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static inline uint32_t cli_get_u32le(const uint8_t *p) {
  return cli_get_u16le(p) | cli_get_u16le(p + 2) << 16;
}
static inline void cli_put_u16le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void cli_put_u32le(uint8_t *p, uint32_t v) {
  cli_put_u16le(p, v);
  cli_put_u16le(p + 2, v >> 16);
}

#endif
