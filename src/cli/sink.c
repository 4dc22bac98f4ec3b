#include "sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aic/convert.h"
#include "aic/error.h"
#include "io_png.h"
#include "util.h"

int cli_sink_init(cli_sink_t *s, const char *path, uint32_t pick, uint32_t rate_num,
                  uint32_t rate_den) {
  memset(s, 0, sizeof *s);
  s->path = path;
  s->pick = pick;
  s->rate_num = rate_num;
  s->rate_den = rate_den;
  if (cli_has_ext(path, ".png"))
    s->kind = CLI_SINK_PNG;
  else if (cli_has_ext(path, ".y4m"))
    s->kind = CLI_SINK_Y4M;
  else if (cli_has_ext(path, ".wav"))
    s->kind = CLI_SINK_WAV;
  else if (cli_has_ext(path, ".raw"))
    s->kind = CLI_SINK_RAW;
  else {
    cli_error("%s: unknown output type (want .png, .y4m, .wav or .raw)", path);
    return CLI_EXIT_USAGE;
  }
  return 0;
}

int cli_sink_takes_audio(const cli_sink_t *s) {
  return s->kind == CLI_SINK_WAV || s->kind == CLI_SINK_RAW;
}

int cli_sink_takes_pictures(const cli_sink_t *s) {
  return s->kind != CLI_SINK_WAV;
}

static int reserve_conv(cli_sink_t *s, size_t n) {
  if (n <= s->conv_size) return 0;
  uint8_t *p = realloc(s->conv, n);
  if (!p) {
    cli_error("out of memory writing %s", s->path);
    return -1;
  }
  s->conv = p;
  s->conv_size = n;
  return 0;
}

static int same_shape(const aic_frame_t *a, const aic_frame_t *b) {
  if (a->type == AIC_FRAME_AUDIO || b->type == AIC_FRAME_AUDIO)
    return a->type == b->type && a->audio_fmt == b->audio_fmt && a->sample_rate == b->sample_rate &&
           a->channels == b->channels;
  return a->pix_fmt == b->pix_fmt && a->width == b->width && a->height == b->height;
}

static void describe(const aic_frame_t *f, char *out, size_t n) {
  if (f->type == AIC_FRAME_AUDIO)
    snprintf(out, n, "%s %u Hz %u ch", aic_audio_format_name(f->audio_fmt), f->sample_rate,
             f->channels);
  else
    snprintf(out, n, "%s %ux%u", aic_pixel_format_name(f->pix_fmt), f->width, f->height);
}

/* Samples of `f` as a PNG stores them: RGB24/RGBA unchanged, 4:2:0 through BT.601 full range. */
static int to_rgb(cli_sink_t *s, const aic_frame_t *f, const uint8_t **rgb,
                  aic_pixel_format_t *fmt) {
  if (f->pix_fmt == AIC_PIX_RGB24 || f->pix_fmt == AIC_PIX_RGBA) {
    *rgb = f->data;
    *fmt = f->pix_fmt;
    return 0;
  }
  size_t i420_size, rgb_size;
  if (aic_pixel_format_size(AIC_PIX_I420, f->width, f->height, &i420_size) != 0 ||
      aic_pixel_format_size(AIC_PIX_RGB24, f->width, f->height, &rgb_size) != 0 ||
      reserve_conv(s, i420_size + rgb_size) != 0)
    return -1;
  const uint8_t *i420 = f->data;
  if (f->pix_fmt != AIC_PIX_I420) {
    if (aic_picture_to_i420(f, s->conv) != AIC_OK) goto bad;
    i420 = s->conv;
  }
  if (aic_picture_from_i420(i420, f->width, f->height, AIC_PIX_RGB24, s->conv + i420_size) !=
      AIC_OK)
    goto bad;
  *rgb = s->conv + i420_size;
  *fmt = AIC_PIX_RGB24;
  return 0;
bad:
  cli_error("%s: cannot convert %s to RGB", s->path, aic_pixel_format_name(f->pix_fmt));
  return -1;
}

static int to_i420(cli_sink_t *s, const aic_frame_t *f, const uint8_t **i420) {
  if (f->pix_fmt == AIC_PIX_I420) {
    *i420 = f->data;
    return 0;
  }
  if (!s->warned && f->pix_fmt != AIC_PIX_NV12) {
    cli_warn("%s: converting %s to 4:2:0 for Y4M loses chroma detail", s->path,
             aic_pixel_format_name(f->pix_fmt));
    s->warned = 1;
  }
  size_t size;
  if (aic_pixel_format_size(AIC_PIX_I420, f->width, f->height, &size) != 0 ||
      reserve_conv(s, size) != 0)
    return -1;
  if (aic_picture_to_i420(f, s->conv) != AIC_OK) {
    cli_error("%s: cannot convert %s to I420", s->path, aic_pixel_format_name(f->pix_fmt));
    return -1;
  }
  *i420 = s->conv;
  return 0;
}

static int open_output(cli_sink_t *s, const aic_frame_t *f) {
  switch (s->kind) {
    case CLI_SINK_Y4M:
      return cli_y4m_create(&s->y4m, s->path, f->width, f->height, s->rate_num, s->rate_den);
    case CLI_SINK_WAV:
      return cli_wav_create(&s->wav, s->path, f->audio_fmt, f->sample_rate, f->channels);
    case CLI_SINK_RAW:
      s->raw = fopen(s->path, "wb");
      if (!s->raw) {
        cli_error("cannot create %s: %s", s->path, strerror(errno));
        return -1;
      }
      return 0;
    default: return 0; /* a PNG is written whole when its frame arrives */
  }
}

int cli_sink_write(cli_sink_t *s, const aic_frame_t *f) {
  int audio = f->type == AIC_FRAME_AUDIO;
  if (audio ? !cli_sink_takes_audio(s) : !cli_sink_takes_pictures(s)) {
    cli_error("%s: cannot hold %s frames (use %s)", s->path, audio ? "audio" : "picture",
              audio ? ".wav" : ".png or .y4m");
    return -1;
  }
  if (!s->opened) {
    s->first = *f;
    s->first.data = NULL;
    if (open_output(s, f) != 0) return -1;
    s->opened = 1;
  } else if (s->kind != CLI_SINK_RAW && !same_shape(&s->first, f)) {
    char want[64], got[64];
    describe(&s->first, want, sizeof want);
    describe(f, got, sizeof got);
    cli_error("%s: frame %u is %s but the stream started as %s", s->path, s->index, got, want);
    return -1;
  }
  uint32_t index = s->index++;
  switch (s->kind) {
    case CLI_SINK_PNG: {
      if (index != s->pick) return 0;
      const uint8_t *rgb;
      aic_pixel_format_t fmt;
      if (to_rgb(s, f, &rgb, &fmt) != 0) return -1;
      if (cli_png_write(s->path, rgb, f->width, f->height, fmt) != 0) return -1;
      s->written = 1;
      return 0;
    }
    case CLI_SINK_Y4M: {
      const uint8_t *i420;
      if (to_i420(s, f, &i420) != 0) return -1;
      return cli_y4m_write_frame(&s->y4m, i420);
    }
    case CLI_SINK_WAV: return cli_wav_write(&s->wav, f->data, f->size);
    case CLI_SINK_RAW:
      if (fwrite(f->data, 1, f->size, s->raw) != f->size) {
        cli_error("cannot write %s: %s", s->path, strerror(errno));
        return -1;
      }
      return 0;
  }
  return -1;
}

int cli_sink_finish(cli_sink_t *s) {
  if (!s->opened) {
    cli_error("%s: the input holds no frames", s->path);
    cli_sink_abort(s);
    return -1;
  }
  int rc = 0;
  switch (s->kind) {
    case CLI_SINK_PNG:
      if (!s->written) {
        cli_error("%s: no frame %u to write (the input has %u)", s->path, s->pick, s->index);
        rc = -1;
      }
      break;
    case CLI_SINK_Y4M: rc = cli_y4m_finish(&s->y4m); break;
    case CLI_SINK_WAV: rc = cli_wav_finish(&s->wav); break;
    case CLI_SINK_RAW:
      if (s->raw) {
        rc = cli_close_output(s->raw, s->path);
        s->raw = NULL;
        if (rc != 0) remove(s->path);
      }
      break;
  }
  free(s->conv);
  s->conv = NULL;
  return rc;
}

void cli_sink_abort(cli_sink_t *s) {
  switch (s->kind) {
    case CLI_SINK_PNG:
      if (s->written) remove(s->path);
      break;
    case CLI_SINK_Y4M: cli_y4m_abort(&s->y4m); break;
    case CLI_SINK_WAV: cli_wav_abort(&s->wav); break;
    case CLI_SINK_RAW:
      if (s->raw) {
        fclose(s->raw);
        s->raw = NULL;
        remove(s->path);
      }
      break;
  }
  free(s->conv);
  s->conv = NULL;
}
