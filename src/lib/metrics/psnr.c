/* PSNR and MSE of 8-bit data. Squared errors are summed in 64-bit integers, so the result is
 * exact up to the final division and logarithm. */
#include "aic/metrics.h"

#include <math.h>
#include <stdint.h>

#include "aic/error.h"
#include "metrics/psnr_internal.h"

/* The largest squared difference of two bytes: bounds how many terms a uint64_t can hold. */
#define AIC_MAX_BYTE_SQ_ERR (255u * 255u)

/* 65536 * 255^2 < 2^32, so a block this long can be summed in 32 bits, which lets the
 * compiler use 32-bit vector lanes for the hot loop. */
#define AIC_SSE_BLOCK 65536u

static uint64_t sse_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
  uint64_t sse = 0;
  while (n > 0) {
    size_t len = n < AIC_SSE_BLOCK ? n : AIC_SSE_BLOCK;
    uint32_t block = 0;
    for (size_t i = 0; i < len; i++) {
      int d = (int)a[i] - (int)b[i];
      block += (uint32_t)(d * d);
    }
    sse += block;
    a += len;
    b += len;
    n -= len;
  }
  return sse;
}

double aic_psnr_from_mse(double mse, double peak) {
  if (mse <= 0.0) return AIC_PSNR_IDENTICAL_DB;
  double db = 10.0 * log10(peak * peak / mse);
  return db < AIC_PSNR_IDENTICAL_DB ? db : AIC_PSNR_IDENTICAL_DB;
}

static double psnr_from_sse(uint64_t sse, uint64_t count) {
  return aic_psnr_from_mse((double)sse / (double)count, 255.0);
}

/* A plane is usable when its rows fit in its stride and its last byte is addressable. */
static int plane_ok(const uint8_t *p, size_t stride, uint32_t width, uint32_t height) {
  if (!p || width == 0 || height == 0 || stride < width) return 0;
  return (size_t)(height - 1) <= (SIZE_MAX - width) / stride;
}

int aic_psnr_plane(const uint8_t *a, size_t a_stride, const uint8_t *b, size_t b_stride,
                   uint32_t width, uint32_t height, double *psnr_db) {
  if (!psnr_db || !plane_ok(a, a_stride, width, height) || !plane_ok(b, b_stride, width, height))
    return AIC_EINVAL;
  uint64_t count = (uint64_t)width * height;
  if (count > UINT64_MAX / AIC_MAX_BYTE_SQ_ERR) return AIC_EINVAL;
  uint64_t sse = 0;
  for (uint32_t y = 0; y < height; y++)
    sse += sse_bytes(a + (size_t)y * a_stride, b + (size_t)y * b_stride, width);
  *psnr_db = psnr_from_sse(sse, count);
  return AIC_OK;
}

int aic_mse_bytes(const uint8_t *a, const uint8_t *b, size_t n, double *mse) {
  if (!a || !b || !mse || n == 0) return AIC_EINVAL;
  if ((uint64_t)n > UINT64_MAX / AIC_MAX_BYTE_SQ_ERR) return AIC_EINVAL;
  *mse = (double)sse_bytes(a, b, n) / (double)n;
  return AIC_OK;
}
