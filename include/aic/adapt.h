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

typedef struct aic_net_analysis {
  aic_net_quality_t quality;
  aic_mode_t recommended_mode;
  uint32_t recommended_bitrate_kbps;
  const char *reason; /* static string, e.g. "loss_high" */
} aic_net_analysis_t;

/* Checks that every field is finite and non-negative and loss is at most 1.
 * Returns 0 or AIC_EINVAL with a reason in `why`. */
int aic_network_validate(const aic_network_t *net, char *why, size_t why_size);

/* Classifies one sample of network conditions (thresholds in docs/adapt.md).
 * Returns 0 and fills *out, or AIC_EINVAL. */
int aic_network_analyze(const aic_network_t *net, aic_net_analysis_t *out);

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

#ifdef __cplusplus
}
#endif
#endif
