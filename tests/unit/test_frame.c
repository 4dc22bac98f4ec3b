/* Frame geometry and validation. */
#include <string.h>

#include "aic/aic.h"
#include "aic_test.h"

static aic_frame_limits_t limits(void) {
  aic_frame_limits_t l;
  aic_frame_limits_default(&l);
  return l;
}

static void test_sizes(void) {
  size_t n;
  CHECK_EQ_INT(aic_pixel_format_size(AIC_PIX_I420, 4, 2, &n), 0);
  CHECK_EQ_INT(n, 8 + 2 * 2 * 1);
  CHECK_EQ_INT(aic_pixel_format_size(AIC_PIX_NV12, 33, 17, &n), 0);
  CHECK_EQ_INT(n, 33 * 17 + 2 * 17 * 9);
  CHECK_EQ_INT(aic_pixel_format_size(AIC_PIX_RGB24, 7, 3, &n), 0);
  CHECK_EQ_INT(n, 63);
  CHECK_EQ_INT(aic_pixel_format_size(AIC_PIX_RGBA, 7, 3, &n), 0);
  CHECK_EQ_INT(n, 84);
  CHECK_EQ_INT(aic_pixel_format_size(AIC_PIX_UNSPECIFIED, 7, 3, &n), AIC_EINVAL);
  CHECK_EQ_INT(aic_pixel_format_size((aic_pixel_format_t)99, 7, 3, &n), AIC_EINVAL);
  /* The largest dimensions must not overflow. */
  CHECK_EQ_INT(aic_pixel_format_size(AIC_PIX_RGBA, UINT32_MAX, UINT32_MAX, &n), 0);
  CHECK(n == (size_t)UINT32_MAX * UINT32_MAX * 4 || sizeof(size_t) < 8);
}

static void test_validate_picture(void) {
  aic_frame_limits_t l = limits();
  static uint8_t data[64 * 48 * 4];
  aic_frame_t f = {.type = AIC_FRAME_VIDEO,
                   .pix_fmt = AIC_PIX_RGB24,
                   .width = 64,
                   .height = 48,
                   .data = data,
                   .size = 64 * 48 * 3};
  char why[128];
  CHECK_EQ_INT(aic_frame_validate(&f, &l, why, sizeof why), 0);
  f.size--;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, why, sizeof why), AIC_EINVAL);
  CHECK(strstr(why, "bytes") != NULL);
  f.size++;
  f.width = 0;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, why, sizeof why), AIC_EINVAL);
  f.width = 7681;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, why, sizeof why), AIC_ELIMIT);
  f.width = 64;
  f.type = AIC_FRAME_UNSPECIFIED;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, why, sizeof why), AIC_EINVAL);
  f.type = (aic_frame_type_t)42;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, why, sizeof why), AIC_EINVAL);
  f.type = AIC_FRAME_SCREEN;
  f.pix_fmt = (aic_pixel_format_t)9;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, why, sizeof why), AIC_EINVAL);
  CHECK_EQ_INT(aic_frame_validate(NULL, &l, why, sizeof why), AIC_EINVAL);
}

static void test_validate_audio(void) {
  aic_frame_limits_t l = limits();
  static uint8_t data[960 * 2 * 2];
  aic_frame_t f = {.type = AIC_FRAME_AUDIO,
                   .audio_fmt = AIC_AUDIO_S16LE,
                   .sample_rate = 48000,
                   .channels = 2,
                   .data = data,
                   .size = sizeof data};
  CHECK_EQ_INT(aic_frame_validate(&f, &l, NULL, 0), 0);
  f.size = 3; /* not a whole sample frame */
  CHECK_EQ_INT(aic_frame_validate(&f, &l, NULL, 0), AIC_EINVAL);
  f.size = sizeof data;
  f.sample_rate = 0;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, NULL, 0), AIC_EINVAL);
  f.sample_rate = 16000;
  f.channels = 0;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, NULL, 0), AIC_EINVAL);
  f.channels = 9;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, NULL, 0), AIC_EINVAL);
  f.channels = 1;
  f.audio_fmt = AIC_AUDIO_UNSPECIFIED;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, NULL, 0), AIC_EINVAL);
  /* Longer than the limit per channel: refused before anyone allocates for it. */
  f.audio_fmt = AIC_AUDIO_S16LE;
  l.max_audio_samples = 100;
  f.size = 101 * 2;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, NULL, 0), AIC_ELIMIT);
  f.size = 100 * 2;
  CHECK_EQ_INT(aic_frame_validate(&f, &l, NULL, 0), 0);
}

int main(void) {
  RUN(test_sizes);
  RUN(test_validate_picture);
  RUN(test_validate_audio);
  return aic_test_finish();
}
