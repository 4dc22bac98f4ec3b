/* The engine's policy with fake backends that fail on purpose: every fallback reason is
 * forced and counted, and the quality-targeted control converges on a codec whose distortion
 * depends on its quality setting. */
#include <string.h>
#include <time.h>

#include "aic/aic.h"
#include "aic_test.h"
#include "codec/backend.h"
#include "engine/engine_internal.h"
#include "engine/policy.h"

#define W 64
#define H 48

/* A lossy codec whose reconstruction is the input plus a fixed noise pattern whose amplitude
 * falls as quality rises: payload = quality byte + the frame. */
static int noisy_encode(void *state, const aic_frame_t *f, const aic_codec_params_t *p,
                        aic_buf_t *out, bool *keyframe) {
  (void)state;
  int rc = aic_buf_reserve(out, f->size + 1);
  if (rc) return rc;
  out->data[out->size++] = (uint8_t)(p->quality + 0.5);
  memcpy(out->data + out->size, f->data, f->size);
  out->size += f->size;
  *keyframe = true;
  return AIC_OK;
}

static int noisy_decode(void *state, const aic_frame_t *desc, const uint8_t *payload, size_t n,
                        uint8_t *dst, size_t dst_size) {
  (void)state;
  (void)desc;
  if (n != dst_size + 1) return AIC_ECORRUPT;
  int amp = (100 - payload[0]) / 4;
  unsigned x = 12345;
  for (size_t i = 0; i < dst_size; i++) {
    x = x * 1103515245u + 12345u;
    int v = payload[1 + i] + (amp ? (int)((x >> 16) % (unsigned)(2 * amp + 1)) - amp : 0);
    dst[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
  return AIC_OK;
}

static int failing_encode(void *state, const aic_frame_t *f, const aic_codec_params_t *p,
                          aic_buf_t *out, bool *keyframe) {
  (void)state, (void)f, (void)p, (void)out, (void)keyframe;
  return AIC_ECODEC;
}

/* Always decodes to mid-grey: no quality setting can meet a floor. */
static int grey_decode(void *state, const aic_frame_t *desc, const uint8_t *payload, size_t n,
                       uint8_t *dst, size_t dst_size) {
  (void)state, (void)desc, (void)payload, (void)n;
  memset(dst, 128, dst_size);
  return AIC_OK;
}

static int slow_encode(void *state, const aic_frame_t *f, const aic_codec_params_t *p,
                       aic_buf_t *out, bool *keyframe) {
  struct timespec ts = {0, 25 * 1000000L};
  nanosleep(&ts, NULL);
  return noisy_encode(state, f, p, out, keyframe);
}

#define LOSSY_CAPS (AIC_CAP_VIDEO | AIC_CAP_YUV420)
static const aic_codec_backend_t noisy = {
    .id = AIC_CODEC_JPEG, .name = "noisy", .caps = LOSSY_CAPS, .encode = noisy_encode,
    .decode = noisy_decode};
static const aic_codec_backend_t failing = {
    .id = AIC_CODEC_VP8, .name = "failing", .caps = LOSSY_CAPS, .encode = failing_encode,
    .decode = noisy_decode};
static const aic_codec_backend_t grey = {
    .id = AIC_CODEC_AV1, .name = "grey", .caps = LOSSY_CAPS, .encode = noisy_encode,
    .decode = grey_decode};
static const aic_codec_backend_t slow = {
    .id = AIC_CODEC_AV1, .name = "slow", .caps = LOSSY_CAPS, .encode = slow_encode,
    .decode = noisy_decode};

static uint8_t frame_data[W * H * 3];

static aic_frame_t make_frame(void) {
  unsigned x = 7;
  for (size_t i = 0; i < sizeof frame_data; i++) {
    x = x * 1103515245u + 12345u;
    size_t px = i / 3;
    frame_data[i] = (uint8_t)((px % W) * 3 + (px / W) * 2 + ((x >> 16) & 15));
  }
  aic_frame_t f = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_RGB24, .width = W, .height = H};
  f.data = frame_data;
  f.size = sizeof frame_data;
  return f;
}

static aic_engine_t *engine_with(const aic_codec_backend_t *const *list, size_t n) {
  aic_engine_t *e = NULL;
  CHECK_EQ_INT(aic_engine_create(NULL, &e), AIC_OK);
  CHECK_EQ_INT(aic_engine_set_backends(e, list, n), AIC_OK);
  return e;
}

static void test_error_falls_back(void) {
  static const aic_codec_backend_t *const list[] = {&failing, &noisy, &aic_codec_zstd};
  aic_engine_t *e = engine_with(list, 3);
  aic_frame_t f = make_frame();
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.min_ssim = 0.5;
  aic_encode_result_t r;
  char why[256];
  CHECK_EQ_INT(aic_engine_compress(e, NULL, &f, &p, &r, why, sizeof why), AIC_OK);
  CHECK_EQ_INT(r.codec, AIC_CODEC_JPEG);
  CHECK_EQ_INT(r.fallback, AIC_FALLBACK_ERROR);
  CHECK(strstr(r.fallback_detail, "failing") != NULL);
  aic_encode_result_clear(&r);
  aic_engine_free(&e);
}

static void test_missed_floor_retries_then_falls_back(void) {
  static const aic_codec_backend_t *const list[] = {&grey, &aic_codec_zstd};
  aic_engine_t *e = engine_with(list, 2);
  aic_session_t *s = NULL;
  CHECK_EQ_INT(aic_session_create(e, &s), AIC_OK);
  aic_frame_t f = make_frame();
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.min_ssim = 0.9;
  aic_encode_result_t r;
  char why[256];
  CHECK_EQ_INT(aic_engine_compress(e, s, &f, &p, &r, why, sizeof why), AIC_OK);
  CHECK_EQ_INT(r.codec, AIC_CODEC_ZSTD);
  CHECK_EQ_INT(r.fallback, AIC_FALLBACK_QUALITY);
  CHECK_EQ_INT(r.attempts, 1 + AIC_POLICY_MAX_ATTEMPTS);
  CHECK_NEAR(r.ssim, 1.0, 0);
  aic_encode_result_clear(&r);
  aic_session_stats_t st;
  aic_session_get_stats(s, &st);
  CHECK_EQ_INT(st.fallbacks_by_reason[AIC_FALLBACK_QUALITY], 1);
  CHECK_EQ_INT(st.retries, AIC_POLICY_MAX_ATTEMPTS); /* extra encodes: misses, then zstd */
  aic_session_free(&s);
  aic_engine_free(&e);
}

static void test_slow_codec_is_dropped_for_the_session(void) {
  static const aic_codec_backend_t *const list[] = {&slow, &noisy, &aic_codec_zstd};
  aic_engine_t *e = engine_with(list, 3);
  aic_session_t *s = NULL;
  CHECK_EQ_INT(aic_session_create(e, &s), AIC_OK);
  aic_frame_t f = make_frame();
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.quality = 6;
  p.latency_budget_ms = 10;
  aic_codec_id_t used[6];
  for (int k = 0; k < 6; k++) {
    aic_encode_result_t r;
    char why[256];
    CHECK_EQ_INT(aic_engine_compress(e, s, &f, &p, &r, why, sizeof why), AIC_OK);
    used[k] = r.codec;
    if (k >= AIC_POLICY_SLOW_LIMIT) CHECK_EQ_INT(r.fallback, AIC_FALLBACK_LATENCY);
    aic_encode_result_clear(&r);
  }
  for (int k = 0; k < AIC_POLICY_SLOW_LIMIT; k++) CHECK_EQ_INT(used[k], AIC_CODEC_AV1);
  for (int k = AIC_POLICY_SLOW_LIMIT; k < 6; k++) CHECK_EQ_INT(used[k], AIC_CODEC_JPEG);
  aic_session_stats_t st;
  aic_session_get_stats(s, &st);
  CHECK_EQ_INT(st.fallbacks_by_reason[AIC_FALLBACK_LATENCY], 6 - AIC_POLICY_SLOW_LIMIT);
  CHECK(st.latency_max_ms >= 20.0);
  CHECK(st.latency_p50_ms > 0.0);
  aic_session_free(&s);
  aic_engine_free(&e);
}

static void test_unavailable_preference_is_reported(void) {
  static const aic_codec_backend_t *const list[] = {&noisy, &aic_codec_zstd};
  aic_engine_t *e = engine_with(list, 2);
  aic_frame_t f = make_frame();
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.codec_preference = AIC_CODEC_NEURAL;
  aic_encode_result_t r;
  char why[256];
  CHECK_EQ_INT(aic_engine_compress(e, NULL, &f, &p, &r, why, sizeof why), AIC_OK);
  CHECK_EQ_INT(r.fallback, AIC_FALLBACK_MODEL_UNAVAILABLE);
  CHECK_EQ_INT(r.codec, AIC_CODEC_JPEG);
  aic_encode_result_clear(&r);
  p.codec_preference = AIC_CODEC_OPUS; /* a real codec, absent from this engine */
  CHECK_EQ_INT(aic_engine_compress(e, NULL, &f, &p, &r, why, sizeof why), AIC_OK);
  CHECK_EQ_INT(r.fallback, AIC_FALLBACK_CODEC_UNAVAILABLE);
  aic_encode_result_clear(&r);
  aic_engine_free(&e);
}

/* The control learns the quality the floor needs: after the first frames every frame meets
 * the floor without retries, at a quality well below the maximum. */
static void test_control_converges(void) {
  static const aic_codec_backend_t *const list[] = {&noisy, &aic_codec_zstd};
  aic_engine_t *e = engine_with(list, 2);
  aic_session_t *s = NULL;
  CHECK_EQ_INT(aic_session_create(e, &s), AIC_OK);
  aic_frame_t f = make_frame();
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.min_ssim = 0.93;
  double q_first = 0, q_last = 0;
  unsigned late_attempts = 0;
  for (int k = 0; k < 30; k++) {
    aic_encode_result_t r;
    char why[256];
    CHECK_EQ_INT(aic_engine_compress(e, s, &f, &p, &r, why, sizeof why), AIC_OK);
    CHECK_EQ_INT(r.codec, AIC_CODEC_JPEG);
    CHECK(r.ssim >= 0.93);
    if (k == 0) q_first = r.quality_setting;
    if (k >= 10) late_attempts += r.attempts;
    q_last = r.quality_setting;
    aic_encode_result_clear(&r);
  }
  CHECK_EQ_INT(late_attempts, 20); /* one encode per frame once learned */
  CHECK(q_last < 100);
  CHECK(q_last > 0);
  (void)q_first;
  aic_session_stats_t st;
  aic_session_get_stats(s, &st);
  CHECK(st.min_ssim >= 0.93);
  /* Aiming just above the floor, not far above it: distortion within 2x of the floor's. */
  CHECK(1.0 - st.mean_ssim > (1.0 - 0.93) / 3.0);
  aic_session_free(&s);
  aic_engine_free(&e);
}

static void test_fixed_quality_is_used_as_given(void) {
  static const aic_codec_backend_t *const list[] = {&noisy, &aic_codec_zstd};
  aic_engine_t *e = engine_with(list, 2);
  aic_frame_t f = make_frame();
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  double last = -1;
  for (int level = 1; level <= 8; level++) {
    p.quality = level;
    aic_encode_result_t r;
    char why[256];
    CHECK_EQ_INT(aic_engine_compress(e, NULL, &f, &p, &r, why, sizeof why), AIC_OK);
    CHECK_EQ_INT(r.attempts, 1);
    CHECK(r.quality_setting > last);
    CHECK(r.ssim > 0);
    last = r.quality_setting;
    aic_encode_result_clear(&r);
  }
  p.quality = 9;
  aic_encode_result_t r;
  char why[256];
  CHECK_EQ_INT(aic_engine_compress(e, NULL, &f, &p, &r, why, sizeof why), AIC_EINVAL);
  CHECK(strstr(why, "quality") != NULL);
  aic_engine_free(&e);
}

int main(void) {
  RUN(test_error_falls_back);
  RUN(test_missed_floor_retries_then_falls_back);
  RUN(test_slow_codec_is_dropped_for_the_session);
  RUN(test_unavailable_preference_is_reported);
  RUN(test_control_converges);
  RUN(test_fixed_quality_is_used_as_given);
  return aic_test_finish();
}
