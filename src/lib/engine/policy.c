#include "engine/policy.h"

#include <math.h>

#include "aic/adapt.h"

/* ln(1 - SSIM) falls roughly linearly with a codec's quality setting over the useful range;
 * measured on the validation images, the slope sits near -0.04 per quality point for the
 * classical codecs, so that is the prior until a session measures its own. */
#define SLOPE_PRIOR (-0.04)
#define SLOPE_MIN (-0.25)
/* Shallower slopes are what inter-frame lag looks like (a P-frame inherits its reference's
 * quality, so SSIM barely moves when the setting drops), not how the codec behaves: trusting
 * them would turn a small miss into a jump to the top of the range. */
#define SLOPE_MAX (-0.02)
#define MIN_DISTORTION 1e-5

static double clampd(double v, double lo, double hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

static double floor_for_network(const aic_net_analysis_t *a) {
  switch (a->quality) {
    case AIC_NET_EXCELLENT: return 0.97;
    case AIC_NET_GOOD: return 0.95;
    case AIC_NET_FAIR: return 0.93;
    case AIC_NET_POOR: return 0.90;
    case AIC_NET_CRITICAL: return 0.85;
    default: return 0.95;
  }
}

void aic_policy_target(const aic_encode_params_t *p, const aic_frame_t *f,
                       const aic_net_analysis_t *net, aic_target_t *t) {
  t->lossless = p->mode == AIC_MODE_LOSSLESS;
  t->min_ssim = 0;
  t->fixed_quality = -1;
  t->bitrate_kbps = p->bitrate_kbps;
  t->fps = p->fps > 0 ? p->fps : 30.0;
  /* Real-time by default; a tight budget starts at the fastest setting rather than learning
   * it over the first frames. */
  t->speed = p->mode == AIC_MODE_QUALITY ? 6 : 7;
  if (p->latency_budget_ms > 0 && p->latency_budget_ms < 20) t->speed = 9;
  if (t->lossless) return;
  if (p->quality > 0) {
    t->fixed_quality = aic_policy_level_quality(p->quality);
  } else if (f->type == AIC_FRAME_AUDIO) {
    /* Audio has no SSIM: the mode picks the quality (the Opus backend maps it to a bitrate). */
    t->fixed_quality = p->mode == AIC_MODE_QUALITY ? 80 : p->mode == AIC_MODE_AGGRESSIVE ? 35 : 60;
  }
  if (p->min_ssim > 0) {
    t->min_ssim = p->min_ssim;
  } else if (t->fixed_quality < 0 && t->bitrate_kbps == 0) {
    switch (p->mode) {
      case AIC_MODE_QUALITY: t->min_ssim = 0.98; break;
      case AIC_MODE_AGGRESSIVE: t->min_ssim = 0.90; break;
      case AIC_MODE_BALANCED: t->min_ssim = 0.95; break;
      default: t->min_ssim = floor_for_network(net); break;
    }
  }
  if (f->type == AIC_FRAME_AUDIO) t->min_ssim = 0;
}

double aic_policy_level_quality(int level) {
  static const double map[] = {10, 25, 40, 52, 63, 74, 85, 95};
  if (level < 1) level = 1;
  if (level > 8) level = 8;
  return map[level - 1];
}

double aic_policy_start_quality(const aic_rate_state_t *rs, double min_ssim) {
  if (rs && rs->primed) return rs->quality;
  if (min_ssim >= 0.99) return 85;
  if (min_ssim >= 0.97) return 70;
  if (min_ssim >= 0.93) return 55;
  return 40;
}

double aic_policy_predict(const aic_rate_state_t *rs, double quality, double ssim, double min_ssim,
                          double aim) {
  double slope = rs && rs->slope < 0 ? rs->slope : SLOPE_PRIOR;
  double want = log(fmax((1.0 - min_ssim) * aim, MIN_DISTORTION));
  double have = log(fmax(1.0 - ssim, MIN_DISTORTION));
  return clampd(quality + (want - have) / slope, 0, 100);
}

void aic_policy_learn(aic_rate_state_t *rs, double quality, double ssim, double min_ssim) {
  double d = fmax(1.0 - ssim, MIN_DISTORTION);
  double lnd = log(d);
  if (rs->slope >= 0) rs->slope = SLOPE_PRIOR;
  /* Where distortion is heading: with inter-frame codecs it keeps drifting for a few frames
   * after the setting changes, so a rising distortion is extrapolated one frame ahead. */
  double ahead = d;
  if (rs->have_last) {
    double prev = exp(rs->last_ln_distortion);
    if (d > prev) ahead = d + (d - prev);
    if (fabs(quality - rs->last_quality) >= 3) {
      double s = (lnd - rs->last_ln_distortion) / (quality - rs->last_quality);
      /* Content changes between frames too: only plausible slopes are learned, and slowly. */
      if (s >= SLOPE_MIN && s <= SLOPE_MAX) rs->slope = 0.7 * rs->slope + 0.3 * s;
    }
  }
  rs->have_last = true;
  rs->last_quality = quality;
  rs->last_ln_distortion = lnd;
  /* A band rather than a point: below DOWN_BELOW of the floor's distortion there is room to
   * save bits, taken slowly (inter-frame codecs answer a lower setting over several frames as
   * their references degrade, so stepping faster overshoots into a miss and a keyframe retry);
   * above UP_AT step up before the drift crosses the floor; hold in between. */
  double floor_d = fmax(1.0 - min_ssim, MIN_DISTORTION);
  double ratio = ahead / floor_d;
  double next = quality;
  if (ratio > AIC_POLICY_UP_AT) {
    double want = log(floor_d * AIC_POLICY_AIM);
    next = clampd(quality + (want - log(ahead)) / rs->slope, quality + 2, quality + 25);
  } else if (ratio < AIC_POLICY_DOWN_BELOW) {
    double want = log(floor_d * AIC_POLICY_AIM);
    next = clampd(quality + (want - lnd) / rs->slope, quality - 3, quality);
  }
  rs->quality = clampd(next, 0, 100);
  rs->primed = true;
}

void aic_policy_latency(aic_rate_state_t *rs, double encode_ms, int32_t budget_ms) {
  if (budget_ms <= 0 || rs->speed < 0) return;
  if (encode_ms > 0.8 * budget_ms) {
    if (rs->speed < 9) {
      rs->speed++;
    } else if (encode_ms > budget_ms && ++rs->slow_frames >= AIC_POLICY_SLOW_LIMIT) {
      rs->too_slow = true;
    }
  } else {
    rs->slow_frames = 0;
    if (encode_ms < 0.3 * budget_ms && rs->speed > 5) rs->speed--;
  }
}
