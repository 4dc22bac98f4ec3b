/* Decoder outputs: decoded AIC frames written as PNG, Y4M, WAV or raw bytes. */
#ifndef AIC_CLI_SINK_H
#define AIC_CLI_SINK_H

#include <stdint.h>
#include <stdio.h>

#include "aic/frame.h"
#include "io_wav.h"
#include "io_y4m.h"

typedef enum cli_sink_kind {
  CLI_SINK_PNG,
  CLI_SINK_Y4M,
  CLI_SINK_WAV,
  CLI_SINK_RAW,
} cli_sink_kind_t;

typedef struct cli_sink {
  cli_sink_kind_t kind;
  const char *path; /* borrowed */
  uint32_t pick;    /* PNG: the index of the frame to write */
  uint32_t rate_num;
  uint32_t rate_den;
  uint32_t index; /* frames seen so far */
  int opened;
  int written;
  int warned;
  aic_frame_t first; /* description of the first frame (data NULL) */
  uint8_t *conv;     /* conversion buffer */
  size_t conv_size;
  FILE *raw;
  cli_y4m_writer_t y4m;
  cli_wav_writer_t wav;
} cli_sink_t;

/* Chooses the output by the extension of `path` (.png, .y4m, .wav, .raw). `pick` is the frame
 * a PNG receives; rate_num/rate_den the Y4M frame rate (0/0: unknown). Nothing is created until
 * the first frame arrives. Returns 0, or CLI_EXIT_USAGE after reporting an unknown extension. */
int cli_sink_init(cli_sink_t *s, const char *path, uint32_t pick, uint32_t rate_num,
                  uint32_t rate_den);

/* 1 when the sink can take audio frames / picture frames. */
int cli_sink_takes_audio(const cli_sink_t *s);
int cli_sink_takes_pictures(const cli_sink_t *s);

/* Writes one decoded frame, converting pictures to what the format stores (RGB for PNG, I420 for
 * Y4M). Every frame must share the first frame's description. Returns 0, or -1 after
 * reporting. */
int cli_sink_write(cli_sink_t *s, const aic_frame_t *frame);

/* Completes the file. Returns 0, or -1 after reporting (nothing is left behind). */
int cli_sink_finish(cli_sink_t *s);

/* Removes whatever was written after a failure elsewhere. */
void cli_sink_abort(cli_sink_t *s);

#endif
