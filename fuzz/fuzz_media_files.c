/* The aic tool's file readers on hostile files: the first byte picks the reader (Y4M, WAV, PNG,
 * AICS container), the rest is the file. Readers take paths, so the input goes through a
 * temporary file, as the tool's own input does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "container.h"
#include "io_png.h"
#include "io_wav.h"
#include "io_y4m.h"

static void read_y4m(const char *path, const aic_frame_limits_t *lim) {
  cli_y4m_reader_t r;
  if (cli_y4m_open(&r, path, lim) != 0) return;
  uint8_t *frame = malloc(r.frame_size ? r.frame_size : 1);
  for (int k = 0; frame && k < 4 && cli_y4m_read_frame(&r, frame) == 1; k++) {
  }
  free(frame);
  cli_y4m_close(&r);
}

static void read_wav(const char *path) {
  cli_wav_reader_t r;
  if (cli_wav_open(&r, path) != 0) return;
  uint8_t buf[4096];
  size_t max = r.frame_bytes ? sizeof buf / r.frame_bytes : 0;
  while (max > 0 && cli_wav_read(&r, buf, max) > 0) {
  }
  cli_wav_close(&r);
}

static void read_png(const char *path, const aic_frame_limits_t *lim) {
  cli_image_t img;
  if (cli_png_read(path, lim, &img) == 0) free(img.data);
}

static void read_aics(const char *path) {
  cli_aics_reader_t r;
  if (cli_aics_open(&r, path) != 0) return;
  const uint8_t *bs;
  size_t n;
  for (int k = 0; k < 64 && cli_aics_next(&r, &bs, &n) == 1; k++) {
  }
  cli_aics_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char path[] = "/tmp/aic-fuzz-media-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 0;
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    close(fd);
    unlink(path);
    return 0;
  }
  fwrite(data + 1, 1, size - 1, f);
  fclose(f);
  /* Small limits keep each run fast; the readers check them before allocating. */
  aic_frame_limits_t lim = {.max_width = 512, .max_height = 512, .max_audio_samples = 48000};
  switch (data[0] % 4) {
    case 0: read_y4m(path, &lim); break;
    case 1: read_wav(path); break;
    case 2: read_png(path, &lim); break;
    default: read_aics(path); break;
  }
  unlink(path);
  return 0;
}
