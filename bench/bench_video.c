/* One stream through the engine, the way a sender and a receiver run it: a Y4M sequence is
 * compressed frame by frame in one session, then decoded in order by a second session (the
 * receiver), and the receiver's pictures are measured against the source. Prints nothing but
 * progress; appends one summary row per run to a CSV (and, if asked, one row per frame).
 * `make bench` uses it both for the speed table (fixed quality) and for the engine goal
 * (fixed bitrate vs. quality-targeted).
 *
 * usage: bench_video --y4m seq.y4m --out runs.csv [--label NAME] [--frames N]
 *                    [--codec auto|vp8|av1|jpeg|...] [--quality 1..8] [--bitrate KBPS]
 *                    [--min-ssim X] [--fps F] [--mode adaptive|quality|balanced|aggressive]
 *                    [--frames-out frames.csv]
 *        bench_video --list-codecs
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic/aic.h"
#include "bench_common.h"

static const char summary_header[] =
    "seq,label,codec_pref,mode,quality,bitrate_kbps,min_ssim,fps,width,height,frames,bytes,"
    "kbps,mean_ssim,min_ssim_got,mean_psnr,below_floor,attempts,fallbacks,keyframes,codec_mix,"
    "codec_ms_mean,engine_ms_mean,engine_ms_p95,dec_ms_mean,enc_fps_codec,enc_fps_engine,"
    "dec_fps,mirror_mismatch";

static const char frames_header[] =
    "seq,label,frame,codec,bytes,ssim,psnr,quality_setting,attempts,keyframe,fallback,"
    "codec_ms,engine_ms,dec_ms";

typedef struct frame_log {
  aic_encode_result_t r;
  double engine_ms;
  double dec_ms;
  double ssim, psnr; /* measured on the receiver's picture */
} frame_log_t;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static aic_mode_t parse_mode(const char *s) {
  if (strcmp(s, "adaptive") == 0) return AIC_MODE_ADAPTIVE;
  if (strcmp(s, "quality") == 0) return AIC_MODE_QUALITY;
  if (strcmp(s, "balanced") == 0) return AIC_MODE_BALANCED;
  if (strcmp(s, "aggressive") == 0) return AIC_MODE_AGGRESSIVE;
  bench_die("unknown mode %s", s);
}

int main(int argc, char **argv) {
  const char *y4m_path = NULL, *out_path = NULL, *frames_path = NULL, *label = "run";
  const char *codec_name = "auto", *mode_name = "adaptive";
  long max_frames = 0;
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  if (argc == 2 && strcmp(argv[1], "--list-codecs") == 0) {
    /* What this build can be asked for: the driver skips the rest instead of failing. */
    aic_engine_t *e;
    if (aic_engine_create(NULL, &e)) bench_die("cannot create the engine");
    aic_codec_id_t ids[AIC_CODEC_COUNT_];
    size_t n = aic_engine_codecs(e, ids, AIC_CODEC_COUNT_);
    for (size_t i = 0; i < n && i < AIC_CODEC_COUNT_; i++) printf("%s\n", aic_codec_name(ids[i]));
    aic_engine_free(&e);
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) bench_die("option %s needs a value", a);
    i++;
    if (strcmp(a, "--y4m") == 0)
      y4m_path = v;
    else if (strcmp(a, "--out") == 0)
      out_path = v;
    else if (strcmp(a, "--frames-out") == 0)
      frames_path = v;
    else if (strcmp(a, "--label") == 0)
      label = v;
    else if (strcmp(a, "--frames") == 0)
      max_frames = strtol(v, NULL, 10);
    else if (strcmp(a, "--codec") == 0)
      codec_name = v;
    else if (strcmp(a, "--quality") == 0)
      p.quality = atoi(v);
    else if (strcmp(a, "--bitrate") == 0)
      p.bitrate_kbps = (uint32_t)strtoul(v, NULL, 10);
    else if (strcmp(a, "--min-ssim") == 0)
      p.min_ssim = strtod(v, NULL);
    else if (strcmp(a, "--fps") == 0)
      p.fps = strtod(v, NULL);
    else if (strcmp(a, "--mode") == 0)
      mode_name = v;
    else
      bench_die("unknown option %s", a);
  }
  if (!y4m_path || !out_path) bench_die("usage: bench_video --y4m seq.y4m --out runs.csv ...");
  int id = bench_codec_parse(codec_name);
  if (id < 0) bench_die("unknown codec %s", codec_name);
  p.codec_preference = (aic_codec_id_t)id;
  p.mode = parse_mode(mode_name);
  if (p.fps <= 0) p.fps = 30;
  char why[256];
  if (aic_encode_params_validate(&p, why, sizeof why)) bench_die("parameters: %s", why);

  bench_y4m_t y;
  bench_y4m_open(&y, y4m_path);
  size_t limit = max_frames > 0 ? (size_t)max_frames : SIZE_MAX, n = 0, cap = 16;
  uint8_t *pics = bench_xmalloc(cap * y.frame_size);
  for (; n < limit; n++) {
    if (n == cap) {
      cap *= 2;
      pics = realloc(pics, cap * y.frame_size);
      if (!pics) bench_die("out of memory");
    }
    if (!bench_y4m_read(&y, pics + n * y.frame_size)) break;
  }
  bench_y4m_close(&y);
  if (n == 0) bench_die("%s: no frames", y4m_path);
  char seq[256];
  snprintf(seq, sizeof seq, "%s", bench_stem(y4m_path));

  aic_engine_t *engine;
  aic_session_t *tx, *rx;
  if (aic_engine_create(NULL, &engine) || aic_session_create(engine, &tx) ||
      aic_session_create(engine, &rx))
    bench_die("cannot create the engine");
  frame_log_t *log = calloc(n, sizeof *log);
  if (!log) bench_die("out of memory");
  aic_frame_t frame = {.type = AIC_FRAME_VIDEO,
                       .pix_fmt = AIC_PIX_I420,
                       .width = y.width,
                       .height = y.height,
                       .size = y.frame_size};

  /* Sender: every frame, in order, timed as the engine's caller sees it. */
  for (size_t i = 0; i < n; i++) {
    frame.data = pics + i * y.frame_size;
    double t0 = bench_now_ms();
    int rc = aic_engine_compress(engine, tx, &frame, &p, &log[i].r, why, sizeof why);
    log[i].engine_ms = bench_now_ms() - t0;
    if (rc) bench_die("%s frame %zu: %s", seq, i, why);
  }
  /* Receiver: decodes after the fact, so its time is not mixed with the sender's. */
  size_t mismatch = 0;
  for (size_t i = 0; i < n; i++) {
    aic_decoded_frame_t d;
    double t0 = bench_now_ms();
    int rc = aic_engine_decompress(engine, rx, log[i].r.bitstream, log[i].r.bitstream_size, &d, why,
                                   sizeof why);
    log[i].dec_ms = bench_now_ms() - t0;
    if (rc) bench_die("%s frame %zu: decompress: %s", seq, i, why);
    frame.data = pics + i * y.frame_size;
    if (aic_frame_quality(&frame, &d.frame, &log[i].psnr, &log[i].ssim))
      bench_die("quality measurement failed");
    /* The engine's figure comes from its mirror decoder; a difference means the receiver
     * does not see what the engine promised. */
    if (fabs(log[i].ssim - log[i].r.ssim) > 1e-9) mismatch++;
    aic_decoded_frame_clear(&d);
  }

  size_t bytes = 0, below = 0, attempts = 0, fallbacks = 0, keyframes = 0;
  size_t per_codec[AIC_CODEC_COUNT_] = {0};
  double ssim_sum = 0, ssim_min = INFINITY, psnr_sum = 0, codec_ms = 0, engine_ms = 0;
  double dec_ms = 0;
  double *lat = bench_xmalloc(n * sizeof *lat);
  FILE *ff = frames_path ? bench_csv_open(frames_path, frames_header) : NULL;
  for (size_t i = 0; i < n; i++) {
    const frame_log_t *f = &log[i];
    bytes += f->r.bitstream_size;
    ssim_sum += f->ssim;
    psnr_sum += f->psnr;
    if (f->ssim < ssim_min) ssim_min = f->ssim;
    if (p.min_ssim > 0 && f->ssim < p.min_ssim) below++;
    attempts += f->r.attempts;
    fallbacks += f->r.fallback != AIC_FALLBACK_NONE;
    keyframes += f->r.keyframe;
    if ((unsigned)f->r.codec < AIC_CODEC_COUNT_) per_codec[f->r.codec]++;
    codec_ms += f->r.encode_ms;
    engine_ms += f->engine_ms;
    dec_ms += f->dec_ms;
    lat[i] = f->engine_ms;
    if (ff)
      fprintf(ff, "%s,%s,%zu,%s,%zu,%.6f,%.4f,%.2f,%u,%d,%d,%.3f,%.3f,%.3f\n", seq, label, i,
              aic_codec_name(f->r.codec), f->r.bitstream_size, f->ssim, f->psnr,
              f->r.quality_setting, f->r.attempts, f->r.keyframe, (int)f->r.fallback,
              f->r.encode_ms, f->engine_ms, f->dec_ms);
  }
  if (ff) fclose(ff);
  qsort(lat, n, sizeof *lat, cmp_double);
  double p95 = lat[(size_t)ceil(0.95 * (double)n) - 1];
  char mix[256] = "";
  for (int c = 0; c < AIC_CODEC_COUNT_; c++) {
    if (!per_codec[c]) continue;
    size_t len = strlen(mix);
    snprintf(mix + len, sizeof mix - len, "%s%s:%zu", len ? ";" : "", aic_codec_name(c),
             per_codec[c]);
  }
  double secs = (double)n / p.fps;
  FILE *out = bench_csv_open(out_path, summary_header);
  fprintf(out,
          "%s,%s,%s,%s,%d,%u,%.6f,%.3f,%u,%u,%zu,%zu,%.2f,%.6f,%.6f,%.4f,%zu,%zu,%zu,%zu,%s,"
          "%.3f,%.3f,%.3f,%.3f,%.2f,%.2f,%.2f,%zu\n",
          seq, label, codec_name, mode_name, p.quality, p.bitrate_kbps, p.min_ssim, p.fps, y.width,
          y.height, n, bytes, (double)bytes * 8.0 / secs / 1000.0, ssim_sum / (double)n, ssim_min,
          psnr_sum / (double)n, below, attempts, fallbacks, keyframes, mix, codec_ms / (double)n,
          engine_ms / (double)n, p95, dec_ms / (double)n, 1000.0 * (double)n / codec_ms,
          1000.0 * (double)n / engine_ms, 1000.0 * (double)n / dec_ms, mismatch);
  fclose(out);
  fprintf(stderr, "bench_video: %s %s: %zu frames, %.0f kbps, SSIM %.4f (min %.4f), %s\n", seq,
          label, n, (double)bytes * 8.0 / secs / 1000.0, ssim_sum / (double)n, ssim_min, mix);

  for (size_t i = 0; i < n; i++) aic_encode_result_clear(&log[i].r);
  free(log);
  free(lat);
  free(pics);
  aic_session_free(&tx);
  aic_session_free(&rx);
  aic_engine_free(&engine);
  return 0;
}
