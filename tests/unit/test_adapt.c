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

int main(void) {
  RUN(test_classification);
  RUN(test_worse_network_means_fewer_bits);
  RUN(test_invalid_refused);
  RUN(test_hints);
  return aic_test_finish();
}
