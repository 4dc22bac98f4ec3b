/* The learned image codec as an engine backend (docs/decisions/0002-neural-codec.md).
 *
 * Every frame is coded on its own (intra only) by one of the models the engine loaded: nic-hq
 * for stills and screen content when it is loaded and fits the latency budget, nic-rt
 * otherwise. The backend has no per-session state: the engine passes its model set as `state`,
 * and runners (with their convolution plans) come from the set's pool, so sessions and stills
 * share them.
 *
 * Payload: an 8-byte preamble, then the runner's payload (nic.h: z stream, y stream):
 *   u16 model id | u32 model version | u8 level | u8 0      (little-endian)
 * The engine copies id and version into the bitstream header; the decoder uses the preamble to
 * find the exact model and refuses a payload for a model it has not loaded.
 *
 * Pictures are coded as RGB: RGB24 directly, RGBA without its alpha (decoded alpha is 255),
 * I420 / NV12 through the library's BT.601 conversion. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aic/convert.h"
#include "aic/error.h"
#include "codec/backend.h"
#include "codec/neural_codec.h"
#include "nn/model_set.h"
#include "core/byteorder.h"

unsigned aic_neural_level_for(double quality, unsigned levels) {
  if (levels <= 1) return 0;
  if (!(quality > 0.0)) quality = 0.0; /* NaN too */
  /* The engine's fixed levels 1..8 are qualities 10..95 (policy.c): spread those over the
   * model's levels so the lowest and highest are both reachable. */
  long l = lround((quality - 10.0) / 85.0 * (double)(levels - 1));
  return (unsigned)(l < 0 ? 0 : l > (long)levels - 1 ? (long)levels - 1 : l);
}

double aic_neural_quality_for_level(unsigned level, unsigned levels) {
  if (level == 0) return 0.0;
  if (level >= levels) return 101.0;
  /* level_for's rounding moves to `level` at (level - 1/2) of the way; step up past any
   * rounding of that product to the first double that maps there. */
  double q = 10.0 + 85.0 * ((double)level - 0.5) / (double)(levels - 1);
  while (q > 0.0 && aic_neural_level_for(nextafter(q, 0.0), levels) >= level) q = nextafter(q, 0.0);
  while (aic_neural_level_for(q, levels) < level) q = nextafter(q, 200.0);
  return q;
}

int aic_neural_preamble_parse(const uint8_t *payload, size_t size, uint16_t *model_id,
                              uint32_t *version, unsigned *level) {
  if (!payload || size < AIC_NEURAL_PREAMBLE_SIZE || payload[7] != 0) return AIC_ECORRUPT;
  *model_id = (uint16_t)aic_get_le16(payload);
  *version = aic_get_le32(payload + 2);
  *level = payload[6];
  return *model_id ? AIC_OK : AIC_ECORRUPT;
}

/* The model for a frame: nic-hq for stills and screen content, nic-rt for the rest, whichever
 * of the two is loaded when the preferred one is not. nic-hq costs ~9x nic-rt's compute: under
 * a latency budget it gives way to nic-rt once its frames show it cannot encode this size in
 * the part of the budget the engine's latency policy allows an encode (policy.c). `set` is
 * NULL for a question only (which model would it be), non-NULL for the encode's own choice,
 * which counts the times nic-hq gave way (aic_model_set_retime_due). */
static int pick_model(const aic_model_set_t *models, aic_model_set_t *set, const aic_frame_t *f,
                      const aic_codec_params_t *params) {
  bool hq = params->still || f->type == AIC_FRAME_SCREEN;
  int want = aic_model_set_find_family(models, hq ? "nic-hq" : "nic-rt");
  int other = aic_model_set_find_family(models, hq ? "nic-rt" : "nic-hq");
  if (want < 0) return other;
  if (hq && other >= 0 && params->latency_budget_ms > 0) {
    double ms = aic_model_set_encode_estimate(models, (size_t)want, (size_t)f->width * f->height);
    /* now and then it encodes anyway, so that its estimate can recover (model_set.h) */
    if (ms > 0.8 * params->latency_budget_ms &&
        !(set && aic_model_set_retime_due(set, (size_t)want)))
      return other;
  }
  return want;
}

/* An RGB24 copy of the picture, or the picture itself when it is RGB24 already. */
static int to_rgb(const aic_frame_t *f, const uint8_t **rgb, uint8_t **owned) {
  *owned = NULL;
  if (f->pix_fmt == AIC_PIX_RGB24) {
    *rgb = f->data;
    return AIC_OK;
  }
  size_t n = (size_t)f->width * f->height;
  uint8_t *out = malloc(n * 3);
  if (!out) return AIC_ENOMEM;
  int rc = AIC_OK;
  if (f->pix_fmt == AIC_PIX_RGBA) {
    for (size_t i = 0; i < n; i++) memcpy(out + 3 * i, f->data + 4 * i, 3);
  } else {
    size_t i420_size;
    uint8_t *i420 = NULL;
    rc = aic_pixel_format_size(AIC_PIX_I420, f->width, f->height, &i420_size);
    if (rc == AIC_OK && f->pix_fmt != AIC_PIX_I420 && !(i420 = malloc(i420_size))) rc = AIC_ENOMEM;
    if (rc == AIC_OK && i420) rc = aic_picture_to_i420(f, i420);
    if (rc == AIC_OK)
      rc = aic_picture_from_i420(i420 ? i420 : f->data, f->width, f->height, AIC_PIX_RGB24, out);
    free(i420);
  }
  if (rc) {
    free(out);
    return rc;
  }
  *rgb = out;
  *owned = out;
  return AIC_OK;
}

static int neural_encode(void *state, const aic_frame_t *frame, const aic_codec_params_t *params,
                         aic_buf_t *out, bool *keyframe) {
  aic_model_set_t *set = state;
  if (!set || aic_model_set_count(set) == 0) return AIC_EUNSUPPORTED;
  if (frame->type == AIC_FRAME_AUDIO || frame->width > AIC_NIC_MAX_DIM ||
      frame->height > AIC_NIC_MAX_DIM)
    return AIC_EUNSUPPORTED;
  int m = pick_model(set, set, frame, params);
  if (m < 0) return AIC_EUNSUPPORTED;
  aic_model_entry_info_t info;
  aic_model_set_info(set, (size_t)m, &info);
  unsigned level = aic_neural_level_for(params->quality, info.levels);

  /* I420 goes to the runner as it is: it converts on its own threads, into its own buffer */
  const bool i420 = frame->pix_fmt == AIC_PIX_I420;
  const uint8_t *rgb = NULL;
  uint8_t *owned = NULL;
  int rc = i420 ? AIC_OK : to_rgb(frame, &rgb, &owned);
  if (rc) return rc;
  int w = (int)frame->width, h = (int)frame->height;
  aic_nic_t *nic = NULL;
  size_t start = out->size;
  rc = aic_model_set_acquire(set, (size_t)m, w, h, &nic);
  if (rc == AIC_OK) rc = aic_buf_reserve(out, AIC_NEURAL_PREAMBLE_SIZE);
  if (rc == AIC_OK) {
    uint8_t *p = out->data + out->size;
    aic_put_le16(p, info.model_id);
    aic_put_le32(p + 2, info.version);
    p[6] = (uint8_t)level;
    p[7] = 0;
    out->size += AIC_NEURAL_PREAMBLE_SIZE;
    rc = i420 ? aic_nic_encode_i420(nic, frame->data, w, h, level, out)
              : aic_nic_encode(nic, rgb, (size_t)w * 3, w, h, level, out);
    if (rc) out->size = start;
  }
  if (rc == AIC_OK) {
    aic_nic_timing_t t;
    aic_nic_last_timing(nic, &t);
    aic_model_set_note_encode(set, (size_t)m, (size_t)w * h,
                              t.analysis_ms + t.hyper_ms + t.entropy_ms - t.plans_ms);
  }
  aic_model_set_release(set, (size_t)m, nic, w, h);
  free(owned);
  if (rc == AIC_OK) *keyframe = true;
  return rc;
}

/* Retrying a frame at a higher quality only helps at a higher level: the first quality that
 * gets one for this frame's model. */
static double neural_next_quality(void *state, const aic_frame_t *frame,
                                  const aic_codec_params_t *params) {
  const aic_model_set_t *set = state;
  int m = set ? pick_model(set, NULL, frame, params) : -1;
  if (m < 0) return params->quality;
  aic_model_entry_info_t info;
  aic_model_set_info(set, (size_t)m, &info);
  return aic_neural_quality_for_level(aic_neural_level_for(params->quality, info.levels) + 1,
                                      info.levels);
}

static int neural_decode(void *state, const aic_frame_t *desc, const uint8_t *payload,
                         size_t payload_size, uint8_t *dst, size_t dst_size) {
  aic_model_set_t *set = state;
  if (!set) return AIC_EUNSUPPORTED;
  if (desc->type == AIC_FRAME_AUDIO || desc->width == 0 || desc->height == 0 ||
      desc->width > AIC_NIC_MAX_DIM || desc->height > AIC_NIC_MAX_DIM)
    return AIC_ECORRUPT;
  size_t want;
  if (aic_pixel_format_size(desc->pix_fmt, desc->width, desc->height, &want) != AIC_OK ||
      want != dst_size)
    return AIC_EINVAL;
  uint16_t model_id;
  uint32_t version;
  unsigned level;
  int rc = aic_neural_preamble_parse(payload, payload_size, &model_id, &version, &level);
  if (rc) return rc;
  int m = aic_model_set_find(set, model_id, version);
  if (m < 0) return AIC_EUNSUPPORTED;
  aic_model_entry_info_t info;
  aic_model_set_info(set, (size_t)m, &info);
  if (level >= info.levels) return AIC_ECORRUPT;

  int w = (int)desc->width, h = (int)desc->height;
  size_t n = (size_t)w * (size_t)h;
  const bool i420 = desc->pix_fmt == AIC_PIX_I420;
  uint8_t *rgb = desc->pix_fmt == AIC_PIX_RGB24 || i420 ? dst : malloc(n * 3);
  if (!rgb) return AIC_ENOMEM;
  aic_nic_t *nic = NULL;
  rc = aic_model_set_acquire(set, (size_t)m, w, h, &nic);
  const uint8_t *body = payload + AIC_NEURAL_PREAMBLE_SIZE;
  const size_t body_size = payload_size - AIC_NEURAL_PREAMBLE_SIZE;
  if (rc == AIC_OK)
    rc = i420 ? aic_nic_decode_i420(nic, body, body_size, w, h, level, dst)
              : aic_nic_decode(nic, body, body_size, w, h, level, rgb, (size_t)w * 3);
  aic_model_set_release(set, (size_t)m, nic, w, h);
  if (rc == AIC_OK && rgb != dst) {
    if (desc->pix_fmt == AIC_PIX_RGBA) {
      for (size_t i = 0; i < n; i++) {
        memcpy(dst + 4 * i, rgb + 3 * i, 3);
        dst[4 * i + 3] = 255;
      }
    } else {
      size_t i420_size;
      uint8_t *i420 = NULL;
      aic_frame_t f = {.type = desc->type,
                       .pix_fmt = AIC_PIX_RGB24,
                       .width = desc->width,
                       .height = desc->height,
                       .data = rgb,
                       .size = n * 3};
      rc = aic_pixel_format_size(AIC_PIX_I420, desc->width, desc->height, &i420_size);
      if (rc == AIC_OK && desc->pix_fmt != AIC_PIX_I420 && !(i420 = malloc(i420_size)))
        rc = AIC_ENOMEM;
      if (rc == AIC_OK) rc = aic_picture_to_i420(&f, i420 ? i420 : dst);
      if (rc == AIC_OK && i420)
        rc = aic_picture_from_i420(i420, desc->width, desc->height, desc->pix_fmt, dst);
      free(i420);
    }
  }
  if (rgb != dst) free(rgb);
  return rc;
}

const aic_codec_backend_t aic_codec_neural = {
    .id = AIC_CODEC_NEURAL,
    .name = "neural",
    .caps = AIC_CAP_VIDEO | AIC_CAP_LEARNED,
    .encode = neural_encode,
    .decode = neural_decode,
    .next_quality = neural_next_quality,
};
