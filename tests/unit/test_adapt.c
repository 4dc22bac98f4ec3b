/* Network classification and hints follow the documented thresholds and move the right way. */
#include <math.h>
#include <string.h>

#include "aic/aic.h"
#include "aic_test.h"

static void test_classification(void) {
  aic_net_analysis_t a;
  aic_network_t good = {10000, 20, 0, 2};
  CHECK_EQ_INT(aic_network_analyze(&good, &a), 0);
  CHECK_EQ_INT(a.quality, AIC_NET_EXCELLENT);
  aic_network_t lossy = {10000, 20, 0.03, 2};
  CHECK_EQ_INT(aic_network_analyze(&lossy, &a), 0);
  CHECK_EQ_INT(a.quality, AIC_NET_FAIR);
  CHECK(strcmp(a.reason, "loss_high") == 0);
  aic_network_t slow = {10000, 450, 0, 2};
  CHECK_EQ_INT(aic_network_analyze(&slow, &a), 0);
  CHECK_EQ_INT(a.quality, AIC_NET_CRITICAL);
  CHECK(strcmp(a.reason, "rtt_high") == 0);
  aic_network_t thin = {250, 20, 0, 2};
  CHECK_EQ_INT(aic_network_analyze(&thin, &a), 0);
  CHECK_EQ_INT(a.quality, AIC_NET_CRITICAL);
  CHECK(strcmp(a.reason, "bandwidth_low") == 0);
  CHECK(a.recommended_bitrate_kbps < 250);
  aic_network_t unknown = {0, 0, 0, 0};
  CHECK_EQ_INT(aic_network_analyze(&unknown, &a), 0);
  CHECK_EQ_INT(a.quality, AIC_NET_UNSPECIFIED);
}

static void test_worse_network_means_fewer_bits(void) {
  aic_net_analysis_t prev = {0}, a;
  double losses[] = {0, 0.01, 0.04, 0.08, 0.2};
  for (int i = 0; i < 5; i++) {
    aic_network_t n = {4000, 30, losses[i], 5};
    CHECK_EQ_INT(aic_network_analyze(&n, &a), 0);
    if (i > 0) {
      CHECK(a.quality >= prev.quality);
      CHECK(a.recommended_bitrate_kbps <= prev.recommended_bitrate_kbps);
    }
    prev = a;
  }
}

static void test_invalid_refused(void) {
  aic_net_analysis_t a;
  aic_network_t bad[] = {{-1, 0, 0, 0}, {0, -1, 0, 0}, {0, 0, 1.5, 0}, {0, 0, 0, NAN}};
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(aic_network_analyze(&bad[i], &a), AIC_EINVAL);
}

static void test_hints(void) {
  aic_engine_t *e;
  CHECK_EQ_INT(aic_engine_create(NULL, &e), 0);
  aic_hints_t good, bad;
  aic_network_t gn = {10000, 20, 0, 2}, bn = {300, 400, 0.1, 80};
  CHECK_EQ_INT(aic_hints_compute(e, AIC_FRAME_VIDEO, &gn, 1280, 720, 30, &good), 0);
  CHECK_EQ_INT(aic_hints_compute(e, AIC_FRAME_VIDEO, &bn, 1280, 720, 30, &bad), 0);
  CHECK_EQ_INT(good.width, 1280); /* never upscaled past the source */
  CHECK_EQ_INT(good.height, 720);
  CHECK(bad.height < good.height);
  CHECK(bad.target_bitrate_kbps < good.target_bitrate_kbps);
  CHECK(bad.use_fec && !good.use_fec);
  CHECK(bad.keyframe_interval < good.keyframe_interval);
  CHECK(bad.width % 2 == 0 && bad.height % 2 == 0);
  CHECK_EQ_INT(aic_hints_compute(e, (aic_frame_type_t)9, &gn, 0, 0, 0, &good), AIC_EINVAL);
  aic_engine_free(&e);
}

static aic_session_t *new_session(aic_engine_t **e) {
  aic_session_t *s = NULL;
  CHECK_EQ_INT(aic_engine_create(NULL, e), AIC_OK);
  CHECK_EQ_INT(aic_session_create(*e, &s), AIC_OK);
  return s;
}

static void test_history_smooths_a_single_spike(void) {
  aic_engine_t *e;
  aic_session_t *s = new_session(&e);
  aic_network_t good = {.bandwidth_kbps = 8000, .rtt_ms = 30, .loss_fraction = 0, .jitter_ms = 2};
  aic_net_analysis_t a;
  for (int k = 0; k < 10; k++) CHECK_EQ_INT(aic_session_analyze_network(s, &good, &a), AIC_OK);
  CHECK_EQ_INT(a.quality, AIC_NET_EXCELLENT);
  CHECK_EQ_INT(a.trend, AIC_TREND_STABLE);
  CHECK_EQ_INT(a.samples, 10);
  /* One RTT spike: a single-sample classifier calls it POOR, the history does not. */
  aic_network_t spike = good;
  spike.rtt_ms = 350;
  aic_net_analysis_t one;
  CHECK_EQ_INT(aic_network_analyze(&spike, &one), AIC_OK);
  CHECK_EQ_INT(one.quality, AIC_NET_POOR);
  CHECK_EQ_INT(aic_session_analyze_network(s, &spike, &a), AIC_OK);
  CHECK(a.quality < AIC_NET_POOR);
  aic_session_free(&s);
  aic_engine_free(&e);
}

static void test_history_sees_a_worsening_trend(void) {
  aic_engine_t *e;
  aic_session_t *s = new_session(&e);
  aic_net_analysis_t a;
  /* Loss creeping up 0 -> 3.5 %: every sample alone is still GOOD or FAIR at worst. */
  for (int k = 0; k < 8; k++) {
    aic_network_t n = {.bandwidth_kbps = 6000, .rtt_ms = 40, .loss_fraction = 0.005 * k};
    CHECK_EQ_INT(aic_session_analyze_network(s, &n, &a), AIC_OK);
  }
  CHECK_EQ_INT(a.trend, AIC_TREND_WORSENING);
  CHECK(strcmp(a.reason, "loss_rising") == 0);
  aic_network_t last = {.bandwidth_kbps = 6000, .rtt_ms = 40, .loss_fraction = 0.035};
  aic_net_analysis_t one;
  CHECK_EQ_INT(aic_network_analyze(&last, &one), AIC_OK);
  CHECK(a.recommended_bitrate_kbps < one.recommended_bitrate_kbps);
  /* Bandwidth collapsing is acted on at once. */
  for (int k = 0; k < 4; k++) {
    aic_network_t n = {.bandwidth_kbps = 600, .rtt_ms = 40};
    CHECK_EQ_INT(aic_session_analyze_network(s, &n, &a), AIC_OK);
  }
  CHECK(a.recommended_bitrate_kbps <= 600);
  CHECK(a.quality >= AIC_NET_POOR);
  aic_hints_t h;
  aic_network_t n = {.bandwidth_kbps = 600, .rtt_ms = 40};
  CHECK_EQ_INT(aic_session_hints(s, AIC_FRAME_VIDEO, &n, 1280, 720, 30, &h), AIC_OK);
  CHECK(h.height <= 360);
  aic_session_free(&s);
  aic_engine_free(&e);
}

static void test_history_improving_and_invalid(void) {
  aic_engine_t *e;
  aic_session_t *s = new_session(&e);
  aic_net_analysis_t a;
  for (int k = 0; k < 8; k++) {
    aic_network_t n = {.bandwidth_kbps = 1000.0 + 1000.0 * k, .rtt_ms = 60};
    CHECK_EQ_INT(aic_session_analyze_network(s, &n, &a), AIC_OK);
  }
  CHECK_EQ_INT(a.trend, AIC_TREND_IMPROVING);
  aic_network_t bad = {.loss_fraction = 2};
  CHECK_EQ_INT(aic_session_analyze_network(s, &bad, &a), AIC_EINVAL);
  CHECK_EQ_INT(aic_session_analyze_network(NULL, NULL, &a), AIC_EINVAL);
  aic_network_t none = {0, 0, 0, 0};
  aic_session_t *fresh = NULL;
  CHECK_EQ_INT(aic_session_create(e, &fresh), AIC_OK);
  CHECK_EQ_INT(aic_session_analyze_network(fresh, &none, &a), AIC_OK);
  CHECK_EQ_INT(a.samples, 0);
  CHECK_EQ_INT(a.trend, AIC_TREND_UNKNOWN);
  aic_session_free(&fresh);
  aic_session_free(&s);
  aic_engine_free(&e);
}

int main(void) {
  RUN(test_history_smooths_a_single_spike);
  RUN(test_history_sees_a_worsening_trend);
  RUN(test_history_improving_and_invalid);
  RUN(test_classification);
  RUN(test_worse_network_means_fewer_bits);
  RUN(test_invalid_refused);
  RUN(test_hints);
  return aic_test_finish();
}
