/* The .aic file: an AICS container of AIC bitstreams (layout in docs/cli.md), or for
 * compatibility a bare AIC bitstream (one frame, magic AICF). */
#ifndef AIC_CLI_CONTAINER_H
#define AIC_CLI_CONTAINER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_AICS_VERSION 1u
#define CLI_AICS_HEADER_SIZE 24u

/* What the frames came from, so decode and info can tell a still picture from a clip. */
typedef enum cli_media {
  CLI_MEDIA_UNKNOWN = 0, /* raw frames */
  CLI_MEDIA_IMAGE = 1,   /* PNG */
  CLI_MEDIA_VIDEO = 2,   /* Y4M */
  CLI_MEDIA_AUDIO = 3,   /* WAV */
} cli_media_t;

const char *cli_media_name(cli_media_t media);

typedef struct cli_aics_writer {
  FILE *file;
  const char *path; /* borrowed */
  uint32_t frames;
} cli_aics_writer_t;

/* Creates a container. rate_num/rate_den is the video frame rate (0/0: none or unknown). The
 * frame count is patched by cli_aics_finish, so `path` must be seekable. Returns 0, or -1 after
 * reporting. */
int cli_aics_create(cli_aics_writer_t *w, const char *path, cli_media_t media, uint32_t rate_num,
                    uint32_t rate_den);

/* Appends one bitstream. Returns 0, or -1 after reporting. */
int cli_aics_write(cli_aics_writer_t *w, const uint8_t *bitstream, size_t size);

/* Patches the frame count and closes. Returns 0, or -1 after reporting (file removed). */
int cli_aics_finish(cli_aics_writer_t *w);

/* Closes and removes the file after a failure elsewhere. */
void cli_aics_abort(cli_aics_writer_t *w);

typedef struct cli_aics_reader {
  FILE *file;
  const char *path; /* borrowed */
  int bare;         /* a lone AICF bitstream rather than a container */
  uint32_t version;
  uint32_t frame_count;
  cli_media_t media;
  uint32_t rate_num;
  uint32_t rate_den;
  uint64_t file_size; /* UINT64_MAX when not a regular file */
  uint64_t offset;    /* bytes consumed */
  uint32_t next;      /* index of the next frame */
  uint8_t *buf;       /* holds the last frame read */
  size_t cap;
} cli_aics_reader_t;

/* Opens a container (or a bare bitstream) and checks its header. Returns 0, or -1 after
 * reporting. */
int cli_aics_open(cli_aics_reader_t *r, const char *path);

/* Reads the next frame's bitstream. *bitstream points into the reader and stays valid until
 * the next call. Returns 1 for a frame, 0 after the last one (having checked that nothing
 * follows it), -1 after reporting truncation or a malformed length. */
int cli_aics_next(cli_aics_reader_t *r, const uint8_t **bitstream, size_t *size);

void cli_aics_close(cli_aics_reader_t *r);

#endif
