/* Raw media frames as libaic sees them: a description plus a borrowed data pointer. */
#ifndef AIC_FRAME_H
#define AIC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values match the wire contract's enums (proto/auralink/aic/v1). */
typedef enum aic_frame_type {
  AIC_FRAME_UNSPECIFIED = 0,
  AIC_FRAME_VIDEO = 1,
  AIC_FRAME_AUDIO = 2,
  AIC_FRAME_SCREEN = 3,
} aic_frame_type_t;

typedef enum aic_pixel_format {
  AIC_PIX_UNSPECIFIED = 0,
  AIC_PIX_I420 = 1,
  AIC_PIX_NV12 = 2,
  AIC_PIX_RGB24 = 3,
  AIC_PIX_RGBA = 4,
} aic_pixel_format_t;

typedef enum aic_audio_format {
  AIC_AUDIO_UNSPECIFIED = 0,
  AIC_AUDIO_S16LE = 1,
  AIC_AUDIO_F32LE = 2,
} aic_audio_format_t;

/* Limits a frame is checked against. aic_frame_limits_default() gives 7680x4320 pictures and
 * audio frames of up to 480000 samples per channel (10 s at 48 kHz). */
typedef struct aic_frame_limits {
  uint32_t max_width;
  uint32_t max_height;
  uint32_t max_audio_samples; /* per channel */
} aic_frame_limits_t;

void aic_frame_limits_default(aic_frame_limits_t *limits);

/* A frame. `data` is borrowed: the caller keeps it alive for the duration of the call it is
 * passed to. Video/screen frames use pix_fmt, width, height; audio frames use audio_fmt,
 * sample_rate, channels, and `size` holds whole sample frames. */
typedef struct aic_frame {
  aic_frame_type_t type;
  aic_pixel_format_t pix_fmt;
  uint32_t width;
  uint32_t height;
  aic_audio_format_t audio_fmt;
  uint32_t sample_rate;
  uint32_t channels;
  const uint8_t *data;
  size_t size;
} aic_frame_t;

/* Bytes of a tightly packed image of this format and size (chroma planes of 4:2:0 formats are
 * ceil(w/2) x ceil(h/2)). Returns 0 and sets *out, or AIC_EINVAL for an unknown format or a
 * size that overflows. */
int aic_pixel_format_size(aic_pixel_format_t fmt, uint32_t width, uint32_t height, size_t *out);

/* Bytes per sample of one channel (2 or 4), or 0 for an unknown format. */
size_t aic_audio_format_bytes(aic_audio_format_t fmt);

/* Checks every field of a frame against the limits and the data size. Returns 0, or AIC_EINVAL
 * (malformed) / AIC_ELIMIT (dimensions over the limits) and writes a one-line reason into
 * `why` (always NUL-terminated when why_size > 0; may be NULL). */
int aic_frame_validate(const aic_frame_t *frame, const aic_frame_limits_t *limits, char *why,
                       size_t why_size);

const char *aic_frame_type_name(aic_frame_type_t type);
const char *aic_pixel_format_name(aic_pixel_format_t fmt);
const char *aic_audio_format_name(aic_audio_format_t fmt);

#ifdef __cplusplus
}
#endif
#endif
