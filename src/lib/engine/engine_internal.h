/* State shared by the engine's source files. */
#ifndef AIC_ENGINE_INTERNAL_H
#define AIC_ENGINE_INTERNAL_H

#include "aic/adapt.h"
#include "aic/engine.h"
#include "codec/backend.h"
#include "core/log_internal.h"
#include "nn/model_set.h"

struct aic_engine {
  aic_engine_settings_t settings;
  aic_logger_t logger;
  const aic_codec_backend_t *const *backends; /* preference order */
  size_t backend_count;
  aic_model_set_t *models;                      /* learned models; NULL without models_dir */
  char model_status[512];                       /* why models are missing; "" when all loaded */
  const aic_codec_backend_t *own_backends[AIC_CODEC_COUNT_ + 1]; /* registry + neural */
};

/* Quality-targeted control of one lossy codec within one session: what quality the next frame
 * needs, learned from what earlier frames measured. */
typedef struct aic_rate_state {
  bool primed;    /* quality has been learned from at least one frame */
  double quality; /* the quality 0..100 the next frame starts from */
  double slope;   /* d ln(1 - SSIM) / d quality: how fast distortion falls with quality */
  bool have_last; /* last_* hold the previous frame's measurement */
  double last_quality;
  double last_ln_distortion;
  int speed;          /* encoder speed 0..9 the latency control settled on; -1: not yet */
  int slow_frames;    /* consecutive frames over the latency budget at the fastest speed */
  bool too_slow;      /* cannot meet this session's latency budget: skipped from now on */
  bool need_keyframe; /* a frame was discarded: the next must not reference it */
  uint64_t frames;    /* frames shipped with this codec */
} aic_rate_state_t;

#define AIC_LATENCY_WINDOW 1024

struct aic_session {
  aic_engine_t *engine;
  void *encoder_state[AIC_CODEC_COUNT_];
  void *decoder_state[AIC_CODEC_COUNT_];
  void *mirror_state[AIC_CODEC_COUNT_]; /* the engine's own decoder, to measure quality */
  aic_rate_state_t rate[AIC_CODEC_COUNT_];
  aic_codec_id_t last_codec; /* codec of the last frame shipped; AUTO before the first */
  aic_session_stats_t stats;
  double psnr_sum;
  double ssim_sum;
  double latencies[AIC_LATENCY_WINDOW];
  size_t latency_count;
  aic_network_t net_history[AIC_NET_HISTORY]; /* ring */
  size_t net_count;                           /* samples ever recorded */
};

typedef enum aic_state_role {
  AIC_STATE_ENCODER,
  AIC_STATE_DECODER,
  AIC_STATE_MIRROR,
} aic_state_role_t;

/* The session's state for a backend's encoder or decoder, created on first use. `session` may
 * be NULL (stateless call): then *state is NULL. Returns 0 or an AIC_E* code. */
int aic_session_backend_state(aic_session_t *session, const aic_codec_backend_t *backend,
                              aic_state_role_t role, void **state);

/* Decodes a bitstream with an explicit backend state (NULL: stateless). Same contract as
 * aic_engine_decompress. */
int aic_engine_decode_with(aic_engine_t *e, aic_session_t *session, aic_state_role_t role,
                           const uint8_t *bitstream, size_t size, aic_decoded_frame_t *out,
                           char *why, size_t why_size);

/* Adds one compressed frame to the session's statistics. */
void aic_session_account(aic_session_t *session, const aic_encode_result_t *result);

/* The engine's backend for an id, or NULL. */
const aic_codec_backend_t *aic_engine_backend(const aic_engine_t *engine, aic_codec_id_t id);

/* Replaces the engine's codec list (tests use it to inject failing backends). The list must
 * outlive the engine. Returns 0 or AIC_EINVAL. */
int aic_engine_set_backends(aic_engine_t *engine, const aic_codec_backend_t *const *backends,
                            size_t count);

/* Monotonic clock in milliseconds. */
double aic_now_ms(void);

#endif
