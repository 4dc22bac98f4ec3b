/* aic_ssim_plane: argument checks, the whole-plane window for tiny planes, and the choice of
 * kernel (see ssim_internal.h). */
#include "aic/metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aic/error.h"
#include "metrics/ssim_internal.h"

/* Process-wide so a benchmark or test can switch every caller, aic_frame_quality included;
 * atomic because the engine scores frames from several threads. */
static atomic_bool force_reference;

void aic_ssim_force_reference(bool force) {
  atomic_store_explicit(&force_reference, force, memory_order_relaxed);
}

bool aic_ssim_reference_forced(void) {
  return atomic_load_explicit(&force_reference, memory_order_relaxed);
}

/* Sums of a, b, a^2 + b^2 and a*b. */
#define MAP_SUMS 4

static double cs_of(double cov, double var_sum) {
  return (2.0 * cov + AIC_SSIM_C2) / (var_sum + AIC_SSIM_C2);
}

static double ssim_of(double mu_a, double mu_b, double var_sum, double cov) {
  return ((2.0 * mu_a * mu_b + AIC_SSIM_C1) * (2.0 * cov + AIC_SSIM_C2)) /
         ((mu_a * mu_a + mu_b * mu_b + AIC_SSIM_C1) * (var_sum + AIC_SSIM_C2));
}

/* A plane smaller than the window has no position where it fits (scikit-image refuses it).
 * Tiny planes still deserve a score, so use one window covering the whole plane with uniform
 * weights. Fewer than 11 rows or columns keeps the integer sums of bytes far below 2^64. The
 * floats of MS-SSIM's coarse scales are multiples of 1/256, so double sums of them are exact
 * up to about 2^20 samples, and merely rounded beyond. */
static void whole_plane_u8(const aic_ssim_input_t *in, double s[MAP_SUMS]) {
  uint64_t sa = 0, sb = 0, ssq = 0, sab = 0;
  for (size_t y = 0; y < in->height; y++) {
    const uint8_t *ra = (const uint8_t *)in->a + y * in->a_stride;
    const uint8_t *rb = (const uint8_t *)in->b + y * in->b_stride;
    for (size_t x = 0; x < in->width; x++) {
      const uint32_t va = ra[x], vb = rb[x];
      sa += va;
      sb += vb;
      ssq += va * va + vb * vb;
      sab += va * vb;
    }
  }
  s[0] = (double)sa;
  s[1] = (double)sb;
  s[2] = (double)ssq;
  s[3] = (double)sab;
}

static void whole_plane_f32(const aic_ssim_input_t *in, double s[MAP_SUMS]) {
  double sa = 0, sb = 0, ssq = 0, sab = 0;
  for (size_t y = 0; y < in->height; y++) {
    const float *ra = (const float *)in->a + y * in->a_stride;
    const float *rb = (const float *)in->b + y * in->b_stride;
    for (size_t x = 0; x < in->width; x++) {
      const double va = ra[x], vb = rb[x];
      sa += va;
      sb += vb;
      ssq += va * va + vb * vb;
      sab += va * vb;
    }
  }
  s[0] = sa;
  s[1] = sb;
  s[2] = ssq;
  s[3] = sab;
}

static void whole_plane(const aic_ssim_input_t *in, bool want_cs, aic_ssim_means_t *out) {
  double s[MAP_SUMS];
  if (in->type == AIC_SSIM_U8)
    whole_plane_u8(in, s);
  else
    whole_plane_f32(in, s);
  const double n = (double)in->width * (double)in->height;
  const double mu_a = s[0] / n, mu_b = s[1] / n;
  const double var_sum = s[2] / n - (mu_a * mu_a + mu_b * mu_b), cov = s[3] / n - mu_a * mu_b;
  out->ssim = ssim_of(mu_a, mu_b, var_sum, cov);
  out->cs = want_cs ? cs_of(cov, var_sum) : 0.0;
}

static int means_with(const aic_ssim_input_t *in, bool want_cs, bool reference,
                      aic_ssim_means_t *out) {
  if (in->width < AIC_SSIM_WIN || in->height < AIC_SSIM_WIN) {
    whole_plane(in, want_cs, out);
    return AIC_OK;
  }
  if (!reference && aic_ssim_avx2_available()) return aic_ssim_windowed_avx2(in, want_cs, out);
  return aic_ssim_windowed_ref(in, want_cs, out);
}

int aic_ssim_means(const aic_ssim_input_t *in, bool want_cs, aic_ssim_means_t *out) {
  return means_with(in, want_cs, aic_ssim_reference_forced(), out);
}

static int ssim_plane(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                      uint32_t width, uint32_t height, bool reference, double *ssim) {
  if (!ssim || !aic_ssim_plane_ok(a, a_stride, width, height) ||
      !aic_ssim_plane_ok(b, b_stride, width, height))
    return AIC_EINVAL;
  const aic_ssim_input_t in = {AIC_SSIM_U8, a, b, a_stride, b_stride, width, height};
  aic_ssim_means_t m;
  int rc = means_with(&in, false, reference, &m);
  if (rc != AIC_OK) return rc;
  *ssim = m.ssim;
  return AIC_OK;
}

int aic_ssim_plane(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                   uint32_t width, uint32_t height, double *ssim) {
  return ssim_plane(a, a_stride, b, b_stride, width, height, aic_ssim_reference_forced(), ssim);
}

int aic_ssim_plane_ref(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                       uint32_t width, uint32_t height, double *ssim) {
  return ssim_plane(a, a_stride, b, b_stride, width, height, true, ssim);
}
