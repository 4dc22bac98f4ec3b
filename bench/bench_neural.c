/* The learned image codec (nic-rt, nic-hq) measured through its runner API (src/lib/nn/nic.h)
 * rather than the engine, so that a model file can be benchmarked before any engine loads it
 * and so that the time of every stage can be read (aic_nic_last_timing). Three modes:
 *
 *   rd     every still at every model level: bytes, PSNR-RGB, PSNR-Y, SSIM, MS-SSIM, encode
 *          and decode time. Rows have bench_codecs' columns, so its peers (run on the same
 *          images into the same CSV) and bench/bdrate.py read them alike.
 *   speed  the whole frame path of a video frame: I420 -> RGB (the neural backend converts
 *          I420 input, neural_codec.c), encode, decode, RGB -> I420; median of N frames after
 *          a warm-up, per stage, for each thread count asked for.
 *   pipeline  the same frame path as a sender and a receiver would run it: one thread encodes
 *          (I420 -> RGB, encode) while another decodes the previous frame (decode, RGB ->
 *          I420), each with a one-thread runner, so each stage has a core of its own. Reports
 *          the throughput (frames per second through both stages) and the per-frame latency
 *          (encode start to decode end), medians over N frames after a warm-up.
 *   macs   multiply-accumulates per pixel of each transform, computed from the model's layer
 *          shapes exactly as train/models.py's count_macs counts them.
 *
 * Bytes are what a receiver gets, as for the engine's codecs in bench_codecs: the runner's
 * payload plus the engine's 32-byte bitstream header and the neural backend's 8-byte preamble
 * (model id, version, level), which every neural frame carries.
 *
 * usage: bench_neural rd --model M.aicm --out rd.csv [--set NAME] [--name CODEC]
 *                        [--levels all|max|0,1,...] [--impl auto|ref|dnnl] [--threads N]
 *                        [--size WxH] image.png|image.rgb...   (.rgb: raw RGB24 of --size)
 *        bench_neural speed --model M.aicm --out speed.csv [--threads 1,2] [--runs 20]
 *                        [--warmup 3] [--levels max|...] [--impl ...] seq.y4m...
 *        (every mode also takes --band-kib N: the runners' band size, 0 = unbanded)
 *        bench_neural pipeline --model M.aicm --out pipe.csv [--runs 40] [--warmup 3]
 *                        [--levels max|...] [--impl ...] seq.y4m...
 *        bench_neural macs --model M.aicm [--size 640x360] [--out macs.csv]
 */
#include <pthread.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aic/convert.h"
#include "aic/error.h"
#include "bench_common.h"
#include "core/buf.h"
#include "nn/conv.h"
#include "nn/model_file.h"
#include "nn/nic.h"

/* The engine's bitstream header (src/lib/codec/bitstream.h) and the neural backend's preamble
 * (src/lib/codec/neural_codec.h). Spelled out rather than included: bitstream.h is internal to
 * the codec layer, and a mismatch would only shift every neural rate by a constant. */
#define BENCH_AIC_HEADER_BYTES 32
#define BENCH_NEURAL_PREAMBLE_BYTES 8
#define BENCH_FRAME_OVERHEAD (BENCH_AIC_HEADER_BYTES + BENCH_NEURAL_PREAMBLE_BYTES)

#define MAX_LIST 64

static const char rd_header[] =
    "set,image,width,height,codec,level,quality,bytes,bpp,psnr_rgb,psnr_y,ssim_y,msssim_y,"
    "enc_ms,dec_ms,engine_ms,engine_ssim";

static const char pipeline_header[] =
    "model,family,impl,isa,width,height,level,warmup,runs,bytes,fps,latency_ms,encode_ms,"
    "decode_ms,cpu_ms";

static const char speed_header[] =
    "model,family,impl,isa,threads,width,height,level,warmup,runs,bytes,cold_ms,conv_in_ms,"
    "analysis_ms,enc_hyper_ms,enc_entropy_ms,encode_ms,dec_entropy_ms,dec_hyper_ms,"
    "synthesis_ms,decode_ms,conv_out_ms,total_ms,fps,fps_rgb,cpu_ms,kmac_pixel,kmac_g_a,"
    "kmac_h_a,kmac_h_s,kmac_g_s";

/* --- options ------------------------------------------------------------------------------ */

typedef struct options {
  const char *model, *out, *set, *name, *levels, *threads, *impl, *size;
  int runs, warmup;
  int first; /* index of the first input file in argv */
} options_t;

/* --band-kib: the runners' aic_nic_settings_t.band_kib (-1: the library's default). */
static int band_kib = -1;

static void parse_options(int argc, char **argv, options_t *o) {
  *o = (options_t){.set = "stills",
                   .levels = NULL,
                   .threads = "1",
                   .impl = "auto",
                   .size = "640x360",
                   .runs = 20,
                   .warmup = 3,
                   .first = argc};
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (strcmp(a, "--model") == 0 && has)
      o->model = argv[++i];
    else if (strcmp(a, "--out") == 0 && has)
      o->out = argv[++i];
    else if (strcmp(a, "--set") == 0 && has)
      o->set = argv[++i];
    else if (strcmp(a, "--name") == 0 && has)
      o->name = argv[++i];
    else if (strcmp(a, "--levels") == 0 && has)
      o->levels = argv[++i];
    else if (strcmp(a, "--threads") == 0 && has)
      o->threads = argv[++i];
    else if (strcmp(a, "--impl") == 0 && has)
      o->impl = argv[++i];
    else if (strcmp(a, "--size") == 0 && has)
      o->size = argv[++i];
    else if (strcmp(a, "--runs") == 0 && has)
      o->runs = atoi(argv[++i]);
    else if (strcmp(a, "--warmup") == 0 && has)
      o->warmup = atoi(argv[++i]);
    else if (strcmp(a, "--band-kib") == 0 && has) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*argv[i] == '\0' || *end != '\0' || v < 0 || v > INT_MAX)
        bench_die("--band-kib takes a whole number of KiB >= 0 (0: unbanded), not %s", argv[i]);
      band_kib = (int)v;
    }
    else if (a[0] == '-')
      bench_die("unknown option %s", a);
    else {
      o->first = i;
      break;
    }
  }
  if (!o->model) bench_die("--model is required");
  if (o->runs < 1 || o->warmup < 0) bench_die("--runs must be >= 1 and --warmup >= 0");
}

static aic_nn_impl_t parse_impl(const char *s) {
  if (strcmp(s, "auto") == 0) return AIC_NN_IMPL_AUTO;
  if (strcmp(s, "ref") == 0) return AIC_NN_IMPL_REF;
  if (strcmp(s, "dnnl") == 0) return AIC_NN_IMPL_DNNL;
  bench_die("unknown --impl %s (auto, ref, dnnl)", s);
}

/* A comma list of non-negative integers; "all" and "max" expand against `levels`. */
static size_t parse_levels(const char *arg, unsigned levels, int *out) {
  if (strcmp(arg, "all") == 0) {
    for (unsigned l = 0; l < levels && l < MAX_LIST; l++) out[l] = (int)l;
    return levels < MAX_LIST ? levels : MAX_LIST;
  }
  char buf[256];
  snprintf(buf, sizeof buf, "%s", arg);
  size_t n = 0;
  for (char *tok = strtok(buf, ","); tok && n < MAX_LIST; tok = strtok(NULL, ",")) {
    int l = strcmp(tok, "max") == 0 ? (int)levels - 1 : atoi(tok);
    if (l < 0 || (unsigned)l >= levels) bench_die("level %s is not 0..%u", tok, levels - 1);
    out[n++] = l;
  }
  return n;
}

static size_t parse_ints(const char *arg, int *out) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", arg);
  size_t n = 0;
  for (char *tok = strtok(buf, ","); tok && n < MAX_LIST; tok = strtok(NULL, ",")) {
    out[n] = atoi(tok);
    if (out[n] < 1) bench_die("bad count %s", tok);
    n++;
  }
  return n;
}

/* --- model -------------------------------------------------------------------------------- */

static aic_model_file_t *load_model(const char *path) {
  aic_model_file_t *m = NULL;
  char why[256] = "";
  int rc = aic_model_load_file(path, &m, why, sizeof why);
  if (rc) bench_die("%s: %s (%s)", path, aic_strerror(rc), why);
  return m;
}

static aic_nic_t *make_runner(const aic_model_file_t *m, aic_nn_impl_t impl, int threads) {
  aic_nic_settings_t s;
  aic_nic_settings_default(&s);
  s.impl = impl;
  s.threads = threads;
  if (band_kib >= 0) s.band_kib = band_kib;
  aic_nic_t *nic = NULL;
  char why[256] = "";
  int rc = aic_nic_create(m, &s, &nic, why, sizeof why);
  if (rc) bench_die("aic_nic_create: %s (%s)", aic_strerror(rc), why);
  return nic;
}

static const char *impl_name(const aic_nic_t *nic) {
  return aic_nic_impl(nic) == AIC_NN_IMPL_DNNL ? "dnnl" : "ref";
}

/* MACs per pixel of the four transforms at width x height, walked from the layer list:
 * convolutions count weights x output positions (a depth-to-space convolution runs at its
 * input's resolution, before the shuffle), GDN-lite C^2 per position, as count_macs does.
 * Each transform starts where train/models.py's dataflow puts it: g_a on the picture, h_a and
 * g_s on y (where g_a ended), h_s on z (where h_a ended). Layers outside the four (gains,
 * entropy models, requantization) cost no MACs worth counting. */
enum { PART_G_A, PART_H_A, PART_H_S, PART_G_S, PART_COUNT };
static const char *const part_names[PART_COUNT] = {"g_a", "h_a", "h_s", "g_s"};

typedef struct macs {
  double part[PART_COUNT]; /* MACs per pixel */
  double total;
} macs_t;

static void count_macs(const aic_model_file_t *m, int width, int height, macs_t *out) {
  enum { MAX_SCALE = 20 };
  double h[MAX_SCALE], w[MAX_SCALE];
  h[0] = height;
  w[0] = width;
  for (int k = 1; k < MAX_SCALE; k++) {
    h[k] = floor((h[k - 1] + 1) / 2);
    w[k] = floor((w[k - 1] + 1) / 2);
  }
  memset(out, 0, sizeof *out);
  int scale = 0, y_scale = 0, z_scale = 0, part = -1;
  for (size_t i = 0; i < aic_model_layer_count(m); i++) {
    const aic_layer_t *l = aic_model_layer(m, i);
    int p = -1;
    for (int k = 0; k < PART_COUNT; k++)
      if (strncmp(l->name, part_names[k], 3) == 0 && l->name[3] == '.') p = k;
    if (p < 0) continue;
    if (p != part) { /* entering a transform */
      if (part == PART_G_A) y_scale = scale;
      if (part == PART_H_A) z_scale = scale;
      scale = p == PART_G_A ? 0 : p == PART_H_S ? z_scale : y_scale;
      part = p;
    }
    double n = 0;
    if (strcmp(l->type, "conv2d") == 0 || strcmp(l->type, "qconv2d") == 0 ||
        strcmp(l->type, "qconv2d_index") == 0) {
      if (l->stride == 2 && scale + 1 < MAX_SCALE) scale++;
      n = h[scale] * w[scale] * l->out * l->in * (double)l->kernel * l->kernel;
    } else if (strcmp(l->type, "gdn_lite") == 0 || strcmp(l->type, "igdn_lite") == 0) {
      n = h[scale] * w[scale] * (double)l->out * l->out;
    } else if (strcmp(l->type, "depth_to_space") == 0) {
      if (scale > 0) scale--;
    }
    out->part[p] += n / ((double)width * height);
  }
  for (int k = 0; k < PART_COUNT; k++) out->total += out->part[k];
}

static void parse_size(const char *s, int *w, int *h) {
  if (sscanf(s, "%dx%d", w, h) != 2 || *w < 1 || *h < 1 || *w > AIC_NIC_MAX_DIM ||
      *h > AIC_NIC_MAX_DIM)
    bench_die("bad size %s (WxH)", s);
}

static int mode_macs(const options_t *o) {
  aic_model_file_t *m = load_model(o->model);
  int w, h;
  parse_size(o->size, &w, &h);
  macs_t mc;
  count_macs(m, w, h, &mc);
  FILE *f = o->out ? bench_csv_open(o->out, "model,family,width,height,part,kmac_pixel") : stdout;
  if (!o->out) fprintf(f, "model,family,width,height,part,kmac_pixel\n");
  for (int k = 0; k < PART_COUNT; k++)
    fprintf(f, "%s,%s,%d,%d,%s,%.4f\n", bench_stem(o->model), aic_model_family(m), w, h,
            part_names[k], mc.part[k] / 1e3);
  /* What each side runs: the encoder needs h_s too, to choose the tables of y. */
  fprintf(f, "%s,%s,%d,%d,encoder,%.4f\n", bench_stem(o->model), aic_model_family(m), w, h,
          (mc.part[PART_G_A] + mc.part[PART_H_A] + mc.part[PART_H_S]) / 1e3);
  fprintf(f, "%s,%s,%d,%d,decoder,%.4f\n", bench_stem(o->model), aic_model_family(m), w, h,
          (mc.part[PART_H_S] + mc.part[PART_G_S]) / 1e3);
  fprintf(f, "%s,%s,%d,%d,both,%.4f\n", bench_stem(o->model), aic_model_family(m), w, h,
          (mc.total + mc.part[PART_H_S]) / 1e3);
  if (o->out) fclose(f);
  aic_model_file_free(&m);
  return 0;
}

/* --- rd ----------------------------------------------------------------------------------- */

/* One encode + decode; returns the payload size. Exits on failure: a codec that cannot
 * decode its own output has no rate-distortion point. */
static size_t round_trip(aic_nic_t *nic, const uint8_t *rgb, int w, int h, unsigned level,
                         aic_buf_t *bits, uint8_t *rec, double *enc_ms, double *dec_ms) {
  bits->size = 0;
  double t0 = bench_now_ms();
  int rc = aic_nic_encode(nic, rgb, (size_t)w * 3, w, h, level, bits);
  double t1 = bench_now_ms();
  if (rc) bench_die("aic_nic_encode %dx%d level %u: %s", w, h, level, aic_strerror(rc));
  rc = aic_nic_decode(nic, bits->data, bits->size, w, h, level, rec, (size_t)w * 3);
  double t2 = bench_now_ms();
  if (rc) bench_die("aic_nic_decode %dx%d level %u: %s", w, h, level, aic_strerror(rc));
  if (enc_ms) *enc_ms = t1 - t0;
  if (dec_ms) *dec_ms = t2 - t1;
  return bits->size;
}

/* A PNG, or raw RGB24 (the test vectors' format) when the name ends in .rgb, of `size`. */
static void read_picture(const char *path, const char *size, uint8_t **rgb, uint32_t *w,
                         uint32_t *h) {
  size_t len = strlen(path);
  if (len < 4 || strcmp(path + len - 4, ".rgb") != 0) {
    bench_read_png(path, rgb, w, h);
    return;
  }
  int iw, ih;
  parse_size(size, &iw, &ih);
  size_t bytes = (size_t)iw * (size_t)ih * 3;
  FILE *f = fopen(path, "rb");
  if (!f) bench_die("%s: cannot open", path);
  *rgb = bench_xmalloc(bytes);
  if (fread(*rgb, 1, bytes, f) != bytes || fgetc(f) != EOF)
    bench_die("%s: not %dx%d RGB24 (%zu bytes)", path, iw, ih, bytes);
  fclose(f);
  *w = (uint32_t)iw;
  *h = (uint32_t)ih;
}

static int mode_rd(const options_t *o, int argc, char **argv) {
  if (!o->out || o->first >= argc)
    bench_die("usage: bench_neural rd --model M --out rd.csv image.png...");
  aic_model_file_t *m = load_model(o->model);
  unsigned nlevels = aic_model_levels(m);
  int levels[MAX_LIST], threads[MAX_LIST];
  size_t nl = parse_levels(o->levels ? o->levels : "all", nlevels, levels);
  if (parse_ints(o->threads, threads) != 1) bench_die("rd takes one --threads value");
  aic_nic_t *nic = make_runner(m, parse_impl(o->impl), threads[0]);
  const char *name = o->name ? o->name : aic_model_family(m);
  fprintf(stderr, "bench_neural: %s (%s, %u levels) on %s, %d thread(s)\n", o->model, name, nlevels,
          impl_name(nic), threads[0]);

  FILE *csv = bench_csv_open(o->out, rd_header);
  aic_buf_t bits = {0};
  int warm_w = 0, warm_h = 0;
  for (int i = o->first; i < argc; i++) {
    uint8_t *rgb;
    uint32_t w, h;
    read_picture(argv[i], o->size, &rgb, &w, &h);
    if (w > AIC_NIC_MAX_DIM || h > AIC_NIC_MAX_DIM) bench_die("%s: too large", argv[i]);
    uint8_t *rec = bench_xmalloc((size_t)w * h * 3);
    const char *stem = bench_stem(argv[i]);
    fprintf(stderr, "bench_neural: %s (%ux%u)\n", stem, w, h);
    /* The runner builds its convolution plans on the first frame of a size; that one-off cost
     * is not what a frame costs, so a new size gets an untimed round trip first. */
    if ((int)w != warm_w || (int)h != warm_h) {
      round_trip(nic, rgb, (int)w, (int)h, (unsigned)levels[0], &bits, rec, NULL, NULL);
      warm_w = (int)w;
      warm_h = (int)h;
    }
    for (size_t l = 0; l < nl; l++) {
      double enc_ms, dec_ms;
      size_t payload =
          round_trip(nic, rgb, (int)w, (int)h, (unsigned)levels[l], &bits, rec, &enc_ms, &dec_ms);
      size_t bytes = payload + BENCH_FRAME_OVERHEAD;
      bench_quality_t q;
      bench_rgb_quality(rgb, rec, w, h, &q);
      /* level is 1-based like the engine's levels in bench_codecs' rows; quality is the
       * engine quality that maps onto this model level (aic_neural_level_for). */
      double quality = nlevels > 1 ? 100.0 * levels[l] / (nlevels - 1) : 100.0;
      fprintf(csv, "%s,%s,%u,%u,%s,%d,%.1f,%zu,%.6f,%.4f,%.4f,%.6f,%.6f,%.3f,%.3f,nan,nan\n",
              o->set, stem, w, h, name, levels[l] + 1, quality, bytes,
              (double)bytes * 8.0 / ((double)w * h), q.psnr_rgb, q.psnr_y, q.ssim_y, q.msssim_y,
              enc_ms, dec_ms);
      fflush(csv);
    }
    free(rec);
    free(rgb);
  }
  fclose(csv);
  aic_buf_free(&bits);
  aic_nic_free(&nic);
  aic_model_file_free(&m);
  return 0;
}

/* --- speed -------------------------------------------------------------------------------- */

enum {
  T_CONV_IN,
  T_ANALYSIS,
  T_ENC_HYPER,
  T_ENC_ENTROPY,
  T_ENCODE,
  T_DEC_ENTROPY,
  T_DEC_HYPER,
  T_SYNTHESIS,
  T_DECODE,
  T_CONV_OUT,
  T_TOTAL,
  T_RGB, /* encode + decode: RGB in, RGB out */
  T_BYTES,
  T_CPU, /* process CPU time of the whole path, all threads */
  T_COUNT
};

/* CPU time of the process in ms: on a machine other jobs share, wall time stretches with their
 * load while one thread's CPU time much less, so both are recorded. */
static double cpu_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Times one frame's path through the codec into t[T_*]: aic_nic_encode_i420 and
 * aic_nic_decode_i420, what the neural backend runs for I420 frames; the conversions from the
 * runner's timing (convert_ms), encode and decode without them. */
static void time_frame(aic_nic_t *nic, const uint8_t *i420, int w, int h, unsigned level,
                       uint8_t *i420_out, aic_buf_t *bits, double *t) {
  aic_nic_timing_t te, td;
  double c0 = cpu_now_ms();
  double t0 = bench_now_ms();
  bits->size = 0;
  int rc = aic_nic_encode_i420(nic, i420, w, h, level, bits);
  double t1 = bench_now_ms();
  if (rc) bench_die("aic_nic_encode_i420: %s", aic_strerror(rc));
  aic_nic_last_timing(nic, &te);
  rc = aic_nic_decode_i420(nic, bits->data, bits->size, w, h, level, i420_out);
  double t2 = bench_now_ms();
  if (rc) bench_die("aic_nic_decode_i420: %s", aic_strerror(rc));
  aic_nic_last_timing(nic, &td);
  t[T_CPU] = cpu_now_ms() - c0;
  t[T_CONV_IN] = te.convert_ms;
  t[T_ANALYSIS] = te.analysis_ms;
  t[T_ENC_HYPER] = te.hyper_ms;
  t[T_ENC_ENTROPY] = te.entropy_ms;
  t[T_ENCODE] = (t1 - t0) - te.convert_ms;
  t[T_DEC_ENTROPY] = td.entropy_ms;
  t[T_DEC_HYPER] = td.hyper_ms;
  t[T_SYNTHESIS] = td.synthesis_ms;
  t[T_DECODE] = (t2 - t1) - td.convert_ms;
  t[T_CONV_OUT] = td.convert_ms;
  t[T_TOTAL] = t2 - t0;
  t[T_RGB] = t[T_ENCODE] + t[T_DECODE];
  t[T_BYTES] = (double)(bits->size + BENCH_FRAME_OVERHEAD);
}

/* Reads `total` frames of a Y4M sequence (repeating a shorter one) before any timing, so that
 * file I/O stays out of the measurement. Returns them back to back; the caller frees. */
static uint8_t *read_frames(const char *path, size_t total, int *w, int *h, size_t *frame_size) {
  bench_y4m_t y;
  bench_y4m_open(&y, path);
  *w = (int)y.width;
  *h = (int)y.height;
  *frame_size = y.frame_size;
  if (*w > AIC_NIC_MAX_DIM || *h > AIC_NIC_MAX_DIM) bench_die("%s: too large", path);
  uint8_t *frames = bench_xmalloc(total * y.frame_size);
  size_t have = 0;
  while (have < total && bench_y4m_read(&y, frames + have * y.frame_size)) have++;
  bench_y4m_close(&y);
  if (!have) bench_die("%s: no frames", path);
  for (size_t k = have; k < total; k++)
    memcpy(frames + k * y.frame_size, frames + (k % have) * y.frame_size, y.frame_size);
  return frames;
}

static int mode_speed(const options_t *o, int argc, char **argv) {
  if (!o->out || o->first >= argc)
    bench_die("usage: bench_neural speed --model M --out speed.csv seq.y4m...");
  aic_model_file_t *m = load_model(o->model);
  unsigned nlevels = aic_model_levels(m);
  int levels[MAX_LIST], threads[MAX_LIST];
  size_t nl = parse_levels(o->levels ? o->levels : "max", nlevels, levels);
  size_t nt = parse_ints(o->threads, threads);
  aic_nn_impl_t impl = parse_impl(o->impl);
  FILE *csv = bench_csv_open(o->out, speed_header);
  size_t total_frames = (size_t)o->warmup + (size_t)o->runs;

  for (int i = o->first; i < argc; i++) {
    int w, h;
    size_t fsize;
    uint8_t *frames = read_frames(argv[i], total_frames, &w, &h, &fsize);
    macs_t mc;
    count_macs(m, w, h, &mc);

    uint8_t *i420_out = bench_xmalloc(fsize);
    double *samples = bench_xmalloc((size_t)o->runs * T_COUNT * sizeof *samples);
    aic_buf_t bits = {0};
    for (size_t ti = 0; ti < nt; ti++) {
      aic_nic_t *nic = make_runner(m, impl, threads[ti]);
      for (size_t li = 0; li < nl; li++) {
        fprintf(stderr, "bench_neural: speed %s %dx%d level %d, %s, %d thread(s)\n",
                aic_model_family(m), w, h, levels[li], impl_name(nic), threads[ti]);
        double t[T_COUNT], cold_ms = NAN;
        for (size_t k = 0; k < total_frames; k++) {
          time_frame(nic, frames + k * fsize, w, h, (unsigned)levels[li], i420_out, &bits, t);
          /* The first frame of a runner builds its convolution plans: the start-up cost. */
          if (k == 0) cold_ms = t[T_TOTAL];
          if (k >= (size_t)o->warmup)
            for (int c = 0; c < T_COUNT; c++)
              samples[(size_t)c * o->runs + (k - (size_t)o->warmup)] = t[c];
        }
        double med[T_COUNT];
        for (int c = 0; c < T_COUNT; c++) med[c] = median(samples + (size_t)c * o->runs, o->runs);
        fprintf(csv,
                "%s,%s,%s,%s,%d,%d,%d,%d,%d,%d,%.0f,%.2f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,"
                "%.3f,%.3f,%.3f,%.3f,%.2f,%.2f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n",
                bench_stem(o->model), aic_model_family(m), impl_name(nic),
                aic_nic_impl(nic) == AIC_NN_IMPL_DNNL ? aic_nn_dnnl_isa() : "c", threads[ti], w, h,
                levels[li], o->warmup, o->runs, med[T_BYTES], cold_ms, med[T_CONV_IN],
                med[T_ANALYSIS], med[T_ENC_HYPER], med[T_ENC_ENTROPY], med[T_ENCODE],
                med[T_DEC_ENTROPY], med[T_DEC_HYPER], med[T_SYNTHESIS], med[T_DECODE],
                med[T_CONV_OUT], med[T_TOTAL], 1000.0 / med[T_TOTAL], 1000.0 / med[T_RGB],
                med[T_CPU], mc.total / 1e3 + mc.part[PART_H_S] / 1e3, mc.part[PART_G_A] / 1e3,
                mc.part[PART_H_A] / 1e3, mc.part[PART_H_S] / 1e3, mc.part[PART_G_S] / 1e3);
        fflush(csv);
      }
      aic_nic_free(&nic);
    }
    aic_buf_free(&bits);
    free(samples);
    free(i420_out);
    free(frames);
  }
  fclose(csv);
  aic_model_file_free(&m);
  return 0;
}

/* ---- pipeline: an encoding thread and a decoding thread, a frame apart ---- */

#define PIPE_SLOTS 2 /* frames in flight between the two stages */

typedef struct pipe_run {
  aic_nic_t *enc, *dec;
  const uint8_t *frames;
  size_t fsize, count;
  int w, h;
  unsigned level;
  aic_buf_t slot[PIPE_SLOTS];
  size_t produced, consumed; /* frames handed over / taken; slot = index % PIPE_SLOTS */
  pthread_mutex_t lock;
  pthread_cond_t changed;
  double *t_start, *t_enc, *t_dec_start, *t_end; /* per frame, ms */
  double *bytes;
} pipe_run_t;

static void *pipe_encoder(void *arg) {
  pipe_run_t *p = arg;
  for (size_t k = 0; k < p->count; k++) {
    pthread_mutex_lock(&p->lock);
    while (p->produced - p->consumed >= PIPE_SLOTS) pthread_cond_wait(&p->changed, &p->lock);
    pthread_mutex_unlock(&p->lock);
    aic_buf_t *bits = &p->slot[k % PIPE_SLOTS];
    p->t_start[k] = bench_now_ms();
    bits->size = 0;
    int rc = aic_nic_encode_i420(p->enc, p->frames + k * p->fsize, p->w, p->h, p->level, bits);
    if (rc) bench_die("aic_nic_encode_i420: %s", aic_strerror(rc));
    p->t_enc[k] = bench_now_ms();
    p->bytes[k] = (double)(bits->size + BENCH_FRAME_OVERHEAD);
    pthread_mutex_lock(&p->lock);
    p->produced++;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
  }
  return NULL;
}

static void *pipe_decoder(void *arg) {
  pipe_run_t *p = arg;
  uint8_t *i420 = bench_xmalloc(p->fsize);
  for (size_t k = 0; k < p->count; k++) {
    pthread_mutex_lock(&p->lock);
    while (p->produced <= k) pthread_cond_wait(&p->changed, &p->lock);
    pthread_mutex_unlock(&p->lock);
    const aic_buf_t *bits = &p->slot[k % PIPE_SLOTS];
    p->t_dec_start[k] = bench_now_ms();
    int rc = aic_nic_decode_i420(p->dec, bits->data, bits->size, p->w, p->h, p->level, i420);
    if (rc) bench_die("aic_nic_decode_i420: %s", aic_strerror(rc));
    p->t_end[k] = bench_now_ms();
    pthread_mutex_lock(&p->lock);
    p->consumed++;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
  }
  free(i420);
  return NULL;
}

static int mode_pipeline(const options_t *o, int argc, char **argv) {
  if (!o->out || o->first >= argc)
    bench_die("usage: bench_neural pipeline --model M --out pipe.csv seq.y4m...");
  aic_model_file_t *m = load_model(o->model);
  int levels[MAX_LIST];
  size_t nl = parse_levels(o->levels ? o->levels : "max", aic_model_levels(m), levels);
  aic_nn_impl_t impl = parse_impl(o->impl);
  FILE *csv = bench_csv_open(o->out, pipeline_header);
  const size_t total = (size_t)o->warmup + (size_t)o->runs, W = (size_t)o->warmup;
  for (int i = o->first; i < argc; i++) {
    pipe_run_t p = {.count = total};
    p.frames = read_frames(argv[i], total, &p.w, &p.h, &p.fsize);
    double *t = bench_xmalloc(5 * total * sizeof *t), *v = bench_xmalloc(total * sizeof *v);
    p.t_start = t;
    p.t_enc = t + total;
    p.t_dec_start = t + 2 * total;
    p.t_end = t + 3 * total;
    p.bytes = t + 4 * total;
    for (size_t li = 0; li < nl; li++) {
      p.enc = make_runner(m, impl, 1);
      p.dec = make_runner(m, impl, 1);
      p.level = (unsigned)levels[li];
      p.produced = p.consumed = 0;
      fprintf(stderr, "bench_neural: pipeline %s %dx%d level %d, %s, 1 + 1 threads\n",
              aic_model_family(m), p.w, p.h, levels[li], impl_name(p.enc));
      pthread_mutex_init(&p.lock, NULL);
      pthread_cond_init(&p.changed, NULL);
      pthread_t te, td;
      double c0 = cpu_now_ms();
      if (pthread_create(&te, NULL, pipe_encoder, &p) ||
          pthread_create(&td, NULL, pipe_decoder, &p))
        bench_die("pthread_create failed");
      pthread_join(te, NULL);
      pthread_join(td, NULL);
      double cpu = cpu_now_ms() - c0;
      pthread_cond_destroy(&p.changed);
      pthread_mutex_destroy(&p.lock);
      /* Throughput: frames finished per second once the warm-up frames are through; the
       * first frames of each runner build the convolution plans. */
      const double span = p.t_end[total - 1] - (W ? p.t_end[W - 1] : p.t_start[0]);
      const size_t n = (size_t)o->runs;
      double med[4];
      for (size_t k = 0; k < n; k++) v[k] = p.t_end[W + k] - p.t_start[W + k];
      med[0] = median(v, n);
      for (size_t k = 0; k < n; k++) v[k] = p.t_enc[W + k] - p.t_start[W + k];
      med[1] = median(v, n);
      for (size_t k = 0; k < n; k++) v[k] = p.t_end[W + k] - p.t_dec_start[W + k];
      med[2] = median(v, n);
      for (size_t k = 0; k < n; k++) v[k] = p.bytes[W + k];
      med[3] = median(v, n);
      fprintf(csv, "%s,%s,%s,%s,%d,%d,%d,%d,%d,%.0f,%.2f,%.3f,%.3f,%.3f,%.3f\n",
              bench_stem(o->model), aic_model_family(m), impl_name(p.enc),
              aic_nic_impl(p.enc) == AIC_NN_IMPL_DNNL ? aic_nn_dnnl_isa() : "c", p.w, p.h,
              levels[li], o->warmup, o->runs, med[3], 1000.0 * (double)n / span, med[0], med[1],
              med[2], cpu / (double)total);
      fflush(csv);
      aic_nic_free(&p.enc);
      aic_nic_free(&p.dec);
    }
    for (int k = 0; k < PIPE_SLOTS; k++) aic_buf_free(&p.slot[k]);
    free(v);
    free(t);
    free((void *)p.frames);
  }
  fclose(csv);
  aic_model_file_free(&m);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) bench_die("usage: bench_neural rd|speed|pipeline|macs --model M.aicm ...");
  options_t o;
  parse_options(argc, argv, &o);
  if (strcmp(argv[1], "rd") == 0) return mode_rd(&o, argc, argv);
  if (strcmp(argv[1], "speed") == 0) return mode_speed(&o, argc, argv);
  if (strcmp(argv[1], "pipeline") == 0) return mode_pipeline(&o, argc, argv);
  if (strcmp(argv[1], "macs") == 0) return mode_macs(&o);
  bench_die("unknown mode %s (rd, speed, pipeline, macs)", argv[1]);
}
