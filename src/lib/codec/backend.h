/* The interface every codec backend implements, and the registry that lists them. The engine
 * only talks to backends through this table, so adding a codec touches neither the engine nor
 * the daemon: write the backend, add it to registry.c. */
#ifndef AIC_CODEC_BACKEND_H
#define AIC_CODEC_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "aic/codec.h"
#include "aic/frame.h"
#include "core/buf.h"

/* Per-frame settings the engine hands a backend. */
typedef struct aic_codec_params {
  int level;             /* lossless codecs: effort 1 (fastest) .. 8 (fewest bytes) */
  double quality;        /* lossy codecs: 0 (fewest bits) .. 100 (best), continuous; each backend
                          * maps it monotonically onto its own quantizer */
  uint32_t bitrate_kbps; /* lossy codecs: > 0 asks for rate control at this bitrate instead of a
                          * fixed quality (video: per-stream rate control; audio: the bitrate) */
  double fps;            /* frame rate of the stream, for rate control (> 0; default 30) */
  int speed;             /* encoder effort: 0 (slowest, best) .. 9 (fastest) */
  int threads;           /* encoder threads, >= 1 */
  bool keyframe;         /* inter-frame codecs: start a new group of pictures */
  bool still;            /* the frame stands alone (no session): latency matters less */
  int latency_budget_ms; /* the caller's budget for the whole frame, 0: none */
} aic_codec_params_t;

/* Fills params with the defaults: level 4, quality 75, no bitrate, 30 fps, speed 6, 1 thread. */
void aic_codec_params_default(aic_codec_params_t *params);

typedef struct aic_codec_backend {
  aic_codec_id_t id;
  const char *name;
  unsigned caps; /* AIC_CAP_* */

  /* Optional per-session state (NULL functions: stateless). state_create returns 0 or an
   * AIC_E* code; `encoder` tells which side the state is for. States are created before the
   * first frame is known: backends that need dimensions (re)configure on the first frame and
   * whenever the dimensions change. */
  int (*state_create)(bool encoder, void **state);
  void (*state_free)(void *state);

  /* Appends the compressed payload of `frame` to `out`. `state` is NULL for stateless backends
   * or when the frame has no session (inter codecs then code the frame as a keyframe). Backends
   * with AIC_CAP_YUV420 only ever receive I420 pictures (the engine converts). Sets *keyframe
   * when the payload decodes without any earlier frame. Returns 0 or an AIC_E* code. */
  int (*encode)(void *state, const aic_frame_t *frame, const aic_codec_params_t *params,
                aic_buf_t *out, bool *keyframe);

  /* Decodes `payload` into exactly `dst_size` bytes at `dst`, the raw frame `desc` describes
   * (desc->data is NULL; for AIC_CAP_YUV420 backends desc is the I420 picture). Returns 0,
   * AIC_ECORRUPT when the payload does not decode to exactly that frame (wrong size, wrong
   * dimensions, missing reference), or another AIC_E* code. */
  int (*decode)(void *state, const aic_frame_t *desc, const uint8_t *payload, size_t payload_size,
                uint8_t *dst, size_t dst_size);
  /* Optional, for lossy backends whose quality setting moves in steps: the lowest quality above
   * params->quality at which `frame` is coded differently, or more than 100 when none is. The
   * engine's retries for a quality floor use it so that no attempt repeats the one before.
   * NULL: every higher quality codes differently. */
  double (*next_quality)(void *state, const aic_frame_t *frame, const aic_codec_params_t *params);
} aic_codec_backend_t;

/* The backend for an id, or NULL when this build does not have it. */
const aic_codec_backend_t *aic_codec_backend_find(aic_codec_id_t id);

/* Every backend in this build, in the engine's default preference order (lossy and learned
 * first, lossless last). Sets *count. */
const aic_codec_backend_t *const *aic_codec_backends(size_t *count);

extern const aic_codec_backend_t aic_codec_zstd;
extern const aic_codec_backend_t aic_codec_zlib;
extern const aic_codec_backend_t aic_codec_vp8;
extern const aic_codec_backend_t aic_codec_av1;
extern const aic_codec_backend_t aic_codec_jpeg;
extern const aic_codec_backend_t aic_codec_opus;
/* The learned codec: not in the static registry, since it needs the models an engine loads;
 * the engine adds it to its own list and passes its model set (nn/model_set.h) as `state`. */
extern const aic_codec_backend_t aic_codec_neural;

#endif
