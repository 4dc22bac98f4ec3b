/* Encoder inputs: PNG, Y4M, WAV or a raw frame, delivered as a sequence of AIC frames. */
#ifndef AIC_CLI_SOURCE_H
#define AIC_CLI_SOURCE_H

#include <stdint.h>

#include "aic/frame.h"
#include "container.h"
#include "io_wav.h"
#include "io_y4m.h"

/* Audio is cut into frames of this length, the packet size real-time audio codecs use. */
#define CLI_AUDIO_FRAME_MS 20u

typedef struct cli_raw_opts {
  aic_pixel_format_t fmt; /* AIC_PIX_UNSPECIFIED: the input is not raw */
  uint32_t width;
  uint32_t height;
} cli_raw_opts_t;

typedef struct cli_source {
  cli_media_t media;
  const char *path;   /* borrowed */
  aic_frame_t desc;   /* the description every frame shares (data and size per frame) */
  uint8_t *buf;       /* the current frame's samples */
  size_t frame_bytes; /* pictures: the frame size; audio: the largest frame */
  uint32_t rate_num;  /* video frame rate, 0/0 unknown */
  uint32_t rate_den;
  double fps;    /* frames per second for rate control, 0 unknown */
  uint64_t done; /* progress: units consumed of `total` (0: unknown) */
  uint64_t total;
  int finished;
  cli_y4m_reader_t y4m;
  cli_wav_reader_t wav;
} cli_source_t;

/* Opens `path`: raw when raw->fmt is set, else by extension (.png, .y4m, .wav). Pictures become
 * frames of type `picture_type` (video or screen). Returns 0, CLI_EXIT_USAGE for an input the
 * extension does not identify (reported), or CLI_EXIT_FAIL (reported). */
int cli_source_open(cli_source_t *s, const char *path, const cli_raw_opts_t *raw,
                    aic_frame_type_t picture_type, const aic_frame_limits_t *limits);

/* Delivers the next frame into *frame (data owned by the source, valid until the next call).
 * Returns 1, 0 at the end, -1 after reporting. */
int cli_source_next(cli_source_t *s, aic_frame_t *frame);

void cli_source_close(cli_source_t *s);

#endif
