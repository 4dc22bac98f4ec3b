/* BT.601 full-range conversions in 16.16 fixed point: integer arithmetic gives the same bytes
 * on every machine, which the round-trip tests and bit-exact decoders rely on. */
#include "aic/convert.h"

#include <string.h>

#include "aic/error.h"
#include "core/convert_rows.h"

#define FIX(x) ((int32_t)((x)*65536.0 + 0.5))
#define HALF (1 << 15)

static inline uint8_t clamp_u8(int32_t v) {
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Y from R, G, B. */
static inline uint8_t luma(int r, int g, int b) {
  return clamp_u8((FIX(0.299) * r + FIX(0.587) * g + FIX(0.114) * b + HALF) >> 16);
}

/* round(v / 2^s), half away from zero (so the result does not depend on the sign
 * convention); a shift of the magnitude, which is what dividing it by 2^s does. */
static inline int64_t div_pow2_round(int64_t v, int s) {
  const int64_t half = (int64_t)1 << (s - 1);
  return v >= 0 ? (v + half) >> s : -((-v + half) >> s);
}

/* Cb and Cr from the sums of R, G, B over n pixels (n = 1, 2 or 4: a division by n << 16, a
 * power of two, so a shift rather than a 64-bit division per sample). */
static inline void chroma(int32_t r, int32_t g, int32_t b, int n, uint8_t *cb, uint8_t *cr) {
  int64_t u = -(int64_t)FIX(0.168736) * r - (int64_t)FIX(0.331264) * g + (int64_t)FIX(0.5) * b;
  int64_t v = (int64_t)FIX(0.5) * r - (int64_t)FIX(0.418688) * g - (int64_t)FIX(0.081312) * b;
  const int s = 16 + (n == 4 ? 2 : n == 2 ? 1 : 0);
  *cb = clamp_u8((int32_t)div_pow2_round(u, s) + 128);
  *cr = clamp_u8((int32_t)div_pow2_round(v, s) + 128);
}

/* Chroma rows [c0, c1) and the luma rows they cover: a range writes only its own rows. */
static void rgb_to_i420_rows(const uint8_t *src, int bpp, uint32_t w, uint32_t h, uint32_t c0,
                             uint32_t c1, uint8_t *dst) {
  uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  uint8_t *y = dst, *u = dst + (size_t)w * h, *v = u + (size_t)cw * ch;
  size_t stride = (size_t)w * (size_t)bpp;
  for (uint32_t j = 2 * c0; j < h && j < 2 * c1; j++) {
    const uint8_t *row = src + j * stride;
    uint8_t *yrow = y + (size_t)j * w;
    for (uint32_t i = 0; i < w; i++) {
      const uint8_t *p = row + (size_t)i * (size_t)bpp;
      yrow[i] = luma(p[0], p[1], p[2]);
    }
  }
  for (uint32_t cj = c0; cj < c1 && cj < ch; cj++) {
    for (uint32_t ci = 0; ci < cw; ci++) {
      int32_t r = 0, g = 0, b = 0;
      int n = 0;
      for (uint32_t dj = 0; dj < 2; dj++) {
        uint32_t j = cj * 2 + dj;
        if (j >= h) break;
        for (uint32_t di = 0; di < 2; di++) {
          uint32_t i = ci * 2 + di;
          if (i >= w) break;
          const uint8_t *p = src + j * stride + (size_t)i * (size_t)bpp;
          r += p[0];
          g += p[1];
          b += p[2];
          n++;
        }
      }
      chroma(r, g, b, n, &u[(size_t)cj * cw + ci], &v[(size_t)cj * cw + ci]);
    }
  }
}

static void rgb_to_i420(const uint8_t *src, int bpp, uint32_t w, uint32_t h, uint8_t *dst) {
  rgb_to_i420_rows(src, bpp, w, h, 0, (h + 1) / 2, dst);
}

void aic_rgb24_to_i420_rows(const uint8_t *rgb, uint32_t w, uint32_t h, uint32_t c0, uint32_t c1,
                            uint8_t *i420) {
  rgb_to_i420_rows(rgb, 3, w, h, c0, c1, i420);
}

/* One output pixel from its luma and its chroma terms (sums regrouped from the formula's
 * (Y << 16) + k * C + HALF: exact in int32, the same bytes). */
static inline void rgb_pixel(int32_t yy, int32_t rv, int32_t guv, int32_t bu, uint8_t *p, int bpp) {
  p[0] = clamp_u8((yy + rv) >> 16);
  p[1] = clamp_u8((yy + guv) >> 16);
  p[2] = clamp_u8((yy + bu) >> 16);
  if (bpp == 4) p[3] = 255;
}

/* One row; bpp is a constant at each call, so each specialises. Pixels come in pairs sharing a
 * chroma sample, whose terms are computed once. */
static inline void i420_row_to_rgb(const uint8_t *y, const uint8_t *u, const uint8_t *v, uint32_t w,
                                   uint8_t *out, int bpp) {
  for (uint32_t i = 0; i < w; i += 2) {
    const int32_t cb = u[i / 2] - 128, cr = v[i / 2] - 128;
    const int32_t rv = FIX(1.402) * cr + HALF;
    const int32_t guv = -FIX(0.344136) * cb - FIX(0.714136) * cr + HALF;
    const int32_t bu = FIX(1.772) * cb + HALF;
    rgb_pixel((int32_t)y[i] << 16, rv, guv, bu, out + (size_t)i * bpp, bpp);
    if (i + 1 < w)
      rgb_pixel((int32_t)y[i + 1] << 16, rv, guv, bu, out + (size_t)(i + 1) * bpp, bpp);
  }
}

/* Rows [y0, y1). */
static void i420_to_rgb_rows(const uint8_t *src, uint32_t w, uint32_t h, int bpp, uint32_t y0,
                             uint32_t y1, uint8_t *dst) {
  uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  const uint8_t *y = src, *u = src + (size_t)w * h, *v = u + (size_t)cw * ch;
  for (uint32_t j = y0; j < y1 && j < h; j++) {
    const uint8_t *urow = u + (size_t)(j / 2) * cw, *vrow = v + (size_t)(j / 2) * cw;
    uint8_t *out = dst + (size_t)j * w * (size_t)bpp;
    if (bpp == 4)
      i420_row_to_rgb(y + (size_t)j * w, urow, vrow, w, out, 4);
    else
      i420_row_to_rgb(y + (size_t)j * w, urow, vrow, w, out, 3);
  }
}

static void i420_to_rgb(const uint8_t *src, uint32_t w, uint32_t h, int bpp, uint8_t *dst) {
  i420_to_rgb_rows(src, w, h, bpp, 0, h, dst);
}

void aic_i420_to_rgb24_rows(const uint8_t *i420, uint32_t w, uint32_t h, uint32_t y0, uint32_t y1,
                            uint8_t *rgb) {
  i420_to_rgb_rows(i420, w, h, 3, y0, y1, rgb);
}

int aic_picture_to_i420(const aic_frame_t *src, uint8_t *dst) {
  if (!src || !dst || !src->data || src->type == AIC_FRAME_AUDIO) return AIC_EINVAL;
  uint32_t w = src->width, h = src->height;
  size_t luma_size = (size_t)w * h, chroma_size = (size_t)((w + 1) / 2) * ((h + 1) / 2);
  switch (src->pix_fmt) {
    case AIC_PIX_I420: memcpy(dst, src->data, luma_size + 2 * chroma_size); return AIC_OK;
    case AIC_PIX_NV12: {
      memcpy(dst, src->data, luma_size);
      const uint8_t *uv = src->data + luma_size;
      uint8_t *u = dst + luma_size, *v = u + chroma_size;
      for (size_t k = 0; k < chroma_size; k++) {
        u[k] = uv[2 * k];
        v[k] = uv[2 * k + 1];
      }
      return AIC_OK;
    }
    case AIC_PIX_RGB24: rgb_to_i420(src->data, 3, w, h, dst); return AIC_OK;
    case AIC_PIX_RGBA: rgb_to_i420(src->data, 4, w, h, dst); return AIC_OK;
    default: return AIC_EINVAL;
  }
}

int aic_picture_from_i420(const uint8_t *i420, uint32_t w, uint32_t h, aic_pixel_format_t fmt,
                          uint8_t *dst) {
  if (!i420 || !dst) return AIC_EINVAL;
  size_t luma_size = (size_t)w * h, chroma_size = (size_t)((w + 1) / 2) * ((h + 1) / 2);
  switch (fmt) {
    case AIC_PIX_I420: memcpy(dst, i420, luma_size + 2 * chroma_size); return AIC_OK;
    case AIC_PIX_NV12: {
      memcpy(dst, i420, luma_size);
      const uint8_t *u = i420 + luma_size, *v = u + chroma_size;
      uint8_t *uv = dst + luma_size;
      for (size_t k = 0; k < chroma_size; k++) {
        uv[2 * k] = u[k];
        uv[2 * k + 1] = v[k];
      }
      return AIC_OK;
    }
    case AIC_PIX_RGB24: i420_to_rgb(i420, w, h, 3, dst); return AIC_OK;
    case AIC_PIX_RGBA: i420_to_rgb(i420, w, h, 4, dst); return AIC_OK;
    default: return AIC_EINVAL;
  }
}
