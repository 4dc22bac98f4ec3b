#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "engine/engine_internal.h"

int aic_session_create(aic_engine_t *engine, aic_session_t **out) {
  if (!engine || !out) return AIC_EINVAL;
  aic_session_t *s = calloc(1, sizeof *s);
  if (!s) return AIC_ENOMEM;
  s->engine = engine;
  s->stats.min_psnr_db = DBL_MAX;
  s->stats.min_ssim = DBL_MAX;
  s->last_codec = AIC_CODEC_AUTO;
  for (int id = 0; id < AIC_CODEC_COUNT_; id++) s->rate[id].speed = -1;
  *out = s;
  return AIC_OK;
}

void aic_session_free(aic_session_t **session) {
  if (!session || !*session) return;
  aic_session_t *s = *session;
  for (int id = 0; id < AIC_CODEC_COUNT_; id++) {
    const aic_codec_backend_t *b = aic_engine_backend(s->engine, (aic_codec_id_t)id);
    if (!b || !b->state_free) continue;
    if (s->encoder_state[id]) b->state_free(s->encoder_state[id]);
    if (s->decoder_state[id]) b->state_free(s->decoder_state[id]);
    if (s->mirror_state[id]) b->state_free(s->mirror_state[id]);
  }
  free(s);
  *session = NULL;
}

int aic_session_backend_state(aic_session_t *session, const aic_codec_backend_t *backend,
                              aic_state_role_t role, void **state) {
  *state = NULL;
  if (!session || !backend->state_create) return AIC_OK;
  void **slot = role == AIC_STATE_ENCODER   ? &session->encoder_state[backend->id]
                : role == AIC_STATE_DECODER ? &session->decoder_state[backend->id]
                                            : &session->mirror_state[backend->id];
  if (!*slot) {
    int rc = backend->state_create(role == AIC_STATE_ENCODER, slot);
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
  if (r->fallback != AIC_FALLBACK_NONE) {
    st->fallbacks++;
    if ((size_t)r->fallback < sizeof st->fallbacks_by_reason / sizeof st->fallbacks_by_reason[0])
      st->fallbacks_by_reason[r->fallback]++;
  }
  if (r->attempts > 1) st->retries += r->attempts - 1;
  st->last_codec = r->codec;
  s->last_codec = r->codec;
  s->latencies[s->latency_count++ % AIC_LATENCY_WINDOW] = r->encode_ms;
  s->psnr_sum += r->psnr_db;
  s->ssim_sum += r->ssim;
  if (r->psnr_db < st->min_psnr_db) st->min_psnr_db = r->psnr_db;
  if (r->ssim < st->min_ssim) st->min_ssim = r->ssim;
  st->mean_psnr_db = s->psnr_sum / (double)st->frames;
  st->mean_ssim = s->ssim_sum / (double)st->frames;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void aic_session_get_stats(const aic_session_t *session, aic_session_stats_t *stats) {
  if (!session || !stats) return;
  *stats = session->stats;
  if (stats->frames == 0) stats->min_psnr_db = stats->min_ssim = 0.0;
  size_t n =
      session->latency_count < AIC_LATENCY_WINDOW ? session->latency_count : AIC_LATENCY_WINDOW;
  if (n == 0) return;
  double sorted[AIC_LATENCY_WINDOW];
  memcpy(sorted, session->latencies, n * sizeof sorted[0]);
  qsort(sorted, n, sizeof sorted[0], cmp_double);
  /* Nearest-rank percentiles: always a latency that really happened. */
  stats->latency_p50_ms = sorted[(n * 50 + 99) / 100 - 1];
  stats->latency_p95_ms = sorted[(n * 95 + 99) / 100 - 1];
  stats->latency_max_ms = sorted[n - 1];
}
