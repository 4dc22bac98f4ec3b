/* Network classification and encoder hints. The thresholds and the ladder are explained in
 * docs/adapt.md; keep the two in step. */
#include <math.h>
#include <string.h>

#include "aic/adapt.h"
#include "aic/error.h"
#include "core/log_internal.h"
#include "engine/engine_internal.h"

int aic_network_validate(const aic_network_t *n, char *why, size_t why_size) {
  if (!n) {
    aic_set_why(why, why_size, "no network conditions");
    return AIC_EINVAL;
  }
  const struct {
    const char *name;
    double v;
  } f[] = {{"bandwidth_kbps", n->bandwidth_kbps},
           {"rtt_ms", n->rtt_ms},
           {"loss_fraction", n->loss_fraction},
           {"jitter_ms", n->jitter_ms}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    if (!isfinite(f[i].v) || f[i].v < 0) {
      aic_set_why(why, why_size, "network.%s %g must be finite and not negative", f[i].name,
                  f[i].v);
      return AIC_EINVAL;
    }
  }
  if (n->loss_fraction > 1.0) {
    aic_set_why(why, why_size, "network.loss_fraction %g is above 1", n->loss_fraction);
    return AIC_EINVAL;
  }
  return AIC_OK;
}

/* Upper bounds of EXCELLENT, GOOD, FAIR, POOR for "higher is worse" measures. */
static const double loss_bounds[4] = {0.005, 0.02, 0.05, 0.10};
static const double rtt_bounds[4] = {50, 100, 200, 400};
static const double jitter_bounds[4] = {10, 20, 40, 80};
/* Lower bounds of EXCELLENT, GOOD, FAIR, POOR for bandwidth (kbps). */
static const double bandwidth_bounds[4] = {5000, 2000, 800, 300};

static aic_net_quality_t grade_high_is_worse(double v, const double bounds[4]) {
  for (int i = 0; i < 4; i++)
    if (v <= bounds[i]) return (aic_net_quality_t)(AIC_NET_EXCELLENT + i);
  return AIC_NET_CRITICAL;
}

static aic_net_quality_t grade_bandwidth(double kbps) {
  for (int i = 0; i < 4; i++)
    if (kbps >= bandwidth_bounds[i]) return (aic_net_quality_t)(AIC_NET_EXCELLENT + i);
  return AIC_NET_CRITICAL;
}

/* Fraction of the measured bandwidth to spend, leaving headroom that grows as the path gets
 * worse (queues build up before loss shows). */
static const double bandwidth_share[6] = {0.75, 0.85, 0.8, 0.7, 0.6, 0.5};
static const aic_mode_t mode_for_quality[6] = {AIC_MODE_BALANCED,   AIC_MODE_QUALITY,
                                               AIC_MODE_BALANCED,   AIC_MODE_BALANCED,
                                               AIC_MODE_AGGRESSIVE, AIC_MODE_AGGRESSIVE};
#define AIC_DEFAULT_BITRATE_KBPS 2500.0

int aic_network_analyze(const aic_network_t *n, aic_net_analysis_t *out) {
  if (!out || aic_network_validate(n, NULL, 0) != AIC_OK) return AIC_EINVAL;
  memset(out, 0, sizeof *out);
  if (n->bandwidth_kbps == 0 && n->rtt_ms == 0 && n->loss_fraction == 0 && n->jitter_ms == 0) {
    out->quality = AIC_NET_UNSPECIFIED;
    out->recommended_mode = AIC_MODE_BALANCED;
    out->recommended_bitrate_kbps = (uint32_t)AIC_DEFAULT_BITRATE_KBPS;
    out->reason = "no_measurements";
    return AIC_OK;
  }
  struct {
    aic_net_quality_t q;
    const char *reason;
  } grades[4] = {
      {grade_high_is_worse(n->loss_fraction, loss_bounds), "loss_high"},
      {grade_high_is_worse(n->rtt_ms, rtt_bounds), "rtt_high"},
      {grade_high_is_worse(n->jitter_ms, jitter_bounds), "jitter_high"},
      {n->bandwidth_kbps > 0 ? grade_bandwidth(n->bandwidth_kbps) : AIC_NET_EXCELLENT,
       "bandwidth_low"},
  };
  aic_net_quality_t worst = AIC_NET_EXCELLENT;
  const char *reason = "ok";
  for (int i = 0; i < 4; i++) {
    if (grades[i].q > worst) {
      worst = grades[i].q;
      reason = grades[i].reason;
    }
  }
  double base = n->bandwidth_kbps > 0 ? n->bandwidth_kbps : AIC_DEFAULT_BITRATE_KBPS;
  /* Lost packets are wasted bits: spend only what gets through. */
  double kbps = base * bandwidth_share[worst] * (1.0 - n->loss_fraction);
  if (kbps < 16) kbps = 16;
  out->quality = worst;
  out->recommended_mode = mode_for_quality[worst];
  out->recommended_bitrate_kbps = (uint32_t)lround(kbps);
  out->reason = worst == AIC_NET_EXCELLENT ? "ok" : reason;
  return AIC_OK;
}

/* The resolution ladder: the largest rung whose bitrate floor the target reaches. */
static const struct {
  uint32_t min_kbps, height;
  double fps;
} ladder[] = {
    {4000, 1080, 30}, {2000, 720, 30}, {1000, 540, 30},
    {500, 360, 30},   {250, 270, 15},  {0, 180, 15},
};
static const uint32_t keyframe_interval_s[6] = {10, 10, 10, 5, 2, 1};

static void pick_rung(uint32_t kbps, uint32_t src_w, uint32_t src_h, double src_fps,
                      aic_hints_t *h) {
  size_t i = 0;
  while (i + 1 < sizeof ladder / sizeof ladder[0] && kbps < ladder[i].min_kbps) i++;
  uint32_t height = ladder[i].height;
  double fps = ladder[i].fps;
  if (src_h > 0 && height > src_h) height = src_h; /* never upscale */
  if (src_fps > 0 && fps > src_fps) fps = src_fps;
  uint32_t width;
  if (src_w > 0 && src_h > 0)
    width = (uint32_t)lround((double)src_w * height / src_h);
  else
    width = (uint32_t)lround(height * 16.0 / 9.0);
  /* 4:2:0 encoders want even dimensions. */
  h->width = width > 1 ? width & ~1u : width;
  h->height = height > 1 ? height & ~1u : height;
  h->frame_rate = fps;
}

int aic_hints_compute(const aic_engine_t *engine, aic_frame_type_t type, const aic_network_t *net,
                      uint32_t width, uint32_t height, double frame_rate, aic_hints_t *out) {
  if (!engine || !out || !isfinite(frame_rate) || frame_rate < 0) return AIC_EINVAL;
  if (type != AIC_FRAME_VIDEO && type != AIC_FRAME_SCREEN && type != AIC_FRAME_AUDIO)
    return AIC_EINVAL;
  aic_net_analysis_t a;
  int rc = aic_network_analyze(net, &a);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  out->quality = a.quality;
  out->mode = a.recommended_mode;
  out->reason = a.reason;
  out->use_fec = net->loss_fraction > 0.02 || a.quality >= AIC_NET_POOR;

  unsigned need = type == AIC_FRAME_AUDIO ? AIC_CAP_AUDIO : AIC_CAP_VIDEO;
  out->codec = AIC_CODEC_AUTO;
  for (size_t i = 0; i < engine->backend_count; i++) {
    if (engine->backends[i]->caps & need) {
      out->codec = engine->backends[i]->id;
      break;
    }
  }
  if (type == AIC_FRAME_AUDIO) {
    /* Audio needs little: cap it at what speech and music codecs use. */
    uint32_t kbps = a.recommended_bitrate_kbps;
    out->target_bitrate_kbps = kbps > 128 ? 128 : kbps;
    return AIC_OK;
  }
  out->target_bitrate_kbps = a.recommended_bitrate_kbps;
  pick_rung(out->target_bitrate_kbps, width, height, frame_rate, out);
  out->keyframe_interval = (uint32_t)lround(keyframe_interval_s[a.quality] * out->frame_rate);
  if (out->keyframe_interval == 0) out->keyframe_interval = 1;
  return AIC_OK;
}
