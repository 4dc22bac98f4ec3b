/* RIFF WAVE files: 16-bit PCM or 32-bit IEEE float, mono or stereo, any sample rate. */
#ifndef AIC_CLI_IO_WAV_H
#define AIC_CLI_IO_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aic/frame.h"

typedef struct cli_wav_reader {
  FILE *file;
  const char *path; /* borrowed */
  aic_audio_format_t fmt;
  uint32_t sample_rate;
  uint32_t channels;
  size_t frame_bytes;   /* bytes of one sample frame (all channels) */
  uint64_t frames;      /* sample frames in the data chunk */
  uint64_t frames_left; /* not yet read */
  uint64_t read_frames; /* delivered so far */
} cli_wav_reader_t;

/* Opens a file and walks its chunks up to the data chunk, skipping any it does not know.
 * Accepts format tag 1 (16-bit PCM), 3 (32-bit float) and WAVE_FORMAT_EXTENSIBLE with either
 * subformat. A data size of 0xFFFFFFFF (written by streaming tools) means "to the end of the
 * file"; any other size must be present in full. Returns 0, or -1 after reporting. */
int cli_wav_open(cli_wav_reader_t *r, const char *path);

/* Reads up to `max_frames` sample frames into `dst`. Returns how many were read (0 at the end),
 * or -1 after reporting a read error, truncation, or a float sample that is NaN or infinite. */
long cli_wav_read(cli_wav_reader_t *r, uint8_t *dst, size_t max_frames);

void cli_wav_close(cli_wav_reader_t *r);

typedef struct cli_wav_writer {
  FILE *file;
  const char *path; /* borrowed */
  aic_audio_format_t fmt;
  uint64_t data_bytes;
  size_t frame_bytes;
  long riff_size_at, fact_at, data_size_at; /* offsets patched by finish; fact_at 0: none */
} cli_wav_writer_t;

/* Creates a file; its sizes are patched by cli_wav_finish, so `path` must be seekable.
 * Returns 0, or -1 after reporting. */
int cli_wav_create(cli_wav_writer_t *w, const char *path, aic_audio_format_t fmt,
                   uint32_t sample_rate, uint32_t channels);

/* Appends samples (whole sample frames, little-endian as in an AIC frame). */
int cli_wav_write(cli_wav_writer_t *w, const uint8_t *data, size_t size);

/* Patches the sizes and closes. Returns 0, or -1 after reporting (file removed). */
int cli_wav_finish(cli_wav_writer_t *w);

/* Closes and removes the file after a failure elsewhere. */
void cli_wav_abort(cli_wav_writer_t *w);

#endif
