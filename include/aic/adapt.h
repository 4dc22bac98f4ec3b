/* Network analysis and encoder hints. */
#ifndef AIC_ADAPT_H
#define AIC_ADAPT_H

#include <stdint.h>

#include "aic/codec.h"
#include "aic/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values match auralink.aic.v1.NetworkQuality. */
typedef enum aic_net_quality {
  AIC_NET_UNSPECIFIED = 0,
  AIC_NET_EXCELLENT = 1,
  AIC_NET_GOOD = 2,
  AIC_NET_FAIR = 3,
  AIC_NET_POOR = 4,
  AIC_NET_CRITICAL = 5,
} aic_net_quality_t;

/* Values match auralink.aic.v1.NetworkTrend. */
typedef enum aic_net_trend {
  AIC_TREND_UNKNOWN = 0, /* fewer than 4 samples */
  AIC_TREND_STABLE = 1,
  AIC_TREND_IMPROVING = 2,
  AIC_TREND_WORSENING = 3,
} aic_net_trend_t;

typedef struct aic_net_analysis {
  aic_net_quality_t quality;
  aic_mode_t recommended_mode;
  uint32_t recommended_bitrate_kbps;
  const char *reason; /* static string, e.g. "loss_high", "loss_rising" */
  aic_net_trend_t trend;
  uint32_t samples; /* measurements the analysis rests on */
} aic_net_analysis_t;

/* Checks that every field is finite and non-negative and loss is at most 1.
 * Returns 0 or AIC_EINVAL with a reason in `why`. */
int aic_network_validate(const aic_network_t *net, char *why, size_t why_size);

/* Classifies one sample of network conditions (thresholds in docs/adapt.md).
 * Returns 0 and fills *out, or AIC_EINVAL. */
int aic_network_analyze(const aic_network_t *net, aic_net_analysis_t *out);

/* Records one measurement in the session's network history (the last AIC_NET_HISTORY kept).
 * All-zero samples (nothing measured) are ignored. Returns 0 or AIC_EINVAL. */
#define AIC_NET_HISTORY 16
int aic_session_observe_network(aic_session_t *session, const aic_network_t *net);

/* Classifies the session's recent history rather than one sample: levels are smoothed
 * (EWMA), a falling bandwidth counts at once, and a worsening trend (loss or RTT rising,
 * bandwidth falling between the older and the newer half of the window) grades the path one
 * step worse before the averages show it. `latest` (may be NULL) is recorded first. Returns 0
 * and fills *out, or AIC_EINVAL. */
int aic_session_analyze_network(aic_session_t *session, const aic_network_t *latest,
                                aic_net_analysis_t *out);

typedef struct aic_hints {
  aic_codec_id_t codec;
  aic_mode_t mode;
  uint32_t target_bitrate_kbps;
  uint32_t width;
  uint32_t height;
  double frame_rate;
  uint32_t keyframe_interval;
  int use_fec;
  aic_net_quality_t quality;
  const char *reason;
} aic_hints_t;

/* Encoder settings for a video/screen/audio source of the given size and rate under the given
 * conditions. width/height/frame_rate 0 mean unknown. Returns 0 and fills *out, or AIC_EINVAL. */
int aic_hints_compute(const aic_engine_t *engine, aic_frame_type_t type, const aic_network_t *net,
                      uint32_t width, uint32_t height, double frame_rate, aic_hints_t *out);

/* Hints for a session: as aic_hints_compute, from the session's history (`net` is recorded
 * first). Returns 0 and fills *out, or AIC_EINVAL. */
int aic_session_hints(aic_session_t *session, aic_frame_type_t type, const aic_network_t *net,
                      uint32_t width, uint32_t height, double frame_rate, aic_hints_t *out);

#ifdef __cplusplus
}
#endif
#endif
