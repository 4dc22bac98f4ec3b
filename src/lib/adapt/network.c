/* Network classification and encoder hints. The thresholds and the ladder are explained in
 * docs/adapt.md; keep the two in step. */
#include <math.h>
#include <stdbool.h>
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

static bool is_empty(const aic_network_t *n) {
  return n->bandwidth_kbps == 0 && n->rtt_ms == 0 && n->loss_fraction == 0 && n->jitter_ms == 0;
}

int aic_network_analyze(const aic_network_t *n, aic_net_analysis_t *out) {
  if (!out || aic_network_validate(n, NULL, 0) != AIC_OK) return AIC_EINVAL;
  memset(out, 0, sizeof *out);
  out->samples = is_empty(n) ? 0 : 1;
  if (is_empty(n)) {
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

static int hints_from(const aic_engine_t *engine, aic_frame_type_t type, const aic_network_t *net,
                      const aic_net_analysis_t *ap, uint32_t width, uint32_t height,
                      double frame_rate, aic_hints_t *out) {
  aic_net_analysis_t a = *ap;
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

static int hints_args_ok(aic_frame_type_t type, double frame_rate) {
  if (!isfinite(frame_rate) || frame_rate < 0) return 0;
  return type == AIC_FRAME_VIDEO || type == AIC_FRAME_SCREEN || type == AIC_FRAME_AUDIO;
}

int aic_hints_compute(const aic_engine_t *engine, aic_frame_type_t type, const aic_network_t *net,
                      uint32_t width, uint32_t height, double frame_rate, aic_hints_t *out) {
  if (!engine || !out || !hints_args_ok(type, frame_rate)) return AIC_EINVAL;
  aic_net_analysis_t a;
  int rc = aic_network_analyze(net, &a);
  if (rc) return rc;
  return hints_from(engine, type, net, &a, width, height, frame_rate, out);
}

int aic_session_hints(aic_session_t *session, aic_frame_type_t type, const aic_network_t *net,
                      uint32_t width, uint32_t height, double frame_rate, aic_hints_t *out) {
  if (!session || !out || !net || !hints_args_ok(type, frame_rate)) return AIC_EINVAL;
  aic_net_analysis_t a;
  int rc = aic_session_analyze_network(session, net, &a);
  if (rc) return rc;
  return hints_from(session->engine, type, net, &a, width, height, frame_rate, out);
}

int aic_session_observe_network(aic_session_t *s, const aic_network_t *net) {
  if (!s || aic_network_validate(net, NULL, 0) != AIC_OK) return AIC_EINVAL;
  if (is_empty(net)) return AIC_OK;
  s->net_history[s->net_count++ % AIC_NET_HISTORY] = *net;
  return AIC_OK;
}

/* The i-th most recent sample (0 = newest). */
static const aic_network_t *recent(const aic_session_t *s, size_t i) {
  return &s->net_history[(s->net_count - 1 - i) % AIC_NET_HISTORY];
}

typedef struct window_median {
  double bandwidth, rtt, loss, jitter;
} window_median_t;

static double median(double *v, size_t n) {
  for (size_t i = 1; i < n; i++) /* n <= AIC_NET_HISTORY / 2: insertion sort is plenty */
    for (size_t k = i; k > 0 && v[k - 1] > v[k]; k--) {
      double t = v[k];
      v[k] = v[k - 1];
      v[k - 1] = t;
    }
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Medians rather than means: one outlier must not read as a trend. */
static window_median_t median_of(const aic_session_t *s, size_t from, size_t count) {
  double bw[AIC_NET_HISTORY], rtt[AIC_NET_HISTORY], loss[AIC_NET_HISTORY], jit[AIC_NET_HISTORY];
  for (size_t i = 0; i < count; i++) {
    const aic_network_t *n = recent(s, from + i);
    bw[i] = n->bandwidth_kbps;
    rtt[i] = n->rtt_ms;
    loss[i] = n->loss_fraction;
    jit[i] = n->jitter_ms;
  }
  window_median_t m = {median(bw, count), median(rtt, count), median(loss, count),
                       median(jit, count)};
  return m;
}

int aic_session_analyze_network(aic_session_t *s, const aic_network_t *latest,
                                aic_net_analysis_t *out) {
  if (!s || !out) return AIC_EINVAL;
  if (latest && aic_session_observe_network(s, latest) != AIC_OK) return AIC_EINVAL;
  size_t n = s->net_count < AIC_NET_HISTORY ? s->net_count : AIC_NET_HISTORY;
  if (n == 0) {
    aic_network_t none = {0, 0, 0, 0};
    return aic_network_analyze(&none, out);
  }
  /* Smooth from the oldest sample to the newest; bandwidth drops count at once (sending above
   * a shrunken path builds queues immediately), rises only through the average. */
  aic_network_t sm = *recent(s, n - 1);
  const double alpha = 0.3;
  for (size_t i = n - 1; i-- > 0;) {
    const aic_network_t *x = recent(s, i);
    sm.rtt_ms += alpha * (x->rtt_ms - sm.rtt_ms);
    sm.jitter_ms += alpha * (x->jitter_ms - sm.jitter_ms);
    sm.loss_fraction += alpha * (x->loss_fraction - sm.loss_fraction);
    double bw = sm.bandwidth_kbps + alpha * (x->bandwidth_kbps - sm.bandwidth_kbps);
    sm.bandwidth_kbps = x->bandwidth_kbps < bw ? x->bandwidth_kbps : bw;
  }
  int rc = aic_network_analyze(&sm, out);
  if (rc) return rc;
  out->samples = (uint32_t)n;
  if (n < 4) {
    out->trend = AIC_TREND_UNKNOWN;
    return AIC_OK;
  }
  size_t half = n / 2;
  window_median_t newer = median_of(s, 0, half), older = median_of(s, half, half);
  const char *worse = NULL;
  if (newer.loss > older.loss + 0.01 && newer.loss > 1.5 * older.loss)
    worse = "loss_rising";
  else if (newer.rtt > older.rtt + 20 && newer.rtt > 1.3 * older.rtt)
    worse = "rtt_rising";
  else if (older.bandwidth > 0 && newer.bandwidth < 0.75 * older.bandwidth)
    worse = "bandwidth_falling";
  else if (newer.jitter > older.jitter + 10 && newer.jitter > 1.5 * older.jitter)
    worse = "jitter_rising";
  bool better = newer.loss + 0.005 < older.loss || newer.rtt + 20 < older.rtt * 0.77 ||
                (older.bandwidth > 0 && newer.bandwidth > 1.33 * older.bandwidth);
  if (worse) {
    out->trend = AIC_TREND_WORSENING;
    /* Act on the trend before the averages catch up: one grade worse, less bitrate. */
    aic_net_quality_t q = out->quality == AIC_NET_UNSPECIFIED ? AIC_NET_GOOD : out->quality;
    if (q < AIC_NET_CRITICAL) q = (aic_net_quality_t)(q + 1);
    out->quality = q;
    out->recommended_mode = mode_for_quality[q];
    out->recommended_bitrate_kbps = (uint32_t)lround(out->recommended_bitrate_kbps * 0.8);
    if (out->recommended_bitrate_kbps < 16) out->recommended_bitrate_kbps = 16;
    out->reason = worse;
  } else {
    out->trend = better ? AIC_TREND_IMPROVING : AIC_TREND_STABLE;
  }
  return AIC_OK;
}
