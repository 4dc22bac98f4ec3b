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

int main(void) {
  RUN(test_gray_maps_to_neutral_chroma);
  RUN(test_nv12_round_trip_exact);
  RUN(test_rgb_round_trips);
  RUN(test_primaries_stay_in_range);
  RUN(test_bad_arguments);
  return aic_test_finish();
}
