#include <string.h>

#include "codec/backend.h"

void aic_codec_params_default(aic_codec_params_t *params) {
  memset(params, 0, sizeof *params);
  params->level = 4;
  params->quality = 75.0;
  params->fps = 30.0;
  params->speed = 6;
  params->threads = 1;
}

/* The engine's default order: lossy before lossless, and within each kind the codec that
 * codes the fewest bytes at a given quality first (see docs/engine.md). */
static const aic_codec_backend_t *const backends[] = {
    &aic_codec_av1,
    &aic_codec_vp8,
    &aic_codec_jpeg,
    &aic_codec_opus,
    &aic_codec_zstd,
    &aic_codec_zlib,
};

const aic_codec_backend_t *const *aic_codec_backends(size_t *count) {
  *count = sizeof backends / sizeof backends[0];
  return backends;
}

const aic_codec_backend_t *aic_codec_backend_find(aic_codec_id_t id) {
  for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
    if (backends[i]->id == id) return backends[i];
  return NULL;
}

const char *aic_codec_name(aic_codec_id_t id) {
  switch (id) {
    case AIC_CODEC_AUTO: return "auto";
    case AIC_CODEC_ZSTD: return "zstd";
    case AIC_CODEC_ZLIB: return "zlib";
    case AIC_CODEC_AV1: return "av1";
    case AIC_CODEC_VP8: return "vp8";
    case AIC_CODEC_JPEG: return "jpeg";
    case AIC_CODEC_OPUS: return "opus";
    case AIC_CODEC_NEURAL: return "neural";
    default: return "unknown";
  }
}
