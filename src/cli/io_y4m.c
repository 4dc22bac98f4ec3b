#include "io_y4m.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Real headers are a few dozen bytes; the cap keeps a hostile line from growing without end. */
#define MAX_LINE 1024

/* Reads one '\n'-terminated line without the newline. Returns its length, -1 at EOF before any
 * byte, -2 when EOF cuts the line, -3 when it is longer than MAX_LINE. */
static int read_line(FILE *f, char line[MAX_LINE + 1]) {
  int n = 0;
  for (;;) {
    int ch = fgetc(f);
    if (ch == EOF) return n == 0 ? -1 : -2;
    if (ch == '\n') break;
    if (n == MAX_LINE) return -3;
    line[n++] = (char)ch;
  }
  line[n] = '\0';
  return n;
}

/* A whole decimal number of at most 9 digits, so it fits any uint32_t field. */
static int parse_num(const char *s, const char **end, uint32_t *out) {
  uint32_t v = 0;
  int digits = 0;
  while (isdigit((unsigned char)*s)) {
    if (++digits > 9) return -1;
    v = v * 10 + (uint32_t)(*s++ - '0');
  }
  if (digits == 0) return -1;
  *end = s;
  *out = v;
  return 0;
}

static int parse_rate(cli_y4m_reader_t *r, const char *v) {
  const char *end;
  uint32_t num, den;
  if (parse_num(v, &end, &num) != 0 || *end != ':' || parse_num(end + 1, &end, &den) != 0 ||
      *end != '\0' || (den == 0 && num != 0)) {
    char shown[32];
    cli_error("%s: bad Y4M frame rate 'F%s' (want F<num>:<den>)", r->path,
              cli_printable(v, shown, sizeof shown));
    return -1;
  }
  r->rate_num = num;
  r->rate_den = den;
  return 0;
}

static int check_colorspace(const cli_y4m_reader_t *r, const char *v) {
  static const char *const ok[] = {"420jpeg", "420", "420paldv", "420mpeg2"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strcmp(v, ok[i]) == 0) return 0;
  char shown[32];
  if (strcmp(v, "444") == 0)
    cli_error("%s: 4:4:4 Y4M (C444) is not supported: convert it to 4:2:0 first", r->path);
  else
    cli_error(
        "%s: Y4M colour space C%s is not supported (want 8-bit 4:2:0: C420jpeg, C420, "
        "C420paldv or C420mpeg2)",
        r->path, cli_printable(v, shown, sizeof shown));
  return -1;
}

static int parse_header(cli_y4m_reader_t *r, char *line, const aic_frame_limits_t *limits) {
  static const char magic[] = "YUV4MPEG2";
  if (strncmp(line, magic, sizeof magic - 1) != 0 ||
      (line[sizeof magic - 1] != ' ' && line[sizeof magic - 1] != '\0')) {
    cli_error("%s: not a YUV4MPEG2 stream", r->path);
    return -1;
  }
  int have_w = 0, have_h = 0;
  char *save = NULL;
  for (char *tok = strtok_r(line + sizeof magic - 1, " ", &save); tok;
       tok = strtok_r(NULL, " ", &save)) {
    const char *v = tok + 1, *end;
    switch (tok[0]) {
      case 'W':
      case 'H': {
        uint32_t n;
        if (parse_num(v, &end, &n) != 0 || *end != '\0' || n == 0) {
          char shown[32];
          cli_error("%s: bad Y4M size parameter '%s'", r->path,
                    cli_printable(tok, shown, sizeof shown));
          return -1;
        }
        if (tok[0] == 'W') {
          r->width = n;
          have_w = 1;
        } else {
          r->height = n;
          have_h = 1;
        }
        break;
      }
      case 'F':
        if (parse_rate(r, v) != 0) return -1;
        break;
      case 'C':
        if (check_colorspace(r, v) != 0) return -1;
        break;
      default: break; /* I, A, X and unknown parameters carry nothing we code */
    }
  }
  if (!have_w || !have_h) {
    cli_error("%s: Y4M header lacks W or H", r->path);
    return -1;
  }
  if (r->width > limits->max_width || r->height > limits->max_height) {
    cli_error("%s: %ux%u exceeds the limit %ux%u", r->path, r->width, r->height, limits->max_width,
              limits->max_height);
    return -1;
  }
  if (aic_pixel_format_size(AIC_PIX_I420, r->width, r->height, &r->frame_size) != 0) {
    cli_error("%s: %ux%u is too large", r->path, r->width, r->height);
    return -1;
  }
  return 0;
}

int cli_y4m_open(cli_y4m_reader_t *r, const char *path, const aic_frame_limits_t *limits) {
  memset(r, 0, sizeof *r);
  r->path = path;
  r->file = fopen(path, "rb");
  if (!r->file) {
    cli_error("cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  r->file_size = cli_file_size(r->file);
  char line[MAX_LINE + 1];
  int n = read_line(r->file, line);
  if (n < 0) {
    cli_error(n == -3 ? "%s: Y4M header line is too long" : "%s: truncated Y4M header", path);
    goto fail;
  }
  if (parse_header(r, line, limits) != 0) goto fail;
  return 0;
fail:
  cli_y4m_close(r);
  return -1;
}

int cli_y4m_read_frame(cli_y4m_reader_t *r, uint8_t *dst) {
  char line[MAX_LINE + 1];
  uint32_t index = r->frames_read;
  int n = read_line(r->file, line);
  if (n == -1) {
    if (ferror(r->file)) {
      cli_error("error reading %s: %s", r->path, strerror(errno));
      return -1;
    }
    return 0;
  }
  if (n < 0) {
    cli_error("%s: frame %u: %s", r->path, index,
              n == -3 ? "FRAME header is too long" : "truncated FRAME header");
    return -1;
  }
  if (strncmp(line, "FRAME", 5) != 0 || (line[5] != ' ' && line[5] != '\0')) {
    cli_error("%s: frame %u: expected a FRAME header", r->path, index);
    return -1;
  }
  size_t got = fread(dst, 1, r->frame_size, r->file);
  if (got != r->frame_size) {
    cli_error("%s: frame %u is truncated (%zu of %zu bytes)", r->path, index, got, r->frame_size);
    return -1;
  }
  r->frames_read++;
  return 1;
}

uint64_t cli_y4m_position(const cli_y4m_reader_t *r) {
  long pos = r->file ? ftell(r->file) : -1;
  return pos < 0 ? 0 : (uint64_t)pos;
}

void cli_y4m_close(cli_y4m_reader_t *r) {
  if (r->file) fclose(r->file);
  r->file = NULL;
}

int cli_y4m_create(cli_y4m_writer_t *w, const char *path, uint32_t width, uint32_t height,
                   uint32_t rate_num, uint32_t rate_den) {
  memset(w, 0, sizeof *w);
  w->path = path;
  if (aic_pixel_format_size(AIC_PIX_I420, width, height, &w->frame_size) != 0) {
    cli_error("%s: %ux%u is too large", path, width, height);
    return -1;
  }
  if (rate_num == 0 || rate_den == 0) rate_num = 30, rate_den = 1;
  w->file = fopen(path, "wb");
  if (!w->file) {
    cli_error("cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  fprintf(w->file, "YUV4MPEG2 W%u H%u F%u:%u Ip A1:1 C420jpeg\n", width, height, rate_num,
          rate_den);
  return 0;
}

int cli_y4m_write_frame(cli_y4m_writer_t *w, const uint8_t *i420) {
  if (fputs("FRAME\n", w->file) < 0 || fwrite(i420, 1, w->frame_size, w->file) != w->frame_size) {
    cli_error("cannot write %s: %s", w->path, strerror(errno));
    return -1;
  }
  return 0;
}

int cli_y4m_finish(cli_y4m_writer_t *w) {
  return cli_output_finish(&w->file, w->path);
}

void cli_y4m_abort(cli_y4m_writer_t *w) {
  cli_output_abort(&w->file, w->path);
}
