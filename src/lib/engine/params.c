#include <math.h>
#include <string.h>

#include "aic/adapt.h"
#include "aic/engine.h"
#include "aic/error.h"
#include "core/log_internal.h"

void aic_encode_params_default(aic_encode_params_t *params) {
  if (!params) return;
  memset(params, 0, sizeof *params);
  params->mode = AIC_MODE_ADAPTIVE;
  params->codec_preference = AIC_CODEC_AUTO;
}

int aic_encode_params_validate(const aic_encode_params_t *p, char *why, size_t why_size) {
  if (!p) {
    aic_set_why(why, why_size, "no parameters");
    return AIC_EINVAL;
  }
  if ((int)p->mode < AIC_MODE_UNSPECIFIED || p->mode > AIC_MODE_LOSSLESS) {
    aic_set_why(why, why_size, "mode %d is not a known compression mode", (int)p->mode);
    return AIC_EINVAL;
  }
  if ((int)p->codec_preference < AIC_CODEC_AUTO || p->codec_preference >= AIC_CODEC_COUNT_) {
    aic_set_why(why, why_size, "codec_preference %d is not a known codec",
                (int)p->codec_preference);
    return AIC_EINVAL;
  }
  /* 0 means "no target"; the accepted range is (0, 1]. */
  if (!isfinite(p->target_ratio) || p->target_ratio < 0.0 || p->target_ratio > 1.0) {
    aic_set_why(why, why_size, "target_ratio %g is outside (0, 1] (0 means no target)",
                p->target_ratio);
    return AIC_EINVAL;
  }
  if (!isfinite(p->min_ssim) || p->min_ssim < 0.0 || p->min_ssim > 1.0) {
    aic_set_why(why, why_size, "min_ssim %g is outside [0, 1]", p->min_ssim);
    return AIC_EINVAL;
  }
  if (p->latency_budget_ms < 0) {
    aic_set_why(why, why_size, "latency_budget_ms %d is negative", (int)p->latency_budget_ms);
    return AIC_EINVAL;
  }
  if (p->quality < 0 || p->quality > 8) {
    aic_set_why(why, why_size, "quality %d is outside 1..8 (0 lets the engine decide)", p->quality);
    return AIC_EINVAL;
  }
  if (p->bitrate_kbps > AIC_MAX_BITRATE_KBPS) {
    aic_set_why(why, why_size, "bitrate_kbps %u is above the limit %u", (unsigned)p->bitrate_kbps,
                (unsigned)AIC_MAX_BITRATE_KBPS);
    return AIC_EINVAL;
  }
  if (!isfinite(p->fps) || p->fps < 0.0 || p->fps > 1000.0) {
    aic_set_why(why, why_size, "fps %g is outside [0, 1000] (0 means 30)", p->fps);
    return AIC_EINVAL;
  }
  return aic_network_validate(&p->network, why, why_size);
}
