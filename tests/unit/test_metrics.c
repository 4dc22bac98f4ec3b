/* PSNR, MSE, SSIM, MS-SSIM and frame quality. SSIM is checked against a deliberately naive
 * reference: direct 11x11 weighted sums at every valid position with a 2-D kernel and centred
 * (two-pass) moments, sharing nothing with the library's separable kernels. The library's own
 * reference kernel and its fast (AVX2) kernel are both held to it, and to each other. MS-SSIM
 * is checked against a naive re-implementation built on the same direct windows. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "aic/frame.h"
#include "aic/metrics.h"
#include "aic_test.h"
#include "metrics/ssim_internal.h"

/* SSIM must agree with the reference within 1e-6; in double it does to ~1e-13, so hold it to
 * a bound that would catch a float or kernel slip. The same bound holds between the fast
 * kernel and the library's reference kernel, and for MS-SSIM. */
#define SSIM_TOL 1e-9

/* Largest differences seen, reported at the end. */
static double max_ssim_error;   /* aic_ssim_plane (either kernel) against the naive reference */
static double max_fast_error;   /* fast kernel against the library's reference kernel */
static double max_msssim_error; /* aic_msssim_plane (either kernel) against the naive one */

static bool fast_kernel(void) {
  return aic_ssim_avx2_available();
}

static void note_error(double *max, double got, double want) {
  if (fabs(got - want) > *max) *max = fabs(got - want);
}

/* ---- helpers ---- */

static uint32_t rng_state = 2463534242u;

static uint32_t rng(void) { /* xorshift32: deterministic, good enough for test images */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static uint8_t clamp_u8(int v) {
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static uint8_t *alloc_plane(size_t w, size_t h) {
  uint8_t *p = malloc(w * h);
  if (!p) abort();
  return p;
}

static void fill_noise(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rng() >> 24);
}

static void fill_gradient_noise(uint8_t *p, int w, int h, int amplitude) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int noise = (int)(rng() % (unsigned)(2 * amplitude + 1)) - amplitude;
      p[y * w + x] = clamp_u8(x * 200 / w + y * 50 / h + noise);
    }
}

static void add_noise(const uint8_t *src, uint8_t *dst, size_t n, int amplitude) {
  for (size_t i = 0; i < n; i++) {
    int noise = (int)(rng() % (unsigned)(2 * amplitude + 1)) - amplitude;
    dst[i] = clamp_u8(src[i] + noise);
  }
}

/* 3x3 box blur of `src` sampled one pixel to the right, clamped at the edges. */
static void blur_shift(const uint8_t *src, uint8_t *dst, int w, int h) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int sum = 0;
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          int sy = y + dy, sx = x + 1 + dx;
          sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
          sx = sx < 0 ? 0 : sx >= w ? w - 1 : sx;
          sum += src[sy * w + sx];
        }
      dst[y * w + x] = (uint8_t)((sum + 4) / 9);
    }
}

/* ---- the independent SSIM reference ---- */

static double ref_ssim_formula(double mu_a, double mu_b, double va, double vb, double cov) {
  const double c1 = 6.5025, c2 = 58.5225; /* (0.01 * 255)^2, (0.03 * 255)^2 */
  return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) /
         ((mu_a * mu_a + mu_b * mu_b + c1) * (va + vb + c2));
}

/* SSIM of one window at (x0, y0) of size ww x wh with weights `g` (row-major, sums to 1). */
static double ref_window(const uint8_t *a, size_t as, const uint8_t *b, size_t bs, int x0, int y0,
                         int ww, int wh, const double *g) {
  double mu_a = 0, mu_b = 0;
  for (int j = 0; j < wh; j++)
    for (int i = 0; i < ww; i++) {
      mu_a += g[j * ww + i] * a[(size_t)(y0 + j) * as + (size_t)(x0 + i)];
      mu_b += g[j * ww + i] * b[(size_t)(y0 + j) * bs + (size_t)(x0 + i)];
    }
  double va = 0, vb = 0, cov = 0;
  for (int j = 0; j < wh; j++)
    for (int i = 0; i < ww; i++) {
      double da = a[(size_t)(y0 + j) * as + (size_t)(x0 + i)] - mu_a;
      double db = b[(size_t)(y0 + j) * bs + (size_t)(x0 + i)] - mu_b;
      va += g[j * ww + i] * da * da;
      vb += g[j * ww + i] * db * db;
      cov += g[j * ww + i] * da * db;
    }
  return ref_ssim_formula(mu_a, mu_b, va, vb, cov);
}

static double ref_ssim(const uint8_t *a, size_t as, const uint8_t *b, size_t bs, int w, int h) {
  if (w < 11 || h < 11) { /* the library's documented tiny-plane rule: one uniform window */
    double *g = malloc(sizeof(double) * (size_t)(w * h));
    if (!g) abort();
    for (int i = 0; i < w * h; i++) g[i] = 1.0 / (w * h);
    double s = ref_window(a, as, b, bs, 0, 0, w, h, g);
    free(g);
    return s;
  }
  double g[121], total = 0;
  for (int j = 0; j < 11; j++)
    for (int i = 0; i < 11; i++) {
      g[j * 11 + i] = exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
      total += g[j * 11 + i];
    }
  for (int k = 0; k < 121; k++) g[k] /= total;
  double sum = 0;
  for (int y = 0; y + 11 <= h; y++)
    for (int x = 0; x + 11 <= w; x++) sum += ref_window(a, as, b, bs, x, y, 11, 11, g);
  return sum / ((double)(w - 10) * (h - 10));
}

/* Same pixels as (p, w) behind a wider stride whose padding is noise. */
static uint8_t *padded_copy(const uint8_t *p, int w, int h, size_t stride) {
  uint8_t *q = alloc_plane(stride, (size_t)h);
  fill_noise(q, stride * (size_t)h);
  for (int y = 0; y < h; y++) memcpy(q + (size_t)y * stride, p + (size_t)y * (size_t)w, (size_t)w);
  return q;
}

/* Compares both kernels of the library to the naive reference and to each other, on tight
 * planes and on padded-stride copies. */
static void check_ssim_pair(const uint8_t *a, const uint8_t *b, int w, int h) {
  const double want = ref_ssim(a, (size_t)w, b, (size_t)w, w, h);
  double got = -2, ref = -2;
  CHECK_EQ_INT(aic_ssim_plane(a, (size_t)w, b, (size_t)w, (uint32_t)w, (uint32_t)h, &got), AIC_OK);
  CHECK_EQ_INT(aic_ssim_plane_ref(a, (size_t)w, b, (size_t)w, (uint32_t)w, (uint32_t)h, &ref),
               AIC_OK);
  CHECK_NEAR(got, want, SSIM_TOL);
  CHECK_NEAR(ref, want, SSIM_TOL);
  CHECK_NEAR(got, ref, SSIM_TOL);
  note_error(&max_ssim_error, got, want);
  note_error(&max_ssim_error, ref, want);
  note_error(&max_fast_error, got, ref);

  /* Same pixels behind different strides, padding full of noise: must not change a bit. */
  const size_t sa = (size_t)w + 13, sb = (size_t)w + 3;
  uint8_t *pa = padded_copy(a, w, h, sa), *pb = padded_copy(b, w, h, sb);
  double strided = -2, strided_ref = -2;
  CHECK_EQ_INT(aic_ssim_plane(pa, sa, pb, sb, (uint32_t)w, (uint32_t)h, &strided), AIC_OK);
  CHECK_EQ_INT(aic_ssim_plane_ref(pa, sa, pb, sb, (uint32_t)w, (uint32_t)h, &strided_ref), AIC_OK);
  CHECK(strided == got);
  CHECK(strided_ref == ref);
  /* SSIM is symmetric in its arguments. */
  double swapped = -2;
  CHECK_EQ_INT(aic_ssim_plane(b, (size_t)w, a, (size_t)w, (uint32_t)w, (uint32_t)h, &swapped),
               AIC_OK);
  CHECK_NEAR(swapped, got, 1e-12);
  free(pa);
  free(pb);
}

/* ---- PSNR / MSE ---- */

static void test_psnr_identical(void) {
  uint8_t *a = alloc_plane(37, 29);
  fill_noise(a, 37 * 29);
  double psnr = 0;
  CHECK_EQ_INT(aic_psnr_plane(a, 37, a, 37, 37, 29, &psnr), AIC_OK);
  CHECK(psnr == AIC_PSNR_IDENTICAL_DB);
  free(a);
}

static void test_psnr_known_mse(void) {
  enum { W = 64, H = 48 };
  uint8_t *a = alloc_plane(W, H), *b = alloc_plane(W, H);
  for (size_t i = 0; i < W * H; i++) {
    a[i] = (uint8_t)(i % 240);  /* headroom: +10 below must not wrap */
    b[i] = (uint8_t)(a[i] + 5); /* every pixel off by 5: MSE 25 */
  }
  double psnr = 0;
  CHECK_EQ_INT(aic_psnr_plane(a, W, b, W, W, H, &psnr), AIC_OK);
  CHECK_NEAR(psnr, 20.0 * log10(255.0 / 5.0), 1e-12);
  /* Half the pixels off by 10: MSE 50. */
  for (size_t i = 0; i < W * H; i++) b[i] = (uint8_t)(a[i] + (i % 2 ? 10 : 0));
  CHECK_EQ_INT(aic_psnr_plane(b, W, a, W, W, H, &psnr), AIC_OK);
  CHECK_NEAR(psnr, 10.0 * log10(255.0 * 255.0 / 50.0), 1e-12);
  /* The extremes: 0 against 255 everywhere is PSNR 0. */
  memset(a, 0, W * H);
  memset(b, 255, W * H);
  CHECK_EQ_INT(aic_psnr_plane(a, W, b, W, W, H, &psnr), AIC_OK);
  CHECK_NEAR(psnr, 0.0, 1e-12);
  free(a);
  free(b);
}

static void test_psnr_strides(void) {
  enum { W = 33, H = 17, SA = 40, SB = 64 };
  uint8_t *a = alloc_plane(SA, H), *b = alloc_plane(SB, H);
  /* Padding differs wildly between the planes; only the first W bytes of a row count. */
  memset(a, 0, SA * H);
  memset(b, 255, SB * H);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      a[y * SA + x] = (uint8_t)(x * 7 + y);
      b[y * SB + x] = (uint8_t)(a[y * SA + x] ^ (x == y ? 3 : 0)); /* 17 pixels off */
    }
  double psnr = 0, mse_expected = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double d = (double)a[y * SA + x] - b[y * SB + x];
      mse_expected += d * d;
    }
  mse_expected /= W * H;
  CHECK_EQ_INT(aic_psnr_plane(a, SA, b, SB, W, H, &psnr), AIC_OK);
  CHECK_NEAR(psnr, 10.0 * log10(255.0 * 255.0 / mse_expected), 1e-12);
  /* Identical content behind different strides is identical. */
  for (int y = 0; y < H; y++) memcpy(b + y * SB, a + y * SA, W);
  CHECK_EQ_INT(aic_psnr_plane(a, SA, b, SB, W, H, &psnr), AIC_OK);
  CHECK(psnr == AIC_PSNR_IDENTICAL_DB);
  free(a);
  free(b);
}

static void test_psnr_long_rows(void) {
  /* Longer than the library's 32-bit summation block, with every byte maximally wrong. */
  enum { N = 200000 };
  uint8_t *a = calloc(N, 1), *b = malloc(N);
  if (!a || !b) abort();
  memset(b, 255, N);
  double psnr = -1, mse = -1;
  CHECK_EQ_INT(aic_psnr_plane(a, N, b, N, N, 1, &psnr), AIC_OK);
  CHECK_NEAR(psnr, 0.0, 1e-12);
  CHECK_EQ_INT(aic_mse_bytes(a, b, N, &mse), AIC_OK);
  CHECK(mse == 65025.0);
  free(a);
  free(b);
}

static void test_mse_bytes(void) {
  const uint8_t a[4] = {0, 255, 10, 20}, b[4] = {255, 0, 13, 20};
  double mse = -1;
  CHECK_EQ_INT(aic_mse_bytes(a, b, 4, &mse), AIC_OK);
  CHECK_NEAR(mse, (65025.0 + 65025.0 + 9.0) / 4.0, 1e-12);
  CHECK_EQ_INT(aic_mse_bytes(a, a, 4, &mse), AIC_OK);
  CHECK(mse == 0.0);
  mse = -1;
  CHECK_EQ_INT(aic_mse_bytes(a, b, 0, &mse), AIC_EINVAL);
  CHECK_EQ_INT(aic_mse_bytes(NULL, b, 4, &mse), AIC_EINVAL);
  CHECK_EQ_INT(aic_mse_bytes(a, NULL, 4, &mse), AIC_EINVAL);
  CHECK_EQ_INT(aic_mse_bytes(a, b, 4, NULL), AIC_EINVAL);
  CHECK(mse == -1);
}

/* Both plane metrics share one argument contract. */
typedef int (*plane_metric_fn)(const uint8_t *, size_t, const uint8_t *, size_t, uint32_t, uint32_t,
                               double *);

static void check_plane_bad_args(plane_metric_fn fn) {
  uint8_t buf[16 * 16] = {0};
  double out = -7;
  CHECK_EQ_INT(fn(NULL, 16, buf, 16, 16, 16, &out), AIC_EINVAL);
  CHECK_EQ_INT(fn(buf, 16, NULL, 16, 16, 16, &out), AIC_EINVAL);
  CHECK_EQ_INT(fn(buf, 16, buf, 16, 16, 16, NULL), AIC_EINVAL);
  CHECK_EQ_INT(fn(buf, 16, buf, 16, 0, 16, &out), AIC_EINVAL);
  CHECK_EQ_INT(fn(buf, 16, buf, 16, 16, 0, &out), AIC_EINVAL);
  CHECK_EQ_INT(fn(buf, 15, buf, 16, 16, 16, &out), AIC_EINVAL);
  CHECK_EQ_INT(fn(buf, 16, buf, 15, 16, 16, &out), AIC_EINVAL);
  CHECK_EQ_INT(fn(buf, 0, buf, 0, 1, 1, &out), AIC_EINVAL);
  /* A stride so large the last row could not be addressed. */
  CHECK_EQ_INT(fn(buf, SIZE_MAX / 2, buf, 16, 16, 16, &out), AIC_EINVAL);
  CHECK(out == -7); /* nothing written on failure */
  /* The smallest valid plane, and a stride larger than the width. */
  CHECK_EQ_INT(fn(buf, 1, buf, 1, 1, 1, &out), AIC_OK);
  CHECK_EQ_INT(fn(buf, 16, buf, 16, 15, 16, &out), AIC_OK);
}

static void test_psnr_bad_args(void) {
  check_plane_bad_args(aic_psnr_plane);
}

/* ---- SSIM ---- */

static void test_ssim_bad_args(void) {
  check_plane_bad_args(aic_ssim_plane);
}

static void test_ssim_identical(void) {
  static const int sizes[][2] = {{64, 48}, {37, 29}, {11, 11}, {8, 5}, {1, 1}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    int w = sizes[i][0], h = sizes[i][1];
    uint8_t *a = alloc_plane((size_t)w, (size_t)h);
    fill_gradient_noise(a, w, h, 30);
    double s = -2;
    CHECK_EQ_INT(aic_ssim_plane(a, (size_t)w, a, (size_t)w, (uint32_t)w, (uint32_t)h, &s), AIC_OK);
    CHECK_NEAR(s, 1.0, 1e-12);
    free(a);
  }
}

static void test_ssim_constant_planes(void) {
  /* Flat planes have no variance: SSIM reduces to the luminance term C1 / (255^2 + C1). */
  enum { W = 20, H = 15 };
  uint8_t *a = alloc_plane(W, H), *b = alloc_plane(W, H);
  memset(a, 0, W * H);
  memset(b, 255, W * H);
  const double c1 = 6.5025, want = c1 / (255.0 * 255.0 + c1);
  double s = -2;
  CHECK_EQ_INT(aic_ssim_plane(a, W, b, W, W, H, &s), AIC_OK);
  CHECK_NEAR(s, want, 1e-12);
  CHECK_EQ_INT(aic_ssim_plane(a, W, b, W, 7, 4, &s), AIC_OK); /* the tiny path agrees */
  CHECK_NEAR(s, want, 1e-12);
  free(a);
  free(b);
}

static void test_ssim_against_reference(void) {
  /* Around the window size, both sides of the tiny-plane rule, odd sizes, output widths on
   * and off the library's 8-column blocks (18 and 19 wide: 8 and 9 positions), and the
   * widest and tallest frames the service accepts. */
  static const int sizes[][2] = {{64, 48}, {37, 29}, {11, 11},   {12, 30},   {30, 11},
                                 {18, 13}, {19, 12}, {8, 5},     {10, 40},   {40, 10},
                                 {1, 7},   {2, 1},   {7680, 12}, {12, 4320}, {7680, 10}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    const int w = sizes[i][0], h = sizes[i][1];
    const size_t n = (size_t)w * (size_t)h;
    uint8_t *a = alloc_plane((size_t)w, (size_t)h), *b = alloc_plane((size_t)w, (size_t)h);

    fill_noise(a, n); /* independent noise: SSIM near 0 */
    fill_noise(b, n);
    check_ssim_pair(a, b, w, h);

    add_noise(a, b, n, 12); /* noisy copy */
    check_ssim_pair(a, b, w, h);

    fill_gradient_noise(a, w, h, 10); /* gradient + noise, compared with a noisier version */
    add_noise(a, b, n, 25);
    check_ssim_pair(a, b, w, h);

    blur_shift(a, b, w, h); /* blurred and shifted */
    check_ssim_pair(a, b, w, h);

    /* Bright, nearly flat: E[a^2] - E[a]^2 cancels two numbers near 62500. */
    for (size_t k = 0; k < n; k++) a[k] = (uint8_t)(249 + rng() % 3);
    add_noise(a, b, n, 1);
    check_ssim_pair(a, b, w, h);

    free(a);
    free(b);
  }
}

static void test_ssim_larger(void) {
  /* Enough rows to wrap the library's row ring many times. */
  enum { W = 203, H = 157 };
  uint8_t *a = alloc_plane(W, H), *b = alloc_plane(W, H);
  fill_gradient_noise(a, W, H, 40);
  blur_shift(a, b, W, H);
  check_ssim_pair(a, b, W, H);
  free(a);
  free(b);
}

/* ---- the fast kernel against the library's reference kernel ---- */

/* Each 8x8 block flattened to its mean: the blockiness of a coarse JPEG. */
static void blockify(const uint8_t *src, uint8_t *dst, int w, int h) {
  for (int by = 0; by < h; by += 8)
    for (int bx = 0; bx < w; bx += 8) {
      const int bw = bx + 8 <= w ? 8 : w - bx, bh = by + 8 <= h ? 8 : h - by;
      int sum = 0;
      for (int y = by; y < by + bh; y++)
        for (int x = bx; x < bx + bw; x++) sum += src[y * w + x];
      for (int y = by; y < by + bh; y++)
        for (int x = bx; x < bx + bw; x++) dst[y * w + x] = (uint8_t)(sum / (bw * bh));
    }
}

/* The two kernels on one pair, through aic_ssim_plane and through the means MS-SSIM uses
 * (cs included). Forcing the reference must give exactly aic_ssim_plane_ref. */
static void check_fast_pair(const uint8_t *a, size_t as, const uint8_t *b, size_t bs, int w,
                            int h) {
  double fast = -2, ref = -2, forced = -2;
  CHECK_EQ_INT(aic_ssim_plane(a, as, b, bs, (uint32_t)w, (uint32_t)h, &fast), AIC_OK);
  CHECK_EQ_INT(aic_ssim_plane_ref(a, as, b, bs, (uint32_t)w, (uint32_t)h, &ref), AIC_OK);
  aic_ssim_force_reference(true);
  CHECK_EQ_INT(aic_ssim_plane(a, as, b, bs, (uint32_t)w, (uint32_t)h, &forced), AIC_OK);
  aic_ssim_force_reference(false);
  CHECK(forced == ref);
  CHECK_NEAR(fast, ref, SSIM_TOL);
  note_error(&max_fast_error, fast, ref);

  const aic_ssim_input_t in = {AIC_SSIM_U8, a, b, as, bs, (size_t)w, (size_t)h};
  aic_ssim_means_t mf = {-2, -2}, mr = {-2, -2};
  CHECK_EQ_INT(aic_ssim_means(&in, true, &mf), AIC_OK);
  aic_ssim_force_reference(true);
  CHECK_EQ_INT(aic_ssim_means(&in, true, &mr), AIC_OK);
  aic_ssim_force_reference(false);
  CHECK(mr.ssim == ref);
  CHECK(mf.ssim == fast); /* asking for cs must not change the SSIM */
  CHECK_NEAR(mf.cs, mr.cs, SSIM_TOL);
  note_error(&max_fast_error, mf.cs, mr.cs);
}

/* Fills a pair in one of several ways, all deterministic. */
static void fill_pattern(int pattern, uint8_t *a, uint8_t *b, int w, int h) {
  const size_t n = (size_t)w * (size_t)h;
  switch (pattern) {
    case 0: /* independent noise */
      fill_noise(a, n);
      fill_noise(b, n);
      break;
    case 1: /* noisy copy */
      fill_noise(a, n);
      add_noise(a, b, n, 12);
      break;
    case 2: /* gradient against a blurred, shifted copy */
      fill_gradient_noise(a, w, h, 10);
      blur_shift(a, b, w, h);
      break;
    case 3: /* blockiness plus noise */
      fill_gradient_noise(a, w, h, 30);
      blockify(a, b, w, h);
      add_noise(b, b, n, 3);
      break;
    case 4: /* bright and nearly flat: the worst cancellation */
      for (size_t k = 0; k < n; k++) a[k] = (uint8_t)(249 + rng() % 3);
      add_noise(a, b, n, 1);
      break;
    default: /* extremes: a checkerboard of 0 and 255 against its inverse, and flat */
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          a[(size_t)y * (size_t)w + (size_t)x] = (uint8_t)(((x / 3 + y / 2) % 2) * 255);
          b[(size_t)y * (size_t)w + (size_t)x] = (uint8_t)(x < w / 2 ? 255 : 0);
        }
      break;
  }
}

enum { PATTERNS = 6 };

static void test_fast_kernel_vs_reference(void) {
  if (!fast_kernel()) {
    printf("no fast SSIM kernel on this CPU: only the reference is exercised\n");
    return;
  }
  /* Widths around the kernel's 48-column strips (58 = one full strip, 55 to 59 either side,
   * 103 and 106 two, 154 three), heights giving 1, 2, 3 and 4 output rows (it makes them in
   * pairs), the smallest windowed plane, odd sizes and an HD frame. */
  static const int sizes[][2] = {{11, 11},   {12, 11},  {11, 12},   {55, 20},  {57, 11},
                                 {58, 12},   {59, 13},  {103, 15},  {105, 14}, {106, 23},
                                 {107, 24},  {154, 19}, {37, 23},   {23, 37},  {64, 48},
                                 {203, 157}, {15, 500}, {1280, 720}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    const int w = sizes[i][0], h = sizes[i][1];
    uint8_t *a = alloc_plane((size_t)w, (size_t)h), *b = alloc_plane((size_t)w, (size_t)h);
    /* The HD frame only for the two patterns closest to real use: unoptimised debug builds
     * take seconds over it. */
    const bool large = (size_t)w * (size_t)h > 100000;
    for (int pattern = 0; pattern < PATTERNS; pattern++) {
      if (large && pattern != 2 && pattern != 3) continue;
      fill_pattern(pattern, a, b, w, h);
      check_fast_pair(a, (size_t)w, b, (size_t)w, w, h);
      if (large) continue;
      /* Strided: the fast kernel reads only the first w bytes of each row. */
      const size_t sa = (size_t)w + 5, sb = (size_t)w + 64;
      uint8_t *pa = padded_copy(a, w, h, sa), *pb = padded_copy(b, w, h, sb);
      double tight = -2, strided = -2;
      CHECK_EQ_INT(aic_ssim_plane(a, (size_t)w, b, (size_t)w, (uint32_t)w, (uint32_t)h, &tight),
                   AIC_OK);
      CHECK_EQ_INT(aic_ssim_plane(pa, sa, pb, sb, (uint32_t)w, (uint32_t)h, &strided), AIC_OK);
      CHECK(strided == tight);
      check_fast_pair(pa, sa, pb, sb, w, h);
      free(pa);
      free(pb);
    }
    free(a);
    free(b);
  }
}

static void test_fast_kernel_tiny_planes(void) {
  /* Smaller than the window: both paths use the same whole-plane window, bit for bit. */
  static const int sizes[][2] = {{1, 1}, {10, 10}, {10, 200}, {200, 10}, {3, 7}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    const int w = sizes[i][0], h = sizes[i][1];
    uint8_t *a = alloc_plane((size_t)w, (size_t)h), *b = alloc_plane((size_t)w, (size_t)h);
    fill_pattern(1, a, b, w, h);
    double fast = -2, ref = -2;
    CHECK_EQ_INT(aic_ssim_plane(a, (size_t)w, b, (size_t)w, (uint32_t)w, (uint32_t)h, &fast),
                 AIC_OK);
    CHECK_EQ_INT(aic_ssim_plane_ref(a, (size_t)w, b, (size_t)w, (uint32_t)w, (uint32_t)h, &ref),
                 AIC_OK);
    CHECK(fast == ref);
    free(a);
    free(b);
  }
}

/* MS-SSIM's coarser scales feed the kernels floats (multiples of 1/4 here). */
static void test_fast_kernel_floats(void) {
  if (!fast_kernel()) return;
  static const int sizes[][2] = {{11, 11}, {58, 13}, {59, 12}, {107, 40}, {300, 200}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    const int w = sizes[i][0], h = sizes[i][1];
    const size_t stride = (size_t)w + 7, n = stride * (size_t)h;
    float *fa = malloc(n * sizeof(float)), *fb = malloc(n * sizeof(float));
    uint8_t *a = alloc_plane(n, 1), *b = alloc_plane(n, 1);
    if (!fa || !fb) abort();
    for (int pattern = 0; pattern < PATTERNS; pattern++) {
      fill_pattern(pattern, a, b, (int)stride, h);
      for (size_t k = 0; k < n; k++) {
        fa[k] = (float)a[k] + (float)(rng() % 4) * 0.25f;
        fb[k] = (float)b[k] + (float)(rng() % 4) * 0.25f;
      }
      const aic_ssim_input_t in = {AIC_SSIM_F32, fa, fb, stride, stride, (size_t)w, (size_t)h};
      aic_ssim_means_t mf = {-2, -2}, mr = {-2, -2};
      CHECK_EQ_INT(aic_ssim_means(&in, true, &mf), AIC_OK);
      aic_ssim_force_reference(true);
      CHECK_EQ_INT(aic_ssim_means(&in, true, &mr), AIC_OK);
      aic_ssim_force_reference(false);
      CHECK_NEAR(mf.ssim, mr.ssim, SSIM_TOL);
      CHECK_NEAR(mf.cs, mr.cs, SSIM_TOL);
      note_error(&max_fast_error, mf.ssim, mr.ssim);
      note_error(&max_fast_error, mf.cs, mr.cs);
    }
    free(fa);
    free(fb);
    free(a);
    free(b);
  }
}

/* ---- MS-SSIM ---- */

/* A naive MS-SSIM after msssim.m, on double planes: direct windows as in ref_ssim, 2x2 means
 * with the last row or column repeated, the documented clamp. */
static const double ms_weight[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

static void ref_window_d(const double *a, const double *b, int w, int x0, int y0, int ww, int wh,
                         const double *g, double *ssim, double *cs) {
  double mu_a = 0, mu_b = 0;
  for (int j = 0; j < wh; j++)
    for (int i = 0; i < ww; i++) {
      mu_a += g[j * ww + i] * a[(y0 + j) * w + x0 + i];
      mu_b += g[j * ww + i] * b[(y0 + j) * w + x0 + i];
    }
  double va = 0, vb = 0, cov = 0;
  for (int j = 0; j < wh; j++)
    for (int i = 0; i < ww; i++) {
      const double da = a[(y0 + j) * w + x0 + i] - mu_a, db = b[(y0 + j) * w + x0 + i] - mu_b;
      va += g[j * ww + i] * da * da;
      vb += g[j * ww + i] * db * db;
      cov += g[j * ww + i] * da * db;
    }
  *ssim = ref_ssim_formula(mu_a, mu_b, va, vb, cov);
  *cs = (2 * cov + 58.5225) / (va + vb + 58.5225);
}

static void ref_means_d(const double *a, const double *b, int w, int h, double *ssim, double *cs) {
  if (w < 11 || h < 11) {
    double *g = malloc(sizeof(double) * (size_t)(w * h));
    if (!g) abort();
    for (int i = 0; i < w * h; i++) g[i] = 1.0 / (w * h);
    ref_window_d(a, b, w, 0, 0, w, h, g, ssim, cs);
    free(g);
    return;
  }
  double g[121], total = 0;
  for (int j = 0; j < 11; j++)
    for (int i = 0; i < 11; i++) {
      g[j * 11 + i] = exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
      total += g[j * 11 + i];
    }
  for (int k = 0; k < 121; k++) g[k] /= total;
  double sum_s = 0, sum_c = 0;
  for (int y = 0; y + 11 <= h; y++)
    for (int x = 0; x + 11 <= w; x++) {
      double s1, c1;
      ref_window_d(a, b, w, x, y, 11, 11, g, &s1, &c1);
      sum_s += s1;
      sum_c += c1;
    }
  const double positions = (double)(w - 10) * (h - 10);
  *ssim = sum_s / positions;
  *cs = sum_c / positions;
}

static double *ref_halve(const double *p, int w, int h) {
  const int dw = (w + 1) / 2, dh = (h + 1) / 2;
  double *d = malloc(sizeof(double) * (size_t)(dw * dh));
  if (!d) abort();
  for (int y = 0; y < dh; y++)
    for (int x = 0; x < dw; x++) {
      const int x1 = 2 * x + 1 < w ? 2 * x + 1 : w - 1, y1 = 2 * y + 1 < h ? 2 * y + 1 : h - 1;
      d[y * dw + x] =
          (p[2 * y * w + 2 * x] + p[2 * y * w + x1] + p[y1 * w + 2 * x] + p[y1 * w + x1]) / 4;
    }
  return d;
}

static double ref_msssim(const uint8_t *a8, size_t as, const uint8_t *b8, size_t bs, int w, int h) {
  double *a = malloc(sizeof(double) * (size_t)(w * h)),
         *b = malloc(sizeof(double) * (size_t)(w * h));
  if (!a || !b) abort();
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      a[y * w + x] = a8[(size_t)y * as + (size_t)x];
      b[y * w + x] = b8[(size_t)y * bs + (size_t)x];
    }
  double result = 1;
  for (int s = 0; s < 5; s++) {
    double ssim, cs;
    ref_means_d(a, b, w, h, &ssim, &cs);
    const double term = s == 4 ? ssim : cs;
    result *= term > 0 ? pow(term, ms_weight[s]) : 0;
    double *na = ref_halve(a, w, h), *nb = ref_halve(b, w, h);
    free(a);
    free(b);
    a = na;
    b = nb;
    w = (w + 1) / 2;
    h = (h + 1) / 2;
  }
  free(a);
  free(b);
  return result;
}

/* Both kernels against the naive MS-SSIM, tight and strided. */
static void check_msssim_pair(const uint8_t *a, const uint8_t *b, int w, int h) {
  const double want = ref_msssim(a, (size_t)w, b, (size_t)w, w, h);
  double fast = -2, ref = -2;
  CHECK_EQ_INT(aic_msssim_plane(a, (size_t)w, b, (size_t)w, (uint32_t)w, (uint32_t)h, &fast),
               AIC_OK);
  aic_ssim_force_reference(true);
  CHECK_EQ_INT(aic_msssim_plane(a, (size_t)w, b, (size_t)w, (uint32_t)w, (uint32_t)h, &ref),
               AIC_OK);
  aic_ssim_force_reference(false);
  CHECK_NEAR(fast, want, SSIM_TOL);
  CHECK_NEAR(ref, want, SSIM_TOL);
  note_error(&max_msssim_error, fast, want);
  note_error(&max_msssim_error, ref, want);
  note_error(&max_fast_error, fast, ref);
  CHECK(fast >= 0 && fast <= 1);

  const size_t sa = (size_t)w + 9, sb = (size_t)w + 1;
  uint8_t *pa = padded_copy(a, w, h, sa), *pb = padded_copy(b, w, h, sb);
  double strided = -2, swapped = -2;
  CHECK_EQ_INT(aic_msssim_plane(pa, sa, pb, sb, (uint32_t)w, (uint32_t)h, &strided), AIC_OK);
  CHECK(strided == fast);
  CHECK_EQ_INT(aic_msssim_plane(b, (size_t)w, a, (size_t)w, (uint32_t)w, (uint32_t)h, &swapped),
               AIC_OK);
  CHECK_NEAR(swapped, fast, 1e-12);
  free(pa);
  free(pb);
}

static void test_msssim_bad_args(void) {
  check_plane_bad_args(aic_msssim_plane);
}

static void test_msssim_against_reference(void) {
  /* 161x161 is the smallest plane with all five scales windowed, 160x160 loses the window at
   * scale 5; then the window lost at scales 2 to 4, odd sizes whose scales repeat a last row or
   * column, lines and single pixels. */
  static const int sizes[][2] = {{161, 161}, {160, 160}, {200, 150}, {97, 61}, {64, 48},
                                 {37, 23},   {23, 37},   {21, 22},   {11, 11}, {5, 300},
                                 {300, 5},   {1, 1},     {2, 3}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    const int w = sizes[i][0], h = sizes[i][1];
    uint8_t *a = alloc_plane((size_t)w, (size_t)h), *b = alloc_plane((size_t)w, (size_t)h);
    for (int pattern = 1; pattern < PATTERNS; pattern++) { /* 0 is clamped: see below */
      fill_pattern(pattern, a, b, w, h);
      check_msssim_pair(a, b, w, h);
    }
    free(a);
    free(b);
  }
}

static void test_msssim_identical(void) {
  static const int sizes[][2] = {{1, 1}, {11, 11}, {37, 23}, {200, 150}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    const int w = sizes[i][0], h = sizes[i][1];
    uint8_t *a = alloc_plane((size_t)w, (size_t)h);
    fill_gradient_noise(a, w, h, 30);
    double s = -2;
    CHECK_EQ_INT(aic_msssim_plane(a, (size_t)w, a, (size_t)w, (uint32_t)w, (uint32_t)h, &s),
                 AIC_OK);
    CHECK(s == 1.0);
    free(a);
  }
}

static void test_msssim_monotone(void) {
  /* More noise, lower score: a property any quality index must have. */
  enum { W = 240, H = 180 };
  static const int amplitudes[] = {1, 3, 6, 12, 24, 48, 96};
  uint8_t *a = alloc_plane(W, H), *b = alloc_plane(W, H);
  fill_gradient_noise(a, W, H, 5);
  blockify(a, b, W, H); /* some structure at every scale */
  memcpy(a, b, W * H);
  double last = 1.0;
  for (size_t i = 0; i < sizeof amplitudes / sizeof amplitudes[0]; i++) {
    add_noise(a, b, W * H, amplitudes[i]);
    double s = -2;
    CHECK_EQ_INT(aic_msssim_plane(a, W, b, W, W, H, &s), AIC_OK);
    CHECK(s < last);
    CHECK(s > 0);
    last = s;
  }
  free(a);
  free(b);
}

static void test_msssim_clamp(void) {
  /* A negative image anti-correlates at every scale: the cs means are negative, and clamping
   * makes the product 0 rather than the NaN a fractional power would give. */
  enum { W = 64, H = 64 };
  uint8_t *a = alloc_plane(W, H), *b = alloc_plane(W, H);
  fill_gradient_noise(a, W, H, 40);
  for (size_t k = 0; k < W * H; k++) b[k] = (uint8_t)(255 - a[k]);
  double ssim = 2, s = -2;
  CHECK_EQ_INT(aic_ssim_plane(a, W, b, W, W, H, &ssim), AIC_OK);
  CHECK(ssim < 0);
  CHECK_EQ_INT(aic_msssim_plane(a, W, b, W, W, H, &s), AIC_OK);
  CHECK(s == 0.0);
  CHECK(s == ref_msssim(a, W, b, W, W, H));
  free(a);
  free(b);
}

/* ---- frame quality ---- */

static aic_frame_t picture(aic_frame_type_t type, aic_pixel_format_t fmt, uint32_t w, uint32_t h,
                           const uint8_t *data) {
  size_t size = 0;
  CHECK_EQ_INT(aic_pixel_format_size(fmt, w, h, &size), AIC_OK);
  aic_frame_t f = {
      .type = type, .pix_fmt = fmt, .width = w, .height = h, .data = data, .size = size};
  return f;
}

static double psnr_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
  double sse = 0;
  for (size_t i = 0; i < n; i++) sse += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return sse == 0 ? AIC_PSNR_IDENTICAL_DB : 10.0 * log10(255.0 * 255.0 * (double)n / sse);
}

/* round(0.299 R + 0.587 G + 0.114 B), half up; the quotient is exact in double. */
static void ref_luma(const uint8_t *rgb, size_t bpp, size_t count, uint8_t *y) {
  for (size_t i = 0; i < count; i++, rgb += bpp)
    y[i] = (uint8_t)floor((299.0 * rgb[0] + 587.0 * rgb[1] + 114.0 * rgb[2]) / 1000.0 + 0.5);
}

static void check_picture(aic_frame_type_t type, aic_pixel_format_t fmt, uint32_t w, uint32_t h) {
  const aic_frame_t probe = picture(type, fmt, w, h, NULL);
  const size_t size = probe.size, luma_n = (size_t)w * h;
  uint8_t *da = malloc(size), *db = malloc(size);
  uint8_t *ya = malloc(luma_n), *yb = malloc(luma_n);
  if (!da || !db || !ya || !yb) abort();
  fill_noise(da, size);
  add_noise(da, db, size, 20);
  aic_frame_t a = picture(type, fmt, w, h, da), b = picture(type, fmt, w, h, db);

  if (fmt == AIC_PIX_RGB24 || fmt == AIC_PIX_RGBA) {
    const size_t bpp = fmt == AIC_PIX_RGB24 ? 3 : 4;
    ref_luma(da, bpp, luma_n, ya);
    ref_luma(db, bpp, luma_n, yb);
  } else {
    memcpy(ya, da, luma_n);
    memcpy(yb, db, luma_n);
  }
  double psnr = -1, ssim = -2;
  CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_OK);
  CHECK_NEAR(psnr, psnr_bytes(da, db, size), 1e-9);
  CHECK(psnr < 40);
  CHECK_NEAR(ssim, ref_ssim(ya, w, yb, w, (int)w, (int)h), SSIM_TOL);
  CHECK(ssim < 0.999);

  CHECK_EQ_INT(aic_frame_quality(&a, &a, &psnr, &ssim), AIC_OK);
  CHECK(psnr == AIC_PSNR_IDENTICAL_DB);
  CHECK_NEAR(ssim, 1.0, 1e-12);

  /* Damage outside luma (chroma planes, or alpha): PSNR sees it, luma SSIM must not. */
  memcpy(db, da, size);
  if (fmt == AIC_PIX_RGBA) {
    for (size_t i = 3; i < size; i += 4) db[i] = (uint8_t)~da[i];
  } else if (fmt == AIC_PIX_I420 || fmt == AIC_PIX_NV12) {
    for (size_t i = luma_n; i < size; i++) db[i] = (uint8_t)~da[i];
  }
  if (fmt != AIC_PIX_RGB24) {
    CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_OK);
    CHECK(psnr < 40);
    CHECK_NEAR(psnr, psnr_bytes(da, db, size), 1e-9);
    CHECK_NEAR(ssim, 1.0, 1e-12);
  }
  free(da);
  free(db);
  free(ya);
  free(yb);
}

static void test_frame_pictures(void) {
  static const aic_pixel_format_t fmts[] = {AIC_PIX_I420, AIC_PIX_NV12, AIC_PIX_RGB24,
                                            AIC_PIX_RGBA};
  for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
    check_picture(AIC_FRAME_VIDEO, fmts[i], 48, 32);
    check_picture(AIC_FRAME_SCREEN, fmts[i], 33, 17); /* odd: chroma rounds up */
    check_picture(AIC_FRAME_VIDEO, fmts[i], 9, 5);    /* tiny-plane SSIM */
  }
}

/* Single-pixel RGB frames whose luma must equal a grey's: SSIM is exactly 1 only if it does. */
static double rgb_pixel_ssim(uint8_t r, uint8_t g, uint8_t b, uint8_t grey) {
  const uint8_t pa[3] = {r, g, b}, pb[3] = {grey, grey, grey};
  aic_frame_t fa = picture(AIC_FRAME_VIDEO, AIC_PIX_RGB24, 1, 1, pa);
  aic_frame_t fb = picture(AIC_FRAME_VIDEO, AIC_PIX_RGB24, 1, 1, pb);
  double psnr = 0, ssim = -2;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_OK);
  return ssim;
}

static void test_frame_rgb_luma(void) {
  CHECK(rgb_pixel_ssim(255, 0, 0, 76) == 1.0);  /* 76.245 */
  CHECK(rgb_pixel_ssim(0, 255, 0, 150) == 1.0); /* 149.685 */
  CHECK(rgb_pixel_ssim(0, 0, 255, 29) == 1.0);  /* 29.07 */
  CHECK(rgb_pixel_ssim(0, 0, 250, 29) == 1.0);  /* exactly 28.5: rounds half up */
  CHECK(rgb_pixel_ssim(0, 0, 250, 28) < 1.0);
  CHECK(rgb_pixel_ssim(255, 255, 255, 255) == 1.0);
  CHECK(rgb_pixel_ssim(17, 17, 17, 17) == 1.0);
}

static void put_s16le(uint8_t *p, int v) {
  p[0] = (uint8_t)((unsigned)v & 0xff);
  p[1] = (uint8_t)(((unsigned)v >> 8) & 0xff);
}

static void put_f32le(uint8_t *p, float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(bits >> (8 * i));
}

static aic_frame_t audio(aic_audio_format_t fmt, uint32_t channels, const uint8_t *data,
                         size_t size) {
  aic_frame_t f = {.type = AIC_FRAME_AUDIO,
                   .audio_fmt = fmt,
                   .sample_rate = 48000,
                   .channels = channels,
                   .data = data,
                   .size = size};
  return f;
}

static void test_frame_audio_s16(void) {
  static const int va[8] = {0, 100, -100, 32767, -32768, 5, -5, 1000};
  static const int vb[8] = {0, 110, -90, -32768, 32767, 5, -5, 1000};
  uint8_t a[16], b[16];
  double sse = 0;
  for (int i = 0; i < 8; i++) {
    put_s16le(a + 2 * i, va[i]);
    put_s16le(b + 2 * i, vb[i]);
    sse += (double)(va[i] - vb[i]) * (va[i] - vb[i]);
  }
  aic_frame_t fa = audio(AIC_AUDIO_S16LE, 2, a, sizeof a);
  aic_frame_t fb = audio(AIC_AUDIO_S16LE, 2, b, sizeof b);
  double psnr = -1, ssim = -2;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_OK);
  CHECK_NEAR(psnr, 10.0 * log10(32767.0 * 32767.0 / (sse / 8)), 1e-9);
  CHECK(ssim == 0.0);
  CHECK_EQ_INT(aic_frame_quality(&fa, &fa, &psnr, &ssim), AIC_OK);
  CHECK(psnr == AIC_PSNR_IDENTICAL_DB);
  CHECK(ssim == 1.0);
  /* Off by one in one sample of eight: MSE 1/8. */
  memcpy(b, a, sizeof a);
  put_s16le(b + 2, 101);
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_OK);
  CHECK_NEAR(psnr, 10.0 * log10(32767.0 * 32767.0 * 8.0), 1e-9);
  CHECK(ssim == 0.0);
  /* Sizes that are not whole stereo sample frames (4 bytes each); 14 is fine for mono. */
  fa.size = fb.size = 15;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_EINVAL);
  fa.size = fb.size = 14;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_EINVAL);
  fa.size = fb.size = 14;
  fa.channels = fb.channels = 1;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_OK);
}

static void test_frame_audio_f32(void) {
  static const float va[6] = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 0.25f};
  static const float vb[6] = {0.0f, 0.25f, -0.5f, 0.5f, -1.0f, 0.25f};
  uint8_t a[24], b[24];
  double sse = 0;
  for (int i = 0; i < 6; i++) {
    put_f32le(a + 4 * i, va[i]);
    put_f32le(b + 4 * i, vb[i]);
    sse += ((double)va[i] - vb[i]) * ((double)va[i] - vb[i]);
  }
  aic_frame_t fa = audio(AIC_AUDIO_F32LE, 1, a, sizeof a);
  aic_frame_t fb = audio(AIC_AUDIO_F32LE, 1, b, sizeof b);
  double psnr = -1, ssim = -2;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_OK);
  CHECK_NEAR(psnr, 10.0 * log10(1.0 / (sse / 6)), 1e-9); /* (0.0625 + 0.25) / 6 */
  CHECK(ssim == 0.0);
  CHECK_EQ_INT(aic_frame_quality(&fb, &fb, &psnr, &ssim), AIC_OK);
  CHECK(psnr == AIC_PSNR_IDENTICAL_DB);
  CHECK(ssim == 1.0);

  /* Non-finite samples are malformed input, in either frame, even if both match. */
  psnr = -1;
  ssim = -2;
  put_f32le(b + 8, NAN);
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_EINVAL);
  CHECK_EQ_INT(aic_frame_quality(&fb, &fb, &psnr, &ssim), AIC_EINVAL);
  put_f32le(b + 8, INFINITY);
  CHECK_EQ_INT(aic_frame_quality(&fb, &fa, &psnr, &ssim), AIC_EINVAL);
  put_f32le(b + 8, -INFINITY);
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_EINVAL);
  CHECK(psnr == -1 && ssim == -2); /* outputs untouched on failure */
  /* 22 bytes is not a whole number of 4-byte samples. */
  fa.size = fb.size = 22;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fa, &psnr, &ssim), AIC_EINVAL);
}

static void test_frame_mismatch(void) {
  static uint8_t da[64 * 48 * 4], db[64 * 48 * 4];
  const aic_frame_t a = picture(AIC_FRAME_VIDEO, AIC_PIX_RGB24, 32, 24, da);
  double psnr = -1, ssim = -2;
  aic_frame_t b = picture(AIC_FRAME_VIDEO, AIC_PIX_RGB24, 32, 24, db);
  CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_OK);

  b = a;
  b.data = db;
  b.type = AIC_FRAME_SCREEN;
  CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_EINVAL);
  b = picture(AIC_FRAME_VIDEO, AIC_PIX_RGBA, 32, 24, db);
  CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_EINVAL);
  b = picture(AIC_FRAME_VIDEO, AIC_PIX_RGB24, 24, 32, db); /* same size, other shape */
  CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_EINVAL);
  b = picture(AIC_FRAME_VIDEO, AIC_PIX_RGB24, 32, 23, db);
  CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_EINVAL);
  b = a;
  b.data = db;
  b.size--;
  CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_EINVAL);
  b = a;
  b.data = db;
  b.channels = 2; /* stray audio fields on a picture */
  CHECK_EQ_INT(aic_frame_quality(&a, &b, &psnr, &ssim), AIC_EINVAL);

  uint8_t sa[8] = {0}, sb[8] = {0};
  const aic_frame_t fa = audio(AIC_AUDIO_S16LE, 2, sa, sizeof sa);
  aic_frame_t fb = fa;
  fb.data = sb;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_OK);
  fb.channels = 1;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_EINVAL);
  fb = fa;
  fb.data = sb;
  fb.sample_rate = 44100;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_EINVAL);
  fb = fa;
  fb.data = sb;
  fb.audio_fmt = AIC_AUDIO_F32LE;
  CHECK_EQ_INT(aic_frame_quality(&fa, &fb, &psnr, &ssim), AIC_EINVAL);
  CHECK(psnr == 100.0 && ssim == 1.0); /* still the values of the last success */
}

static void test_frame_bad_args(void) {
  static uint8_t d[32 * 24 * 4];
  aic_frame_t a = picture(AIC_FRAME_VIDEO, AIC_PIX_I420, 32, 24, d);
  double psnr = -1, ssim = -2;
  CHECK_EQ_INT(aic_frame_quality(NULL, &a, &psnr, &ssim), AIC_EINVAL);
  CHECK_EQ_INT(aic_frame_quality(&a, NULL, &psnr, &ssim), AIC_EINVAL);
  CHECK_EQ_INT(aic_frame_quality(&a, &a, NULL, &ssim), AIC_EINVAL);
  CHECK_EQ_INT(aic_frame_quality(&a, &a, &psnr, NULL), AIC_EINVAL);

  aic_frame_t b = a;
  b.data = NULL;
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  b = a;
  b.type = AIC_FRAME_UNSPECIFIED;
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  b.type = (aic_frame_type_t)42;
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  b = a;
  b.pix_fmt = AIC_PIX_UNSPECIFIED;
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  b.pix_fmt = (aic_pixel_format_t)9;
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  b = a;
  b.size++; /* consistent between the frames but not with the format */
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  b = a;
  b.width = 0;
  b.size = 0;
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);

  b = audio(AIC_AUDIO_S16LE, 0, d, 16);
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  b = audio(AIC_AUDIO_UNSPECIFIED, 1, d, 16);
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  b = audio(AIC_AUDIO_S16LE, 1, d, 0);
  CHECK_EQ_INT(aic_frame_quality(&b, &b, &psnr, &ssim), AIC_EINVAL);
  CHECK(psnr == -1 && ssim == -2);
}

int main(void) {
  RUN(test_psnr_identical);
  RUN(test_psnr_known_mse);
  RUN(test_psnr_strides);
  RUN(test_psnr_long_rows);
  RUN(test_psnr_bad_args);
  RUN(test_mse_bytes);
  RUN(test_ssim_bad_args);
  RUN(test_ssim_identical);
  RUN(test_ssim_constant_planes);
  RUN(test_ssim_against_reference);
  RUN(test_ssim_larger);
  RUN(test_fast_kernel_vs_reference);
  RUN(test_fast_kernel_tiny_planes);
  RUN(test_fast_kernel_floats);
  RUN(test_msssim_bad_args);
  RUN(test_msssim_against_reference);
  RUN(test_msssim_identical);
  RUN(test_msssim_monotone);
  RUN(test_msssim_clamp);
  RUN(test_frame_pictures);
  RUN(test_frame_rgb_luma);
  RUN(test_frame_audio_s16);
  RUN(test_frame_audio_f32);
  RUN(test_frame_mismatch);
  RUN(test_frame_bad_args);
  printf("max |aic_ssim_plane - naive reference| = %.3g\n", max_ssim_error);
  printf("max |fast kernel - reference kernel| = %.3g%s\n", max_fast_error,
         fast_kernel() ? "" : " (no fast kernel on this CPU)");
  printf("max |aic_msssim_plane - naive reference| = %.3g\n", max_msssim_error);
  return aic_test_finish();
}
