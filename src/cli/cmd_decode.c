/* aic decode: every frame of a .aic file, in order and in one engine session (inter-frame
 * codecs need the frames before), into a PNG, Y4M, WAV or raw file. */
#include <string.h>

#include "aic/aic.h"
#include "commands.h"
#include "container.h"
#include "progress.h"
#include "sink.h"
#include "util.h"

static const char usage_text[] =
    "Usage: aic decode [--frame N] IN.aic OUT\n"
    "\n"
    "Restores the frames of IN.aic (a container or a bare bitstream) into OUT, chosen by its\n"
    "extension:\n"
    "  .png   one picture (I420 is converted to RGB24, BT.601 full range)\n"
    "  .y4m   every picture as a 4:2:0 YUV4MPEG2 clip at the container's frame rate\n"
    "  .wav   every audio frame, back to back\n"
    "  .raw   the decoded bytes of every frame, back to back\n"
    "\n"
    "Options:\n"
    "  --frame N    with .png: the frame to write, counting from 0 (required when IN holds\n"
    "               more than one)\n"
    "  -h, --help   this text\n";

typedef struct decode_opts {
  const char *in;
  const char *out;
  int have_pick;
  uint32_t pick;
} decode_opts_t;

static int parse_args(decode_opts_t *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  int npaths = 0;
  for (int i = 0; i < argc; i++) {
    const char *v;
    int r;
    if (cli_is_help(argv[i])) {
      fputs(usage_text, stdout);
      return -1;
    }
    if ((r = cli_opt(argc, argv, &i, "--frame", &v)) != 0) {
      if (r < 0 || cli_parse_u32("--frame", v, 0, UINT32_MAX - 1, &o->pick) != 0)
        return CLI_EXIT_USAGE;
      o->have_pick = 1;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      cli_error("decode: unknown option '%s' (see aic decode --help)", argv[i]);
      return CLI_EXIT_USAGE;
    } else if (npaths == 2) {
      cli_error("decode: too many arguments (see aic decode --help)");
      return CLI_EXIT_USAGE;
    } else if (npaths++ == 0) {
      o->in = argv[i];
    } else {
      o->out = argv[i];
    }
  }
  if (npaths != 2) {
    cli_error("decode wants IN.aic and OUT (see aic decode --help)");
    return CLI_EXIT_USAGE;
  }
  return 0;
}

/* Checks what the container promises against what the output can hold, before decoding. */
static int check_fit(const decode_opts_t *o, const cli_aics_reader_t *r, const cli_sink_t *sink) {
  if (o->have_pick && sink->kind != CLI_SINK_PNG) {
    cli_error("--frame applies to .png output only");
    return CLI_EXIT_USAGE;
  }
  if (sink->kind != CLI_SINK_PNG) return 0;
  if (!o->have_pick && r->frame_count > 1) {
    cli_error("%s holds %u frames: decode to .y4m, or pick one with --frame N", o->in,
              r->frame_count);
    return CLI_EXIT_FAIL;
  }
  if (o->pick >= r->frame_count) {
    cli_error("%s holds %u frame%s: there is no frame %u", o->in, r->frame_count,
              r->frame_count == 1 ? "" : "s", o->pick);
    return CLI_EXIT_FAIL;
  }
  return 0;
}

static int decode_frames(aic_engine_t *engine, aic_session_t *session, const decode_opts_t *o,
                         cli_aics_reader_t *r, cli_sink_t *sink) {
  cli_progress_t bar;
  cli_progress_begin(&bar, "decoding");
  int rc = CLI_EXIT_FAIL;
  for (uint32_t index = 0;; index++) {
    /* A PNG needs nothing after its frame: stop there rather than decode the rest. */
    if (sink->kind == CLI_SINK_PNG && index > o->pick) break;
    const uint8_t *bs;
    size_t size;
    int got = cli_aics_next(r, &bs, &size);
    if (got < 0) goto out;
    if (got == 0) break;
    aic_decoded_frame_t dec;
    char why[256] = "";
    int err = aic_engine_decompress(engine, session, bs, size, &dec, why, sizeof why);
    if (err) {
      cli_progress_end(&bar);
      cli_error("%s: frame %u: %s", o->in, index, why[0] ? why : aic_strerror(err));
      goto out;
    }
    int wrc = cli_sink_write(sink, &dec.frame);
    aic_decoded_frame_clear(&dec);
    if (wrc != 0) goto out;
    cli_progress_update(&bar, (uint64_t)index + 1, r->frame_count);
  }
  rc = CLI_EXIT_OK;
out:
  cli_progress_end(&bar);
  return rc;
}

int cli_cmd_decode(aic_engine_t *engine, int argc, char **argv) {
  decode_opts_t o;
  int rc = parse_args(&o, argc, argv);
  if (rc < 0) return CLI_EXIT_OK; /* --help */
  if (rc) return rc;
  cli_sink_t sink;
  rc = cli_sink_init(&sink, o.out, o.pick, 0, 0);
  if (rc) return rc;
  cli_aics_reader_t reader;
  if (cli_aics_open(&reader, o.in) != 0) return CLI_EXIT_FAIL;
  sink.rate_num = reader.rate_num;
  sink.rate_den = reader.rate_den;
  aic_session_t *session = NULL;
  rc = check_fit(&o, &reader, &sink);
  if (rc) goto out;
  rc = CLI_EXIT_FAIL;
  if (aic_session_create(engine, &session) != AIC_OK) {
    cli_error("cannot create an engine session");
    goto out;
  }
  rc = decode_frames(engine, session, &o, &reader, &sink);
  if (rc == CLI_EXIT_OK && cli_sink_finish(&sink) != 0) rc = CLI_EXIT_FAIL;
out:
  if (rc != CLI_EXIT_OK) cli_sink_abort(&sink);
  aic_session_free(&session);
  cli_aics_close(&reader);
  return rc;
}
