/* Pixel format conversion between the formats AIC accepts and the I420 that lossy picture
 * codecs code. RGB <-> YUV uses BT.601 full range (JFIF): every 8-bit value of Y, U and V is
 * used, which loses less than the 16..235 video range, and both ends of a session are AIC so
 * no signalling is needed. Chroma is averaged over each 2x2 block on the way in and repeated
 * on the way out. Alpha is not carried: RGBA comes back opaque (255). */
#ifndef AIC_CONVERT_H
#define AIC_CONVERT_H

#include <stdint.h>

#include "aic/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Converts the picture `src` (I420, NV12, RGB24 or RGBA, tightly packed, size already checked
 * by aic_frame_validate) into a tightly packed I420 picture at `dst`, which must hold
 * aic_pixel_format_size(AIC_PIX_I420, width, height) bytes. Returns 0 or AIC_EINVAL (NULL
 * pointers, not a picture, unknown format). */
int aic_picture_to_i420(const aic_frame_t *src, uint8_t *dst);

/* Converts a tightly packed I420 picture of width x height into `fmt` at `dst`, which must hold
 * aic_pixel_format_size(fmt, width, height) bytes. Returns 0 or AIC_EINVAL. */
int aic_picture_from_i420(const uint8_t *i420, uint32_t width, uint32_t height,
                          aic_pixel_format_t fmt, uint8_t *dst);

#ifdef __cplusplus
}
#endif
#endif
