/* PNG files as 8-bit RGB24 or RGBA pictures (libpng). */
#ifndef AIC_CLI_IO_PNG_H
#define AIC_CLI_IO_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "aic/frame.h"

/* A tightly packed picture owned by whoever holds it (free `data`). */
typedef struct cli_image {
  uint8_t *data;
  size_t size;
  uint32_t width;
  uint32_t height;
  aic_pixel_format_t fmt; /* AIC_PIX_RGB24 or AIC_PIX_RGBA */
} cli_image_t;

/* Reads a PNG of any colour type and depth. Pixel values are kept as stored (no gamma or colour
 * management), so lossless round trips are exact: gray becomes RGB24, gray+alpha RGBA, palette
 * RGB24 (RGBA with a tRNS chunk), 16-bit samples are scaled to 8 bits. Pictures over `limits`
 * are refused before any pixel memory is allocated. Returns 0 and fills *img (caller frees
 * img->data), or -1 after reporting. */
int cli_png_read(const char *path, const aic_frame_limits_t *limits, cli_image_t *img);

/* Writes an RGB24 or RGBA picture as an 8-bit PNG. Returns 0, or -1 after reporting (the partial
 * file is removed). */
int cli_png_write(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height,
                  aic_pixel_format_t fmt);

#endif
