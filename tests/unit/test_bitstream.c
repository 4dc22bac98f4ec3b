/* The bitstream header: round trip, and every kind of damage is refused. */
#include <string.h>

#include "aic/aic.h"
#include "aic_test.h"
#include "codec/bitstream.h"

static const uint8_t payload[] = "some payload bytes";

static size_t make(uint8_t *buf, const aic_frame_t *desc) {
  aic_bitstream_header_t h = {.codec = AIC_CODEC_ZSTD,
                              .flags = AIC_BS_FLAG_KEYFRAME,
                              .desc = *desc,
                              .payload_size = sizeof payload};
  CHECK_EQ_INT(aic_bitstream_header_write(&h, payload, buf), 0);
  memcpy(buf + AIC_BITSTREAM_HEADER_SIZE, payload, sizeof payload);
  return AIC_BITSTREAM_HEADER_SIZE + sizeof payload;
}

static void test_round_trip(void) {
  aic_frame_limits_t l;
  aic_frame_limits_default(&l);
  uint8_t buf[128];
  aic_frame_t video = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_NV12, .width = 33, .height = 17};
  size_t n = make(buf, &video);
  aic_bitstream_header_t h;
  const uint8_t *p;
  CHECK_EQ_INT(aic_bitstream_parse(buf, n, &l, &h, &p, NULL, 0), 0);
  CHECK_EQ_INT(h.codec, AIC_CODEC_ZSTD);
  CHECK_EQ_INT(h.desc.width, 33);
  CHECK_EQ_INT(h.desc.height, 17);
  CHECK_EQ_INT(h.desc.pix_fmt, AIC_PIX_NV12);
  CHECK_EQ_INT(h.desc.size, 33 * 17 + 2 * 17 * 9);
  CHECK(p == buf + AIC_BITSTREAM_HEADER_SIZE);

  aic_frame_t audio = {.type = AIC_FRAME_AUDIO,
                       .audio_fmt = AIC_AUDIO_F32LE,
                       .sample_rate = 16000,
                       .channels = 2,
                       .size = 160 * 2 * 4};
  n = make(buf, &audio);
  CHECK_EQ_INT(aic_bitstream_parse(buf, n, &l, &h, &p, NULL, 0), 0);
  CHECK_EQ_INT(h.desc.sample_rate, 16000);
  CHECK_EQ_INT(h.desc.channels, 2);
  CHECK_EQ_INT(h.desc.size, 160 * 2 * 4);
}

static void test_damage_refused(void) {
  aic_frame_limits_t l;
  aic_frame_limits_default(&l);
  uint8_t buf[128];
  aic_frame_t video = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_I420, .width = 16, .height = 16};
  size_t n = make(buf, &video);
  aic_bitstream_header_t h;
  const uint8_t *p;
  char why[128];
  /* Every single flipped bit anywhere is caught (magic, fields or CRC). */
  for (size_t i = 0; i < n; i++) {
    for (int bit = 0; bit < 8; bit++) {
      buf[i] ^= (uint8_t)(1 << bit);
      int rc = aic_bitstream_parse(buf, n, &l, &h, &p, why, sizeof why);
      CHECK_EQ_INT(rc, AIC_ECORRUPT);
      CHECK(why[0] != '\0');
      buf[i] ^= (uint8_t)(1 << bit);
    }
  }
  /* Every truncation is caught. */
  for (size_t len = 0; len < n; len++)
    CHECK_EQ_INT(aic_bitstream_parse(buf, len, &l, &h, &p, NULL, 0), AIC_ECORRUPT);
  CHECK_EQ_INT(aic_bitstream_parse(NULL, 0, &l, &h, &p, NULL, 0), AIC_ECORRUPT);
  /* Dimensions over the receiver's limits are refused before any allocation. */
  aic_frame_limits_t small = {8, 8, 8};
  CHECK_EQ_INT(aic_bitstream_parse(buf, n, &small, &h, &p, NULL, 0), AIC_ECORRUPT);
}

int main(void) {
  RUN(test_round_trip);
  RUN(test_damage_refused);
  return aic_test_finish();
}
