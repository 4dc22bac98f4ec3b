#include "io_wav.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TAG_PCM 1u
#define TAG_FLOAT 3u
#define TAG_EXTENSIBLE 0xFFFEu
#define SIZE_TO_EOF 0xFFFFFFFFu

/* The KSDATAFORMAT_SUBTYPE_* GUIDs share these 14 bytes after the 2-byte format tag. */
static const uint8_t ks_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                         0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

static int read_exact(cli_wav_reader_t *r, void *dst, size_t n, const char *what) {
  if (fread(dst, 1, n, r->file) == n) return 0;
  if (ferror(r->file))
    cli_error("error reading %s: %s", r->path, strerror(errno));
  else
    cli_error("%s: truncated WAV file (in %s)", r->path, what);
  return -1;
}

/* Skips `n` bytes by reading: works on pipes and notices a chunk that runs past the end. */
static int skip(cli_wav_reader_t *r, uint64_t n, const char *what) {
  uint8_t buf[4096];
  while (n > 0) {
    size_t step = n > sizeof buf ? sizeof buf : (size_t)n;
    if (read_exact(r, buf, step, what) != 0) return -1;
    n -= step;
  }
  return 0;
}

static int parse_fmt(cli_wav_reader_t *r, uint32_t size) {
  uint8_t b[40];
  if (size < 16) {
    cli_error("%s: WAV fmt chunk is %u bytes, shorter than 16", r->path, size);
    return -1;
  }
  size_t keep = size < sizeof b ? size : sizeof b;
  if (read_exact(r, b, keep, "the fmt chunk") != 0) return -1;
  if (skip(r, (uint64_t)size - keep + (size & 1u), "the fmt chunk") != 0) return -1;
  uint32_t tag = cli_get_u16le(b), channels = cli_get_u16le(b + 2);
  uint32_t rate = cli_get_u32le(b + 4), align = cli_get_u16le(b + 12);
  uint32_t bits = cli_get_u16le(b + 14);
  if (tag == TAG_EXTENSIBLE) {
    if (keep < 40 || memcmp(b + 26, ks_guid_tail, sizeof ks_guid_tail) != 0) {
      cli_error("%s: WAVE_FORMAT_EXTENSIBLE with an unknown subformat", r->path);
      return -1;
    }
    tag = cli_get_u16le(b + 24);
  }
  if (tag == TAG_PCM && bits == 16) {
    r->fmt = AIC_AUDIO_S16LE;
  } else if (tag == TAG_FLOAT && bits == 32) {
    r->fmt = AIC_AUDIO_F32LE;
  } else {
    cli_error(
        "%s: WAV format tag %u with %u-bit samples is not supported (want 16-bit PCM or "
        "32-bit float)",
        r->path, tag, bits);
    return -1;
  }
  if (channels < 1 || channels > 2) {
    cli_error("%s: %u channels: only mono and stereo WAV are supported", r->path, channels);
    return -1;
  }
  if (rate == 0) {
    cli_error("%s: WAV sample rate is 0", r->path);
    return -1;
  }
  r->channels = channels;
  r->sample_rate = rate;
  r->frame_bytes = aic_audio_format_bytes(r->fmt) * channels;
  if (align != r->frame_bytes) {
    cli_error("%s: WAV block align %u does not match %u channels of %u bits", r->path, align,
              channels, bits);
    return -1;
  }
  return 0;
}

/* Sets the data extent from the chunk size, checking it against what the file holds. */
static int set_data_size(cli_wav_reader_t *r, uint32_t size) {
  uint64_t bytes = size;
  uint64_t file_size = cli_file_size(r->file);
  long pos = ftell(r->file);
  uint64_t present = file_size == UINT64_MAX || pos < 0 ? UINT64_MAX : file_size - (uint64_t)pos;
  if (size == SIZE_TO_EOF) {
    bytes = present == UINT64_MAX ? UINT64_MAX : present;
  } else if (present != UINT64_MAX && bytes > present) {
    cli_error("%s: truncated WAV file: data chunk says %llu bytes but %llu follow", r->path,
              (unsigned long long)bytes, (unsigned long long)present);
    return -1;
  }
  if (bytes != UINT64_MAX && bytes % r->frame_bytes != 0)
    cli_warn("%s: ignoring %llu trailing bytes that are not a whole sample frame", r->path,
             (unsigned long long)(bytes % r->frame_bytes));
  r->frames = bytes == UINT64_MAX ? UINT64_MAX : bytes / r->frame_bytes;
  r->frames_left = r->frames;
  return 0;
}

int cli_wav_open(cli_wav_reader_t *r, const char *path) {
  memset(r, 0, sizeof *r);
  r->path = path;
  r->file = fopen(path, "rb");
  if (!r->file) {
    cli_error("cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  uint8_t h[12];
  if (read_exact(r, h, sizeof h, "the RIFF header") != 0) goto fail;
  if (memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0) {
    cli_error("%s: not a RIFF WAVE file", path);
    goto fail;
  }
  int have_fmt = 0;
  for (;;) {
    uint8_t ch[8];
    size_t got = fread(ch, 1, sizeof ch, r->file);
    if (got != sizeof ch) {
      cli_error("%s: truncated WAV file (no %s chunk)", path, have_fmt ? "data" : "fmt");
      goto fail;
    }
    uint32_t size = cli_get_u32le(ch + 4);
    if (memcmp(ch, "fmt ", 4) == 0) {
      if (have_fmt) {
        cli_error("%s: WAV file has two fmt chunks", path);
        goto fail;
      }
      if (parse_fmt(r, size) != 0) goto fail;
      have_fmt = 1;
    } else if (memcmp(ch, "data", 4) == 0) {
      if (!have_fmt) {
        cli_error("%s: WAV data chunk comes before the fmt chunk", path);
        goto fail;
      }
      if (set_data_size(r, size) != 0) goto fail;
      return 0;
    } else if (skip(r, (uint64_t)size + (size & 1u), "a chunk") != 0) {
      goto fail;
    }
  }
fail:
  cli_wav_close(r);
  return -1;
}

/* NaN and infinity are not audio: the engine's quality measure rejects them, so say which
 * sample is at fault here rather than let every codec fail on it. */
static int check_finite(cli_wav_reader_t *r, const uint8_t *data, size_t frames) {
  if (r->fmt != AIC_AUDIO_F32LE) return 0;
  size_t n = frames * r->channels;
  for (size_t i = 0; i < n; i++) {
    uint32_t bits = cli_get_u32le(data + 4 * i);
    if ((bits & 0x7F800000u) == 0x7F800000u) {
      cli_error("%s: sample frame %llu holds a NaN or infinite value", r->path,
                (unsigned long long)(r->read_frames + i / r->channels));
      return -1;
    }
  }
  return 0;
}

long cli_wav_read(cli_wav_reader_t *r, uint8_t *dst, size_t max_frames) {
  if (max_frames > LONG_MAX / r->frame_bytes) max_frames = LONG_MAX / r->frame_bytes;
  size_t want = r->frames_left < max_frames ? (size_t)r->frames_left : max_frames;
  if (want == 0) return 0;
  size_t got = fread(dst, r->frame_bytes, want, r->file);
  if (ferror(r->file)) {
    cli_error("error reading %s: %s", r->path, strerror(errno));
    return -1;
  }
  if (got < want) {
    if (r->frames != UINT64_MAX) {
      cli_error("%s: truncated WAV data", r->path);
      return -1;
    }
    r->frames_left = 0; /* a streamed file simply ends */
  } else if (r->frames != UINT64_MAX) {
    r->frames_left -= got;
  }
  if (check_finite(r, dst, got) != 0) return -1;
  r->read_frames += got;
  return (long)got;
}

void cli_wav_close(cli_wav_reader_t *r) {
  if (r->file) fclose(r->file);
  r->file = NULL;
}

int cli_wav_create(cli_wav_writer_t *w, const char *path, aic_audio_format_t fmt,
                   uint32_t sample_rate, uint32_t channels) {
  memset(w, 0, sizeof *w);
  w->path = path;
  w->fmt = fmt;
  size_t bps = aic_audio_format_bytes(fmt);
  if (bps == 0 || channels == 0 || channels > 0xFFFF) {
    cli_error("%s: cannot write this audio format as WAV", path);
    return -1;
  }
  w->frame_bytes = bps * channels;
  int is_float = fmt == AIC_AUDIO_F32LE;
  /* Float files carry the 18-byte fmt and the fact chunk that non-PCM WAVE requires. */
  uint8_t h[58];
  size_t fmt_size = is_float ? 18 : 16, n = 36;
  memcpy(h, "RIFF", 4);
  cli_put_u32le(h + 4, 0);
  memcpy(h + 8, "WAVEfmt ", 8);
  cli_put_u32le(h + 16, (uint32_t)fmt_size);
  cli_put_u16le(h + 20, is_float ? TAG_FLOAT : TAG_PCM);
  cli_put_u16le(h + 22, channels);
  cli_put_u32le(h + 24, sample_rate);
  cli_put_u32le(h + 28, (uint32_t)((uint64_t)sample_rate * w->frame_bytes));
  cli_put_u16le(h + 32, (uint32_t)w->frame_bytes);
  cli_put_u16le(h + 34, (uint32_t)(bps * 8));
  if (is_float) {
    cli_put_u16le(h + n, 0);
    n += 2;
    memcpy(h + n, "fact", 4);
    cli_put_u32le(h + n + 4, 4);
    cli_put_u32le(h + n + 8, 0);
    w->fact_at = (long)(n + 8);
    n += 12;
  }
  memcpy(h + n, "data", 4);
  cli_put_u32le(h + n + 4, 0);
  w->data_size_at = (long)(n + 4);
  w->riff_size_at = 4;
  n += 8;
  w->file = fopen(path, "wb");
  if (!w->file) {
    cli_error("cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  if (fwrite(h, 1, n, w->file) != n) {
    cli_error("cannot write %s: %s", path, strerror(errno));
    cli_wav_abort(w);
    return -1;
  }
  return 0;
}

int cli_wav_write(cli_wav_writer_t *w, const uint8_t *data, size_t size) {
  if (fwrite(data, 1, size, w->file) != size) {
    cli_error("cannot write %s: %s", w->path, strerror(errno));
    return -1;
  }
  w->data_bytes += size;
  return 0;
}

static int patch_u32(cli_wav_writer_t *w, long at, uint64_t v) {
  uint8_t b[4];
  cli_put_u32le(b, (uint32_t)v);
  return fseek(w->file, at, SEEK_SET) == 0 && fwrite(b, 1, 4, w->file) == 4 ? 0 : -1;
}

int cli_wav_finish(cli_wav_writer_t *w) {
  if (!w->file) return 0;
  long header = w->data_size_at + 4;
  uint64_t riff = (uint64_t)header - 8 + w->data_bytes + (w->data_bytes & 1u);
  if (riff > 0xFFFFFFFEu) {
    cli_error("%s: %llu bytes of audio do not fit a WAV file", w->path,
              (unsigned long long)w->data_bytes);
    cli_wav_abort(w);
    return -1;
  }
  int rc = 0;
  if (w->data_bytes & 1u) rc = fputc(0, w->file) == EOF ? -1 : 0;
  if (rc == 0) rc = patch_u32(w, w->riff_size_at, riff);
  if (rc == 0) rc = patch_u32(w, w->data_size_at, w->data_bytes);
  if (rc == 0 && w->fact_at) rc = patch_u32(w, w->fact_at, w->data_bytes / w->frame_bytes);
  if (rc != 0) {
    cli_error("cannot finish %s (is it seekable?): %s", w->path, strerror(errno));
    cli_wav_abort(w);
    return -1;
  }
  return cli_output_finish(&w->file, w->path);
}

void cli_wav_abort(cli_wav_writer_t *w) {
  cli_output_abort(&w->file, w->path);
}
