#include "codec/video_common.h"

#include <math.h>
#include <string.h>

#include "aic/error.h"

int aic_i420_layout(uint32_t width, uint32_t height, aic_i420_layout_t *layout) {
  if (width == 0 || height == 0) return AIC_EINVAL;
  /* No codec here goes beyond AV1's 65536 (VP8 stops at 16383), and the cap keeps the 64-bit
   * products below from wrapping. */
  if (width > AIC_VIDEO_MAX_DIM || height > AIC_VIDEO_MAX_DIM) return AIC_EUNSUPPORTED;
  uint64_t cw = ((uint64_t)width + 1) / 2, ch = ((uint64_t)height + 1) / 2;
  uint64_t luma = (uint64_t)width * height, chroma = cw * ch;
#if SIZE_MAX < UINT64_MAX
  if (luma + 2 * chroma > SIZE_MAX) return AIC_ELIMIT;
#endif
  layout->width[0] = width;
  layout->height[0] = height;
  layout->width[1] = layout->width[2] = (uint32_t)cw;
  layout->height[1] = layout->height[2] = (uint32_t)ch;
  layout->offset[0] = 0;
  layout->offset[1] = (size_t)luma;
  layout->offset[2] = (size_t)(luma + chroma);
  layout->size = (size_t)(luma + 2 * chroma);
  return AIC_OK;
}

int aic_video_check_frame(const aic_frame_t *frame, aic_i420_layout_t *layout) {
  if (!frame || frame->pix_fmt != AIC_PIX_I420 || !frame->data) return AIC_EINVAL;
  int rc = aic_i420_layout(frame->width, frame->height, layout);
  if (rc) return rc;
  return frame->size == layout->size ? AIC_OK : AIC_EINVAL;
}

int aic_video_check_decode(const aic_frame_t *desc, const uint8_t *payload, size_t payload_size,
                           const uint8_t *dst, size_t dst_size, aic_i420_layout_t *layout) {
  if (!desc || desc->pix_fmt != AIC_PIX_I420 || !dst) return AIC_EINVAL;
  int rc = aic_i420_layout(desc->width, desc->height, layout);
  if (rc) return rc;
  if (dst_size != layout->size) return AIC_EINVAL;
  /* Both libraries read an empty buffer as "flush" rather than as a frame. */
  if (!payload || payload_size == 0) return AIC_ECORRUPT;
  /* libvpx takes the size as unsigned int. */
  if (payload_size > UINT32_MAX) return AIC_ECORRUPT;
  return AIC_OK;
}

int aic_video_check_params(const aic_codec_params_t *params) {
  if (!params || !isfinite(params->quality) || !isfinite(params->fps) || params->fps <= 0.0)
    return AIC_EINVAL;
  return AIC_OK;
}

int aic_video_quantizer(double quality, int q_best, int q_worst) {
  if (quality < 0.0) quality = 0.0;
  if (quality > 100.0) quality = 100.0;
  return q_worst - (int)lround((q_worst - q_best) * quality / 100.0);
}

int aic_video_speed(const aic_codec_params_t *params) {
  return params->speed < 0 ? 0 : params->speed > 9 ? 9 : params->speed;
}

int aic_video_threads(const aic_codec_params_t *params) {
  return params->threads < 1 ? 1 : params->threads > 64 ? 64 : params->threads;
}

int64_t aic_video_frame_ticks(double fps) {
  double ticks = AIC_VIDEO_TIMEBASE_HZ / fps;
  if (!(ticks >= 1.0)) return 1;
  /* A frame rate far below 1 fps is nonsense for real time; the cap keeps the pts arithmetic
   * (and libvpx's unsigned long duration) far from overflow. */
  if (ticks > 3600.0 * AIC_VIDEO_TIMEBASE_HZ) return 3600LL * AIC_VIDEO_TIMEBASE_HZ;
  return (int64_t)llround(ticks);
}

void aic_i420_copy_in(const aic_i420_layout_t *layout, uint8_t *dst, const uint8_t *const planes[3],
                      const int strides[3]) {
  for (int p = 0; p < 3; p++) {
    uint8_t *out = dst + layout->offset[p];
    const uint8_t *in = planes[p];
    for (uint32_t y = 0; y < layout->height[p]; y++) {
      memcpy(out, in, layout->width[p]);
      out += layout->width[p];
      in += strides[p];
    }
  }
}
