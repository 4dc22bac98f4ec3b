/* Prints aic_ssim_plane and aic_msssim_plane of two raw 8-bit grey planes, for the oracle tests
 * in this directory to compare with an independent implementation.
 *
 *   aic_ssim_tool [-r] WIDTH HEIGHT FILE_A FILE_B
 *
 * Each file holds exactly WIDTH * HEIGHT bytes, row by row. -r uses the reference kernel
 * instead of the fastest one this CPU runs. Output: "ssim X" and "msssim X", one per line. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "aic/metrics.h"
#include "metrics/ssim_internal.h"

static bool parse_dim(const char *s, uint32_t *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v == 0 || v > 65536) return false;
  *out = (uint32_t)v;
  return true;
}

/* Reads exactly n bytes: a file of any other length is the caller's mistake, not a plane. */
static uint8_t *read_plane(const char *path, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "aic_ssim_tool: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  uint8_t *p = malloc(n + 1);
  size_t got = p ? fread(p, 1, n + 1, f) : 0;
  fclose(f);
  if (!p || got != n) {
    fprintf(stderr, "aic_ssim_tool: %s: expected %zu bytes, got %zu\n", path, n, got);
    free(p);
    return NULL;
  }
  return p;
}

int main(int argc, char **argv) {
  int arg = 1;
  if (arg < argc && strcmp(argv[arg], "-r") == 0) {
    aic_ssim_force_reference(true);
    arg++;
  }
  uint32_t w, h;
  if (argc - arg != 4 || !parse_dim(argv[arg], &w) || !parse_dim(argv[arg + 1], &h)) {
    fprintf(stderr, "usage: aic_ssim_tool [-r] WIDTH HEIGHT FILE_A FILE_B\n");
    return 2;
  }
  const size_t n = (size_t)w * h;
  uint8_t *a = read_plane(argv[arg + 2], n);
  uint8_t *b = a ? read_plane(argv[arg + 3], n) : NULL;
  if (!b) {
    free(a);
    return 1;
  }
  double ssim = 0, msssim = 0;
  int rc = aic_ssim_plane(a, w, b, w, w, h, &ssim);
  if (rc == AIC_OK) rc = aic_msssim_plane(a, w, b, w, w, h, &msssim);
  free(a);
  free(b);
  if (rc != AIC_OK) {
    fprintf(stderr, "aic_ssim_tool: %s\n", aic_strerror(rc));
    return 1;
  }
  printf("ssim %.10f\nmsssim %.10f\n", ssim, msssim);
  return 0;
}
