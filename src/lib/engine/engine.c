#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aic/convert.h"
#include "aic/error.h"
#include "aic/metrics.h"
#include "codec/bitstream.h"
#include "codec/neural_codec.h"
#include "engine/engine_internal.h"
#include "engine/policy.h"

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
  settings->nn_threads = 1;
}

/* Loads the learned models and, when any loaded, puts the neural codec into the engine's own
 * codec list: after the classical lossy codecs and before the lossless ones. Inter-frame video
 * codecs beat any intra codec on a stream; against JPEG on stills the place follows the
 * benchmark (docs/benchmarks.md, "Learned codec"): until nic-rt wins there at equal quality and
 * in budget, AUTO uses it only when the classical codecs fail or miss the floor, and callers
 * ask for it by name. */
static int load_models(aic_engine_t *e, const char *dir) {
  e->settings.models_dir = NULL; /* borrowed for the create call: never kept */
  if (!dir || !dir[0]) return AIC_OK;
  aic_nic_settings_t ns;
  aic_nic_settings_default(&ns);
  ns.threads = e->settings.nn_threads;
  int rc = aic_model_set_load(dir, &ns, &e->models, e->model_status, sizeof e->model_status);
  if (rc) return rc;
  if (e->model_status[0])
    aic_logf(&e->logger, AIC_LOG_WARN, LOG_COMPONENT, "learned models: %s", e->model_status);
  if (aic_model_set_count(e->models) == 0) return AIC_OK;
  size_t n = 0;
  for (size_t i = 0; i < e->backend_count; i++) {
    if (n == i && (e->backends[i]->caps & AIC_CAP_LOSSLESS))
      e->own_backends[n++] = &aic_codec_neural;
    e->own_backends[n++] = e->backends[i];
  }
  if (n == e->backend_count) e->own_backends[n++] = &aic_codec_neural;
  e->backends = e->own_backends;
  e->backend_count = n;
  for (size_t i = 0; i < aic_model_set_count(e->models); i++) {
    aic_model_entry_info_t info;
    aic_model_set_info(e->models, i, &info);
    aic_logf(&e->logger, AIC_LOG_INFO, LOG_COMPONENT,
             "learned model %s loaded (version %u, %u levels, %s)", info.id, info.version,
             info.levels, info.impl);
  }
  return AIC_OK;
}

size_t aic_engine_models(const aic_engine_t *engine, aic_model_info_t *models, size_t max) {
  size_t n = engine ? aic_model_set_count(engine->models) : 0;
  for (size_t i = 0; i < n && i < max && models; i++) {
    aic_model_entry_info_t info;
    aic_model_set_info(engine->models, i, &info);
    aic_model_info_t *m = &models[i];
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", info.id);
    snprintf(m->family, sizeof m->family, "%s", info.family);
    snprintf(m->impl, sizeof m->impl, "%s", info.impl);
    m->version = info.version;
    m->levels = info.levels;
  }
  return n;
}

const char *aic_engine_model_status(const aic_engine_t *engine) {
  return engine ? engine->model_status : "";
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
      s.lossless_level > 8 || s.nn_threads < 1 || s.nn_threads > 64)
    return AIC_EINVAL;
  aic_engine_t *e = calloc(1, sizeof *e);
  if (!e) return AIC_ENOMEM;
  e->settings = s;
  e->logger = (aic_logger_t){s.log, s.log_user, s.log_level};
  e->backends = aic_codec_backends(&e->backend_count);
  int rc = load_models(e, s.models_dir);
  if (rc) {
    aic_engine_free(&e);
    return rc;
  }
  aic_logf(&e->logger, AIC_LOG_DEBUG, LOG_COMPONENT, "engine ready with %zu codecs",
           e->backend_count);
  *out = e;
  return AIC_OK;
}

void aic_engine_free(aic_engine_t **engine) {
  if (!engine || !*engine) return;
  aic_model_set_free(&(*engine)->models);
  free(*engine);
  *engine = NULL;
}

const aic_codec_backend_t *aic_engine_backend(const aic_engine_t *e, aic_codec_id_t id) {
  for (size_t i = 0; i < e->backend_count; i++)
    if (e->backends[i]->id == id) return e->backends[i];
  return NULL;
}

int aic_engine_set_backends(aic_engine_t *e, const aic_codec_backend_t *const *backends,
                            size_t count) {
  if (!e || !backends || count == 0) return AIC_EINVAL;
  e->backends = backends;
  e->backend_count = count;
  return AIC_OK;
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

static bool backend_takes(const aic_codec_backend_t *b, const aic_frame_t *f, bool lossless) {
  unsigned need = f->type == AIC_FRAME_AUDIO ? AIC_CAP_AUDIO : AIC_CAP_VIDEO;
  if (!(b->caps & need)) return false;
  if (lossless && !(b->caps & AIC_CAP_LOSSLESS)) return false;
  return true;
}

/* The codecs to try, in order: the caller's preference if usable, then the engine's default
 * order. When the preference cannot be used, *why_not says why (the reported fallback). */
static size_t build_chain(const aic_engine_t *e, const aic_frame_t *f, const aic_encode_params_t *p,
                          bool lossless, bool has_session, const aic_codec_backend_t **chain,
                          aic_fallback_t *why_not, char *detail, size_t detail_size) {
  size_t n = 0;
  *why_not = AIC_FALLBACK_NONE;
  if (p->codec_preference != AIC_CODEC_AUTO) {
    const aic_codec_backend_t *pref = aic_engine_backend(e, p->codec_preference);
    if (!pref) {
      *why_not = p->codec_preference == AIC_CODEC_NEURAL ? AIC_FALLBACK_MODEL_UNAVAILABLE
                                                         : AIC_FALLBACK_CODEC_UNAVAILABLE;
      aic_set_why(detail, detail_size, "codec %s is not available in this build",
                  aic_codec_name(p->codec_preference));
    } else if (!backend_takes(pref, f, lossless)) {
      *why_not = lossless ? AIC_FALLBACK_QUALITY : AIC_FALLBACK_CODEC_UNAVAILABLE;
      aic_set_why(detail, detail_size, "codec %s cannot encode this %s frame in this mode",
                  pref->name, aic_frame_type_name(f->type));
    } else {
      chain[n++] = pref;
    }
  }
  for (size_t i = 0; i < e->backend_count; i++) {
    const aic_codec_backend_t *b = e->backends[i];
    if (n > 0 && b == chain[0]) continue;
    /* A frame without a session gains nothing from an inter-frame codec but pays for opening
     * its encoder every time (0.1-0.2 s for AV1): stills go to the intra codecs. */
    if (!has_session && (b->caps & AIC_CAP_INTER)) continue;
    if (backend_takes(b, f, lossless)) chain[n++] = b;
  }
  return n;
}

static int effort_level(const aic_engine_t *e, const aic_encode_params_t *p) {
  /* A tight budget asks for the fastest setting; AGGRESSIVE spends effort on fewer bytes. */
  if (p->latency_budget_ms > 0 && p->latency_budget_ms < 10) return 1;
  if (p->mode == AIC_MODE_AGGRESSIVE) return 8;
  return e->settings.lossless_level;
}

/* A backend's state for this call: the engine's model set for the learned codec (it keeps no
 * per-session state), the session's state for the others. */
static int backend_state(aic_engine_t *e, aic_session_t *session, const aic_codec_backend_t *b,
                         aic_state_role_t role, void **state) {
  if (b->caps & AIC_CAP_LEARNED) {
    *state = e->models;
    return AIC_OK;
  }
  return aic_session_backend_state(session, b, role, state);
}

/* Fills a result's model fields with loaded model m. */
static void describe_model(const aic_engine_t *e, int m, char model_id[32],
                           uint32_t *model_version) {
  aic_model_entry_info_t info;
  aic_model_set_info(e->models, (size_t)m, &info);
  snprintf(model_id, 32, "%s", info.id);
  *model_version = info.version;
}

/* Fills a result's model fields from a learned codec's bitstream. */
static void model_of(const aic_engine_t *e, const uint8_t *bitstream, size_t size,
                     char model_id[32], uint32_t *model_version) {
  uint16_t id;
  uint32_t version;
  unsigned level;
  if (size < AIC_BITSTREAM_HEADER_SIZE ||
      aic_neural_preamble_parse(bitstream + AIC_BITSTREAM_HEADER_SIZE,
                                size - AIC_BITSTREAM_HEADER_SIZE, &id, &version, &level))
    return;
  int m = aic_model_set_find(e->models, id, version);
  if (m >= 0) describe_model(e, m, model_id, model_version);
}

/* Encodes with one backend into a complete bitstream (header + payload). Pictures for
 * AIC_CAP_YUV420 backends go through `i420` (converted once per frame by the caller); the
 * header always describes the caller's frame, so decoding restores its format. */
static int encode_with(aic_engine_t *e, aic_session_t *session, const aic_codec_backend_t *b,
                       const aic_frame_t *f, const aic_frame_t *coded, const aic_codec_params_t *cp,
                       aic_buf_t *out, double *encode_ms, bool *keyframe) {
  void *state;
  int rc = backend_state(e, session, b, AIC_STATE_ENCODER, &state);
  if (rc) return rc;
  out->size = 0;
  rc = aic_buf_reserve(out, AIC_BITSTREAM_HEADER_SIZE);
  if (rc) return rc;
  out->size = AIC_BITSTREAM_HEADER_SIZE;
  double t0 = aic_now_ms();
  *keyframe = false;
  rc = b->encode(state, coded, cp, out, keyframe);
  *encode_ms = aic_now_ms() - t0;
  if (rc) return rc;
  size_t payload = out->size - AIC_BITSTREAM_HEADER_SIZE;
  if (payload > UINT32_MAX) return AIC_ELIMIT;
  aic_bitstream_header_t h = {
      .codec = b->id,
      .flags = *keyframe ? AIC_BS_FLAG_KEYFRAME : 0,
      .desc = *f,
      .payload_size = (uint32_t)payload,
  };
  if (b->caps & AIC_CAP_LEARNED) {
    uint32_t version;
    unsigned level;
    rc = aic_neural_preamble_parse(out->data + AIC_BITSTREAM_HEADER_SIZE, payload, &h.model_id,
                                   &version, &level);
    if (rc) return AIC_ECODEC;
    h.model_version = (uint16_t)version;
  }
  return aic_bitstream_header_write(&h, out->data + AIC_BITSTREAM_HEADER_SIZE, out->data);
}

/* One encode of a frame and the measurement of what it decodes to. */
typedef struct attempt {
  aic_buf_t bits;
  double quality;
  double psnr_db;
  double ssim;
  double encode_ms;
  bool keyframe;
} attempt_t;

static int encode_and_measure(aic_engine_t *e, aic_session_t *session, const aic_codec_backend_t *b,
                              const aic_frame_t *frame, const aic_frame_t *coded,
                              const aic_codec_params_t *cp, attempt_t *a, char *detail,
                              size_t detail_size) {
  a->quality = (b->caps & AIC_CAP_LOSSLESS) ? 0 : cp->quality;
  int rc = encode_with(e, session, b, frame, coded, cp, &a->bits, &a->encode_ms, &a->keyframe);
  if (rc) {
    aic_set_why(detail, detail_size, "%s failed to encode: %s", b->name, aic_strerror(rc));
    return rc;
  }
  /* Measure what a receiver will really see: decode our own bitstream, with a decoder that
   * follows the same frames the receiver's does. */
  aic_decoded_frame_t rec;
  char why[160];
  rc = aic_engine_decode_with(e, session, AIC_STATE_MIRROR, a->bits.data, a->bits.size, &rec, why,
                              sizeof why);
  if (rc) {
    aic_set_why(detail, detail_size, "%s reconstruction failed: %s", b->name, why);
    return rc == AIC_ENOMEM ? rc : AIC_ECODEC;
  }
  rc = aic_frame_quality(frame, &rec.frame, &a->psnr_db, &a->ssim);
  if (rc)
    aic_set_why(detail, detail_size, "%s: quality cannot be measured: %s", b->name,
                aic_strerror(rc));
  if (rc == AIC_OK && (b->caps & AIC_CAP_LOSSLESS) &&
      memcmp(frame->data, rec.frame.data, frame->size) != 0) {
    /* A lossless codec that is not exact is broken: never ship it. */
    aic_set_why(detail, detail_size, "%s reconstruction is not exact", b->name);
    rc = AIC_ECODEC;
  }
  aic_decoded_frame_clear(&rec);
  return rc;
}

/* The lowest quality above cp->quality at which b codes `coded` differently (> 100: none).
 * Backends with continuous settings differ at any higher quality; stepped ones say where. */
static double next_distinct_quality(aic_engine_t *e, aic_session_t *session,
                                    const aic_codec_backend_t *b, const aic_frame_t *coded,
                                    const aic_codec_params_t *cp) {
  if (cp->quality >= 100) return 101.0;
  void *state;
  if (!b->next_quality || backend_state(e, session, b, AIC_STATE_ENCODER, &state) != AIC_OK)
    return cp->quality;
  return b->next_quality(state, coded, cp);
}

static void note_fallback(aic_fallback_t *fallback, char *detail, size_t detail_size,
                          aic_fallback_t reason, const char *why) {
  if (*fallback != AIC_FALLBACK_NONE) return;
  *fallback = reason;
  aic_set_why(detail, detail_size, "%s", why);
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

  aic_net_analysis_t net;
  rc = session ? aic_session_analyze_network(session, &params->network, &net)
               : aic_network_analyze(&params->network, &net);
  if (rc) return rc;
  aic_target_t target;
  aic_policy_target(params, frame, &net, &target);
  const aic_codec_backend_t *chain[AIC_CODEC_COUNT_ + 1];
  aic_fallback_t fallback;
  char detail[sizeof result->fallback_detail] = "";
  size_t n = build_chain(e, frame, params, target.lossless, session != NULL, chain, &fallback,
                         detail, sizeof detail);
  if (n == 0) {
    aic_set_why(why, why_size, "no codec in this build can encode a %s frame",
                aic_frame_type_name(frame->type));
    return AIC_EUNSUPPORTED;
  }

  /* Lossy picture codecs code I420: convert once, whatever the number of attempts. */
  aic_frame_t i420 = *frame;
  uint8_t *i420_data = NULL;
  if (frame->type != AIC_FRAME_AUDIO && frame->pix_fmt != AIC_PIX_I420) {
    size_t size;
    rc = aic_pixel_format_size(AIC_PIX_I420, frame->width, frame->height, &size);
    if (rc) return rc;
    if (!(i420_data = malloc(size))) return AIC_ENOMEM;
    aic_picture_to_i420(frame, i420_data);
    i420.pix_fmt = AIC_PIX_I420;
    i420.data = i420_data;
    i420.size = size;
  }

  double started = aic_now_ms();
  attempt_t best = {0}, cur = {0};
  bool have_best = false, accepted = false;
  const aic_codec_backend_t *best_codec = NULL;
  unsigned attempts = 0;
  rc = AIC_ECODEC;
  for (size_t i = 0; i < n && !accepted; i++) {
    const aic_codec_backend_t *b = chain[i];
    bool lossy = !(b->caps & AIC_CAP_LOSSLESS);
    bool inter = (b->caps & AIC_CAP_INTER) != 0;
    aic_rate_state_t scratch = {.speed = -1};
    aic_rate_state_t *rs = session ? &session->rate[b->id] : &scratch;
    if (rs->too_slow && i + 1 < n) {
      char msg[96];
      snprintf(msg, sizeof msg, "%s cannot meet the %d ms latency budget", b->name,
               (int)params->latency_budget_ms);
      note_fallback(&fallback, detail, sizeof detail, AIC_FALLBACK_LATENCY, msg);
      continue;
    }
    if (rs->speed < 0) rs->speed = target.speed;
    aic_codec_params_t cp;
    aic_codec_params_default(&cp);
    cp.level = effort_level(e, params);
    cp.bitrate_kbps = target.bitrate_kbps;
    cp.fps = target.fps;
    cp.speed = rs->speed;
    cp.still = !session;
    cp.latency_budget_ms = params->latency_budget_ms;
    cp.keyframe = params->force_keyframe || !session || rs->frames == 0 || rs->need_keyframe ||
                  session->last_codec != b->id;
    bool controlled = lossy && target.fixed_quality < 0 && target.bitrate_kbps == 0;
    cp.quality = target.fixed_quality >= 0 ? target.fixed_quality
                 : controlled              ? aic_policy_start_quality(rs, target.min_ssim)
                                           : 75;
    const aic_frame_t *coded = (b->caps & AIC_CAP_YUV420) ? &i420 : frame;
    for (int retry = 0;; retry++) {
      attempts++;
      char msg[sizeof detail] = "";
      rc = encode_and_measure(e, session, b, frame, coded, &cp, &cur, msg, sizeof msg);
      if (rc == AIC_ENOMEM) goto done;
      if (rc) {
        aic_logf(&e->logger, AIC_LOG_WARN, LOG_COMPONENT, "%s", msg);
        note_fallback(&fallback, detail, sizeof detail, AIC_FALLBACK_ERROR, msg);
        if (inter) rs->need_keyframe = true;
        break;
      }
      aic_policy_latency(rs, cur.encode_ms, params->latency_budget_ms);
      bool meets = target.min_ssim <= 0 || cur.ssim >= target.min_ssim;
      if (controlled && (meets || retry == 0))
        aic_policy_learn(rs, cp.quality, cur.ssim, target.min_ssim);
      if (meets) {
        accepted = true;
        break;
      }
      /* Missed the floor: keep the best miss in case nothing meets it, then retry higher if
       * time allows. An inter codec's retry must be a keyframe: the encoder has already taken
       * the discarded frame as its reference, the receiver never will. */
      double miss_ssim = cur.ssim;
      if (!have_best || cur.ssim > best.ssim) {
        aic_buf_free(&best.bits);
        best = cur;
        best_codec = b;
        have_best = true;
        cur = (attempt_t){0};
      }
      if (inter) rs->need_keyframe = true;
      double elapsed = aic_now_ms() - started;
      bool time_left = params->latency_budget_ms <= 0 ||
                       elapsed + best.encode_ms * 1.2 <= (double)params->latency_budget_ms;
      double distinct = next_distinct_quality(e, session, b, coded, &cp);
      if (!controlled || retry + 1 >= AIC_POLICY_MAX_ATTEMPTS || distinct > 100 || !time_left) {
        snprintf(msg, sizeof msg, "%s reached SSIM %.4f below the floor %.4f", b->name, miss_ssim,
                 target.min_ssim);
        note_fallback(&fallback, detail, sizeof detail, AIC_FALLBACK_QUALITY, msg);
        break;
      }
      double next = aic_policy_predict(rs, cp.quality, miss_ssim, target.min_ssim, 0.6);
      double missed_at = cp.quality;
      cp.quality = next > cp.quality + 4 ? next : cp.quality + 4;
      if (cp.quality < distinct) cp.quality = distinct;
      if (cp.quality > 100) cp.quality = 100;
      aic_logf(&e->logger, AIC_LOG_DEBUG, LOG_COMPONENT,
               "%s: SSIM %.5f below the floor %.5f at quality %.3f, retrying at %.3f", b->name,
               miss_ssim, target.min_ssim, missed_at, cp.quality);
      if (inter) cp.keyframe = true;
    }
    if (accepted) {
      aic_buf_free(&best.bits);
      best = cur;
      cur = (attempt_t){0};
      best_codec = b;
      have_best = true;
      if (inter) rs->need_keyframe = false;
      rs->frames++;
    }
  }
  if (!accepted && have_best && session) {
    /* Nothing met the floor: the closest miss ships, reported as a quality fallback. */
    session->rate[best_codec->id].frames++;
    /* Later attempts may have moved the encoder's references past the shipped one. */
    session->rate[best_codec->id].need_keyframe = (best_codec->caps & AIC_CAP_INTER) != 0;
  }
  if (!accepted && !have_best) {
    if (rc == AIC_OK) rc = AIC_ECODEC;
    aic_set_why(why, why_size, "every codec failed: %s", detail);
    goto done;
  }
  rc = AIC_OK;
  result->codec = best_codec->id;
  result->psnr_db = best.psnr_db;
  result->ssim = best.ssim;
  result->encode_ms = best.encode_ms;
  result->keyframe = best.keyframe;
  result->quality_setting = best.quality;
  result->attempts = attempts;
  result->original_size = frame->size;
  result->bitstream = aic_buf_release(&best.bits, &result->bitstream_size);
  result->ratio = (double)result->bitstream_size / (double)frame->size;
  if (best_codec->caps & AIC_CAP_LEARNED)
    model_of(e, result->bitstream, result->bitstream_size, result->model_id,
             &result->model_version);
  result->fallback = fallback;
  memcpy(result->fallback_detail, detail, sizeof detail);
  aic_session_account(session, result);
done:
  aic_buf_free(&best.bits);
  aic_buf_free(&cur.bits);
  free(i420_data);
  if (rc && rc != AIC_ENOMEM && why && why_size && !why[0])
    aic_set_why(why, why_size, "%s", aic_strerror(rc));
  return rc;
}

/* 0 and the loaded model's index in *model when the payload's model is loaded and agrees with
 * the header's id and version; AIC_ECORRUPT when they disagree, AIC_EUNSUPPORTED when the
 * model is not loaded. */
static int check_payload_model(const aic_engine_t *e, const aic_bitstream_header_t *h,
                               const uint8_t *payload, int *model, char *why, size_t why_size) {
  uint16_t id;
  uint32_t version;
  unsigned level;
  if (aic_neural_preamble_parse(payload, h->payload_size, &id, &version, &level) ||
      id != h->model_id || (uint16_t)version != h->model_version) {
    aic_set_why(why, why_size, "neural payload does not match its header's model");
    return AIC_ECORRUPT;
  }
  *model = aic_model_set_find(e->models, id, version);
  if (*model < 0) {
    aic_set_why(why, why_size, "bitstream needs learned model %u version %u, which is not loaded",
                (unsigned)id, (unsigned)version);
    return AIC_EUNSUPPORTED;
  }
  return AIC_OK;
}

int aic_engine_decode_with(aic_engine_t *e, aic_session_t *session, aic_state_role_t role,
                           const uint8_t *bitstream, size_t size, aic_decoded_frame_t *out,
                           char *why, size_t why_size) {
  memset(out, 0, sizeof *out);
  aic_bitstream_header_t h;
  const uint8_t *payload;
  int rc = aic_bitstream_parse(bitstream, size, &e->settings.limits, &h, &payload, why, why_size);
  if (rc) return rc;
  const aic_codec_backend_t *b = aic_engine_backend(e, h.codec);
  if (!b) {
    aic_set_why(why, why_size, "bitstream codec %s is not available in this build",
                aic_codec_name(h.codec));
    return AIC_EUNSUPPORTED;
  }
  if ((b->caps & AIC_CAP_YUV420) && h.desc.type == AIC_FRAME_AUDIO) {
    aic_set_why(why, why_size, "%s bitstream claims to hold audio", b->name);
    return AIC_ECORRUPT;
  }
  int model = -1;
  if (b->caps & AIC_CAP_LEARNED) {
    rc = check_payload_model(e, &h, payload, &model, why, why_size);
    if (rc) return rc;
  }
  void *state;
  rc = backend_state(e, session, b, role, &state);
  if (rc) return rc;
  uint8_t *buffer = malloc(h.desc.size ? h.desc.size : 1);
  if (!buffer) return AIC_ENOMEM;
  aic_frame_t coded = h.desc;
  uint8_t *plane = buffer;
  if ((b->caps & AIC_CAP_YUV420) && h.desc.pix_fmt != AIC_PIX_I420) {
    coded.pix_fmt = AIC_PIX_I420;
    rc = aic_pixel_format_size(AIC_PIX_I420, h.desc.width, h.desc.height, &coded.size);
    if (rc == AIC_OK && !(plane = malloc(coded.size))) rc = AIC_ENOMEM;
    if (rc) {
      free(buffer);
      return rc;
    }
  }
  rc = b->decode(state, &coded, payload, h.payload_size, plane, coded.size);
  if (rc == AIC_OK && plane != buffer)
    rc = aic_picture_from_i420(plane, h.desc.width, h.desc.height, h.desc.pix_fmt, buffer);
  if (plane != buffer) free(plane);
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
  if (model >= 0) describe_model(e, model, out->model_id, &out->model_version);
  return AIC_OK;
}

int aic_engine_decompress(aic_engine_t *e, aic_session_t *session, const uint8_t *bitstream,
                          size_t size, aic_decoded_frame_t *out, char *why, size_t why_size) {
  if (why && why_size) why[0] = '\0';
  if (!e || !out) {
    aic_set_why(why, why_size, "missing argument");
    return AIC_EINVAL;
  }
  if (session && session->engine != e) {
    memset(out, 0, sizeof *out);
    aic_set_why(why, why_size, "session belongs to another engine");
    return AIC_EINVAL;
  }
  return aic_engine_decode_with(e, session, AIC_STATE_DECODER, bitstream, size, out, why, why_size);
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
