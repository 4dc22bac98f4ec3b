/* libpng reports errors by longjmp. Everything the error path must see lives in a context struct
 * reached through a pointer that does not change after setjmp, so no local is left
 * indeterminate (C11 7.13.2.1) and -Wclobbered stays quiet. */
#include "io_png.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct png_ctx {
  jmp_buf jump;
  char msg[200];
  const char *path;
  FILE *file;
  png_structp png;
  png_infop info;
  uint8_t *pixels;
  png_bytep *rows;
} png_ctx_t;

static void on_png_error(png_structp png, png_const_charp msg) {
  png_ctx_t *c = png_get_error_ptr(png);
  snprintf(c->msg, sizeof c->msg, "%s", msg);
  longjmp(c->jump, 1);
}

/* libpng warns about benign oddities (unknown sRGB profiles, extra data): not worth a line. */
static void on_png_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static int alloc_rows(png_ctx_t *c, uint32_t width, uint32_t height, size_t channels) {
  size_t stride = (size_t)width * channels;
  c->pixels = malloc(stride * height);
  c->rows = malloc(sizeof *c->rows * height);
  if (!c->pixels || !c->rows) return -1;
  for (uint32_t y = 0; y < height; y++) c->rows[y] = c->pixels + (size_t)y * stride;
  return 0;
}

static int decode(png_ctx_t *c, const aic_frame_limits_t *limits, cli_image_t *img) {
  if (setjmp(c->jump)) {
    cli_error("%s: %s", c->path, c->msg);
    return -1;
  }
  png_init_io(c->png, c->file);
  png_set_sig_bytes(c->png, 8);
  /* A hostile IHDR cannot make us allocate more than the engine would accept anyway. */
  png_set_user_limits(c->png, limits->max_width, limits->max_height);
  png_read_info(c->png, c->info);
  png_set_expand(c->png); /* palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha */
#ifdef PNG_READ_SCALE_16_TO_8_SUPPORTED
  png_set_scale_16(c->png); /* rounds, where strip_16 would truncate */
#else
  png_set_strip_16(c->png);
#endif
  png_set_gray_to_rgb(c->png);
  png_set_interlace_handling(c->png);
  png_read_update_info(c->png, c->info);
  uint32_t width = png_get_image_width(c->png, c->info);
  uint32_t height = png_get_image_height(c->png, c->info);
  size_t channels = png_get_channels(c->png, c->info);
  if ((channels != 3 && channels != 4) || png_get_bit_depth(c->png, c->info) != 8 ||
      png_get_rowbytes(c->png, c->info) != (size_t)width * channels) {
    cli_error("%s: unexpected PNG layout after conversion (%zu channels)", c->path, channels);
    return -1;
  }
  if (alloc_rows(c, width, height, channels) != 0) {
    cli_error("%s: out of memory for a %ux%u picture", c->path, width, height);
    return -1;
  }
  png_read_image(c->png, c->rows);
  png_read_end(c->png, NULL);
  img->data = c->pixels;
  img->size = (size_t)width * height * channels;
  img->width = width;
  img->height = height;
  img->fmt = channels == 4 ? AIC_PIX_RGBA : AIC_PIX_RGB24;
  c->pixels = NULL;
  return 0;
}

int cli_png_read(const char *path, const aic_frame_limits_t *limits, cli_image_t *img) {
  memset(img, 0, sizeof *img);
  png_ctx_t *c = calloc(1, sizeof *c);
  if (!c) {
    cli_error("out of memory");
    return -1;
  }
  int rc = -1;
  c->path = path;
  c->file = fopen(path, "rb");
  if (!c->file) {
    cli_error("cannot open %s: %s", path, strerror(errno));
    goto out;
  }
  uint8_t sig[8];
  if (fread(sig, 1, sizeof sig, c->file) != sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
    cli_error("%s: not a PNG file", path);
    goto out;
  }
  c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, on_png_error, on_png_warning);
  c->info = c->png ? png_create_info_struct(c->png) : NULL;
  if (!c->info) {
    cli_error("out of memory");
    goto out;
  }
  rc = decode(c, limits, img);
out:
  if (c->png) png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
  if (c->file) fclose(c->file);
  free(c->pixels);
  free(c->rows);
  free(c);
  return rc;
}

static int encode(png_ctx_t *c, const uint8_t *pixels, uint32_t width, uint32_t height,
                  int channels) {
  if (setjmp(c->jump)) {
    cli_error("cannot write %s: %s", c->path, c->msg);
    return -1;
  }
  png_init_io(c->png, c->file);
  png_set_IHDR(c->png, c->info, width, height, 8,
               channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(c->png, c->info);
  for (uint32_t y = 0; y < height; y++)
    png_write_row(c->png, pixels + (size_t)y * width * (size_t)channels);
  png_write_end(c->png, NULL);
  return 0;
}

int cli_png_write(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height,
                  aic_pixel_format_t fmt) {
  if (fmt != AIC_PIX_RGB24 && fmt != AIC_PIX_RGBA) {
    cli_error("%s: PNG output takes RGB24 or RGBA pictures", path);
    return -1;
  }
  png_ctx_t *c = calloc(1, sizeof *c);
  if (!c) {
    cli_error("out of memory");
    return -1;
  }
  int rc = -1;
  c->path = path;
  c->file = fopen(path, "wb");
  if (!c->file) {
    cli_error("cannot create %s: %s", path, strerror(errno));
    goto out;
  }
  c->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_png_error, on_png_warning);
  c->info = c->png ? png_create_info_struct(c->png) : NULL;
  if (!c->info) {
    cli_error("out of memory");
    goto out;
  }
  rc = encode(c, pixels, width, height, fmt == AIC_PIX_RGBA ? 4 : 3);
out:
  if (c->png) png_destroy_write_struct(&c->png, c->info ? &c->info : NULL);
  if (c->file && cli_close_output(c->file, path) != 0) rc = -1;
  if (rc != 0 && c->file) remove(path);
  free(c);
  return rc;
}
