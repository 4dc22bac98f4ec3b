/* The learned codec inside the engine: every quality level, pixel format and odd size through
 * aic_engine_compress / aic_engine_decompress, model id and version in the results, fallback
 * when the models are missing or damaged, and the cross-implementation check.
 *
 *   test_neural                 the tests (models from AIC_TEST_MODELS_DIR or the source tree)
 *   test_neural emit DIR        codes a set of pictures into DIR (payloads, decoded latents
 *                               and pixels)
 *   test_neural check DIR       decodes DIR's payloads here: the latents must be identical bit
 *                               for bit; pixels identical where g_s is all int8, else within 1
 *
 * tests/nn/cross_isa.sh runs emit with the default implementation and ISA, then check with
 * oneDNN held to AVX2 and to SSE4.1 and with the C reference.
 *
 * Why pixels may differ: the exporter keeps a synthesis layer in f32 when int8 would cost more
 * than 0.1 dB (nic-rt: 4 of 7), and f32 sums round differently per ISA. The bitstream depends on
 * the latents only (every frame is intra-coded), so those are what must match exactly. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aic/aic.h"
#include "aic/convert.h"
#include "aic_test.h"
#include "codec/neural_codec.h"
#include "engine/policy.h"
#include "nn/model_set.h"
#include "nn/nic.h"
#include "nn/nic_internal.h" /* the decoded latents, for the cross check */

#define SRC_W 100
#define SRC_H 60

static const char *models_dir(void) {
  const char *d = getenv("AIC_TEST_MODELS_DIR");
  return d ? d : AIC_TEST_SOURCE_DIR "/models";
}

static uint8_t source[SRC_W * SRC_H * 3];

static int load_source(void) {
  const char *p = getenv("AIC_TEST_NN_INPUT");
  if (!p) p = AIC_TEST_SOURCE_DIR "/tests/data/nn/input_100x60.rgb";
  FILE *f = fopen(p, "rb");
  if (!f) return -1;
  size_t n = fread(source, 1, sizeof source, f);
  fclose(f);
  return n == sizeof source ? 0 : -1;
}

/* An RGB picture of any size from the 100x60 photo crop, mirrored at its edges so content
 * stays natural at every size. */
static uint8_t *picture(int w, int h) {
  uint8_t *p = malloc((size_t)w * h * 3 + 1);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int sx = x % (2 * SRC_W), sy = y % (2 * SRC_H);
      if (sx >= SRC_W) sx = 2 * SRC_W - 1 - sx;
      if (sy >= SRC_H) sy = 2 * SRC_H - 1 - sy;
      memcpy(p + ((size_t)y * w + x) * 3, source + ((size_t)sy * SRC_W + sx) * 3, 3);
    }
  return p;
}

static aic_engine_t *engine_with(const char *dir) {
  aic_engine_settings_t s;
  aic_engine_settings_default(&s);
  s.models_dir = dir;
  aic_engine_t *e = NULL;
  CHECK_EQ_INT(aic_engine_create(&s, &e), 0);
  return e;
}

static bool has_neural(aic_engine_t *e) {
  aic_codec_id_t ids[AIC_CODEC_COUNT_];
  size_t n = aic_engine_codecs(e, ids, AIC_CODEC_COUNT_);
  for (size_t i = 0; i < n; i++)
    if (ids[i] == AIC_CODEC_NEURAL) return true;
  return false;
}

static aic_engine_t *engine;

/* Compresses f with the neural codec at quality q and decodes it again; returns the PSNR the
 * engine reported (-1 on failure). */
static double neural_round_trip(aic_session_t *session, const aic_frame_t *f, int q,
                                size_t *bytes) {
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.codec_preference = AIC_CODEC_NEURAL;
  p.quality = q;
  aic_encode_result_t res;
  char why[256];
  int rc = aic_engine_compress(engine, session, f, &p, &res, why, sizeof why);
  CHECK_EQ_INT(rc, 0);
  if (rc) {
    fprintf(stderr, "compress: %s\n", why);
    return -1;
  }
  CHECK_EQ_INT(res.codec, AIC_CODEC_NEURAL);
  CHECK_EQ_INT(res.fallback, AIC_FALLBACK_NONE);
  CHECK(strncmp(res.model_id, "nic-", 4) == 0);
  CHECK(res.keyframe);
  aic_model_info_t m;
  CHECK(aic_engine_models(engine, &m, 1) >= 1);
  aic_decoded_frame_t dec;
  rc = aic_engine_decompress(engine, NULL, res.bitstream, res.bitstream_size, &dec, why,
                             sizeof why);
  CHECK_EQ_INT(rc, 0);
  if (rc == 0) {
    CHECK_EQ_INT(dec.frame.pix_fmt, f->pix_fmt);
    CHECK_EQ_INT(dec.frame.width, f->width);
    CHECK_EQ_INT(dec.frame.height, f->height);
    CHECK_EQ_INT(dec.codec, AIC_CODEC_NEURAL);
    CHECK(strcmp(dec.model_id, res.model_id) == 0);
    CHECK_EQ_INT(dec.model_version, res.model_version);
    /* The engine measured its own decode: a receiver's decode must give the same PSNR. */
    double psnr, ssim;
    CHECK_EQ_INT(aic_frame_quality(f, &dec.frame, &psnr, &ssim), 0);
    CHECK_NEAR(psnr, res.psnr_db, 1e-9);
    aic_decoded_frame_clear(&dec);
  } else {
    fprintf(stderr, "decompress: %s\n", why);
  }
  if (bytes) *bytes = res.bitstream_size;
  double psnr = res.psnr_db;
  aic_encode_result_clear(&res);
  return psnr;
}

static void test_levels_rise(void) {
  uint8_t *rgb = picture(100, 60);
  aic_frame_t f = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_RGB24, .width = 100,
                   .height = 60, .data = rgb, .size = 100 * 60 * 3};
  double last_psnr = 0, first_psnr = 0;
  size_t last_bytes = 0;
  for (int q = 1; q <= 8; q++) {
    size_t bytes = 0;
    double psnr = neural_round_trip(NULL, &f, q, &bytes);
    printf("neural q%d: %zu bytes, %.2f dB\n", q, bytes, psnr);
    CHECK(psnr > 22.0);
    /* Neighbouring qualities may share a level: never fewer bits upward, and the quality of
     * one small crop may dip a little between levels while the rate rises. */
    CHECK(bytes >= last_bytes);
    CHECK(psnr >= last_psnr - 0.5);
    if (q == 1) first_psnr = psnr;
    last_psnr = psnr;
    last_bytes = bytes;
  }
  /* The top level is clearly better than the bottom one. On this 100x60 textured crop the
   * spread is small (nic-rt v2: 27.8 -> 28.5 dB, with 2.2x the bytes), so the margin is too. */
  CHECK(last_psnr > first_psnr + 0.3);
  free(rgb);
}

static void test_formats_and_sizes(void) {
  const aic_pixel_format_t fmts[] = {AIC_PIX_RGB24, AIC_PIX_RGBA, AIC_PIX_I420, AIC_PIX_NV12};
  const int sizes[][2] = {{1, 1}, {7, 3}, {33, 17}, {100, 60}, {130, 71}};
  aic_session_t *session = NULL;
  CHECK_EQ_INT(aic_session_create(engine, &session), 0);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int w = sizes[s][0], h = sizes[s][1];
    uint8_t *rgb = picture(w, h);
    aic_frame_t src = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_RGB24, .width = (uint32_t)w,
                       .height = (uint32_t)h, .data = rgb, .size = (size_t)w * h * 3};
    for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
      size_t size;
      CHECK_EQ_INT(aic_pixel_format_size(fmts[k], (uint32_t)w, (uint32_t)h, &size), 0);
      uint8_t *buf = malloc(size);
      uint8_t *i420 = malloc((size_t)w * h * 3);
      CHECK_EQ_INT(aic_picture_to_i420(&src, i420), 0);
      CHECK_EQ_INT(aic_picture_from_i420(i420, (uint32_t)w, (uint32_t)h, fmts[k], buf), 0);
      if (fmts[k] == AIC_PIX_RGB24) memcpy(buf, rgb, size);
      aic_frame_t f = src;
      f.pix_fmt = fmts[k];
      f.data = buf;
      f.size = size;
      double psnr = neural_round_trip(s % 2 ? session : NULL, &f, 6, NULL);
      /* A few pixels have no context for the model; larger ones are a photo crop. */
      double floor = w * h >= 1000 ? 22.0 : 8.0;
      if (!(psnr > floor)) printf("format %d %dx%d: %.2f dB\n", (int)fmts[k], w, h, psnr);
      CHECK(psnr > floor);
      free(buf);
      free(i420);
    }
    free(rgb);
  }
  aic_session_free(&session);
}

static void test_auto_and_stats(void) {
  uint8_t *rgb = picture(64, 48);
  aic_frame_t f = {.type = AIC_FRAME_SCREEN, .pix_fmt = AIC_PIX_RGB24, .width = 64,
                   .height = 48, .data = rgb, .size = 64 * 48 * 3};
  aic_session_t *session = NULL;
  CHECK_EQ_INT(aic_session_create(engine, &session), 0);
  for (int i = 0; i < 3; i++) CHECK(neural_round_trip(session, &f, 5, NULL) > 15.0);
  aic_session_stats_t st;
  aic_session_get_stats(session, &st);
  CHECK_EQ_INT(st.frames, 3);
  CHECK_EQ_INT(st.last_codec, AIC_CODEC_NEURAL);
  aic_session_free(&session);
  free(rgb);
}

static void test_quality_for_level(void) {
  for (unsigned levels = 1; levels <= 12; levels++) {
    CHECK(aic_neural_quality_for_level(levels, levels) > 100.0);
    CHECK(aic_neural_quality_for_level(0, levels) == 0.0);
    for (unsigned l = 1; l < levels; l++) {
      double q = aic_neural_quality_for_level(l, levels);
      CHECK(q > 0.0 && q <= 100.0);
      CHECK_EQ_INT(aic_neural_level_for(q, levels), l);
      CHECK_EQ_INT(aic_neural_level_for(nextafter(q, 0.0), levels), l - 1);
    }
  }
}

/* The engine's retries of the neural codec, from its debug log. */
typedef struct retries {
  int count;
  double from[8], to[8];
} retries_t;

static void log_retries(void *user, aic_log_level_t level, const char *component,
                        const char *msg) {
  retries_t *r = user;
  double ssim, floor_, from, to;
  (void)level, (void)component;
  if (r->count < 8 &&
      sscanf(msg, "neural: SSIM %lf below the floor %lf at quality %lf, retrying at %lf", &ssim,
             &floor_, &from, &to) == 4) {
    r->from[r->count] = from;
    r->to[r->count] = to;
    r->count++;
  }
}

/* A quality floor the codec cannot reach: every retry is at a higher model level than the
 * attempt before (none repeats a level, whatever the policy predicts), and the top level ends
 * the retries. */
static void test_floor_retries_distinct_levels(void) {
  retries_t r = {0};
  aic_engine_settings_t s;
  aic_engine_settings_default(&s);
  s.models_dir = models_dir();
  s.log = log_retries;
  s.log_user = &r;
  s.log_level = AIC_LOG_DEBUG;
  aic_engine_t *e = NULL;
  CHECK_EQ_INT(aic_engine_create(&s, &e), 0);
  uint8_t *rgb = picture(100, 60);
  aic_frame_t f = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_RGB24, .width = 100,
                   .height = 60, .data = rgb, .size = 100 * 60 * 3};
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.codec_preference = AIC_CODEC_NEURAL;
  aic_encode_result_t res;
  char why[256];
  /* Just above what the top level reaches: the policy then predicts small steps, which on a
   * stepped codec used to land on the level already tried. */
  p.quality = 8;
  CHECK_EQ_INT(aic_engine_compress(e, NULL, &f, &p, &res, why, sizeof why), 0);
  p.quality = 0;
  p.min_ssim = 1.0 - 0.8 * (1.0 - res.ssim);
  aic_encode_result_clear(&res);
  r.count = 0;
  CHECK_EQ_INT(aic_engine_compress(e, NULL, &f, &p, &res, why, sizeof why), 0);
  /* A still goes to nic-hq when it is loaded (neural_codec.c) */
  aic_model_info_t models[4];
  size_t n = aic_engine_models(e, models, 4);
  unsigned levels = 0;
  for (size_t i = 0; i < n && i < 4; i++)
    if (!levels || strcmp(models[i].family, "nic-hq") == 0) levels = models[i].levels;
  CHECK(levels > 0);
  /* from the policy's start quality for this floor to the top level, at most the attempts the
   * policy allows */
  unsigned first = aic_neural_level_for(aic_policy_start_quality(NULL, p.min_ssim), levels);
  unsigned distinct = levels - first;
  int most = (int)(distinct < AIC_POLICY_MAX_ATTEMPTS ? distinct : AIC_POLICY_MAX_ATTEMPTS) - 1;
  if (r.count < 1 || r.count > most)
    fprintf(stderr, "floor: %d neural retries, want 1..%d (levels %u, first %u)\n", r.count,
            most, levels, first);
  CHECK(r.count >= 1 && r.count <= most);
  /* A prediction may skip a level (how far depends on the model's SSIM steps); with attempts
   * to spare, the retries go on until the top level has been tried. */
  if (r.count > 0 && r.count < most)
    CHECK_EQ_INT((int)aic_neural_level_for(r.to[r.count - 1] + 5e-4, levels), (int)levels - 1);
  /* The log rounds qualities to 0.001; a retry starts at or just above a level's first
   * quality, so the level of what was logged is that of the value + 0.0005. */
  for (int i = 0; i < r.count; i++) {
    CHECK(aic_neural_level_for(r.to[i] + 5e-4, levels) >
          aic_neural_level_for(r.from[i] + 5e-4, levels));
    if (i > 0) CHECK(r.from[i] == r.to[i - 1]);
  }
  if (r.count > 0) CHECK(fabs(r.from[0] - aic_policy_start_quality(NULL, p.min_ssim)) < 1e-3);
  aic_encode_result_clear(&res);
  aic_engine_free(&e);
  free(rgb);
}

/* Without models the neural codec is absent, and asking for it falls back with the reason. */
static void test_missing_models_fall_back(void) {
  aic_engine_t *e = engine_with("/nonexistent/models");
  if (!e) return;
  CHECK(!has_neural(e));
  CHECK_EQ_INT(aic_engine_models(e, NULL, 0), 0);
  CHECK(strstr(aic_engine_model_status(e), "no model files") != NULL);
  uint8_t *rgb = picture(32, 32);
  aic_frame_t f = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_RGB24, .width = 32, .height = 32,
                   .data = rgb, .size = 32 * 32 * 3};
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.codec_preference = AIC_CODEC_NEURAL;
  p.quality = 4;
  aic_encode_result_t res;
  char why[256];
  CHECK_EQ_INT(aic_engine_compress(e, NULL, &f, &p, &res, why, sizeof why), 0);
  CHECK(res.codec != AIC_CODEC_NEURAL);
  CHECK_EQ_INT(res.fallback, AIC_FALLBACK_MODEL_UNAVAILABLE);
  CHECK_EQ_INT(res.model_id[0], 0);
  aic_encode_result_clear(&res);

  /* A neural bitstream reaching an engine without the model is refused, not misdecoded. */
  p.quality = 4;
  CHECK_EQ_INT(aic_engine_compress(engine, NULL, &f, &p, &res, why, sizeof why), 0);
  aic_decoded_frame_t dec;
  CHECK_EQ_INT(aic_engine_decompress(e, NULL, res.bitstream, res.bitstream_size, &dec, why,
                                     sizeof why),
               AIC_EUNSUPPORTED);
  aic_encode_result_clear(&res);
  free(rgb);
  aic_engine_free(&e);
}

static int copy_file(const char *from, const char *to, long flip_at) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  if (!in || !out) {
    if (in) fclose(in);
    if (out) fclose(out);
    return -1;
  }
  int c;
  long i = 0;
  while ((c = fgetc(in)) != EOF) fputc(i++ == flip_at ? c ^ 0x10 : c, out);
  fclose(in);
  return fclose(out);
}

/* A damaged model file is refused at load: the engine runs without the neural codec and says
 * why. */
static void test_damaged_model_refused(void) {
  char dir[] = "/tmp/aic-test-neural-XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(0);
    return;
  }
  char from[4096], to[4200];
  snprintf(from, sizeof from, "%s/nic-rt.aicm", models_dir());
  snprintf(to, sizeof to, "%s/nic-rt.aicm", dir);
  CHECK_EQ_INT(copy_file(from, to, 5000), 0);
  aic_engine_t *e = engine_with(dir);
  if (e) {
    CHECK(!has_neural(e));
    CHECK(strstr(aic_engine_model_status(e), "SHA-256") != NULL);
    aic_engine_free(&e);
  }
  unlink(to);
  rmdir(dir);
}

/* The shipped models as a set of their own, or NULL (freed) when none loaded. */
static aic_model_set_t *load_set(void) {
  aic_model_set_t *set = NULL;
  char why[512];
  CHECK_EQ_INT(aic_model_set_load(models_dir(), NULL, &set, why, sizeof why), 0);
  if (set && aic_model_set_count(set) == 0) aic_model_set_free(&set);
  return set;
}

/* The model set's encode-time estimate: per pixel, recent frames weighing most, small frames
 * not counted. */
static void test_encode_estimate(void) {
  aic_model_set_t *set = load_set();
  if (!set) return;
  const size_t px = AIC_MODEL_SET_TIMED_MIN_PIXELS;
  CHECK(aic_model_set_encode_estimate(set, 0, px) < 0);
  aic_model_set_note_encode(set, 0, px - 1, 5.0); /* too small to count */
  aic_model_set_note_encode(set, 0, px, 0.0);     /* no time */
  aic_model_set_note_encode(set, 0, px, NAN);
  aic_model_set_note_encode(set, 9, px, 5.0); /* no such entry */
  CHECK(aic_model_set_encode_estimate(set, 0, px) < 0);
  CHECK(aic_model_set_encode_estimate(set, 9, px) < 0);
  aic_model_set_note_encode(set, 0, px, 10.0);
  CHECK_NEAR(aic_model_set_encode_estimate(set, 0, 2 * px), 20.0, 1e-9);
  aic_model_set_note_encode(set, 0, 2 * px, 60.0); /* 30 ms per px pixels: the mean is 20 */
  CHECK_NEAR(aic_model_set_encode_estimate(set, 0, px), 20.0, 1e-9);
  /* ruled out on its estimate, it is used anyway every AIC_MODEL_SET_RETIME_SKIPS-th time;
   * a new measurement starts the count again */
  CHECK(!aic_model_set_retime_due(NULL, 0));
  CHECK(!aic_model_set_retime_due(set, 9));
  for (int round = 0; round < 2; round++) {
    for (int k = 1; k < AIC_MODEL_SET_RETIME_SKIPS; k++) CHECK(!aic_model_set_retime_due(set, 0));
    CHECK(aic_model_set_retime_due(set, 0));
  }
  for (int k = 1; k < AIC_MODEL_SET_RETIME_SKIPS; k++) CHECK(!aic_model_set_retime_due(set, 0));
  aic_model_set_note_encode(set, 0, px, 20.0);
  CHECK(!aic_model_set_retime_due(set, 0));
  aic_model_set_free(&set);
}

/* A still goes to nic-hq, unless its frames show it cannot encode within the latency budget:
 * then to nic-rt (both must be loaded), but for one still in AIC_MODEL_SET_RETIME_SKIPS. */
static void test_budget_gives_way(void) {
  aic_model_info_t models[4];
  size_t n = aic_engine_models(engine, models, 4);
  bool rt = false, hq = false;
  for (size_t i = 0; i < n && i < 4; i++) {
    rt = rt || strcmp(models[i].family, "nic-rt") == 0;
    hq = hq || strcmp(models[i].family, "nic-hq") == 0;
  }
  if (!rt || !hq) {
    printf("budget: needs nic-rt and nic-hq, skipped\n");
    return;
  }
  const int w = 160, h = 120; /* above AIC_MODEL_SET_TIMED_MIN_PIXELS: it is timed */
  uint8_t *rgb = picture(w, h);
  aic_frame_t f = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_RGB24, .width = w, .height = h,
                   .data = rgb, .size = (size_t)w * h * 3};
  aic_encode_params_t p;
  aic_encode_params_default(&p);
  p.codec_preference = AIC_CODEC_NEURAL;
  p.quality = 5;
  const int budgets[] = {0, 1, 600000};
  const char *const want[] = {"nic-hq", "nic-rt", "nic-hq"};
  for (size_t i = 0; i < 3; i++) {
    p.latency_budget_ms = budgets[i];
    aic_encode_result_t res;
    char why[256];
    CHECK_EQ_INT(aic_engine_compress(engine, NULL, &f, &p, &res, why, sizeof why), 0);
    CHECK_EQ_INT(res.codec, AIC_CODEC_NEURAL);
    if (strncmp(res.model_id, want[i], strlen(want[i])) != 0)
      fprintf(stderr, "budget %d ms: %s, want %s\n", budgets[i], res.model_id, want[i]);
    CHECK(strncmp(res.model_id, want[i], strlen(want[i])) == 0);
    aic_encode_result_clear(&res);
  }
  /* Under the budget it cannot meet, nic-hq still encodes one still in
   * AIC_MODEL_SET_RETIME_SKIPS, so that its estimate follows the machine; the rest go to
   * nic-rt. (The count starts again at each nic-hq encode: the last one above.) */
  p.latency_budget_ms = 1;
  int hq_count = 0, first_hq = -1, last_hq = -1;
  for (int k = 1; k <= 2 * AIC_MODEL_SET_RETIME_SKIPS; k++) {
    aic_encode_result_t res;
    char why[256];
    CHECK_EQ_INT(aic_engine_compress(engine, NULL, &f, &p, &res, why, sizeof why), 0);
    if (strncmp(res.model_id, "nic-hq", 6) == 0) {
      if (first_hq < 0) first_hq = k;
      hq_count++, last_hq = k;
    }
    aic_encode_result_clear(&res);
  }
  CHECK_EQ_INT(hq_count, 2);
  CHECK_EQ_INT(first_hq, AIC_MODEL_SET_RETIME_SKIPS);
  CHECK_EQ_INT(last_hq, 2 * AIC_MODEL_SET_RETIME_SKIPS);
  free(rgb);
}

/* Every truncation and some bit flips of a neural payload (header CRC repaired by going below
 * it: decode the payload through the backend path) fail cleanly. */
static void test_corrupt_payloads(void) {
  aic_model_set_t *set = load_set();
  if (!set) return;
  aic_nic_t *nic = NULL;
  CHECK_EQ_INT(aic_model_set_acquire(set, 0, 40, 24, &nic), 0);
  uint8_t *rgb = picture(40, 24);
  aic_buf_t buf = {0};
  CHECK_EQ_INT(aic_nic_encode(nic, rgb, 40 * 3, 40, 24, 2, &buf), 0);
  uint8_t out[40 * 24 * 3];
  CHECK_EQ_INT(aic_nic_decode(nic, buf.data, buf.size, 40, 24, 2, out, 40 * 3), 0);
  for (size_t n = 0; n < buf.size; n++)
    CHECK(aic_nic_decode(nic, buf.data, n, 40, 24, 2, out, 40 * 3) != 0);
  unsigned x = 7;
  for (int k = 0; k < 2000; k++) {
    x = x * 1103515245u + 12345u;
    size_t at = (x >> 8) % buf.size;
    uint8_t bit = (uint8_t)(1u << ((x >> 4) & 7));
    buf.data[at] ^= bit;
    (void)aic_nic_decode(nic, buf.data, buf.size, 40, 24, 2, out, 40 * 3); /* no crash */
    buf.data[at] ^= bit;
  }
  /* The wrong level or a smaller size for a payload: refused or decoded, never a crash. */
  (void)aic_nic_decode(nic, buf.data, buf.size, 40, 24, 0, out, 40 * 3);
  (void)aic_nic_decode(nic, buf.data, buf.size, 33, 17, 2, out, 33 * 3);
  aic_buf_free(&buf);
  free(rgb);
  aic_model_set_release(set, 0, nic, 40, 24);
  aic_model_set_free(&set);
}

/* ---- cross-implementation check ---------------------------------------------------------- */

static const int cross_sizes[][2] = {{100, 60}, {37, 23}, {160, 96}};

/* Sanitizer builds (AIC_NIC_QUICK, set for emit and check alike) leave out the largest size:
 * nic-hq (9x nic-rt's MACs) in the instrumented C reference is the slowest part of the run. */
static size_t cross_count(void) {
  const size_t n = sizeof cross_sizes / sizeof cross_sizes[0];
  return getenv("AIC_NIC_QUICK") ? n - 1 : n;
}

static int path_of(char *p, size_t n, const char *dir, size_t i, int level, const char *what) {
  return snprintf(p, n, "%s/%zu-q%d.%s", dir, i, level, what) >= (int)n ? -1 : 0;
}

static int write_all(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, n, f);
  return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static uint8_t *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc(len > 0 ? (size_t)len : 1);
  *n = fread(p, 1, (size_t)(len > 0 ? len : 0), f);
  fclose(f);
  return p;
}

/* Whether any synthesis convolution of entry m is kept in f32 (its weight is not int8). */
static bool model_synthesis_has_f32(const aic_model_set_t *set, size_t m) {
  const char *fam[] = {"nic-rt", "nic-hq"};
  aic_model_entry_info_t info;
  aic_model_set_info(set, m, &info);
  char path[4200];
  bool f32 = false;
  for (size_t k = 0; k < 2; k++) {
    if (strcmp(info.family, fam[k]) != 0) continue;
    snprintf(path, sizeof path, "%s/%s.aicm", models_dir(), fam[k]);
    aic_model_file_t *file = NULL;
    char why[256];
    if (aic_model_load_file(path, &file, why, sizeof why) != 0) return true;
    for (size_t i = 0; i < aic_model_tensor_count(file); i++) {
      const aic_tensor_t *t = aic_model_tensor_at(file, i);
      if (strncmp(t->name, "g_s.", 4) == 0 && strstr(t->name, ".weight") &&
          t->dtype == AIC_DTYPE_F32)
        f32 = true;
    }
    aic_model_file_free(&file);
  }
  return f32;
}

static int cross(const char *mode, const char *dir) {
  bool emit = strcmp(mode, "emit") == 0;
  aic_model_set_t *set = NULL;
  char why[512];
  if (aic_model_set_load(models_dir(), NULL, &set, why, sizeof why) || !aic_model_set_count(set)) {
    printf("SKIP: no model (%s)\n", why);
    aic_model_set_free(&set);
    return 0;
  }
  if (emit) mkdir(dir, 0755);
  int failures = 0;
  for (size_t m = 0; m < aic_model_set_count(set); m++) {
    aic_model_entry_info_t info;
    aic_model_set_info(set, m, &info);
    bool synthesis_has_f32 = model_synthesis_has_f32(set, m);
    size_t pixel_diffs = 0, pixel_values = 0;
    for (size_t i = 0; i < cross_count(); i++) {
      int w = cross_sizes[i][0], h = cross_sizes[i][1];
      for (int level = 0; level < (int)info.levels; level++) {
        aic_nic_t *nic = NULL;
        if (aic_model_set_acquire(set, m, w, h, &nic)) return 1;
        size_t n = (size_t)w * h * 3;
        uint8_t *pix = malloc(n);
        char pp[4300], px[4300], py[4300];
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", dir, info.family);
        if (emit) mkdir(sub, 0755);
        path_of(pp, sizeof pp, sub, i, level, "payload");
        path_of(px, sizeof px, sub, i, level, "rgb");
        path_of(py, sizeof py, sub, i, level, "yhat");
        aic_nic_shape_t shape;
        aic_nic_shape(nic, w, h, &shape);
        size_t ny = (size_t)shape.y_c * shape.y_h * shape.y_w * sizeof(int32_t);
        if (emit) {
          uint8_t *rgb = picture(w, h);
          aic_buf_t buf = {0};
          int rc = aic_nic_encode(nic, rgb, (size_t)w * 3, w, h, (unsigned)level, &buf);
          rc = rc ? rc : aic_nic_decode(nic, buf.data, buf.size, w, h, (unsigned)level, pix,
                                        (size_t)w * 3);
          if (rc || write_all(pp, buf.data, buf.size) || write_all(px, pix, n) ||
              write_all(py, nic->frame.y_hat, ny))
            failures++;
          aic_buf_free(&buf);
          free(rgb);
        } else {
          size_t psize = 0, xsize = 0, ysize = 0;
          uint8_t *payload = read_all(pp, &psize), *want = read_all(px, &xsize),
                  *want_y = read_all(py, &ysize);
          int rc = payload && want && want_y && xsize == n && ysize == ny
                       ? aic_nic_decode(nic, payload, psize, w, h, (unsigned)level, pix,
                                        (size_t)w * 3)
                       : -1;
          size_t diff = 0;
          int max_diff = 0;
          for (size_t k = 0; rc == 0 && k < n; k++) {
            int d = abs((int)pix[k] - (int)want[k]);
            diff += d != 0;
            if (d > max_diff) max_diff = d;
          }
          if (rc || memcmp(nic->frame.y_hat, want_y, ny) != 0) {
            fprintf(stderr, "%s %dx%d q%d: %s\n", info.family, w, h, level,
                    rc ? "decode failed" : "decoded latents differ");
            failures++;
          } else if (diff && (!synthesis_has_f32 || max_diff > 1 || diff * 1000 > n)) {
            fprintf(stderr, "%s %dx%d q%d: %zu of %zu pixel values differ, by up to %d\n",
                    info.family, w, h, level, diff, n, max_diff);
            failures++;
          }
          pixel_diffs += diff;
          pixel_values += n;
          free(payload);
          free(want);
          free(want_y);
        }
        free(pix);
        aic_model_set_release(set, m, nic, w, h);
      }
    }
    printf("%s %s: %s, %zu sizes x %u levels, implementation %s (oneDNN ISA %s): latents "
           "identical, %zu of %zu pixel values differ%s\n",
           mode, info.family, failures ? "FAILED" : "ok",
           cross_count(), info.levels, info.impl, aic_nn_dnnl_isa(),
           pixel_diffs, pixel_values, synthesis_has_f32 ? " (f32 layers in g_s)" : "");
  }
  aic_model_set_free(&set);
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  if (load_source() != 0) {
    printf("SKIP: no test picture (tests/data/nn/input_100x60.rgb)\n");
    return 0;
  }
  if (argc == 3) return cross(argv[1], argv[2]);
  engine = engine_with(models_dir());
  if (!engine || !has_neural(engine)) {
    printf("SKIP: no learned model in %s (%s)\n", models_dir(),
           engine ? aic_engine_model_status(engine) : "no engine");
    aic_engine_free(&engine);
    return 0;
  }
  RUN(test_quality_for_level);
  RUN(test_levels_rise);
  RUN(test_floor_retries_distinct_levels);
  RUN(test_formats_and_sizes);
  RUN(test_auto_and_stats);
  RUN(test_missing_models_fall_back);
  RUN(test_damaged_model_refused);
  RUN(test_corrupt_payloads);
  RUN(test_encode_estimate);
  RUN(test_budget_gives_way);
  aic_engine_free(&engine);
  return aic_test_finish();
}
