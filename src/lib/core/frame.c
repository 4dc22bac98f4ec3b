#include "aic/frame.h"

#include <stdint.h>

#include "aic/error.h"
#include "core/log_internal.h"

#define AIC_MAX_SAMPLE_RATE 192000u
#define AIC_MIN_SAMPLE_RATE 8000u
#define AIC_MAX_CHANNELS 8u

void aic_frame_limits_default(aic_frame_limits_t *limits) {
  if (!limits) return;
  limits->max_width = 7680;
  limits->max_height = 4320;
  limits->max_audio_samples = 480000;
}

int aic_pixel_format_size(aic_pixel_format_t fmt, uint32_t width, uint32_t height, size_t *out) {
  if (!out) return AIC_EINVAL;
  /* 64-bit arithmetic: 32-bit width * height * 4 cannot overflow it. */
  uint64_t w = width, h = height, luma = w * h, size;
  switch (fmt) {
    case AIC_PIX_I420:
    case AIC_PIX_NV12: size = luma + 2 * ((w + 1) / 2) * ((h + 1) / 2); break;
    case AIC_PIX_RGB24: size = luma * 3; break;
    case AIC_PIX_RGBA: size = luma * 4; break;
    default: return AIC_EINVAL;
  }
  if (size > SIZE_MAX) return AIC_EINVAL;
  *out = (size_t)size;
  return AIC_OK;
}

size_t aic_audio_format_bytes(aic_audio_format_t fmt) {
  switch (fmt) {
    case AIC_AUDIO_S16LE: return 2;
    case AIC_AUDIO_F32LE: return 4;
    default: return 0;
  }
}

static int validate_picture(const aic_frame_t *f, const aic_frame_limits_t *lim, char *why,
                            size_t why_size) {
  if (f->pix_fmt <= AIC_PIX_UNSPECIFIED || f->pix_fmt > AIC_PIX_RGBA) {
    aic_set_why(why, why_size, "pixel_format %d is not a known pixel format", (int)f->pix_fmt);
    return AIC_EINVAL;
  }
  if (f->width == 0 || f->height == 0) {
    aic_set_why(why, why_size, "width and height must be at least 1 (got %ux%u)", f->width,
                f->height);
    return AIC_EINVAL;
  }
  if (f->width > lim->max_width || f->height > lim->max_height) {
    aic_set_why(why, why_size, "frame %ux%u exceeds the limit %ux%u", f->width, f->height,
                lim->max_width, lim->max_height);
    return AIC_ELIMIT;
  }
  size_t expected;
  if (aic_pixel_format_size(f->pix_fmt, f->width, f->height, &expected) != AIC_OK) {
    aic_set_why(why, why_size, "frame size overflows");
    return AIC_EINVAL;
  }
  if (f->size != expected) {
    aic_set_why(why, why_size, "data is %zu bytes but a %ux%u %s frame is %zu bytes", f->size,
                f->width, f->height, aic_pixel_format_name(f->pix_fmt), expected);
    return AIC_EINVAL;
  }
  return AIC_OK;
}

static int validate_audio(const aic_frame_t *f, const aic_frame_limits_t *lim, char *why,
                          size_t why_size) {
  size_t bps = aic_audio_format_bytes(f->audio_fmt);
  if (bps == 0) {
    aic_set_why(why, why_size, "audio format %d is not a known audio format", (int)f->audio_fmt);
    return AIC_EINVAL;
  }
  if (f->sample_rate < AIC_MIN_SAMPLE_RATE || f->sample_rate > AIC_MAX_SAMPLE_RATE) {
    aic_set_why(why, why_size, "sample_rate %u is outside %u..%u", f->sample_rate,
                AIC_MIN_SAMPLE_RATE, AIC_MAX_SAMPLE_RATE);
    return AIC_EINVAL;
  }
  if (f->channels < 1 || f->channels > AIC_MAX_CHANNELS) {
    aic_set_why(why, why_size, "channels %u is outside 1..%u", f->channels, AIC_MAX_CHANNELS);
    return AIC_EINVAL;
  }
  size_t frame_bytes = bps * f->channels;
  if (f->size == 0 || f->size % frame_bytes != 0) {
    aic_set_why(why, why_size,
                "audio data is %zu bytes, not a positive whole number of %zu-byte sample frames",
                f->size, frame_bytes);
    return AIC_EINVAL;
  }
  if (f->size / frame_bytes > lim->max_audio_samples) {
    aic_set_why(why, why_size, "audio frame of %zu samples per channel exceeds the limit %u",
                f->size / frame_bytes, lim->max_audio_samples);
    return AIC_ELIMIT;
  }
  return AIC_OK;
}

int aic_frame_validate(const aic_frame_t *frame, const aic_frame_limits_t *limits, char *why,
                       size_t why_size) {
  if (why && why_size) why[0] = '\0';
  if (!frame || !limits) {
    aic_set_why(why, why_size, "no frame");
    return AIC_EINVAL;
  }
  if (frame->size > 0 && !frame->data) {
    aic_set_why(why, why_size, "frame has a size but no data");
    return AIC_EINVAL;
  }
  switch (frame->type) {
    case AIC_FRAME_VIDEO:
    case AIC_FRAME_SCREEN: return validate_picture(frame, limits, why, why_size);
    case AIC_FRAME_AUDIO: return validate_audio(frame, limits, why, why_size);
    case AIC_FRAME_UNSPECIFIED:
      aic_set_why(why, why_size, "frame_type must be set (VIDEO, AUDIO or SCREEN)");
      return AIC_EINVAL;
    default:
      aic_set_why(why, why_size, "frame_type %d is not a known frame type", (int)frame->type);
      return AIC_EINVAL;
  }
}

const char *aic_frame_type_name(aic_frame_type_t type) {
  switch (type) {
    case AIC_FRAME_VIDEO: return "video";
    case AIC_FRAME_AUDIO: return "audio";
    case AIC_FRAME_SCREEN: return "screen";
    default: return "unspecified";
  }
}

const char *aic_pixel_format_name(aic_pixel_format_t fmt) {
  switch (fmt) {
    case AIC_PIX_I420: return "I420";
    case AIC_PIX_NV12: return "NV12";
    case AIC_PIX_RGB24: return "RGB24";
    case AIC_PIX_RGBA: return "RGBA";
    default: return "unspecified";
  }
}

const char *aic_audio_format_name(aic_audio_format_t fmt) {
  switch (fmt) {
    case AIC_AUDIO_S16LE: return "S16LE";
    case AIC_AUDIO_F32LE: return "F32LE";
    default: return "unspecified";
  }
}
