/* Quality of a reconstructed frame against its original: PSNR over every sample, SSIM on luma
 * for pictures, a same-or-not SSIM for audio (a structural index has no meaning there). */
#include "aic/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "metrics/psnr_internal.h"

#define AIC_S16_PEAK 32767.0
#define AIC_F32_PEAK 1.0

/* The largest squared difference of two int16 samples: bounds how many a uint64_t can sum. */
#define AIC_MAX_S16_SQ_ERR (65535ull * 65535ull)

/* Every field, audio ones included for pictures: a reconstruction must describe the same
 * thing as its original, and stray fields would mean the caller mixed frames up. */
static int same_description(const aic_frame_t *a, const aic_frame_t *b) {
  return a->type == b->type && a->pix_fmt == b->pix_fmt && a->width == b->width &&
         a->height == b->height && a->audio_fmt == b->audio_fmt &&
         a->sample_rate == b->sample_rate && a->channels == b->channels && a->size == b->size;
}

/* BT.601 luma rounded half up: round(0.299 R + 0.587 G + 0.114 B) evaluated exactly in
 * integers, so no pixel depends on floating-point rounding of the coefficients. */
static void rgb_to_luma(const uint8_t *rgb, size_t pixel_bytes, size_t count, uint8_t *luma) {
  for (size_t i = 0; i < count; i++, rgb += pixel_bytes)
    luma[i] = (uint8_t)((299u * rgb[0] + 587u * rgb[1] + 114u * rgb[2] + 500u) / 1000u);
}

static int rgb_luma_ssim(const aic_frame_t *a, const aic_frame_t *b, size_t pixel_bytes,
                         double *ssim) {
  /* size == width * height * pixel_bytes was checked, so this cannot overflow. */
  const size_t count = (size_t)a->width * a->height;
  uint8_t *la = malloc(2 * count);
  if (!la) return AIC_ENOMEM;
  uint8_t *lb = la + count;
  rgb_to_luma(a->data, pixel_bytes, count, la);
  rgb_to_luma(b->data, pixel_bytes, count, lb);
  int rc = aic_ssim_plane(la, a->width, lb, b->width, a->width, a->height, ssim);
  free(la);
  return rc;
}

static int picture_quality(const aic_frame_t *a, const aic_frame_t *b, double *psnr_db,
                           double *ssim) {
  size_t expected;
  if (a->width == 0 || a->height == 0 ||
      aic_pixel_format_size(a->pix_fmt, a->width, a->height, &expected) != AIC_OK ||
      a->size != expected)
    return AIC_EINVAL;
  double mse;
  int rc = aic_mse_bytes(a->data, b->data, a->size, &mse);
  if (rc != AIC_OK) return rc;
  switch (a->pix_fmt) {
    /* Both 4:2:0 layouts start with the full-resolution Y plane. */
    case AIC_PIX_I420:
    case AIC_PIX_NV12:
      rc = aic_ssim_plane(a->data, a->width, b->data, b->width, a->width, a->height, ssim);
      break;
    case AIC_PIX_RGB24: rc = rgb_luma_ssim(a, b, 3, ssim); break;
    case AIC_PIX_RGBA: rc = rgb_luma_ssim(a, b, 4, ssim); break;
    default: return AIC_EINVAL;
  }
  if (rc != AIC_OK) return rc;
  *psnr_db = aic_psnr_from_mse(mse, 255.0);
  return AIC_OK;
}

/* Samples are decoded byte by byte so the result does not depend on host endianness. */
static int16_t load_s16le(const uint8_t *p) {
  return (int16_t)(uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8);
}

static float load_f32le(const uint8_t *p) {
  uint32_t bits =
      (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static int mse_s16le(const uint8_t *a, const uint8_t *b, size_t count, double *mse) {
  if ((uint64_t)count > UINT64_MAX / AIC_MAX_S16_SQ_ERR) return AIC_EINVAL;
  uint64_t sse = 0;
  for (size_t i = 0; i < count; i++) {
    int64_t d = (int64_t)load_s16le(a + 2 * i) - load_s16le(b + 2 * i);
    sse += (uint64_t)(d * d);
  }
  *mse = (double)sse / (double)count;
  return AIC_OK;
}

static int mse_f32le(const uint8_t *a, const uint8_t *b, size_t count, double *mse) {
  double sse = 0.0;
  for (size_t i = 0; i < count; i++) {
    const double va = load_f32le(a + 4 * i), vb = load_f32le(b + 4 * i);
    /* NaN or infinity would poison the sum; such input is malformed, not merely poor. */
    if (!isfinite(va) || !isfinite(vb)) return AIC_EINVAL;
    sse += (va - vb) * (va - vb);
  }
  *mse = sse / (double)count;
  return AIC_OK;
}

static int audio_quality(const aic_frame_t *a, const aic_frame_t *b, double *psnr_db,
                         double *ssim) {
  const size_t bps = aic_audio_format_bytes(a->audio_fmt);
  if (bps == 0 || a->channels == 0 || a->channels > SIZE_MAX / bps) return AIC_EINVAL;
  if (a->size == 0 || a->size % (bps * a->channels) != 0) return AIC_EINVAL;
  const size_t count = a->size / bps;
  double mse, peak;
  int rc;
  if (a->audio_fmt == AIC_AUDIO_S16LE) {
    rc = mse_s16le(a->data, b->data, count, &mse);
    peak = AIC_S16_PEAK;
  } else {
    rc = mse_f32le(a->data, b->data, count, &mse);
    peak = AIC_F32_PEAK;
  }
  if (rc != AIC_OK) return rc;
  *psnr_db = aic_psnr_from_mse(mse, peak);
  *ssim = memcmp(a->data, b->data, a->size) == 0 ? 1.0 : 0.0;
  return AIC_OK;
}

int aic_frame_quality(const aic_frame_t *a, const aic_frame_t *b, double *psnr_db, double *ssim) {
  if (!a || !b || !psnr_db || !ssim || !a->data || !b->data) return AIC_EINVAL;
  if (!same_description(a, b)) return AIC_EINVAL;
  /* Results go to locals first so the caller's outputs are untouched on failure. */
  double psnr = 0.0, s = 0.0;
  int rc;
  switch (a->type) {
    case AIC_FRAME_VIDEO:
    case AIC_FRAME_SCREEN: rc = picture_quality(a, b, &psnr, &s); break;
    case AIC_FRAME_AUDIO: rc = audio_quality(a, b, &psnr, &s); break;
    default: return AIC_EINVAL;
  }
  if (rc != AIC_OK) return rc;
  *psnr_db = psnr;
  *ssim = s;
  return AIC_OK;
}
