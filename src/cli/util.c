#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Messages quote file contents and library reasons: control bytes are replaced so a hostile
 * file cannot send escape sequences to the terminal or break the one-line contract. */
static void print_line(const char *prefix, const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  for (char *p = msg; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  fprintf(stderr, "%s%s\n", prefix, msg);
}

void cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  print_line("aic: ", fmt, ap);
  va_end(ap);
}

void cli_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  print_line("aic: warning: ", fmt, ap);
  va_end(ap);
}

const char *cli_printable(const char *s, char *out, size_t size) {
  size_t n = 0;
  for (; *s && n + 1 < size; s++) out[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
  if (size) out[n] = '\0';
  return out;
}

int cli_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **value) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0) return 0;
  if (a[n] == '=') {
    *value = a + n + 1;
    return 1;
  }
  if (a[n] != '\0') return 0;
  if (*i + 1 >= argc) {
    cli_error("%s wants a value", name);
    return -1;
  }
  *value = argv[++*i];
  return 1;
}

int cli_parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out) {
  /* strtoul alone would take " 12", "-1" (wrapping) and "12abc". */
  if (!isdigit((unsigned char)s[0])) goto bad;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end != '\0' || v < min || v > max) goto bad;
  *out = (uint32_t)v;
  return 0;
bad:
  cli_error("%s wants a whole number in %u..%u, got '%s'", opt, (unsigned)min, (unsigned)max, s);
  return -1;
}

int cli_parse_double(const char *opt, const char *s, double min, double max, double *out) {
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno || !isfinite(v) || v < min || v > max) {
    cli_error("%s wants a number in [%g, %g], got '%s'", opt, min, max, s);
    return -1;
  }
  *out = v;
  return 0;
}

int cli_has_ext(const char *path, const char *ext) {
  size_t n = strlen(path), m = strlen(ext);
  if (n <= m) return 0;
  for (size_t i = 0; i < m; i++)
    if (tolower((unsigned char)path[n - m + i]) != tolower((unsigned char)ext[i])) return 0;
  return 1;
}

uint64_t cli_file_size(FILE *f) {
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0) return UINT64_MAX;
  return (uint64_t)st.st_size;
}

int cli_read_file(const char *path, size_t max, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    cli_error("cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      if (cap >= max) {
        cli_error("%s is larger than %zu bytes", path, max);
        goto fail;
      }
      cap = cap ? (cap > max / 2 ? max : cap * 2) : 1 << 16;
      uint8_t *p = realloc(buf, cap);
      if (!p) {
        cli_error("out of memory reading %s", path);
        goto fail;
      }
      buf = p;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    cli_error("error reading %s: %s", path, strerror(errno));
    goto fail;
  }
  fclose(f);
  *data = buf;
  *size = n;
  return 0;
fail:
  free(buf);
  fclose(f);
  return -1;
}

int cli_close_output(FILE *f, const char *path) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    cli_error("cannot write %s: %s", path, errno ? strerror(errno) : "write error");
    return -1;
  }
  return 0;
}

int cli_output_finish(FILE **file, const char *path) {
  if (!*file) return 0;
  int rc = cli_close_output(*file, path);
  *file = NULL;
  if (rc != 0) remove(path);
  return rc;
}

void cli_output_abort(FILE **file, const char *path) {
  if (!*file) return;
  fclose(*file);
  *file = NULL;
  remove(path);
}

int cli_write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    cli_error("cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  size_t put = fwrite(data, 1, size, f);
  if (cli_close_output(f, path) != 0 || put != size) {
    remove(path);
    return -1;
  }
  return 0;
}
