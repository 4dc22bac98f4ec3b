#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic/convert.h"
#include "aic/error.h"
#include "aic/metrics.h"
#include "aic_test.h"

static aic_frame_t picture(aic_pixel_format_t fmt, uint32_t w, uint32_t h, const uint8_t *data) {
  aic_frame_t f = {.type = AIC_FRAME_VIDEO, .pix_fmt = fmt, .width = w, .height = h, .data = data};
  aic_pixel_format_size(fmt, w, h, &f.size);
  return f;
}

static uint8_t *smooth_rgb(uint32_t w, uint32_t h, int bpp) {
  uint8_t *p = malloc((size_t)w * h * (size_t)bpp);
  for (uint32_t j = 0; j < h; j++)
    for (uint32_t i = 0; i < w; i++) {
      uint8_t *px = p + ((size_t)j * w + i) * (size_t)bpp;
      /* Gentle slopes: 4:2:0 only loses what changes within a 2x2 block. */
      px[0] = (uint8_t)(i * 3 > 255 ? 255 : i * 3);
      px[1] = (uint8_t)(40 + (j * 3 > 200 ? 200 : j * 3));
      px[2] = (uint8_t)((i + j) * 2 > 255 ? 255 : (i + j) * 2);
      if (bpp == 4) px[3] = 255;
    }
  return p;
}

static void test_gray_maps_to_neutral_chroma(void) {
  uint8_t rgb[4 * 3 * 3];
  for (int k = 0; k < 12; k++) rgb[3 * k] = rgb[3 * k + 1] = rgb[3 * k + 2] = (uint8_t)(k * 21);
  uint8_t yuv[4 * 3 + 2 * 2 * 2];
  aic_frame_t f = picture(AIC_PIX_RGB24, 4, 3, rgb);
  CHECK_EQ_INT(aic_picture_to_i420(&f, yuv), AIC_OK);
  for (int k = 0; k < 12; k++) CHECK_EQ_INT(yuv[k], k * 21);
  for (int k = 12; k < 20; k++) CHECK_EQ_INT(yuv[k], 128);
  uint8_t back[4 * 3 * 3];
  CHECK_EQ_INT(aic_picture_from_i420(yuv, 4, 3, AIC_PIX_RGB24, back), AIC_OK);
  CHECK(memcmp(back, rgb, sizeof rgb) == 0);
}

static void test_nv12_round_trip_exact(void) {
  uint32_t w = 7, h = 5;
  size_t n;
  aic_pixel_format_size(AIC_PIX_NV12, w, h, &n);
  uint8_t *src = malloc(n), *i420 = malloc(n), *back = malloc(n);
  for (size_t k = 0; k < n; k++) src[k] = (uint8_t)(k * 37 + 11);
  aic_frame_t f = picture(AIC_PIX_NV12, w, h, src);
  CHECK_EQ_INT(aic_picture_to_i420(&f, i420), AIC_OK);
  CHECK_EQ_INT(i420[w * h], src[w * h]);          /* first U */
  CHECK_EQ_INT(i420[w * h + 12], src[w * h + 1]); /* first V: chroma planes are 4x3 */
  CHECK_EQ_INT(aic_picture_from_i420(i420, w, h, AIC_PIX_NV12, back), AIC_OK);
  CHECK(memcmp(src, back, n) == 0);
  free(src);
  free(i420);
  free(back);
}

static void rgb_round_trip(aic_pixel_format_t fmt, int bpp, uint32_t w, uint32_t h) {
  uint8_t *rgb = smooth_rgb(w, h, bpp);
  size_t yuv_size, rgb_size;
  aic_pixel_format_size(AIC_PIX_I420, w, h, &yuv_size);
  aic_pixel_format_size(fmt, w, h, &rgb_size);
  uint8_t *yuv = malloc(yuv_size), *back = malloc(rgb_size);
  aic_frame_t f = picture(fmt, w, h, rgb);
  CHECK_EQ_INT(aic_picture_to_i420(&f, yuv), AIC_OK);
  CHECK_EQ_INT(aic_picture_from_i420(yuv, w, h, fmt, back), AIC_OK);
  double mse;
  CHECK_EQ_INT(aic_mse_bytes(rgb, back, rgb_size, &mse), AIC_OK);
  /* Smooth content loses little to 4:2:0: well above 35 dB. */
  if (!(mse < 20.0)) fprintf(stderr, "%ux%u mse %.2f\n", w, h, mse);
  CHECK(mse < 20.0);
  if (bpp == 4)
    for (size_t k = 3; k < rgb_size; k += 4) CHECK_EQ_INT(back[k], 255);
  free(rgb);
  free(yuv);
  free(back);
}

static void test_rgb_round_trips(void) {
  rgb_round_trip(AIC_PIX_RGB24, 3, 64, 48);
  rgb_round_trip(AIC_PIX_RGB24, 3, 33, 17);
  rgb_round_trip(AIC_PIX_RGBA, 4, 31, 9);
  rgb_round_trip(AIC_PIX_RGB24, 3, 1, 1);
}

static void test_primaries_stay_in_range(void) {
  static const uint8_t colours[][3] = {{255, 0, 0},   {0, 255, 0}, {0, 0, 255},
                                       {255, 255, 0}, {0, 0, 0},   {255, 255, 255}};
  for (size_t c = 0; c < sizeof colours / sizeof colours[0]; c++) {
    uint8_t rgb[2 * 2 * 3], yuv[6], back[12];
    for (int k = 0; k < 4; k++) memcpy(rgb + 3 * k, colours[c], 3);
    aic_frame_t f = picture(AIC_PIX_RGB24, 2, 2, rgb);
    CHECK_EQ_INT(aic_picture_to_i420(&f, yuv), AIC_OK);
    CHECK_EQ_INT(aic_picture_from_i420(yuv, 2, 2, AIC_PIX_RGB24, back), AIC_OK);
    for (int k = 0; k < 12; k++) CHECK(abs((int)back[k] - (int)rgb[k]) <= 2);
  }
}

static void test_bad_arguments(void) {
  uint8_t buf[16] = {0};
  aic_frame_t audio = {.type = AIC_FRAME_AUDIO, .data = buf, .size = 4};
  CHECK_EQ_INT(aic_picture_to_i420(&audio, buf), AIC_EINVAL);
  CHECK_EQ_INT(aic_picture_to_i420(NULL, buf), AIC_EINVAL);
  CHECK_EQ_INT(aic_picture_from_i420(buf, 2, 2, (aic_pixel_format_t)9, buf), AIC_EINVAL);
}

/* The BT.601 definition convert.c implements, written out plainly (per pixel, divisions): the
 * library's faster loops must give exactly these bytes. */
#define DEF_FIX(x) ((int64_t)((x)*65536.0 + 0.5))
static uint8_t def_clamp(int64_t v) {
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}
static int64_t def_round_div(int64_t v, int64_t d) { /* half away from zero */
  return v >= 0 ? (v + d / 2) / d : -((-v + d / 2) / d);
}
static void def_from_i420(const uint8_t *src, uint32_t w, uint32_t h, int bpp, uint8_t *dst) {
  const uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  const uint8_t *u = src + (size_t)w * h, *v = u + (size_t)cw * ch;
  for (uint32_t j = 0; j < h; j++)
    for (uint32_t i = 0; i < w; i++) {
      const int64_t yy = (int64_t)src[(size_t)j * w + i] * 65536, half = 32768;
      const int64_t cb = u[(j / 2) * cw + i / 2] - 128, cr = v[(j / 2) * cw + i / 2] - 128;
      uint8_t *p = dst + ((size_t)j * w + i) * (size_t)bpp;
      /* floor division by 2^16, as an arithmetic shift does */
      p[0] = def_clamp((int64_t)floor((double)(yy + DEF_FIX(1.402) * cr + half) / 65536.0));
      p[1] = def_clamp((int64_t)floor(
          (double)(yy - DEF_FIX(0.344136) * cb - DEF_FIX(0.714136) * cr + half) / 65536.0));
      p[2] = def_clamp((int64_t)floor((double)(yy + DEF_FIX(1.772) * cb + half) / 65536.0));
      if (bpp == 4) p[3] = 255;
    }
}
static void def_to_i420(const uint8_t *src, uint32_t w, uint32_t h, int bpp, uint8_t *dst) {
  const uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  uint8_t *u = dst + (size_t)w * h, *v = u + (size_t)cw * ch;
  for (uint32_t j = 0; j < h; j++)
    for (uint32_t i = 0; i < w; i++) {
      const uint8_t *p = src + ((size_t)j * w + i) * (size_t)bpp;
      dst[(size_t)j * w + i] = def_clamp(
          (DEF_FIX(0.299) * p[0] + DEF_FIX(0.587) * p[1] + DEF_FIX(0.114) * p[2] + 32768) >> 16);
    }
  for (uint32_t cj = 0; cj < ch; cj++)
    for (uint32_t ci = 0; ci < cw; ci++) {
      int64_t r = 0, g = 0, b = 0, n = 0;
      for (uint32_t j = 2 * cj; j < 2 * cj + 2 && j < h; j++)
        for (uint32_t i = 2 * ci; i < 2 * ci + 2 && i < w; i++, n++) {
          const uint8_t *p = src + ((size_t)j * w + i) * (size_t)bpp;
          r += p[0], g += p[1], b += p[2];
        }
      const int64_t cu = -DEF_FIX(0.168736) * r - DEF_FIX(0.331264) * g + DEF_FIX(0.5) * b;
      const int64_t cv = DEF_FIX(0.5) * r - DEF_FIX(0.418688) * g - DEF_FIX(0.081312) * b;
      u[cj * cw + ci] = def_clamp(def_round_div(cu, n << 16) + 128);
      v[cj * cw + ci] = def_clamp(def_round_div(cv, n << 16) + 128);
    }
}

static void test_matches_definition(void) {
  uint64_t rng = 0x9E3779B97F4A7C15ULL;
  static const uint32_t sizes[][2] = {{1, 1}, {2, 2}, {3, 5}, {17, 9}, {64, 33}, {33, 64}};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
    for (int bpp = 3; bpp <= 4; bpp++) {
      const uint32_t w = sizes[k][0], h = sizes[k][1];
      size_t n420;
      aic_pixel_format_size(AIC_PIX_I420, w, h, &n420);
      const size_t nrgb = (size_t)w * h * (size_t)bpp;
      uint8_t *i420 = malloc(n420), *rgb = malloc(nrgb), *want = malloc(nrgb > n420 ? nrgb : n420),
              *got = malloc(nrgb > n420 ? nrgb : n420);
      for (size_t i = 0; i < n420; i++)
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, i420[i] = (uint8_t)(rng >> 32);
      for (size_t i = 0; i < nrgb; i++)
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, rgb[i] = (uint8_t)(rng >> 32);
      const aic_pixel_format_t fmt = bpp == 4 ? AIC_PIX_RGBA : AIC_PIX_RGB24;
      def_from_i420(i420, w, h, bpp, want);
      CHECK_EQ_INT(aic_picture_from_i420(i420, w, h, fmt, got), AIC_OK);
      CHECK(memcmp(want, got, nrgb) == 0);
      aic_frame_t f = picture(fmt, w, h, rgb);
      def_to_i420(rgb, w, h, bpp, want);
      CHECK_EQ_INT(aic_picture_to_i420(&f, got), AIC_OK);
      CHECK(memcmp(want, got, n420) == 0);
      free(i420), free(rgb), free(want), free(got);
    }
}

int main(void) {
  RUN(test_matches_definition);
  RUN(test_gray_maps_to_neutral_chroma);
  RUN(test_nv12_round_trip_exact);
  RUN(test_rgb_round_trips);
  RUN(test_primaries_stay_in_range);
  RUN(test_bad_arguments);
  return aic_test_finish();
}
