/* The compression engine: picks a codec for each frame under a quality floor and a latency
 * budget, encodes, decodes the result again to measure its real quality, and reports. */
#ifndef AIC_ENGINE_H
#define AIC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aic/codec.h"
#include "aic/frame.h"
#include "aic/log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aic_engine aic_engine_t;
typedef struct aic_session aic_session_t;

/* Values match auralink.aic.v1.CompressionMode. */
typedef enum aic_mode {
  AIC_MODE_UNSPECIFIED = 0, /* treated as ADAPTIVE */
  AIC_MODE_ADAPTIVE = 1,
  AIC_MODE_QUALITY = 2,
  AIC_MODE_BALANCED = 3,
  AIC_MODE_AGGRESSIVE = 4,
  AIC_MODE_LOSSLESS = 5,
} aic_mode_t;

/* Values match auralink.aic.v1.FallbackReason. */
typedef enum aic_fallback {
  AIC_FALLBACK_NONE = 0,
  AIC_FALLBACK_LATENCY = 1,
  AIC_FALLBACK_QUALITY = 2,
  AIC_FALLBACK_MODEL_UNAVAILABLE = 3,
  AIC_FALLBACK_ERROR = 4,
  AIC_FALLBACK_CODEC_UNAVAILABLE = 5,
} aic_fallback_t;

/* Network conditions as the sender measures them; all 0 means unknown. */
typedef struct aic_network {
  double bandwidth_kbps;
  double rtt_ms;
  double loss_fraction;
  double jitter_ms;
} aic_network_t;

typedef struct aic_engine_settings {
  aic_frame_limits_t limits; /* largest frame accepted (default 7680x4320) */
  int lossless_level;        /* effort 1..8 of lossless codecs outside AGGRESSIVE (default 4) */
  aic_log_fn log;            /* NULL: messages are dropped */
  void *log_user;
  aic_log_level_t log_level; /* messages above this level are not built (default INFO) */
  const char *models_dir;    /* folder of the learned models (nic-rt.aicm, nic-hq.aicm); NULL or
                              * "": no learned codec. Borrowed during aic_engine_create only. */
  int nn_threads;            /* threads of the learned codec's inference, 1..64 (default 1) */
} aic_engine_settings_t;

/* Fills every field with its default. */
void aic_engine_settings_default(aic_engine_settings_t *settings);

/* Creates an engine with every codec built into this library. `settings` may be NULL for the
 * defaults. Returns 0 and sets *out (free with aic_engine_free), AIC_EINVAL, AIC_ENOMEM.
 * An engine is thread-safe: any number of threads may compress and decompress at once. */
int aic_engine_create(const aic_engine_settings_t *settings, aic_engine_t **out);

/* Frees the engine and sets *engine to NULL. Sessions must be freed first. NULL is a no-op. */
void aic_engine_free(aic_engine_t **engine);

/* Codecs available in this engine, in preference order. Writes up to `max` ids into `ids` and
 * returns how many there are in all (may exceed `max`). */
size_t aic_engine_codecs(const aic_engine_t *engine, aic_codec_id_t *ids, size_t max);

/* A learned model the engine loaded. */
typedef struct aic_model_info {
  char id[32];     /* family and the first 12 hex digits of the file's SHA-256: "nic-rt-9c77f855dc6b" */
  char family[16]; /* "nic-rt" (real-time video) or "nic-hq" (stills, screen content) */
  uint32_t version;
  unsigned levels;  /* quality levels */
  char impl[8];     /* what its convolutions run on: "dnnl" (oneDNN) or "ref" (portable C) */
} aic_model_info_t;

/* The learned models in use. Writes up to `max` into `models` and returns how many there are.
 * The neural codec is among aic_engine_codecs exactly when this is > 0. */
size_t aic_engine_models(const aic_engine_t *engine, aic_model_info_t *models, size_t max);

/* Why learned models are missing or were refused ("" when every model file found loaded). The
 * string lives as long as the engine. */
const char *aic_engine_model_status(const aic_engine_t *engine);

/* The highest bitrate a request may ask for (1 Gbit/s). */
#define AIC_MAX_BITRATE_KBPS 1000000u

/* What the caller wants of one frame's compression. */
typedef struct aic_encode_params {
  aic_mode_t mode;
  double target_ratio;             /* (0, 1]; 0: no size target */
  double min_ssim;                 /* [0, 1]; 0: no floor */
  int32_t latency_budget_ms;       /* >= 0; 0: no budget */
  aic_codec_id_t codec_preference; /* AIC_CODEC_AUTO: engine chooses */
  aic_network_t network;
  bool force_keyframe;
  int quality;           /* 0: the engine decides; 1 (fewest bits) .. 8 (best): a fixed quality
                          * level for lossy codecs, which turns quality-targeted control off */
  uint32_t bitrate_kbps; /* 0: none; > 0: rate-controlled lossy coding at this bitrate */
  double fps;            /* frame rate of the stream for rate control; 0: 30 */
} aic_encode_params_t;

void aic_encode_params_default(aic_encode_params_t *params);

/* Checks enum ranges and numeric ranges. Returns 0 or AIC_EINVAL with a reason in `why`. */
int aic_encode_params_validate(const aic_encode_params_t *params, char *why, size_t why_size);

/* The outcome of compressing one frame. `bitstream` is owned by the result: release it with
 * aic_encode_result_clear. */
typedef struct aic_encode_result {
  uint8_t *bitstream;
  size_t bitstream_size;
  aic_codec_id_t codec;
  char model_id[32];      /* "" for classical codecs */
  uint32_t model_version; /* 0 for classical codecs */
  size_t original_size;
  double ratio; /* bitstream_size / original_size */
  double psnr_db;
  double ssim;
  double encode_ms;
  bool keyframe;
  aic_fallback_t fallback;
  char fallback_detail[128];
  double quality_setting; /* lossy codecs: the quality 0..100 used; 0 for lossless */
  unsigned attempts;      /* encodes spent on this frame, retries included */
} aic_encode_result_t;

/* Frees the bitstream and zeroes the result. Safe on a zeroed or already-cleared result. */
void aic_encode_result_clear(aic_encode_result_t *result);

/* Compresses one frame. `session` may be NULL (a frame on its own). Validates the frame and the
 * parameters first. On success fills *result (the caller clears it). Returns 0, AIC_EINVAL or
 * AIC_ELIMIT (bad input: `why` says what), AIC_EQUALITY, AIC_ECODEC, AIC_ENOMEM. */
int aic_engine_compress(aic_engine_t *engine, aic_session_t *session, const aic_frame_t *frame,
                        const aic_encode_params_t *params, aic_encode_result_t *result, char *why,
                        size_t why_size);

/* A restored frame. `frame.data` points into `buffer`, which the result owns: release it with
 * aic_decoded_frame_clear. */
typedef struct aic_decoded_frame {
  aic_frame_t frame;
  uint8_t *buffer;
  aic_codec_id_t codec;
  char model_id[32];
  uint32_t model_version;
  bool keyframe;
} aic_decoded_frame_t;

void aic_decoded_frame_clear(aic_decoded_frame_t *decoded);

/* Decodes a bitstream made by aic_engine_compress. `session` may be NULL for bitstreams that
 * need no inter-frame state. Returns 0 and fills *out, AIC_ECORRUPT (malformed, truncated or
 * failing its checksum: `why` says what), AIC_EUNSUPPORTED (codec not in this build),
 * AIC_ELIMIT, AIC_ENOMEM. */
int aic_engine_decompress(aic_engine_t *engine, aic_session_t *session, const uint8_t *bitstream,
                          size_t size, aic_decoded_frame_t *out, char *why, size_t why_size);

/* What a bitstream's header says, without decoding the payload. */
typedef struct aic_bitstream_info {
  aic_frame_t frame; /* description of the frame it decodes to; data is NULL */
  aic_codec_id_t codec;
  uint32_t model_version;
  bool keyframe;
  size_t payload_size;
} aic_bitstream_info_t;

/* Parses and checks a bitstream's header and checksum against the engine's limits.
 * Returns 0 and fills *info, or AIC_ECORRUPT with a reason in `why`, or AIC_EINVAL. */
int aic_bitstream_probe(const aic_engine_t *engine, const uint8_t *bitstream, size_t size,
                        aic_bitstream_info_t *info, char *why, size_t why_size);

/* Per-session statistics. */
typedef struct aic_session_stats {
  uint64_t frames;
  uint64_t bytes_in;
  uint64_t bytes_out;
  double mean_psnr_db;
  double min_psnr_db;
  double mean_ssim;
  double min_ssim;
  uint64_t fallbacks;
  uint64_t fallbacks_by_reason[6]; /* indexed by aic_fallback_t (NONE stays 0) */
  uint64_t retries;                /* extra encodes after a missed quality floor */
  double latency_p50_ms;           /* encode latency over the last 1024 frames */
  double latency_p95_ms;
  double latency_max_ms;
  aic_codec_id_t last_codec;
} aic_session_stats_t;

/* Creates a session: state kept between the frames of one stream. Returns 0 and sets *out,
 * AIC_EINVAL, AIC_ENOMEM. A session is used by one thread at a time. */
int aic_session_create(aic_engine_t *engine, aic_session_t **out);
void aic_session_free(aic_session_t **session);
void aic_session_get_stats(const aic_session_t *session, aic_session_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
