/* Helpers shared by the inter-frame video backends (vp8_codec.c, av1_codec.c) and nothing else:
 * the engine's tightly packed I420 layout and the codec-independent parts of the parameters. */
#ifndef AIC_CODEC_VIDEO_COMMON_H
#define AIC_CODEC_VIDEO_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aic/frame.h"
#include "codec/backend.h"

/* Where each plane of a tightly packed I420 picture lives: Y is width x height, U and V are
 * ceil(width/2) x ceil(height/2), one after the other, with no row padding. */
typedef struct aic_i420_layout {
  uint32_t width[3];
  uint32_t height[3];
  size_t offset[3];
  size_t size; /* bytes of the whole picture */
} aic_i420_layout_t;

#define AIC_VIDEO_MAX_DIM 65536u

/* Fills the layout of a width x height picture. Returns 0, AIC_EINVAL for a zero dimension,
 * AIC_EUNSUPPORTED above AIC_VIDEO_MAX_DIM, AIC_ELIMIT when the size does not fit a size_t. */
int aic_i420_layout(uint32_t width, uint32_t height, aic_i420_layout_t *layout);

/* Checks that `frame` is an I420 picture whose data is exactly its layout, and fills the layout.
 * Returns 0, AIC_EINVAL or an aic_i420_layout() error. */
int aic_video_check_frame(const aic_frame_t *frame, aic_i420_layout_t *layout);

/* Checks what the decode entry points get: an I420 description whose layout is exactly
 * dst_size bytes, and a non-empty payload. Returns 0, AIC_EINVAL (caller's mistake) or
 * AIC_ECORRUPT (empty payload). */
int aic_video_check_decode(const aic_frame_t *desc, const uint8_t *payload, size_t payload_size,
                           const uint8_t *dst, size_t dst_size, aic_i420_layout_t *layout);

/* Checks the per-frame parameters a video backend relies on (finite quality, positive fps).
 * Returns 0 or AIC_EINVAL. */
int aic_video_check_params(const aic_codec_params_t *params);

/* Maps quality 0..100 linearly and monotonically (higher quality, lower quantizer) onto the
 * quantizer range [q_best, q_worst]; out-of-range qualities are clamped. */
int aic_video_quantizer(double quality, int q_best, int q_worst);

/* params->speed clamped to 0..9 and params->threads clamped to 1..64 (both libraries' limit). */
int aic_video_speed(const aic_codec_params_t *params);
int aic_video_threads(const aic_codec_params_t *params);

/* Both encoders run on a 90 kHz timebase (the RTP video clock) so that a fractional or changing
 * frame rate needs no reconfiguration: each frame lasts 90000 / fps ticks, at least 1. */
#define AIC_VIDEO_TIMEBASE_HZ 90000
int64_t aic_video_frame_ticks(double fps);

/* Copies three 8-bit planes with arbitrary strides into the packed layout at dst. */
void aic_i420_copy_in(const aic_i420_layout_t *layout, uint8_t *dst, const uint8_t *const planes[3],
                      const int strides[3]);

#endif
