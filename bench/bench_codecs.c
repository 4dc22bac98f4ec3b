/* Rate-distortion of the lossy picture codecs on stills: every libaic backend (through the
 * engine, at its fixed quality levels 1..8) and the peers in bench_peers.c at the same 0..100
 * qualities, one CSV row per (image, codec, level). Everything is measured here on the RGB
 * pictures that come back, with one set of metric functions, so codecs that convert colour
 * differently are still compared alike.
 *
 * usage: bench_codecs --out rd.csv [--set NAME] [--codecs vp8,av1,jpeg,neural,webp,aom-still]
 *                     [--levels 1,2,...,8] image.png...
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic/aic.h"
#include "aic/convert.h"
#include "bench_common.h"
#include "bench_peers.h"

#define MAX_CODECS 16
#define MAX_LEVELS 8

/* docs/engine.md: the 0..100 quality each level 1..8 stands for. */
static const double level_quality[MAX_LEVELS] = {10, 25, 40, 52, 63, 74, 85, 95};

static const char csv_header[] =
    "set,image,width,height,codec,level,quality,bytes,bpp,psnr_rgb,psnr_y,ssim_y,msssim_y,"
    "enc_ms,dec_ms,engine_ms,engine_ssim";

typedef struct measurement {
  size_t bytes;
  double enc_ms, dec_ms;
  double engine_ms;   /* aic only: the whole aic_engine_compress call */
  double engine_ssim; /* aic only: the SSIM the engine measured on its own reconstruction */
} measurement_t;

/* Time of libaic's RGB -> I420 conversion of this picture (best of 3): the engine's codecs
 * report encode time from I420, the peers from RGB, so this is added to make them alike. */
static double conversion_ms(const aic_frame_t *frame) {
  size_t size;
  aic_pixel_format_size(AIC_PIX_I420, frame->width, frame->height, &size);
  uint8_t *i420 = bench_xmalloc(size);
  double best = INFINITY;
  for (int i = 0; i < 3; i++) {
    double t0 = bench_now_ms();
    aic_picture_to_i420(frame, i420);
    double t = bench_now_ms() - t0;
    if (t < best) best = t;
  }
  free(i420);
  return best;
}

/* One engine round trip at a fixed level, with no session: a still is a keyframe. Returns
 * false (after saying why) when the engine coded the frame with another codec. */
static bool run_aic(aic_engine_t *engine, aic_codec_id_t id, int level, const aic_frame_t *frame,
                    double conv_ms, uint8_t *out, measurement_t *m) {
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.codec_preference = id;
  p.quality = level;
  aic_encode_result_t r;
  char why[256];
  double t0 = bench_now_ms();
  int rc = aic_engine_compress(engine, NULL, frame, &p, &r, why, sizeof why);
  m->engine_ms = bench_now_ms() - t0;
  if (rc) bench_die("%s level %d: compress: %s", aic_codec_name(id), level, why);
  if (r.codec != id) {
    fprintf(stderr, "bench_codecs: %s level %d was coded by %s (%s): skipped\n", aic_codec_name(id),
            level, aic_codec_name(r.codec), r.fallback_detail);
    aic_encode_result_clear(&r);
    return false;
  }
  m->bytes = r.bitstream_size;
  m->enc_ms = r.encode_ms + conv_ms;
  m->engine_ssim = r.ssim;
  aic_decoded_frame_t d;
  t0 = bench_now_ms();
  rc = aic_engine_decompress(engine, NULL, r.bitstream, r.bitstream_size, &d, why, sizeof why);
  m->dec_ms = bench_now_ms() - t0;
  if (rc) bench_die("%s level %d: decompress: %s", aic_codec_name(id), level, why);
  memcpy(out, d.frame.data, frame->size);
  aic_decoded_frame_clear(&d);
  aic_encode_result_clear(&r);
  return true;
}

static size_t split_list(char *s, char **items, size_t max) {
  size_t n = 0;
  for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) items[n++] = tok;
  return n;
}

int main(int argc, char **argv) {
  const char *out_path = NULL, *set = "stills";
  char codec_arg[256] = "vp8,av1,jpeg,neural,webp,aom-still", level_arg[64] = "1,2,3,4,5,6,7,8";
  int first = argc;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out_path = argv[++i];
    } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
      set = argv[++i];
    } else if (strcmp(argv[i], "--codecs") == 0 && i + 1 < argc) {
      snprintf(codec_arg, sizeof codec_arg, "%s", argv[++i]);
    } else if (strcmp(argv[i], "--levels") == 0 && i + 1 < argc) {
      snprintf(level_arg, sizeof level_arg, "%s", argv[++i]);
    } else if (argv[i][0] == '-') {
      bench_die("unknown option %s", argv[i]);
    } else {
      first = i;
      break;
    }
  }
  if (!out_path || first >= argc) bench_die("usage: bench_codecs --out rd.csv image.png...");

  aic_engine_t *engine;
  if (aic_engine_create(NULL, &engine)) bench_die("aic_engine_create failed");
  aic_codec_id_t have[AIC_CODEC_COUNT_];
  size_t nhave = aic_engine_codecs(engine, have, AIC_CODEC_COUNT_);

  /* Codecs not in this build are reported once and left out, so the same command works while
   * backends are still being added. */
  char *names[MAX_CODECS];
  size_t ncodecs = split_list(codec_arg, names, MAX_CODECS), nkeep = 0;
  for (size_t c = 0; c < ncodecs; c++) {
    int id = bench_codec_parse(names[c]);
    bool ok = false;
    for (size_t k = 0; id > 0 && k < nhave && k < AIC_CODEC_COUNT_; k++) ok |= (int)have[k] == id;
    if (id < 0) ok = bench_peer_available(names[c]);
    if (ok)
      names[nkeep++] = names[c];
    else
      fprintf(stderr, "bench_codecs: %s is not in this build: skipped\n", names[c]);
  }
  ncodecs = nkeep;
  char *level_names[MAX_LEVELS];
  int levels[MAX_LEVELS];
  size_t nlevels = split_list(level_arg, level_names, MAX_LEVELS);
  for (size_t l = 0; l < nlevels; l++) {
    levels[l] = atoi(level_names[l]);
    if (levels[l] < 1 || levels[l] > MAX_LEVELS) bench_die("level %s is not 1..8", level_names[l]);
  }

  FILE *csv = bench_csv_open(out_path, csv_header);
  for (int i = first; i < argc; i++) {
    uint8_t *rgb;
    uint32_t w, h;
    bench_read_png(argv[i], &rgb, &w, &h);
    aic_frame_t frame = {.type = AIC_FRAME_VIDEO,
                         .pix_fmt = AIC_PIX_RGB24,
                         .width = w,
                         .height = h,
                         .data = rgb,
                         .size = (size_t)w * h * 3};
    double conv_ms = conversion_ms(&frame);
    uint8_t *rec = bench_xmalloc(frame.size);
    const char *stem = bench_stem(argv[i]);
    fprintf(stderr, "bench_codecs: %s (%ux%u)\n", stem, w, h);
    for (size_t c = 0; c < ncodecs; c++) {
      int id = bench_codec_parse(names[c]);
      for (size_t l = 0; l < nlevels; l++) {
        double quality = level_quality[levels[l] - 1];
        measurement_t m = {.engine_ms = NAN, .engine_ssim = NAN};
        if (id > 0) {
          if (!run_aic(engine, (aic_codec_id_t)id, levels[l], &frame, conv_ms, rec, &m)) continue;
        } else {
          bench_peer_result_t pr;
          bench_peer_run(names[c], rgb, w, h, quality, rec, &pr);
          m.bytes = pr.bytes;
          m.enc_ms = pr.encode_ms;
          m.dec_ms = pr.decode_ms;
        }
        bench_quality_t q;
        bench_rgb_quality(rgb, rec, w, h, &q);
        fprintf(csv, "%s,%s,%u,%u,%s,%d,%.0f,%zu,%.6f,%.4f,%.4f,%.6f,%.6f,%.3f,%.3f,%.3f,%.6f\n",
                set, stem, w, h, names[c], levels[l], quality, m.bytes,
                (double)m.bytes * 8.0 / ((double)w * h), q.psnr_rgb, q.psnr_y, q.ssim_y, q.msssim_y,
                m.enc_ms, m.dec_ms, m.engine_ms, m.engine_ssim);
        fflush(csv);
      }
    }
    free(rec);
    free(rgb);
  }
  fclose(csv);
  aic_engine_free(&engine);
  return 0;
}
