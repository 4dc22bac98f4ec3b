/* The engine's policy: what a request asks of a frame (a quality floor, a fixed quality or a
 * bitrate), and the per-session control that learns which quality meets the floor. */
#ifndef AIC_ENGINE_POLICY_H
#define AIC_ENGINE_POLICY_H

#include <stdbool.h>

#include "engine/engine_internal.h"

typedef struct aic_target {
  bool lossless;         /* only exact codecs */
  double min_ssim;       /* floor the reconstruction must reach; 0: none (audio, fixed quality) */
  double fixed_quality;  /* >= 0: lossy quality 0..100 chosen by the caller; < 0: controlled */
  uint32_t bitrate_kbps; /* > 0: rate control at this bitrate */
  double fps;
  int speed; /* encoder speed to start from, 0..9 */
} aic_target_t;

/* Resolves a request into a target. `net` is the analysis of the sender's network (of the
 * session's history when there is a session); ADAPTIVE mode picks its floor from it. */
void aic_policy_target(const aic_encode_params_t *params, const aic_frame_t *frame,
                       const aic_net_analysis_t *net, aic_target_t *target);

/* The lossy quality 0..100 of a level 1..8. */
double aic_policy_level_quality(int level);

/* Quality for this codec's next frame: learned when the state is primed, else a prior for the
 * floor. */
double aic_policy_start_quality(const aic_rate_state_t *rs, double min_ssim);

/* Quality predicted to land at distortion (1 - SSIM) = (1 - min_ssim) * aim, from a frame coded
 * at `quality` that measured `ssim`. `aim` < 1 leaves a margin below the floor's distortion. */
double aic_policy_predict(const aic_rate_state_t *rs, double quality, double ssim, double min_ssim,
                          double aim);

/* Learns from a frame shipped at `quality` that measured `ssim`: refines the slope and sets the
 * quality of the next frame. */
void aic_policy_learn(aic_rate_state_t *rs, double quality, double ssim, double min_ssim);

/* Adjusts the encoder speed to the latency budget after a frame that took `encode_ms`. */
void aic_policy_latency(aic_rate_state_t *rs, double encode_ms, int32_t budget_ms);

/* Fraction of the floor's distortion the control aims at: a margin so that frame-to-frame
 * variation rarely crosses the floor. */
#define AIC_POLICY_AIM 0.7
/* The control's band, as fractions of the floor's distortion: step the quality up above
 * UP_AT, down below DOWN_BELOW, hold in between. */
#define AIC_POLICY_UP_AT 0.85
#define AIC_POLICY_DOWN_BELOW 0.5
/* Consecutive over-budget frames at the fastest speed before a codec is dropped. */
#define AIC_POLICY_SLOW_LIMIT 3
/* Encodes of one frame with one codec while it misses the floor. */
#define AIC_POLICY_MAX_ATTEMPTS 3

#endif
