#include "bench_common.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aic/error.h"
#include "aic/metrics.h"

double bench_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

void *bench_xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p) bench_die("out of memory (%zu bytes)", size);
  return p;
}

void bench_read_png(const char *path, uint8_t **rgb, uint32_t *width, uint32_t *height) {
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path)) bench_die("%s: %s", path, img.message);
  /* The simplified API converts palette, grey and 16-bit images to 8-bit RGB. Alpha would be
   * composited away, but scripts/prepare-data writes its stills without it. */
  img.format = PNG_FORMAT_RGB;
  size_t size = PNG_IMAGE_SIZE(img);
  uint8_t *buf = bench_xmalloc(size);
  if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) bench_die("%s: %s", path, img.message);
  *rgb = buf;
  *width = img.width;
  *height = img.height;
}

void bench_y4m_open(bench_y4m_t *y, const char *path) {
  memset(y, 0, sizeof *y);
  y->f = fopen(path, "rb");
  if (!y->f) bench_die("%s: %s", path, strerror(errno));
  char line[512];
  if (!fgets(line, sizeof line, y->f) || strncmp(line, "YUV4MPEG2 ", 10) != 0)
    bench_die("%s: not a Y4M file", path);
  y->fps = 30;
  for (char *tok = strtok(line + 10, " \n"); tok; tok = strtok(NULL, " \n")) {
    switch (tok[0]) {
      case 'W': y->width = (uint32_t)strtoul(tok + 1, NULL, 10); break;
      case 'H': y->height = (uint32_t)strtoul(tok + 1, NULL, 10); break;
      case 'F': {
        unsigned long num = 0, den = 0;
        if (sscanf(tok + 1, "%lu:%lu", &num, &den) == 2 && num && den)
          y->fps = (double)num / (double)den;
        break;
      }
      case 'C':
        /* Only the 4:2:0 8-bit variants; they differ in chroma siting, not in layout. */
        if (strncmp(tok, "C420", 4) != 0 || strstr(tok, "p10") || strstr(tok, "p12"))
          bench_die("%s: colour space %s is not 8-bit 4:2:0", path, tok);
        break;
      default: break;
    }
  }
  if (!y->width || !y->height) bench_die("%s: no W/H in the header", path);
  size_t cw = (y->width + 1) / 2, ch = (y->height + 1) / 2;
  y->frame_size = (size_t)y->width * y->height + 2 * cw * ch;
}

bool bench_y4m_read(bench_y4m_t *y, uint8_t *dst) {
  char line[256];
  if (!fgets(line, sizeof line, y->f)) return false;
  if (strncmp(line, "FRAME", 5) != 0) bench_die("y4m: expected FRAME");
  if (fread(dst, 1, y->frame_size, y->f) != y->frame_size) return false;
  return true;
}

void bench_y4m_close(bench_y4m_t *y) {
  if (y->f) fclose(y->f);
  y->f = NULL;
}

void bench_rgb_to_luma(const uint8_t *rgb, size_t count, uint8_t *luma) {
  for (size_t i = 0; i < count; i++, rgb += 3)
    luma[i] = (uint8_t)((299u * rgb[0] + 587u * rgb[1] + 114u * rgb[2] + 500u) / 1000u);
}

void bench_rgb_quality(const uint8_t *a, const uint8_t *b, uint32_t width, uint32_t height,
                       bench_quality_t *q) {
  size_t count = (size_t)width * height;
  uint8_t *la = bench_xmalloc(2 * count), *lb = la + count;
  bench_rgb_to_luma(a, count, la);
  bench_rgb_to_luma(b, count, lb);
  int rc =
      aic_psnr_plane(a, (size_t)width * 3, b, (size_t)width * 3, width * 3, height, &q->psnr_rgb);
  if (!rc) rc = aic_psnr_plane(la, width, lb, width, width, height, &q->psnr_y);
  if (!rc) rc = aic_ssim_plane(la, width, lb, width, width, height, &q->ssim_y);
  q->msssim_y = NAN;
#ifdef AIC_BENCH_HAVE_MSSSIM
  if (!rc) rc = aic_msssim_plane(la, width, lb, width, width, height, &q->msssim_y);
#endif
  if (rc) bench_die("quality metrics failed: %s", aic_strerror(rc));
  free(la);
}

int bench_codec_parse(const char *name) {
  for (int id = 0; id < AIC_CODEC_COUNT_; id++)
    if (strcmp(name, aic_codec_name((aic_codec_id_t)id)) == 0) return id;
  return -1;
}

FILE *bench_csv_open(const char *path, const char *header) {
  FILE *f = fopen(path, "a");
  if (!f) bench_die("%s: %s", path, strerror(errno));
  if (ftell(f) == 0) fprintf(f, "%s\n", header);
  return f;
}

const char *bench_stem(const char *path) {
  static char buf[256];
  const char *slash = strrchr(path, '/');
  snprintf(buf, sizeof buf, "%s", slash ? slash + 1 : path);
  char *dot = strrchr(buf, '.');
  if (dot && dot != buf) *dot = '\0';
  return buf;
}
