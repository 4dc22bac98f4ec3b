#include "source.h"

#include <stdlib.h>
#include <string.h>

#include "io_png.h"
#include "util.h"

/* Raw input stays a single frame: the file is the frame, as in the first aic. */
static int open_raw(cli_source_t *s, const cli_raw_opts_t *raw, aic_frame_type_t type) {
  size_t expected;
  if (aic_pixel_format_size(raw->fmt, raw->width, raw->height, &expected) != 0) {
    cli_error("%s: %ux%u is too large", s->path, raw->width, raw->height);
    return CLI_EXIT_FAIL;
  }
  size_t size;
  if (cli_read_file(s->path, expected + 1, &s->buf, &size) != 0) return CLI_EXIT_FAIL;
  if (size != expected) {
    cli_error("%s: %s%zu bytes but one %ux%u %s frame is %zu bytes", s->path,
              size > expected ? "more than " : "", size > expected ? expected : size, raw->width,
              raw->height, aic_pixel_format_name(raw->fmt), expected);
    return CLI_EXIT_FAIL;
  }
  s->media = CLI_MEDIA_UNKNOWN;
  s->desc = (aic_frame_t){
      .type = type, .pix_fmt = raw->fmt, .width = raw->width, .height = raw->height, .size = size};
  s->frame_bytes = size;
  return 0;
}

static int open_png(cli_source_t *s, aic_frame_type_t type, const aic_frame_limits_t *limits) {
  cli_image_t img;
  if (cli_png_read(s->path, limits, &img) != 0) return CLI_EXIT_FAIL;
  s->media = CLI_MEDIA_IMAGE;
  s->buf = img.data;
  s->desc = (aic_frame_t){
      .type = type, .pix_fmt = img.fmt, .width = img.width, .height = img.height, .size = img.size};
  s->frame_bytes = img.size;
  return 0;
}

static int open_y4m(cli_source_t *s, aic_frame_type_t type, const aic_frame_limits_t *limits) {
  if (cli_y4m_open(&s->y4m, s->path, limits) != 0) return CLI_EXIT_FAIL;
  s->media = CLI_MEDIA_VIDEO;
  s->rate_num = s->y4m.rate_num;
  s->rate_den = s->y4m.rate_den;
  if (s->rate_den) s->fps = (double)s->rate_num / (double)s->rate_den;
  s->frame_bytes = s->y4m.frame_size;
  s->desc = (aic_frame_t){.type = type,
                          .pix_fmt = AIC_PIX_I420,
                          .width = s->y4m.width,
                          .height = s->y4m.height,
                          .size = s->frame_bytes};
  s->total = s->y4m.file_size == UINT64_MAX ? 0 : s->y4m.file_size;
  s->buf = malloc(s->frame_bytes);
  if (!s->buf) {
    cli_error("out of memory for %ux%u frames", s->y4m.width, s->y4m.height);
    return CLI_EXIT_FAIL;
  }
  return 0;
}

static int open_wav(cli_source_t *s) {
  if (cli_wav_open(&s->wav, s->path) != 0) return CLI_EXIT_FAIL;
  s->media = CLI_MEDIA_AUDIO;
  /* The engine names the rates it codes; this only keeps a hostile rate from sizing a huge
   * buffer before the engine has had its say. */
  if (s->wav.sample_rate > 1000000u) {
    cli_error("%s: sample rate %u Hz is implausible", s->path, s->wav.sample_rate);
    return CLI_EXIT_FAIL;
  }
  uint32_t samples = s->wav.sample_rate * CLI_AUDIO_FRAME_MS / 1000;
  if (samples == 0) samples = 1;
  s->fps = (double)s->wav.sample_rate / samples;
  s->frame_bytes = (size_t)samples * s->wav.frame_bytes;
  s->desc = (aic_frame_t){.type = AIC_FRAME_AUDIO,
                          .audio_fmt = s->wav.fmt,
                          .sample_rate = s->wav.sample_rate,
                          .channels = s->wav.channels};
  s->total = s->wav.frames == UINT64_MAX ? 0 : s->wav.frames;
  s->buf = malloc(s->frame_bytes);
  if (!s->buf) {
    cli_error("out of memory");
    return CLI_EXIT_FAIL;
  }
  return 0;
}

int cli_source_open(cli_source_t *s, const char *path, const cli_raw_opts_t *raw,
                    aic_frame_type_t picture_type, const aic_frame_limits_t *limits) {
  memset(s, 0, sizeof *s);
  s->path = path;
  int rc;
  if (raw->fmt != AIC_PIX_UNSPECIFIED) {
    rc = open_raw(s, raw, picture_type);
  } else if (cli_has_ext(path, ".png")) {
    rc = open_png(s, picture_type, limits);
  } else if (cli_has_ext(path, ".y4m")) {
    rc = open_y4m(s, picture_type, limits);
  } else if (cli_has_ext(path, ".wav")) {
    rc = open_wav(s);
  } else {
    cli_error(
        "%s: unknown input type (want .png, .y4m or .wav, or --format and --size for a raw "
        "frame)",
        path);
    return CLI_EXIT_USAGE;
  }
  if (rc != 0) cli_source_close(s);
  return rc;
}

int cli_source_next(cli_source_t *s, aic_frame_t *frame) {
  if (s->finished) return 0;
  *frame = s->desc;
  frame->data = s->buf;
  switch (s->media) {
    case CLI_MEDIA_VIDEO: {
      int rc = cli_y4m_read_frame(&s->y4m, s->buf);
      s->done = cli_y4m_position(&s->y4m);
      if (rc <= 0) s->finished = 1;
      return rc;
    }
    case CLI_MEDIA_AUDIO: {
      long n = cli_wav_read(&s->wav, s->buf, s->frame_bytes / s->wav.frame_bytes);
      if (n <= 0) {
        s->finished = 1;
        return n < 0 ? -1 : 0;
      }
      s->done += (uint64_t)n;
      frame->size = (size_t)n * s->wav.frame_bytes;
      return 1;
    }
    default: /* a PNG or a raw frame: exactly one picture */
      s->finished = 1;
      s->done = s->total = 1;
      return 1;
  }
}

void cli_source_close(cli_source_t *s) {
  cli_y4m_close(&s->y4m);
  cli_wav_close(&s->wav);
  free(s->buf);
  s->buf = NULL;
}
