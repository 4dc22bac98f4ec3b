#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aic/error.h"
#include "aic/metrics.h"
#include "codec/bitstream.h"
#include "engine/engine_internal.h"

#define LOG_COMPONENT "engine"

double aic_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void aic_engine_settings_default(aic_engine_settings_t *settings) {
  if (!settings) return;
  memset(settings, 0, sizeof *settings);
  aic_frame_limits_default(&settings->limits);
  settings->lossless_level = 4;
  settings->log_level = AIC_LOG_INFO;
}

int aic_engine_create(const aic_engine_settings_t *settings, aic_engine_t **out) {
  if (!out) return AIC_EINVAL;
  *out = NULL;
  aic_engine_settings_t s;
  if (settings)
    s = *settings;
  else
    aic_engine_settings_default(&s);
  if (s.limits.max_width == 0 || s.limits.max_height == 0 || s.lossless_level < 1 ||
      s.lossless_level > 8)
    return AIC_EINVAL;
  aic_engine_t *e = calloc(1, sizeof *e);
  if (!e) return AIC_ENOMEM;
  e->settings = s;
  e->logger = (aic_logger_t){s.log, s.log_user, s.log_level};
  e->backends = aic_codec_backends(&e->backend_count);
  aic_logf(&e->logger, AIC_LOG_DEBUG, LOG_COMPONENT, "engine ready with %zu codecs",
           e->backend_count);
  *out = e;
  return AIC_OK;
}

void aic_engine_free(aic_engine_t **engine) {
  if (!engine || !*engine) return;
  free(*engine);
  *engine = NULL;
}

size_t aic_engine_codecs(const aic_engine_t *engine, aic_codec_id_t *ids, size_t max) {
  if (!engine) return 0;
  for (size_t i = 0; i < engine->backend_count && i < max; i++) ids[i] = engine->backends[i]->id;
  return engine->backend_count;
}

void aic_encode_result_clear(aic_encode_result_t *result) {
  if (!result) return;
  free(result->bitstream);
  memset(result, 0, sizeof *result);
}

void aic_decoded_frame_clear(aic_decoded_frame_t *decoded) {
  if (!decoded) return;
  free(decoded->buffer);
  memset(decoded, 0, sizeof *decoded);
}

static bool backend_takes(const aic_codec_backend_t *b, const aic_frame_t *f, aic_mode_t mode) {
  unsigned need = f->type == AIC_FRAME_AUDIO ? AIC_CAP_AUDIO : AIC_CAP_VIDEO;
  if (!(b->caps & need)) return false;
  if (mode == AIC_MODE_LOSSLESS && !(b->caps & AIC_CAP_LOSSLESS)) return false;
  return true;
}

/* The codecs to try, in order: the caller's preference if usable, then the engine's default
 * order. When the preference cannot be used, *why_not says why (the reported fallback). */
static size_t build_chain(const aic_engine_t *e, const aic_frame_t *f, const aic_encode_params_t *p,
                          const aic_codec_backend_t **chain, aic_fallback_t *why_not, char *detail,
                          size_t detail_size) {
  size_t n = 0;
  *why_not = AIC_FALLBACK_NONE;
  if (p->codec_preference != AIC_CODEC_AUTO) {
    const aic_codec_backend_t *pref = aic_codec_backend_find(p->codec_preference);
    if (!pref) {
      *why_not = p->codec_preference == AIC_CODEC_NEURAL ? AIC_FALLBACK_MODEL_UNAVAILABLE
                                                         : AIC_FALLBACK_CODEC_UNAVAILABLE;
      aic_set_why(detail, detail_size, "codec %s is not available in this build",
                  aic_codec_name(p->codec_preference));
    } else if (!backend_takes(pref, f, p->mode)) {
      *why_not =
          p->mode == AIC_MODE_LOSSLESS ? AIC_FALLBACK_QUALITY : AIC_FALLBACK_CODEC_UNAVAILABLE;
      aic_set_why(detail, detail_size, "codec %s cannot encode this %s frame in this mode",
                  pref->name, aic_frame_type_name(f->type));
    } else {
      chain[n++] = pref;
    }
  }
  for (size_t i = 0; i < e->backend_count; i++) {
    const aic_codec_backend_t *b = e->backends[i];
    if (n > 0 && b == chain[0]) continue;
    if (backend_takes(b, f, p->mode)) chain[n++] = b;
  }
  return n;
}

static int effort_level(const aic_engine_t *e, const aic_encode_params_t *p) {
  /* A tight budget asks for the fastest setting; AGGRESSIVE spends effort on fewer bytes. */
  if (p->latency_budget_ms > 0 && p->latency_budget_ms < 10) return 1;
  if (p->mode == AIC_MODE_AGGRESSIVE) return 8;
  return e->settings.lossless_level;
}

/* Encodes with one backend into a complete bitstream (header + payload). */
static int encode_with(aic_engine_t *e, aic_session_t *session, const aic_codec_backend_t *b,
                       const aic_frame_t *f, const aic_codec_params_t *cp, aic_buf_t *out,
                       double *encode_ms) {
  void *state;
  int rc = aic_session_backend_state(session, b, true, &state);
  if (rc) return rc;
  out->size = 0;
  rc = aic_buf_reserve(out, AIC_BITSTREAM_HEADER_SIZE);
  if (rc) return rc;
  out->size = AIC_BITSTREAM_HEADER_SIZE;
  double t0 = aic_now_ms();
  bool keyframe = false;
  rc = b->encode(state, f, cp, out, &keyframe);
  *encode_ms = aic_now_ms() - t0;
  if (rc) return rc;
  size_t payload = out->size - AIC_BITSTREAM_HEADER_SIZE;
  if (payload > UINT32_MAX) return AIC_ELIMIT;
  aic_bitstream_header_t h = {
      .codec = b->id,
      .flags = keyframe ? AIC_BS_FLAG_KEYFRAME : 0,
      .desc = *f,
      .payload_size = (uint32_t)payload,
  };
  (void)e;
  return aic_bitstream_header_write(&h, out->data + AIC_BITSTREAM_HEADER_SIZE, out->data);
}

int aic_engine_compress(aic_engine_t *e, aic_session_t *session, const aic_frame_t *frame,
                        const aic_encode_params_t *params, aic_encode_result_t *result, char *why,
                        size_t why_size) {
  if (why && why_size) why[0] = '\0';
  if (!e || !frame || !params || !result) {
    aic_set_why(why, why_size, "missing argument");
    return AIC_EINVAL;
  }
  memset(result, 0, sizeof *result);
  int rc = aic_frame_validate(frame, &e->settings.limits, why, why_size);
  if (rc) return rc;
  rc = aic_encode_params_validate(params, why, why_size);
  if (rc) return rc;
  if (session && session->engine != e) {
    aic_set_why(why, why_size, "session belongs to another engine");
    return AIC_EINVAL;
  }

  const aic_codec_backend_t *chain[AIC_CODEC_COUNT_ + 1];
  aic_fallback_t fallback;
  char detail[sizeof result->fallback_detail] = "";
  size_t n = build_chain(e, frame, params, chain, &fallback, detail, sizeof detail);
  if (n == 0) {
    aic_set_why(why, why_size, "no codec in this build can encode a %s frame",
                aic_frame_type_name(frame->type));
    return AIC_EUNSUPPORTED;
  }

  aic_codec_params_t cp;
  aic_codec_params_default(&cp);
  cp.level = effort_level(e, params);
  cp.keyframe = params->force_keyframe || !session || session->stats.frames == 0;
  aic_buf_t out = {0};
  rc = AIC_ECODEC;
  for (size_t i = 0; i < n; i++) {
    double encode_ms = 0;
    rc = encode_with(e, session, chain[i], frame, &cp, &out, &encode_ms);
    if (rc == AIC_ENOMEM) break;
    if (rc) {
      aic_logf(&e->logger, AIC_LOG_WARN, LOG_COMPONENT, "%s failed to encode: %s", chain[i]->name,
               aic_strerror(rc));
      if (fallback == AIC_FALLBACK_NONE) {
        fallback = AIC_FALLBACK_ERROR;
        aic_set_why(detail, sizeof detail, "%s failed: %s", chain[i]->name, aic_strerror(rc));
      }
      continue;
    }
    /* Measure the quality of what a receiver will really see: decode our own bitstream. */
    aic_decoded_frame_t rec;
    rc = aic_engine_decompress(e, NULL, out.data, out.size, &rec, why, why_size);
    if (rc == AIC_OK) {
      rc = aic_frame_quality(frame, &rec.frame, &result->psnr_db, &result->ssim);
      if (rc == AIC_OK && (chain[i]->caps & AIC_CAP_LOSSLESS) &&
          memcmp(frame->data, rec.frame.data, frame->size) != 0)
        rc = AIC_ECODEC; /* a lossless codec that is not exact is broken: never ship it */
      aic_decoded_frame_clear(&rec);
    }
    if (rc) {
      if (rc == AIC_ENOMEM) break;
      if (fallback == AIC_FALLBACK_NONE) {
        fallback = AIC_FALLBACK_ERROR;
        aic_set_why(detail, sizeof detail, "%s reconstruction failed: %s", chain[i]->name,
                    aic_strerror(rc));
      }
      continue;
    }
    if (params->min_ssim > 0 && result->ssim < params->min_ssim && i + 1 < n) {
      if (fallback == AIC_FALLBACK_NONE) {
        fallback = AIC_FALLBACK_QUALITY;
        aic_set_why(detail, sizeof detail, "%s reached SSIM %.4f below the floor %.4f",
                    chain[i]->name, result->ssim, params->min_ssim);
      }
      continue;
    }
    result->codec = chain[i]->id;
    result->encode_ms = encode_ms;
    result->keyframe = cp.keyframe || !(chain[i]->caps & AIC_CAP_INTER);
    break;
  }
  if (rc) {
    aic_buf_free(&out);
    memset(result, 0, sizeof *result);
    if (rc != AIC_ENOMEM) aic_set_why(why, why_size, "every codec failed: %s", detail);
    return rc;
  }
  result->original_size = frame->size;
  result->bitstream = aic_buf_release(&out, &result->bitstream_size);
  result->ratio = (double)result->bitstream_size / (double)frame->size;
  result->fallback = fallback;
  memcpy(result->fallback_detail, detail, sizeof detail);
  aic_session_account(session, result);
  return AIC_OK;
}

int aic_engine_decompress(aic_engine_t *e, aic_session_t *session, const uint8_t *bitstream,
                          size_t size, aic_decoded_frame_t *out, char *why, size_t why_size) {
  if (why && why_size) why[0] = '\0';
  if (!e || !out) {
    aic_set_why(why, why_size, "missing argument");
    return AIC_EINVAL;
  }
  memset(out, 0, sizeof *out);
  aic_bitstream_header_t h;
  const uint8_t *payload;
  int rc = aic_bitstream_parse(bitstream, size, &e->settings.limits, &h, &payload, why, why_size);
  if (rc) return rc;
  const aic_codec_backend_t *b = aic_codec_backend_find(h.codec);
  if (!b) {
    aic_set_why(why, why_size, "bitstream codec %s is not available in this build",
                aic_codec_name(h.codec));
    return AIC_EUNSUPPORTED;
  }
  void *state;
  rc = aic_session_backend_state(session, b, false, &state);
  if (rc) return rc;
  uint8_t *buffer = malloc(h.desc.size ? h.desc.size : 1);
  if (!buffer) return AIC_ENOMEM;
  rc = b->decode(state, &h.desc, payload, h.payload_size, buffer, h.desc.size);
  if (rc) {
    free(buffer);
    aic_set_why(why, why_size, "%s payload does not decode: %s", b->name, aic_strerror(rc));
    return rc == AIC_ENOMEM ? rc : AIC_ECORRUPT;
  }
  out->frame = h.desc;
  out->frame.data = buffer;
  out->buffer = buffer;
  out->codec = h.codec;
  out->keyframe = (h.flags & AIC_BS_FLAG_KEYFRAME) != 0;
  out->model_version = h.model_version;
  return AIC_OK;
}

int aic_bitstream_probe(const aic_engine_t *e, const uint8_t *bitstream, size_t size,
                        aic_bitstream_info_t *info, char *why, size_t why_size) {
  if (!e || !info) return AIC_EINVAL;
  memset(info, 0, sizeof *info);
  aic_bitstream_header_t h;
  const uint8_t *payload;
  int rc = aic_bitstream_parse(bitstream, size, &e->settings.limits, &h, &payload, why, why_size);
  if (rc) return rc;
  info->frame = h.desc;
  info->codec = h.codec;
  info->model_version = h.model_version;
  info->keyframe = (h.flags & AIC_BS_FLAG_KEYFRAME) != 0;
  info->payload_size = h.payload_size;
  return AIC_OK;
}
