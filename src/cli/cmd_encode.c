/* aic encode: a PNG, Y4M, WAV or raw frame into a .aic file, all frames in one engine session
 * so inter-frame codecs can refer to earlier frames. */
#include <stdlib.h>
#include <string.h>

#include "aic/aic.h"
#include "commands.h"
#include "container.h"
#include "progress.h"
#include "source.h"
#include "util.h"

static const char usage_text[] =
    "Usage: aic encode [OPTIONS] IN OUT.aic\n"
    "\n"
    "Compresses IN, chosen by its extension:\n"
    "  .png   one picture (RGB24 or RGBA; gray becomes RGB24, palettes and 16-bit become 8-bit)\n"
    "  .y4m   a YUV4MPEG2 4:2:0 clip, every frame in one engine session\n"
    "  .wav   16-bit PCM or 32-bit float audio, cut into 20 ms frames, in one session\n"
    "  any    with --format and --size: one raw frame, written as a bare AIC bitstream\n"
    "OUT.aic is an AICS container (docs/cli.md) of one bitstream per frame.\n"
    "\n"
    "Options:\n"
    "  --codec C      auto (default), zstd, zlib, vp8, av1, jpeg, opus or neural. A named codec\n"
    "                 must code every frame, or aic fails\n"
    "  --quality Q    fixed quality 1 (fewest bits) .. 8 (best) for lossy codecs\n"
    "  --min-ssim S   quality floor in (0, 1]: the engine picks a codec that reaches it\n"
    "  --bitrate K    rate-controlled lossy coding at K kbit/s\n"
    "                 (--quality, --min-ssim and --bitrate exclude each other)\n"
    "  --mode M       adaptive (default), quality, balanced, aggressive or lossless\n"
    "  --keyint N     force a keyframe every N frames (default: only the first)\n"
    "  --type T       pictures are video (default) or screen content\n"
    "  --format F     raw input: i420, nv12, rgb24 or rgba\n"
    "  --size WxH     raw input: picture size\n"
    "  -h, --help     this text\n";

typedef struct encode_opts {
  aic_encode_params_t params;
  uint32_t keyint;
  cli_raw_opts_t raw;
  int have_size;
  aic_frame_type_t picture_type;
  const char *in;
  const char *out;
} encode_opts_t;

static int lookup(const char *opt, const char *v, const char *const *names, size_t n, int *out) {
  for (size_t i = 0; i < n; i++)
    if (names[i] && strcmp(v, names[i]) == 0) {
      *out = (int)i;
      return 0;
    }
  cli_error("%s: unknown value '%s' (see aic encode --help)", opt, v);
  return -1;
}

/* Index = enum value, so the tables cannot drift from the headers' numbering. */
static const char *const codec_names[AIC_CODEC_COUNT_] = {
    [AIC_CODEC_AUTO] = "auto", [AIC_CODEC_ZSTD] = "zstd",    [AIC_CODEC_ZLIB] = "zlib",
    [AIC_CODEC_AV1] = "av1",   [AIC_CODEC_VP8] = "vp8",      [AIC_CODEC_JPEG] = "jpeg",
    [AIC_CODEC_OPUS] = "opus", [AIC_CODEC_NEURAL] = "neural"};
static const char *const mode_names[] = {[AIC_MODE_ADAPTIVE] = "adaptive",
                                         [AIC_MODE_QUALITY] = "quality",
                                         [AIC_MODE_BALANCED] = "balanced",
                                         [AIC_MODE_AGGRESSIVE] = "aggressive",
                                         [AIC_MODE_LOSSLESS] = "lossless"};
static const char *const format_names[] = {[AIC_PIX_I420] = "i420",
                                           [AIC_PIX_NV12] = "nv12",
                                           [AIC_PIX_RGB24] = "rgb24",
                                           [AIC_PIX_RGBA] = "rgba"};
static const char *const type_names[] = {
    [AIC_FRAME_VIDEO] = "video", [AIC_FRAME_SCREEN] = "screen"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One option at argv[*i]. Returns 1 when consumed, 0 when not an option we know, -1 on a bad
 * value (reported). *targets collects one bit per kind of quality target given. */
static int parse_option(encode_opts_t *o, int argc, char **argv, int *i, int *targets) {
  const char *v;
  int r, idx;
  if ((r = cli_opt(argc, argv, i, "--codec", &v)) != 0) {
    if (r < 0 || lookup("--codec", v, codec_names, COUNT(codec_names), &idx) != 0) return -1;
    o->params.codec_preference = (aic_codec_id_t)idx;
  } else if ((r = cli_opt(argc, argv, i, "--quality", &v)) != 0) {
    uint32_t q;
    if (r < 0 || cli_parse_u32("--quality", v, 1, 8, &q) != 0) return -1;
    o->params.quality = (int)q;
    *targets |= 1;
  } else if ((r = cli_opt(argc, argv, i, "--min-ssim", &v)) != 0) {
    if (r < 0 || cli_parse_double("--min-ssim", v, 0.0, 1.0, &o->params.min_ssim) != 0) return -1;
    if (o->params.min_ssim <= 0.0) {
      cli_error("--min-ssim wants a number in (0, 1], got '%s'", v);
      return -1;
    }
    *targets |= 2;
  } else if ((r = cli_opt(argc, argv, i, "--bitrate", &v)) != 0) {
    if (r < 0 || cli_parse_u32("--bitrate", v, 1, AIC_MAX_BITRATE_KBPS, &o->params.bitrate_kbps))
      return -1;
    *targets |= 4;
  } else if ((r = cli_opt(argc, argv, i, "--mode", &v)) != 0) {
    if (r < 0 || lookup("--mode", v, mode_names, COUNT(mode_names), &idx) != 0) return -1;
    o->params.mode = (aic_mode_t)idx;
  } else if ((r = cli_opt(argc, argv, i, "--keyint", &v)) != 0) {
    if (r < 0 || cli_parse_u32("--keyint", v, 1, UINT32_MAX, &o->keyint) != 0) return -1;
  } else if ((r = cli_opt(argc, argv, i, "--type", &v)) != 0) {
    if (r < 0 || lookup("--type", v, type_names, COUNT(type_names), &idx) != 0) return -1;
    o->picture_type = (aic_frame_type_t)idx;
  } else if ((r = cli_opt(argc, argv, i, "--format", &v)) != 0) {
    if (r < 0 || lookup("--format", v, format_names, COUNT(format_names), &idx) != 0) return -1;
    o->raw.fmt = (aic_pixel_format_t)idx;
  } else if ((r = cli_opt(argc, argv, i, "--size", &v)) != 0) {
    char tail;
    if (r < 0) return -1;
    if (sscanf(v, "%ux%u%c", &o->raw.width, &o->raw.height, &tail) != 2 || o->raw.width == 0 ||
        o->raw.height == 0) {
      cli_error("--size wants WxH, got '%s'", v);
      return -1;
    }
    o->have_size = 1;
  } else {
    return 0;
  }
  return 1;
}

static int parse_args(encode_opts_t *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  aic_encode_params_default(&o->params);
  o->picture_type = AIC_FRAME_VIDEO;
  int targets = 0, npaths = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(usage_text, stdout);
      return -1;
    }
    int r = parse_option(o, argc, argv, &i, &targets);
    if (r < 0) return CLI_EXIT_USAGE;
    if (r > 0) continue;
    if (argv[i][0] == '-' && argv[i][1] != '\0') {
      cli_error("encode: unknown option '%s' (see aic encode --help)", argv[i]);
      return CLI_EXIT_USAGE;
    }
    if (npaths == 2) {
      cli_error("encode: too many arguments (see aic encode --help)");
      return CLI_EXIT_USAGE;
    }
    if (npaths++ == 0)
      o->in = argv[i];
    else
      o->out = argv[i];
  }
  if (npaths != 2) {
    cli_error("encode wants IN and OUT.aic (see aic encode --help)");
    return CLI_EXIT_USAGE;
  }
  if (targets & (targets - 1)) {
    cli_error("--quality, --min-ssim and --bitrate exclude each other");
    return CLI_EXIT_USAGE;
  }
  if (targets && o->params.mode == AIC_MODE_LOSSLESS) {
    cli_error("--mode lossless takes no --quality, --min-ssim or --bitrate");
    return CLI_EXIT_USAGE;
  }
  if ((o->raw.fmt != AIC_PIX_UNSPECIFIED) != o->have_size) {
    cli_error("raw input needs both --format and --size");
    return CLI_EXIT_USAGE;
  }
  return 0;
}

static int codec_available(aic_engine_t *engine, aic_codec_id_t want) {
  if (want == AIC_CODEC_AUTO) return 1;
  aic_codec_id_t ids[AIC_CODEC_COUNT_];
  size_t n = aic_engine_codecs(engine, ids, COUNT(ids));
  char list[128] = "";
  size_t len = 0;
  for (size_t i = 0; i < n && i < COUNT(ids); i++) {
    if (ids[i] == want) return 1;
    len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%s",
                            i ? ", " : "", aic_codec_name(ids[i]));
  }
  if (want == AIC_CODEC_NEURAL)
    cli_error("codec neural is not available: %s (set AIC_MODELS_DIR to the folder of the .aicm "
              "models; available: %s)",
              aic_engine_model_status(engine)[0] ? aic_engine_model_status(engine)
                                                 : "no learned model loaded",
              list);
  else
    cli_error("codec %s is not available in this build (available: %s)", aic_codec_name(want),
              list);
  return 0;
}

typedef struct encode_totals {
  uint64_t frames;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t per_codec[AIC_CODEC_COUNT_];
  uint64_t fallbacks;
} encode_totals_t;

static void print_summary(const encode_opts_t *o, const encode_totals_t *t, aic_session_t *session,
                          int audio) {
  aic_session_stats_t st;
  aic_session_get_stats(session, &st);
  char codecs[160] = "";
  size_t len = 0;
  for (int id = 0; id < AIC_CODEC_COUNT_; id++)
    if (t->per_codec[id] && len < sizeof codecs)
      len += (size_t)snprintf(codecs + len, sizeof codecs - len, "%s%s x%llu", len ? ", " : "",
                              aic_codec_name((aic_codec_id_t)id),
                              (unsigned long long)t->per_codec[id]);
  printf("%s -> %s: %llu frame%s (%s), %llu -> %llu bytes (ratio %.4f), mean PSNR %.2f dB", o->in,
         o->out, (unsigned long long)t->frames, t->frames == 1 ? "" : "s", codecs,
         (unsigned long long)t->bytes_in, (unsigned long long)t->bytes_out,
         t->bytes_in ? (double)t->bytes_out / (double)t->bytes_in : 0.0, st.mean_psnr_db);
  /* The engine's audio SSIM only says "identical or not": no use in a summary. */
  if (!audio) printf(", mean SSIM %.6f", st.mean_ssim);
  printf("\n");
}

/* Compresses every frame of `src` into the container, or for raw input straight into OUT as a
 * bare bitstream (what the first aic wrote, and what fuzz/make-seeds expects). */
static int encode_frames(aic_engine_t *engine, aic_session_t *session, const encode_opts_t *o,
                         cli_source_t *src, cli_aics_writer_t *aics, encode_totals_t *t) {
  aic_encode_params_t params = o->params;
  if (src->fps > 0.0 && src->fps <= 1000.0) params.fps = src->fps;
  cli_progress_t bar;
  cli_progress_begin(&bar, "encoding");
  int rc = CLI_EXIT_FAIL;
  for (;;) {
    aic_frame_t frame;
    int got = cli_source_next(src, &frame);
    if (got < 0) goto out;
    if (got == 0) break;
    params.force_keyframe = o->keyint && t->frames % o->keyint == 0;
    aic_encode_result_t res;
    char why[256] = "";
    int err = aic_engine_compress(engine, session, &frame, &params, &res, why, sizeof why);
    if (err) {
      cli_progress_end(&bar);
      cli_error("%s: frame %llu: %s", o->in, (unsigned long long)t->frames,
                why[0] ? why : aic_strerror(err));
      goto out;
    }
    if (o->params.codec_preference != AIC_CODEC_AUTO && res.codec != o->params.codec_preference) {
      cli_progress_end(&bar);
      cli_error("%s: frame %llu: codec %s was not used: %s", o->in, (unsigned long long)t->frames,
                aic_codec_name(o->params.codec_preference),
                res.fallback_detail[0] ? res.fallback_detail : "the engine chose another");
      aic_encode_result_clear(&res);
      goto out;
    }
    int wrc = src->media == CLI_MEDIA_UNKNOWN
                  ? cli_write_file(o->out, res.bitstream, res.bitstream_size)
                  : cli_aics_write(aics, res.bitstream, res.bitstream_size);
    t->frames++;
    t->bytes_in += frame.size;
    t->bytes_out += res.bitstream_size;
    t->per_codec[res.codec < AIC_CODEC_COUNT_ ? res.codec : 0]++;
    if (res.fallback != AIC_FALLBACK_NONE && t->fallbacks++ == 0) {
      cli_progress_end(&bar);
      cli_warn("%s: frame %llu: %s", o->in, (unsigned long long)t->frames - 1, res.fallback_detail);
    }
    aic_encode_result_clear(&res);
    if (wrc != 0) goto out;
    cli_progress_update(&bar, src->done, src->total);
  }
  rc = CLI_EXIT_OK;
  if (t->fallbacks > 1)
    cli_warn("%s: %llu frames in all used a fallback codec", o->in,
             (unsigned long long)t->fallbacks);
  if (t->frames == 0) {
    cli_error("%s: no frames or samples to encode", o->in);
    rc = CLI_EXIT_FAIL;
  }
out:
  cli_progress_end(&bar);
  return rc;
}

int cli_cmd_encode(aic_engine_t *engine, int argc, char **argv) {
  encode_opts_t o;
  int rc = parse_args(&o, argc, argv);
  if (rc < 0) return CLI_EXIT_OK; /* --help */
  if (rc) return rc;
  if (!codec_available(engine, o.params.codec_preference)) return CLI_EXIT_FAIL;
  if (o.raw.fmt == AIC_PIX_UNSPECIFIED && !cli_has_ext(o.out, ".aic")) {
    cli_error("%s: the output of encode must be a .aic file", o.out);
    return CLI_EXIT_USAGE;
  }
  aic_engine_settings_t settings;
  aic_engine_settings_default(&settings);
  cli_source_t src;
  rc = cli_source_open(&src, o.in, &o.raw, o.picture_type, &settings.limits);
  if (rc) return rc;
  cli_aics_writer_t aics = {0};
  aic_session_t *session = NULL;
  encode_totals_t totals = {0};
  rc = CLI_EXIT_FAIL;
  if (aic_session_create(engine, &session) != AIC_OK) {
    cli_error("cannot create an engine session");
    goto out;
  }
  if (src.media != CLI_MEDIA_UNKNOWN &&
      cli_aics_create(&aics, o.out, src.media, src.rate_num, src.rate_den) != 0)
    goto out;
  rc = encode_frames(engine, session, &o, &src, &aics, &totals);
  if (rc == CLI_EXIT_OK && src.media != CLI_MEDIA_UNKNOWN && cli_aics_finish(&aics) != 0)
    rc = CLI_EXIT_FAIL;
  if (rc == CLI_EXIT_OK) print_summary(&o, &totals, session, src.media == CLI_MEDIA_AUDIO);
out:
  cli_aics_abort(&aics);
  aic_session_free(&session);
  cli_source_close(&src);
  return rc;
}
