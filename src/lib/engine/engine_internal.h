/* State shared by the engine's source files. */
#ifndef AIC_ENGINE_INTERNAL_H
#define AIC_ENGINE_INTERNAL_H

#include "aic/engine.h"
#include "codec/backend.h"
#include "core/log_internal.h"

struct aic_engine {
  aic_engine_settings_t settings;
  aic_logger_t logger;
  const aic_codec_backend_t *const *backends; /* preference order */
  size_t backend_count;
};

struct aic_session {
  aic_engine_t *engine;
  void *encoder_state[AIC_CODEC_COUNT_];
  void *decoder_state[AIC_CODEC_COUNT_];
  aic_session_stats_t stats;
  double psnr_sum;
  double ssim_sum;
};

/* The session's state for a backend's encoder or decoder, created on first use. `session` may
 * be NULL (stateless call): then *state is NULL. Returns 0 or an AIC_E* code. */
int aic_session_backend_state(aic_session_t *session, const aic_codec_backend_t *backend,
                              bool encoder, void **state);

/* Adds one compressed frame to the session's statistics. */
void aic_session_account(aic_session_t *session, const aic_encode_result_t *result);

/* Monotonic clock in milliseconds. */
double aic_now_ms(void);

#endif
