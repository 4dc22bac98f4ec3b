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
  int level;     /* 1 (fewest bits / fastest) .. 8 (best quality / most effort) */
  bool keyframe; /* inter-frame codecs: start a new group of pictures */
} aic_codec_params_t;

typedef struct aic_codec_backend {
  aic_codec_id_t id;
  const char *name;
  unsigned caps; /* AIC_CAP_* */

  /* Optional per-session state (NULL functions: stateless). state_create returns 0 or an
   * AIC_E* code; `encoder` tells which side the state is for. */
  int (*state_create)(bool encoder, void **state);
  void (*state_free)(void *state);

  /* Appends the compressed payload of `frame` to `out`. `state` is NULL for stateless backends
   * or when the frame has no session. Returns 0 or an AIC_E* code. */
  int (*encode)(void *state, const aic_frame_t *frame, const aic_codec_params_t *params,
                aic_buf_t *out);

  /* Decodes `payload` into exactly `dst_size` bytes at `dst` (the raw frame size the header
   * announced). Returns 0, AIC_ECORRUPT when the payload does not decode to exactly that size,
   * or another AIC_E* code. */
  int (*decode)(void *state, const uint8_t *payload, size_t payload_size, uint8_t *dst,
                size_t dst_size);
} aic_codec_backend_t;

/* The backend for an id, or NULL when this build does not have it. */
const aic_codec_backend_t *aic_codec_backend_find(aic_codec_id_t id);

/* Every backend in this build, in the engine's default preference order (lossy and learned
 * first, lossless last). Sets *count. */
const aic_codec_backend_t *const *aic_codec_backends(size_t *count);

extern const aic_codec_backend_t aic_codec_zstd;
extern const aic_codec_backend_t aic_codec_zlib;

#endif
