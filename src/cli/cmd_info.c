/* aic info: what a .aic file holds, from the bitstream headers alone (nothing is decoded, but
 * every header and checksum is verified). */
#include <string.h>

#include "aic/aic.h"
#include "commands.h"
#include "container.h"
#include "util.h"

static const char usage_text[] =
    "Usage: aic info [--frames] FILE.aic\n"
    "\n"
    "Prints a summary of FILE.aic: frames, codecs, picture or audio format, sizes, bits per\n"
    "pixel (pictures) and bitrate (clips with a frame rate, audio).\n"
    "\n"
    "Options:\n"
    "  --frames     also one line per frame: codec, key or inter, bytes, bits per pixel or\n"
    "               samples\n"
    "  -h, --help   this text\n";

typedef struct info_totals {
  uint64_t frames;
  uint64_t keyframes;
  uint64_t bitstream_bytes;
  uint64_t raw_bytes;
  uint64_t pixels;  /* pictures: sum of width * height */
  uint64_t samples; /* audio: sample frames */
  uint64_t per_codec[AIC_CODEC_COUNT_];
  aic_frame_t first;
  int varies; /* a later frame is described differently from the first */
} info_totals_t;

static int same_kind(const aic_frame_t *a, const aic_frame_t *b) {
  return a->type == b->type && a->pix_fmt == b->pix_fmt && a->width == b->width &&
         a->height == b->height && a->audio_fmt == b->audio_fmt &&
         a->sample_rate == b->sample_rate && a->channels == b->channels;
}

static uint64_t audio_samples(const aic_frame_t *f) {
  size_t unit = aic_audio_format_bytes(f->audio_fmt) * f->channels;
  return unit ? f->size / unit : 0;
}

static void print_frame(uint64_t index, const aic_bitstream_info_t *bi, size_t size) {
  const aic_frame_t *f = &bi->frame;
  printf("frame %llu: %s %s %zu bytes, ", (unsigned long long)index, aic_codec_name(bi->codec),
         bi->keyframe ? "key" : "inter", size);
  if (f->type == AIC_FRAME_AUDIO)
    printf("%s %u Hz %u ch, %llu samples\n", aic_audio_format_name(f->audio_fmt), f->sample_rate,
           f->channels, (unsigned long long)audio_samples(f));
  else
    printf("%s %ux%u, %.4f bits/pixel\n", aic_pixel_format_name(f->pix_fmt), f->width, f->height,
           8.0 * (double)size / ((double)f->width * f->height));
}

static void print_summary(const char *path, const cli_aics_reader_t *r, const info_totals_t *t,
                          uint64_t file_bytes) {
  const aic_frame_t *f = &t->first;
  printf("file:       %s\n", path);
  if (r->bare)
    printf("container:  none (a bare AIC bitstream)\n");
  else
    printf("container:  AICS v%u, %s\n", r->version, cli_media_name(r->media));
  printf("frames:     %llu (%llu keyframe%s)\n", (unsigned long long)t->frames,
         (unsigned long long)t->keyframes, t->keyframes == 1 ? "" : "s");
  printf("codecs:    ");
  for (int id = 0; id < AIC_CODEC_COUNT_; id++)
    if (t->per_codec[id])
      printf(" %s x%llu", aic_codec_name((aic_codec_id_t)id), (unsigned long long)t->per_codec[id]);
  printf("\n");
  const char *varies = t->varies ? " (varies between frames)" : "";
  double bits = 8.0 * (double)t->bitstream_bytes;
  if (t->frames && f->type == AIC_FRAME_AUDIO) {
    double seconds = (double)t->samples / f->sample_rate;
    printf("audio:      %s %u Hz %u ch%s\n", aic_audio_format_name(f->audio_fmt), f->sample_rate,
           f->channels, varies);
    printf("duration:   %.3f s (%llu samples)\n", seconds, (unsigned long long)t->samples);
    if (seconds > 0) printf("bitrate:    %.2f kbps\n", bits / seconds / 1000.0);
  } else if (t->frames) {
    printf("picture:    %s %ux%u %s%s\n", aic_pixel_format_name(f->pix_fmt), f->width, f->height,
           aic_frame_type_name(f->type), varies);
    if (r->rate_num && r->rate_den) {
      double fps = (double)r->rate_num / r->rate_den;
      printf("frame rate: %u/%u (%.3f fps)\n", r->rate_num, r->rate_den, fps);
      printf("duration:   %.3f s\n", (double)t->frames / fps);
      printf("bitrate:    %.2f kbps\n", bits * fps / (double)t->frames / 1000.0);
    }
    printf("bits/pixel: %.4f\n", t->pixels ? bits / (double)t->pixels : 0.0);
  }
  printf("raw size:   %llu bytes\n", (unsigned long long)t->raw_bytes);
  printf("file size:  %llu bytes (%llu of bitstreams), ratio %.4f\n",
         (unsigned long long)file_bytes, (unsigned long long)t->bitstream_bytes,
         t->raw_bytes ? (double)file_bytes / (double)t->raw_bytes : 0.0);
}

int cli_cmd_info(aic_engine_t *engine, int argc, char **argv) {
  const char *path = NULL;
  int per_frame = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(usage_text, stdout);
      return CLI_EXIT_OK;
    }
    if (strcmp(argv[i], "--frames") == 0) {
      per_frame = 1;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      cli_error("info: unknown option '%s' (see aic info --help)", argv[i]);
      return CLI_EXIT_USAGE;
    } else if (path) {
      cli_error("info: too many arguments (see aic info --help)");
      return CLI_EXIT_USAGE;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    cli_error("info wants FILE.aic (see aic info --help)");
    return CLI_EXIT_USAGE;
  }
  cli_aics_reader_t r;
  if (cli_aics_open(&r, path) != 0) return CLI_EXIT_FAIL;
  info_totals_t t = {0};
  int rc = CLI_EXIT_FAIL;
  for (;;) {
    const uint8_t *bs;
    size_t size;
    int got = cli_aics_next(&r, &bs, &size);
    if (got < 0) goto out;
    if (got == 0) break;
    aic_bitstream_info_t bi;
    char why[256] = "";
    int err = aic_bitstream_probe(engine, bs, size, &bi, why, sizeof why);
    if (err) {
      cli_error("%s: frame %llu: %s", path, (unsigned long long)t.frames,
                why[0] ? why : aic_strerror(err));
      goto out;
    }
    if (per_frame) print_frame(t.frames, &bi, size);
    if (t.frames == 0)
      t.first = bi.frame;
    else if (!same_kind(&t.first, &bi.frame))
      t.varies = 1;
    t.frames++;
    t.keyframes += bi.keyframe;
    t.bitstream_bytes += size;
    t.raw_bytes += bi.frame.size;
    t.per_codec[bi.codec < AIC_CODEC_COUNT_ ? bi.codec : 0]++;
    if (bi.frame.type == AIC_FRAME_AUDIO)
      t.samples += audio_samples(&bi.frame);
    else
      t.pixels += (uint64_t)bi.frame.width * bi.frame.height;
  }
  print_summary(path, &r, &t, r.offset);
  rc = CLI_EXIT_OK;
out:
  cli_aics_close(&r);
  return rc;
}
