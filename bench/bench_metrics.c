/* Times the SSIM kernels on one 1920x1080 luma plane, single-threaded: the portable reference
 * against the fastest kernel this CPU runs, for aic_ssim_plane and aic_msssim_plane, plus PSNR
 * for scale. Reports the median and minimum of N runs (default 31) in milliseconds of wall
 * time, and the median of the thread's CPU time, which a busy machine inflates less (time
 * spent preempted is not counted).
 *
 *   bench_metrics [N] */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aic/error.h"
#include "aic/metrics.h"
#include "metrics/ssim_internal.h"

#define W 1920
#define H 1080

typedef int (*plane_fn)(const uint8_t *, size_t, const uint8_t *, size_t, uint32_t, uint32_t,
                        double *);

static uint32_t rng_state = 2463534242u;

static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static uint8_t clamp_u8(double v) {
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
}

/* Something like a picture (gradients, texture, edges) and a blurred, noisy encoding of it, so
 * the SSIM is in the range real codecs produce rather than near 0 or 1. */
static void make_planes(uint8_t *a, uint8_t *b) {
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double v = 60 + 100.0 * x / W + 40 * sin(x * 0.07) * cos(y * 0.05) + (rng() % 21) - 10.0;
      if ((x / 160 + y / 120) % 2) v += 40;
      a[(size_t)y * W + x] = clamp_u8(v);
    }
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      const int xl = x > 0 ? x - 1 : x, xr = x + 1 < W ? x + 1 : x;
      const double s = (a[(size_t)y * W + xl] + 2.0 * a[(size_t)y * W + x] + a[(size_t)y * W + xr]);
      b[(size_t)y * W + x] = clamp_u8(s / 4 + (double)(rng() % 9) - 4.0);
    }
}

static double now_ms(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *x, const void *y) {
  const double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* Runs fn n times (after one warm-up) with the kernel choice given; returns the median ms. */
static double time_fn(const char *name, plane_fn fn, bool reference, const uint8_t *a,
                      const uint8_t *b, int n, double *value) {
  aic_ssim_force_reference(reference);
  double *wall = malloc(sizeof(double) * (size_t)n), *cpu = malloc(sizeof(double) * (size_t)n);
  if (!wall || !cpu) exit(1);
  if (fn(a, W, b, W, W, H, value) != AIC_OK) {
    fprintf(stderr, "%s failed\n", name);
    exit(1);
  }
  for (int i = 0; i < n; i++) {
    const double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
    fn(a, W, b, W, W, H, value);
    cpu[i] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    wall[i] = now_ms(CLOCK_MONOTONIC) - w0;
  }
  qsort(wall, (size_t)n, sizeof(double), cmp_double);
  qsort(cpu, (size_t)n, sizeof(double), cmp_double);
  const double median = wall[n / 2];
  printf("%-18s median %7.2f ms  min %7.2f ms  cpu median %7.2f ms  value %.10f\n", name, median,
         wall[0], cpu[n / 2], *value);
  free(wall);
  free(cpu);
  aic_ssim_force_reference(false);
  return median;
}

int main(int argc, char **argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 31;
  if (n < 1) {
    fprintf(stderr, "usage: bench_metrics [N]\n");
    return 2;
  }
  uint8_t *a = malloc((size_t)W * H), *b = malloc((size_t)W * H);
  if (!a || !b) return 1;
  make_planes(a, b);
  printf("%dx%d luma, %d runs, single thread, fast kernel: %s\n", W, H, n,
         aic_ssim_avx2_available() ? "avx2+fma" : "none (reference only)");
  double v_ref, v_fast, m_ref, m_fast, psnr;
  time_fn("psnr", aic_psnr_plane, false, a, b, n, &psnr);
  const double t_ref = time_fn("ssim reference", aic_ssim_plane, true, a, b, n, &v_ref);
  const double t_fast = time_fn("ssim fast", aic_ssim_plane, false, a, b, n, &v_fast);
  const double tm_ref = time_fn("msssim reference", aic_msssim_plane, true, a, b, n, &m_ref);
  const double tm_fast = time_fn("msssim fast", aic_msssim_plane, false, a, b, n, &m_fast);
  printf("ssim:   speed-up %.2fx, |fast - reference| = %.3g\n", t_ref / t_fast,
         fabs(v_fast - v_ref));
  printf("msssim: speed-up %.2fx, |fast - reference| = %.3g\n", tm_ref / tm_fast,
         fabs(m_fast - m_ref));
  free(a);
  free(b);
  return 0;
}
