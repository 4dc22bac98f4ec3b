/* MS-SSIM (Wang, Simoncelli, Bovik 2003), as in the authors' msssim.m; the conventions are
 * documented with aic_msssim_plane in aic/metrics.h. Each scale runs the same SSIM kernels as
 * aic_ssim_plane (so the fast one where the CPU has it), on bytes at scale 1 and on floats
 * after: 2x2 means of bytes are multiples of 1/4^k below 256 with at most 16 significant bits
 * by scale 5, which a float holds exactly, at half the memory of doubles. */
#include "aic/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "aic/error.h"
#include "metrics/ssim_internal.h"

#define SCALES 5

static const double scale_weight[SCALES] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

/* Both loops clamp the second row and column of a pair to the last one, which averages an odd
 * trailing row or column with itself (msssim.m's 'symmetric' padding). All sums are exact. */
static void halve_u8(const uint8_t *src, size_t stride, size_t w, size_t h, float *dst) {
  const size_t dw = (w + 1) / 2, dh = (h + 1) / 2;
  for (size_t y = 0; y < dh; y++) {
    const uint8_t *r0 = src + 2 * y * stride;
    const uint8_t *r1 = 2 * y + 1 < h ? r0 + stride : r0;
    float *d = dst + y * dw;
    for (size_t x = 0; x < w / 2; x++)
      d[x] = (float)(r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]) * 0.25f;
    if (w % 2) d[dw - 1] = (float)(r0[w - 1] + r1[w - 1]) * 0.5f;
  }
}

static void halve_f32(const float *src, size_t w, size_t h, float *dst) {
  const size_t dw = (w + 1) / 2, dh = (h + 1) / 2;
  for (size_t y = 0; y < dh; y++) {
    const float *r0 = src + 2 * y * w;
    const float *r1 = 2 * y + 1 < h ? r0 + w : r0;
    float *d = dst + y * dw;
    for (size_t x = 0; x < w / 2; x++)
      d[x] = ((r0[2 * x] + r0[2 * x + 1]) + (r1[2 * x] + r1[2 * x + 1])) * 0.25f;
    if (w % 2) d[dw - 1] = (r0[w - 1] + r1[w - 1]) * 0.5f;
  }
}

int aic_msssim_plane(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                     uint32_t width, uint32_t height, double *msssim) {
  if (!msssim || !aic_ssim_plane_ok(a, a_stride, width, height) ||
      !aic_ssim_plane_ok(b, b_stride, width, height))
    return AIC_EINVAL;
  /* Scales 2 and 4 share one pair of buffers, 3 and 5 another: each is built from the one
   * before it and is at most a quarter of its size. */
  const size_t w2 = ((size_t)width + 1) / 2, h2 = ((size_t)height + 1) / 2;
  const size_t n2 = w2 * h2, n3 = ((w2 + 1) / 2) * ((h2 + 1) / 2);
  if (n2 > SIZE_MAX / sizeof(float) / 4) return AIC_ENOMEM;
  float *block = malloc(2 * (n2 + n3) * sizeof(float));
  if (!block) return AIC_ENOMEM;
  float *even[2] = {block, block + n2}, *odd[2] = {block + 2 * n2, block + 2 * n2 + n3};

  aic_ssim_input_t in = {AIC_SSIM_U8, a, b, a_stride, b_stride, width, height};
  double result = 1.0;
  int rc = AIC_OK;
  for (int s = 0; s < SCALES; s++) {
    const bool last = s == SCALES - 1;
    aic_ssim_means_t m;
    rc = aic_ssim_means(&in, !last, &m);
    if (rc != AIC_OK) break;
    const double term = last ? m.ssim : m.cs;
    if (term <= 0.0) { /* clamped: the product is 0 whatever the other scales say */
      result = 0.0;
      break;
    }
    result *= pow(term, scale_weight[s]);
    if (last) break;
    float **next = s % 2 == 0 ? even : odd;
    if (in.type == AIC_SSIM_U8) {
      halve_u8(in.a, in.a_stride, in.width, in.height, next[0]);
      halve_u8(in.b, in.b_stride, in.width, in.height, next[1]);
    } else {
      halve_f32(in.a, in.width, in.height, next[0]);
      halve_f32(in.b, in.width, in.height, next[1]);
    }
    in.type = AIC_SSIM_F32;
    in.a = next[0];
    in.b = next[1];
    in.width = (in.width + 1) / 2;
    in.height = (in.height + 1) / 2;
    in.a_stride = in.b_stride = in.width;
  }
  free(block);
  if (rc != AIC_OK) return rc;
  *msssim = result;
  return AIC_OK;
}
