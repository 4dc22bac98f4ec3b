/* YUV4MPEG2 (.y4m) streams of 8-bit 4:2:0 pictures, read and written one frame at a time. */
#ifndef AIC_CLI_IO_Y4M_H
#define AIC_CLI_IO_Y4M_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aic/frame.h"

typedef struct cli_y4m_reader {
  FILE *file;
  const char *path; /* borrowed */
  uint32_t width;
  uint32_t height;
  uint32_t rate_num; /* 0/0: the stream did not say */
  uint32_t rate_den;
  size_t frame_size; /* bytes of one I420 picture */
  uint32_t frames_read;
  uint64_t file_size; /* UINT64_MAX when not a regular file */
} cli_y4m_reader_t;

/* Opens a stream and parses its header. 4:2:0 colour spaces (C420jpeg, C420, C420paldv,
 * C420mpeg2, or none) are accepted: their chroma siting differs but the samples are I420.
 * Interlacing (I), aspect (A) and comments (X) are tolerated and ignored. Pictures over `limits`
 * are refused. Returns 0, or -1 after reporting. */
int cli_y4m_open(cli_y4m_reader_t *r, const char *path, const aic_frame_limits_t *limits);

/* Reads the next frame's I420 samples into `dst` (r->frame_size bytes). Returns 1 for a frame, 0
 * at the clean end of the stream, -1 after reporting a malformed or truncated frame. */
int cli_y4m_read_frame(cli_y4m_reader_t *r, uint8_t *dst);

/* Bytes consumed so far, for progress. */
uint64_t cli_y4m_position(const cli_y4m_reader_t *r);

void cli_y4m_close(cli_y4m_reader_t *r);

typedef struct cli_y4m_writer {
  FILE *file;
  const char *path; /* borrowed */
  size_t frame_size;
} cli_y4m_writer_t;

/* Creates a stream of width x height I420 frames (C420jpeg, progressive, square pixels).
 * rate 0/0 is written as 30:1 since F is required. Returns 0, or -1 after reporting. */
int cli_y4m_create(cli_y4m_writer_t *w, const char *path, uint32_t width, uint32_t height,
                   uint32_t rate_num, uint32_t rate_den);

int cli_y4m_write_frame(cli_y4m_writer_t *w, const uint8_t *i420);

/* Closes the stream. Returns 0, or -1 after reporting a failed write (file removed). */
int cli_y4m_finish(cli_y4m_writer_t *w);

/* Closes and removes a stream after a failure elsewhere. */
void cli_y4m_abort(cli_y4m_writer_t *w);

#endif
