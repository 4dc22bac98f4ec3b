/* Row ranges of the BT.601 conversions (convert.c) between RGB24 and I420, both tightly packed
 * w x h pictures: a caller with threads can split a picture between them. A range writes only
 * its own rows, with the bytes aic_picture_from_i420 / aic_picture_to_i420 give. No checks:
 * the caller has validated the sizes and buffers. */
#ifndef AIC_CORE_CONVERT_ROWS_H
#define AIC_CORE_CONVERT_ROWS_H

#include <stdint.h>

/* RGB rows [y0, y1) of the picture. */
void aic_i420_to_rgb24_rows(const uint8_t *i420, uint32_t w, uint32_t h, uint32_t y0, uint32_t y1,
                            uint8_t *rgb);
/* Chroma rows [c0, c1) of the I420 picture and the luma rows 2 * c0 .. 2 * c1 - 1 (those below
 * h excepted). */
void aic_rgb24_to_i420_rows(const uint8_t *rgb, uint32_t w, uint32_t h, uint32_t c0, uint32_t c1,
                            uint8_t *i420);

#endif
