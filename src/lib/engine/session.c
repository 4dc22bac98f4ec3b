#include <float.h>
#include <stdlib.h>

#include "aic/error.h"
#include "engine/engine_internal.h"

int aic_session_create(aic_engine_t *engine, aic_session_t **out) {
  if (!engine || !out) return AIC_EINVAL;
  aic_session_t *s = calloc(1, sizeof *s);
  if (!s) return AIC_ENOMEM;
  s->engine = engine;
  s->stats.min_psnr_db = DBL_MAX;
  s->stats.min_ssim = DBL_MAX;
  *out = s;
  return AIC_OK;
}

void aic_session_free(aic_session_t **session) {
  if (!session || !*session) return;
  aic_session_t *s = *session;
  for (int id = 0; id < AIC_CODEC_COUNT_; id++) {
    const aic_codec_backend_t *b = aic_codec_backend_find((aic_codec_id_t)id);
    if (!b || !b->state_free) continue;
    if (s->encoder_state[id]) b->state_free(s->encoder_state[id]);
    if (s->decoder_state[id]) b->state_free(s->decoder_state[id]);
  }
  free(s);
  *session = NULL;
}

int aic_session_backend_state(aic_session_t *session, const aic_codec_backend_t *backend,
                              bool encoder, void **state) {
  *state = NULL;
  if (!session || !backend->state_create) return AIC_OK;
  void **slot =
      encoder ? &session->encoder_state[backend->id] : &session->decoder_state[backend->id];
  if (!*slot) {
    int rc = backend->state_create(encoder, slot);
    if (rc) return rc;
  }
  *state = *slot;
  return AIC_OK;
}

void aic_session_account(aic_session_t *s, const aic_encode_result_t *r) {
  if (!s) return;
  aic_session_stats_t *st = &s->stats;
  st->frames++;
  st->bytes_in += r->original_size;
  st->bytes_out += r->bitstream_size;
  if (r->fallback != AIC_FALLBACK_NONE) st->fallbacks++;
  s->psnr_sum += r->psnr_db;
  s->ssim_sum += r->ssim;
  if (r->psnr_db < st->min_psnr_db) st->min_psnr_db = r->psnr_db;
  if (r->ssim < st->min_ssim) st->min_ssim = r->ssim;
  st->mean_psnr_db = s->psnr_sum / (double)st->frames;
  st->mean_ssim = s->ssim_sum / (double)st->frames;
}

void aic_session_get_stats(const aic_session_t *session, aic_session_stats_t *stats) {
  if (!session || !stats) return;
  *stats = session->stats;
  if (stats->frames == 0) stats->min_psnr_db = stats->min_ssim = 0.0;
}
