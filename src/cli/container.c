#include "container.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The largest raw frame (7680x4320 RGBA) is 133 MB and a bitstream can exceed its raw frame
 * by a little; a length beyond this cap is corruption, not media, so it is refused before any
 * allocation when the file size is unknown (pipes). */
#define MAX_FRAME_BYTES (512u << 20)

static const uint8_t aics_magic[4] = {'A', 'I', 'C', 'S'};
static const uint8_t aicf_magic[4] = {'A', 'I', 'C', 'F'};

const char *cli_media_name(cli_media_t media) {
  switch (media) {
    case CLI_MEDIA_IMAGE: return "image";
    case CLI_MEDIA_VIDEO: return "video";
    case CLI_MEDIA_AUDIO: return "audio";
    default: return "raw";
  }
}

int cli_aics_create(cli_aics_writer_t *w, const char *path, cli_media_t media, uint32_t rate_num,
                    uint32_t rate_den) {
  memset(w, 0, sizeof *w);
  w->path = path;
  w->file = fopen(path, "wb");
  if (!w->file) {
    cli_error("cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  uint8_t h[CLI_AICS_HEADER_SIZE];
  memcpy(h, aics_magic, 4);
  cli_put_u32le(h + 4, CLI_AICS_VERSION);
  cli_put_u32le(h + 8, 0);
  cli_put_u32le(h + 12, (uint32_t)media);
  cli_put_u32le(h + 16, rate_num);
  cli_put_u32le(h + 20, rate_den);
  if (fwrite(h, 1, sizeof h, w->file) != sizeof h) {
    cli_error("cannot write %s: %s", path, strerror(errno));
    cli_aics_abort(w);
    return -1;
  }
  return 0;
}

int cli_aics_write(cli_aics_writer_t *w, const uint8_t *bitstream, size_t size) {
  if (size == 0 || size > MAX_FRAME_BYTES || w->frames == UINT32_MAX) {
    cli_error("%s: frame %u does not fit the container", w->path, w->frames);
    return -1;
  }
  uint8_t len[4];
  cli_put_u32le(len, (uint32_t)size);
  if (fwrite(len, 1, 4, w->file) != 4 || fwrite(bitstream, 1, size, w->file) != size) {
    cli_error("cannot write %s: %s", w->path, strerror(errno));
    return -1;
  }
  w->frames++;
  return 0;
}

int cli_aics_finish(cli_aics_writer_t *w) {
  if (!w->file) return 0;
  uint8_t count[4];
  cli_put_u32le(count, w->frames);
  if (fseek(w->file, 8, SEEK_SET) != 0 || fwrite(count, 1, 4, w->file) != 4) {
    cli_error("cannot finish %s (is it seekable?): %s", w->path, strerror(errno));
    cli_aics_abort(w);
    return -1;
  }
  return cli_output_finish(&w->file, w->path);
}

void cli_aics_abort(cli_aics_writer_t *w) {
  cli_output_abort(&w->file, w->path);
}

/* Reads exactly n bytes. Returns 0, or -1 (EOF or error) without reporting. */
static int read_exact(cli_aics_reader_t *r, void *dst, size_t n) {
  if (fread(dst, 1, n, r->file) != n) return -1;
  r->offset += n;
  return 0;
}

static int reserve(cli_aics_reader_t *r, size_t n) {
  if (n <= r->cap) return 0;
  uint8_t *p = realloc(r->buf, n);
  if (!p) {
    cli_error("out of memory reading %s", r->path);
    return -1;
  }
  r->buf = p;
  r->cap = n;
  return 0;
}

static int open_bare(cli_aics_reader_t *r, const uint8_t head[4]) {
  r->bare = 1;
  r->frame_count = 1;
  if (r->file_size == UINT64_MAX || r->file_size > MAX_FRAME_BYTES) {
    cli_error("%s: a bare bitstream must be a regular file of at most %u bytes", r->path,
              MAX_FRAME_BYTES);
    return -1;
  }
  if (reserve(r, (size_t)r->file_size) != 0) return -1;
  memcpy(r->buf, head, 4);
  size_t rest = (size_t)r->file_size - 4;
  if (read_exact(r, r->buf + 4, rest) != 0) {
    cli_error("error reading %s", r->path);
    return -1;
  }
  return 0;
}

int cli_aics_open(cli_aics_reader_t *r, const char *path) {
  memset(r, 0, sizeof *r);
  r->path = path;
  r->file = fopen(path, "rb");
  if (!r->file) {
    cli_error("cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  r->file_size = cli_file_size(r->file);
  uint8_t h[CLI_AICS_HEADER_SIZE];
  if (read_exact(r, h, 4) != 0) {
    cli_error("%s: not an AIC file (too short)", path);
    goto fail;
  }
  if (memcmp(h, aicf_magic, 4) == 0) {
    if (open_bare(r, h) != 0) goto fail;
    return 0;
  }
  if (memcmp(h, aics_magic, 4) != 0) {
    cli_error("%s: not an AIC file (bad magic)", path);
    goto fail;
  }
  if (read_exact(r, h + 4, sizeof h - 4) != 0) {
    cli_error("%s: truncated AIC container header", path);
    goto fail;
  }
  r->version = cli_get_u32le(h + 4);
  r->frame_count = cli_get_u32le(h + 8);
  r->media = (cli_media_t)cli_get_u32le(h + 12);
  r->rate_num = cli_get_u32le(h + 16);
  r->rate_den = cli_get_u32le(h + 20);
  if (r->version != CLI_AICS_VERSION) {
    cli_error("%s: AIC container version %u is not supported (this aic reads %u)", path, r->version,
              CLI_AICS_VERSION);
    goto fail;
  }
  if ((uint32_t)r->media > CLI_MEDIA_AUDIO) {
    cli_error("%s: AIC container names unknown media kind %u", path, (unsigned)r->media);
    goto fail;
  }
  if ((r->rate_den == 0) != (r->rate_num == 0)) {
    cli_error("%s: AIC container has a bad frame rate %u/%u", path, r->rate_num, r->rate_den);
    goto fail;
  }
  return 0;
fail:
  cli_aics_close(r);
  return -1;
}

static int check_end(cli_aics_reader_t *r) {
  uint8_t extra;
  if (fread(&extra, 1, 1, r->file) == 1) {
    cli_error("%s: unexpected bytes after frame %u, the last the header announces", r->path,
              r->frame_count ? r->frame_count - 1 : 0);
    return -1;
  }
  if (ferror(r->file)) {
    cli_error("error reading %s: %s", r->path, strerror(errno));
    return -1;
  }
  return 0;
}

int cli_aics_next(cli_aics_reader_t *r, const uint8_t **bitstream, size_t *size) {
  if (r->next >= r->frame_count) return r->bare ? 0 : check_end(r) == 0 ? 0 : -1;
  if (r->bare) {
    r->next++;
    *bitstream = r->buf;
    *size = (size_t)r->file_size;
    return 1;
  }
  uint8_t len[4];
  if (read_exact(r, len, 4) != 0) {
    cli_error("%s: truncated: the header announces %u frames but the file ends after %u", r->path,
              r->frame_count, r->next);
    return -1;
  }
  uint32_t n = cli_get_u32le(len);
  uint64_t left = r->file_size == UINT64_MAX ? UINT64_MAX : r->file_size - r->offset;
  if (n == 0 || n > MAX_FRAME_BYTES || n > left) {
    if (n > left && n <= MAX_FRAME_BYTES)
      cli_error("%s: frame %u is truncated (%u bytes announced, %llu left)", r->path, r->next, n,
                (unsigned long long)left);
    else
      cli_error("%s: frame %u has an invalid length %u", r->path, r->next, n);
    return -1;
  }
  if (reserve(r, n) != 0) return -1;
  if (read_exact(r, r->buf, n) != 0) {
    cli_error("%s: frame %u is truncated", r->path, r->next);
    return -1;
  }
  r->next++;
  *bitstream = r->buf;
  *size = n;
  return 1;
}

void cli_aics_close(cli_aics_reader_t *r) {
  if (r->file) fclose(r->file);
  free(r->buf);
  r->file = NULL;
  r->buf = NULL;
  r->cap = 0;
}
