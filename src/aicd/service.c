#include "service.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auralink/aic/v1/aic_compression.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"

#define SERVICE_NAME "auralink.aic.v1.AICCompressionService"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double aicd_service_uptime_seconds(const aicd_service_t *svc) {
  return (now_ms() - svc->started_ms) / 1e3;
}

void aicd_reply_clear(aicd_reply_t *reply) {
  free(reply->body);
  memset(reply, 0, sizeof *reply);
}

static void fail(aicd_reply_t *r, grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(aicd_reply_t *r, grpc_status_code code, const char *fmt, ...) {
  free(r->body);
  r->body = NULL;
  r->body_size = 0;
  r->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof r->message, fmt, ap);
  va_end(ap);
}

/* Maps a libaic error on caller-supplied data to the status the contract promises. */
static grpc_status_code status_for(int aic_err) {
  switch (aic_err) {
    case AIC_EINVAL:
    case AIC_ELIMIT:
    case AIC_ECORRUPT: return GRPC_STATUS_INVALID_ARGUMENT;
    case AIC_EUNSUPPORTED: return GRPC_STATUS_UNIMPLEMENTED;
    case AIC_ENOMEM: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case AIC_EQUALITY: return GRPC_STATUS_FAILED_PRECONDITION;
    default: return GRPC_STATUS_INTERNAL;
  }
}

/* Packs any protobuf-c message into the reply body. */
static void pack(aicd_reply_t *r, const ProtobufCMessage *msg) {
  size_t n = protobuf_c_message_get_packed_size(msg);
  r->body = malloc(n ? n : 1);
  if (!r->body) {
    fail(r, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory building the response");
    return;
  }
  r->body_size = protobuf_c_message_pack(msg, r->body);
  r->code = GRPC_STATUS_OK;
}

static void not_a_message(aicd_reply_t *r, const ProtobufCMessageDescriptor *d) {
  fail(r, GRPC_STATUS_INVALID_ARGUMENT, "request is not a valid %s message", d->name);
}

static void network_from_pb(const Auralink__Aic__V1__NetworkConditions *pb, aic_network_t *n) {
  memset(n, 0, sizeof *n);
  if (!pb) return;
  n->bandwidth_kbps = pb->bandwidth_kbps;
  n->rtt_ms = pb->rtt_ms;
  n->loss_fraction = pb->loss_fraction;
  n->jitter_ms = pb->jitter_ms;
}

static void frame_from_pb(const Auralink__Aic__V1__CompressFrameRequest *q, aic_frame_t *f) {
  memset(f, 0, sizeof *f);
  f->type = (aic_frame_type_t)q->frame_type;
  f->pix_fmt = (aic_pixel_format_t)q->pixel_format;
  f->width = q->width;
  f->height = q->height;
  if (q->audio) {
    f->audio_fmt = (aic_audio_format_t)q->audio->format;
    f->sample_rate = q->audio->sample_rate;
    f->channels = q->audio->channels;
  }
  f->data = q->data.data;
  f->size = q->data.len;
}

static void params_from_pb(const Auralink__Aic__V1__CompressFrameRequest *q,
                           aic_encode_params_t *p) {
  aic_encode_params_default(p);
  p->mode = (aic_mode_t)q->mode;
  p->target_ratio = q->target_ratio;
  p->min_ssim = q->min_ssim;
  p->latency_budget_ms = q->latency_budget_ms;
  p->codec_preference = (aic_codec_id_t)q->codec_preference;
  network_from_pb(q->network, &p->network);
  p->force_keyframe = q->force_keyframe;
  p->quality = q->quality > 8 ? 9 : (int)q->quality; /* 9: rejected by validation */
  p->bitrate_kbps = q->bitrate_kbps;
  p->fps = q->frame_rate;
}

/* Compresses one request with `session` (may be NULL) and packs the response. */
static void compress_one(aicd_service_t *svc, aic_session_t *session,
                         const Auralink__Aic__V1__CompressFrameRequest *q, aicd_reply_t *r) {
  aic_frame_t frame;
  aic_encode_params_t params;
  frame_from_pb(q, &frame);
  params_from_pb(q, &params);
  aic_encode_result_t res;
  char why[256];
  int rc = aic_engine_compress(svc->engine, session, &frame, &params, &res, why, sizeof why);
  if (rc) {
    fail(r, status_for(rc), "%s", why[0] ? why : aic_strerror(rc));
    return;
  }
  Auralink__Aic__V1__CompressFrameResponse out = AURALINK__AIC__V1__COMPRESS_FRAME_RESPONSE__INIT;
  out.session_id = q->session_id;
  out.frame_id = q->frame_id;
  out.timestamp_us = q->timestamp_us;
  out.bitstream.data = res.bitstream;
  out.bitstream.len = res.bitstream_size;
  out.codec = (Auralink__Aic__V1__Codec)res.codec;
  out.model_id = res.model_id;
  out.model_version = res.model_version;
  out.original_size = res.original_size;
  out.compressed_size = res.bitstream_size;
  out.compression_ratio = res.ratio;
  out.psnr_db = res.psnr_db;
  out.ssim = res.ssim;
  out.encode_latency_ms = res.encode_ms;
  out.fallback_reason = (Auralink__Aic__V1__FallbackReason)res.fallback;
  out.fallback_detail = res.fallback_detail;
  out.keyframe = res.keyframe;
  out.quality_setting = res.quality_setting;
  out.attempts = res.attempts;
  pack(r, &out.base);
  r->bytes_in = res.original_size;
  r->bytes_out = res.bitstream_size;
  aicd_stats_record_frame(svc->stats, (int)res.codec, (int)res.fallback, res.original_size,
                          res.bitstream_size);
  aic_encode_result_clear(&res);
}

static int session_id_ok(const char *id, aicd_reply_t *r) {
  if (id && strlen(id) > AICD_SESSION_ID_MAX) {
    fail(r, GRPC_STATUS_INVALID_ARGUMENT, "session_id is %zu bytes, longer than %d", strlen(id),
         AICD_SESSION_ID_MAX);
    return 0;
  }
  return 1;
}

static void compress_frame(aicd_service_t *svc, const uint8_t *data, size_t size, aicd_reply_t *r) {
  Auralink__Aic__V1__CompressFrameRequest *q =
      auralink__aic__v1__compress_frame_request__unpack(NULL, size, data);
  if (!q) {
    not_a_message(r, &auralink__aic__v1__compress_frame_request__descriptor);
    return;
  }
  if (!session_id_ok(q->session_id, r)) goto done;
  if (q->session_id && q->session_id[0]) {
    aicd_session_ref_t *ref;
    int rc = aicd_sessions_acquire(svc->sessions, q->session_id, 1, &ref);
    if (rc == AIC_ELIMIT) {
      fail(r, GRPC_STATUS_RESOURCE_EXHAUSTED, "session table is full; retry later");
      goto done;
    }
    if (rc) {
      fail(r, status_for(rc), "cannot open session: %s", aic_strerror(rc));
      goto done;
    }
    compress_one(svc, aicd_session_ref_get(ref), q, r);
    aicd_sessions_release(svc->sessions, &ref);
  } else {
    compress_one(svc, NULL, q, r);
  }
done:
  auralink__aic__v1__compress_frame_request__free_unpacked(q, NULL);
}

static void decompress_frame(aicd_service_t *svc, const uint8_t *data, size_t size,
                             aicd_reply_t *r) {
  Auralink__Aic__V1__DecompressFrameRequest *q =
      auralink__aic__v1__decompress_frame_request__unpack(NULL, size, data);
  if (!q) {
    not_a_message(r, &auralink__aic__v1__decompress_frame_request__descriptor);
    return;
  }
  aicd_session_ref_t *ref = NULL;
  if (!session_id_ok(q->session_id, r)) goto done;
  /* A receiver names its session so inter-frame bitstreams find their references; the first
   * frame of a stream creates it. Without a free slot, stateless bitstreams still decode. */
  if (q->session_id && q->session_id[0])
    (void)aicd_sessions_acquire(svc->sessions, q->session_id, 1, &ref);
  aic_decoded_frame_t dec;
  char why[256];
  double t0 = now_ms();
  int rc = aic_engine_decompress(svc->engine, aicd_session_ref_get(ref), q->bitstream.data,
                                 q->bitstream.len, &dec, why, sizeof why);
  double elapsed = now_ms() - t0;
  aicd_sessions_release(svc->sessions, &ref);
  if (rc) {
    fail(r, status_for(rc), "bitstream rejected: %s", why[0] ? why : aic_strerror(rc));
    goto done;
  }
  Auralink__Aic__V1__DecompressFrameResponse out =
      AURALINK__AIC__V1__DECOMPRESS_FRAME_RESPONSE__INIT;
  Auralink__Aic__V1__AudioParams audio = AURALINK__AIC__V1__AUDIO_PARAMS__INIT;
  out.frame_type = (Auralink__Aic__V1__FrameType)dec.frame.type;
  if (dec.frame.type == AIC_FRAME_AUDIO) {
    audio.format = (Auralink__Aic__V1__AudioFormat)dec.frame.audio_fmt;
    audio.sample_rate = dec.frame.sample_rate;
    audio.channels = dec.frame.channels;
    out.audio = &audio;
  } else {
    out.pixel_format = (Auralink__Aic__V1__PixelFormat)dec.frame.pix_fmt;
    out.width = dec.frame.width;
    out.height = dec.frame.height;
  }
  out.data.data = dec.buffer;
  out.data.len = dec.frame.size;
  out.codec = (Auralink__Aic__V1__Codec)dec.codec;
  out.model_id = dec.model_id;
  out.model_version = dec.model_version;
  out.decode_latency_ms = elapsed;
  pack(r, &out.base);
  r->bytes_in = q->bitstream.len;
  r->bytes_out = dec.frame.size;
  aic_decoded_frame_clear(&dec);
done:
  auralink__aic__v1__decompress_frame_request__free_unpacked(q, NULL);
}

static void get_hints(aicd_service_t *svc, const uint8_t *data, size_t size, aicd_reply_t *r) {
  Auralink__Aic__V1__HintsRequest *q = auralink__aic__v1__hints_request__unpack(NULL, size, data);
  if (!q) {
    not_a_message(r, &auralink__aic__v1__hints_request__descriptor);
    return;
  }
  aic_network_t net;
  network_from_pb(q->network, &net);
  char why[256];
  aic_frame_type_t type = q->frame_type == 0 ? AIC_FRAME_VIDEO : (aic_frame_type_t)q->frame_type;
  aic_hints_t h;
  if (!session_id_ok(q->session_id, r)) goto done;
  if (type != AIC_FRAME_VIDEO && type != AIC_FRAME_AUDIO && type != AIC_FRAME_SCREEN) {
    fail(r, GRPC_STATUS_INVALID_ARGUMENT, "frame_type %d is not a known frame type",
         (int)q->frame_type);
    goto done;
  }
  if (aic_network_validate(&net, why, sizeof why) != AIC_OK) {
    fail(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", why);
    goto done;
  }
  if (q->width > svc->limits.max_width || q->height > svc->limits.max_height ||
      !isfinite(q->frame_rate) || q->frame_rate < 0 || q->frame_rate > 1000) {
    fail(r, GRPC_STATUS_INVALID_ARGUMENT,
         "source %ux%u at %g fps is outside 0..%ux%u at 0..1000 fps", q->width, q->height,
         q->frame_rate, svc->limits.max_width, svc->limits.max_height);
    goto done;
  }
  {
    aicd_session_ref_t *ref = NULL;
    if (q->session_id && q->session_id[0])
      (void)aicd_sessions_acquire(svc->sessions, q->session_id, 1, &ref);
    aic_session_t *session = aicd_session_ref_get(ref);
    int rc =
        session
            ? aic_session_hints(session, type, &net, q->width, q->height, q->frame_rate, &h)
            : aic_hints_compute(svc->engine, type, &net, q->width, q->height, q->frame_rate, &h);
    aicd_sessions_release(svc->sessions, &ref);
    if (rc != AIC_OK) {
      fail(r, GRPC_STATUS_INTERNAL, "hints could not be computed");
      goto done;
    }
  }
  Auralink__Aic__V1__HintsResponse out = AURALINK__AIC__V1__HINTS_RESPONSE__INIT;
  out.codec = (Auralink__Aic__V1__Codec)h.codec;
  out.mode = (Auralink__Aic__V1__CompressionMode)h.mode;
  out.target_bitrate_kbps = h.target_bitrate_kbps;
  out.width = h.width;
  out.height = h.height;
  out.frame_rate = h.frame_rate;
  out.keyframe_interval = h.keyframe_interval;
  out.use_fec = h.use_fec;
  out.network_quality = (Auralink__Aic__V1__NetworkQuality)h.quality;
  out.reason = (char *)h.reason;
  pack(r, &out.base);
done:
  auralink__aic__v1__hints_request__free_unpacked(q, NULL);
}

static void analyze_network(aicd_service_t *svc, const uint8_t *data, size_t size,
                            aicd_reply_t *r) {
  Auralink__Aic__V1__NetworkAnalysisRequest *q =
      auralink__aic__v1__network_analysis_request__unpack(NULL, size, data);
  if (!q) {
    not_a_message(r, &auralink__aic__v1__network_analysis_request__descriptor);
    return;
  }
  aic_network_t net;
  network_from_pb(q->network, &net);
  char why[256];
  aic_net_analysis_t a;
  if (!session_id_ok(q->session_id, r)) goto done;
  if (aic_network_validate(&net, why, sizeof why) != AIC_OK) {
    fail(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", why);
    goto done;
  }
  {
    /* With a session, the analysis rests on its recent history, not this sample alone. */
    aicd_session_ref_t *ref = NULL;
    if (q->session_id && q->session_id[0])
      (void)aicd_sessions_acquire(svc->sessions, q->session_id, 1, &ref);
    aic_session_t *session = aicd_session_ref_get(ref);
    if (session)
      aic_session_analyze_network(session, &net, &a);
    else
      aic_network_analyze(&net, &a);
    aicd_sessions_release(svc->sessions, &ref);
  }
  Auralink__Aic__V1__NetworkAnalysisResponse out =
      AURALINK__AIC__V1__NETWORK_ANALYSIS_RESPONSE__INIT;
  out.quality = (Auralink__Aic__V1__NetworkQuality)a.quality;
  out.recommended_mode = (Auralink__Aic__V1__CompressionMode)a.recommended_mode;
  out.recommended_bitrate_kbps = a.recommended_bitrate_kbps;
  out.reason = (char *)a.reason;
  out.trend = (Auralink__Aic__V1__NetworkTrend)a.trend;
  out.samples = a.samples;
  pack(r, &out.base);
done:
  auralink__aic__v1__network_analysis_request__free_unpacked(q, NULL);
}

static void health_check(aicd_service_t *svc, const uint8_t *data, size_t size, aicd_reply_t *r) {
  Auralink__Aic__V1__HealthCheckRequest *q =
      auralink__aic__v1__health_check_request__unpack(NULL, size, data);
  if (!q) {
    not_a_message(r, &auralink__aic__v1__health_check_request__descriptor);
    return;
  }
  auralink__aic__v1__health_check_request__free_unpacked(q, NULL);
  aic_codec_id_t ids[AIC_CODEC_COUNT_];
  size_t n = aic_engine_codecs(svc->engine, ids, AIC_CODEC_COUNT_);
  Auralink__Aic__V1__Codec codecs[AIC_CODEC_COUNT_];
  int neural = 0;
  for (size_t i = 0; i < n && i < AIC_CODEC_COUNT_; i++) {
    codecs[i] = (Auralink__Aic__V1__Codec)ids[i];
    neural |= ids[i] == AIC_CODEC_NEURAL;
  }
  Auralink__Aic__V1__HealthCheckResponse out = AURALINK__AIC__V1__HEALTH_CHECK_RESPONSE__INIT;
  out.status = atomic_load(&svc->serving)
                   ? AURALINK__AIC__V1__HEALTH_CHECK_RESPONSE__STATUS__STATUS_SERVING
                   : AURALINK__AIC__V1__HEALTH_CHECK_RESPONSE__STATUS__STATUS_NOT_SERVING;
  out.version = (char *)AICD_VERSION;
  out.uptime_seconds = aicd_service_uptime_seconds(svc);
  out.n_codecs = n < AIC_CODEC_COUNT_ ? n : AIC_CODEC_COUNT_;
  out.codecs = codecs;
  out.neural_available = neural;
  aic_model_info_t infos[8];
  size_t n_models = aic_engine_models(svc->engine, infos, 8);
  if (n_models > 8) n_models = 8;
  Auralink__Aic__V1__ModelInfo models[8];
  Auralink__Aic__V1__ModelInfo *model_ptrs[8];
  for (size_t i = 0; i < n_models; i++) {
    auralink__aic__v1__model_info__init(&models[i]);
    models[i].id = infos[i].id;
    models[i].version = infos[i].version;
    models[i].family = infos[i].family;
    model_ptrs[i] = &models[i];
  }
  out.n_models = n_models;
  out.models = model_ptrs;
  pack(r, &out.base);
}

static void grpc_health_check(aicd_service_t *svc, const uint8_t *data, size_t size,
                              aicd_reply_t *r) {
  Grpc__Health__V1__HealthCheckRequest *q =
      grpc__health__v1__health_check_request__unpack(NULL, size, data);
  if (!q) {
    not_a_message(r, &grpc__health__v1__health_check_request__descriptor);
    return;
  }
  const char *name = q->service ? q->service : "";
  if (*name && strcmp(name, SERVICE_NAME) != 0 && strcmp(name, "grpc.health.v1.Health") != 0) {
    fail(r, GRPC_STATUS_NOT_FOUND, "unknown service '%.200s'", name);
  } else {
    Grpc__Health__V1__HealthCheckResponse out = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    out.status = atomic_load(&svc->serving)
                     ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    pack(r, &out.base);
  }
  grpc__health__v1__health_check_request__free_unpacked(q, NULL);
}

void aicd_service_unary(aicd_service_t *svc, aicd_rpc_t rpc, const uint8_t *request, size_t size,
                        aicd_reply_t *reply) {
  memset(reply, 0, sizeof *reply);
  switch (rpc) {
    case AICD_RPC_COMPRESS_FRAME: compress_frame(svc, request, size, reply); break;
    case AICD_RPC_DECOMPRESS_FRAME: decompress_frame(svc, request, size, reply); break;
    case AICD_RPC_GET_HINTS: get_hints(svc, request, size, reply); break;
    case AICD_RPC_ANALYZE_NETWORK: analyze_network(svc, request, size, reply); break;
    case AICD_RPC_HEALTH_CHECK: health_check(svc, request, size, reply); break;
    case AICD_RPC_GRPC_HEALTH_CHECK: grpc_health_check(svc, request, size, reply); break;
    default: fail(reply, GRPC_STATUS_UNIMPLEMENTED, "method not implemented"); break;
  }
}

struct aicd_stream {
  aicd_service_t *svc;
  aic_session_t *session;
};

aicd_stream_t *aicd_stream_open(aicd_service_t *svc) {
  aicd_stream_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->svc = svc;
  if (aic_session_create(svc->engine, &s->session) != AIC_OK) {
    free(s);
    return NULL;
  }
  return s;
}

void aicd_stream_frame(aicd_stream_t *s, const uint8_t *request, size_t size, aicd_reply_t *reply) {
  memset(reply, 0, sizeof *reply);
  Auralink__Aic__V1__CompressFrameRequest *q =
      auralink__aic__v1__compress_frame_request__unpack(NULL, size, request);
  if (!q) {
    not_a_message(reply, &auralink__aic__v1__compress_frame_request__descriptor);
    return;
  }
  if (session_id_ok(q->session_id, reply)) compress_one(s->svc, s->session, q, reply);
  auralink__aic__v1__compress_frame_request__free_unpacked(q, NULL);
}

void aicd_stream_close(aicd_stream_t **stream) {
  if (!stream || !*stream) return;
  aic_session_free(&(*stream)->session);
  free(*stream);
  *stream = NULL;
}
