/* The inter-frame video backends (VP8, AV1): sessions, keyframes, quality and rate control,
 * odd and changing sizes, and damaged payloads. Every test runs once per backend.
 * With AIC_VIDEO_BENCH=1 in the environment, also prints encode/decode times at 640x360. */
/* mmap's MAP_ANONYMOUS, for the guard page below. */
#define _DEFAULT_SOURCE

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "aic/error.h"
#include "aic/metrics.h"
#include "aic_test.h"
#include "codec/backend.h"
#include "core/buf.h"

static const aic_codec_backend_t *be; /* the backend under test */

/* --- synthetic video --- */

static uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

static size_t i420_size(uint32_t w, uint32_t h) {
  return (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
}

/* Frame t of a clip: a textured gradient panning right and down, a square moving faster across
 * it, and slowly drifting chroma, so both motion search and residual coding have work. */
static uint8_t *picture_new(uint32_t w, uint32_t h, int t) {
  uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  uint8_t *buf = malloc(i420_size(w, h));
  if (!buf) abort();
  uint8_t *py = buf, *pu = buf + (size_t)w * h, *pv = pu + (size_t)cw * ch;
  uint32_t side = (w < h ? w : h) / 4 + 2;
  uint32_t sx = (uint32_t)(3 * t) % w, sy = (h / 4 + (uint32_t)t) % h;
  for (uint32_t y = 0; y < h; y++) {
    for (uint32_t x = 0; x < w; x++) {
      uint32_t bx = x + 2 * (uint32_t)t, by = y + (uint32_t)t;
      int v = 40 + (int)((bx * 3 + by * 2) % 256) / 2 + (int)(hash32(bx / 2 * 7919u + by / 2) & 31);
      if (x - sx < side && y - sy < side) v = 220 - (int)(((x - sx) ^ (y - sy)) & 15);
      py[(size_t)y * w + x] = (uint8_t)(v > 255 ? 255 : v);
    }
  }
  for (uint32_t y = 0; y < ch; y++) {
    for (uint32_t x = 0; x < cw; x++) {
      pu[(size_t)y * cw + x] = (uint8_t)(128 + 40 * sin((x + t) / 7.0));
      pv[(size_t)y * cw + x] = (uint8_t)(128 + 40 * cos(((double)y - t) / 5.0));
    }
  }
  return buf;
}

/* A copy of `size` bytes that ends exactly where an inaccessible page begins: the codec
 * libraries are not built with ASan, so a read past the packed picture (the right edge of an
 * odd-sized chroma plane, say) only shows up as a fault here. */
typedef struct guarded {
  uint8_t *base;
  size_t map_size;
  uint8_t *data;
} guarded_t;

static guarded_t guarded_copy(const uint8_t *src, size_t size) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t pages = (size + page - 1) / page;
  guarded_t g = {.map_size = (pages + 1) * page};
  void *base = mmap(NULL, g.map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) abort();
  g.base = base;
  if (mprotect(g.base + pages * page, page, PROT_NONE) != 0) abort();
  g.data = g.base + pages * page - size;
  memcpy(g.data, src, size);
  return g;
}

static void guarded_free(guarded_t *g) {
  munmap(g->base, g->map_size);
}

static aic_frame_t frame_of(const uint8_t *data, uint32_t w, uint32_t h) {
  aic_frame_t f = {.type = AIC_FRAME_VIDEO, .pix_fmt = AIC_PIX_I420, .width = w, .height = h};
  f.data = data;
  f.size = i420_size(w, h);
  return f;
}

static double luma_psnr(const uint8_t *a, const uint8_t *b, uint32_t w, uint32_t h) {
  double psnr = -1;
  if (aic_psnr_plane(a, w, b, w, w, h, &psnr) != AIC_OK) return -1;
  return psnr;
}

static aic_codec_params_t params_q(double quality) {
  aic_codec_params_t p;
  aic_codec_params_default(&p);
  p.quality = quality;
  return p;
}

/* --- a coded clip: one payload per frame --- */

#define MAX_FRAMES 32

typedef struct clip {
  uint32_t w, h;
  int n;
  aic_buf_t pkt[MAX_FRAMES];
  bool key[MAX_FRAMES];
} clip_t;

static void clip_free(clip_t *c) {
  for (int i = 0; i < c->n; i++) aic_buf_free(&c->pkt[i]);
  c->n = 0;
}

/* Encodes frame t (picture_new) into the clip's next slot. */
static int clip_encode(clip_t *c, void *enc, int t, const aic_codec_params_t *p) {
  if (c->n >= MAX_FRAMES) return AIC_ELIMIT;
  uint8_t *pic = picture_new(c->w, c->h, t);
  guarded_t g = guarded_copy(pic, i420_size(c->w, c->h));
  free(pic);
  aic_frame_t f = frame_of(g.data, c->w, c->h);
  memset(&c->pkt[c->n], 0, sizeof c->pkt[c->n]);
  c->key[c->n] = false;
  int rc = be->encode(enc, &f, p, &c->pkt[c->n], &c->key[c->n]);
  guarded_free(&g);
  c->n++;
  return rc;
}

/* Decodes payload i of the clip with `dec` (NULL: stateless), and reports the luma PSNR
 * against frame t through *psnr when it decodes. */
static int clip_decode(const clip_t *c, void *dec, int i, int t, double *psnr) {
  aic_frame_t desc = frame_of(NULL, c->w, c->h);
  uint8_t *out = malloc(desc.size);
  if (!out) abort();
  int rc = be->decode(dec, &desc, c->pkt[i].data, c->pkt[i].size, out, desc.size);
  if (rc == AIC_OK && psnr) {
    uint8_t *pic = picture_new(c->w, c->h, t);
    *psnr = luma_psnr(pic, out, c->w, c->h);
    free(pic);
  }
  free(out);
  return rc;
}

static void *state_new(bool encoder) {
  void *s = NULL;
  int rc = be->state_create(encoder, &s);
  CHECK_EQ_INT(rc, AIC_OK);
  CHECK(s != NULL);
  return s;
}

/* --- tests --- */

static void test_descriptor(void) {
  CHECK(be->caps == (AIC_CAP_VIDEO | AIC_CAP_INTER | AIC_CAP_YUV420));
  CHECK(be->state_create && be->state_free && be->encode && be->decode);
  CHECK(be->id == AIC_CODEC_VP8 || be->id == AIC_CODEC_AV1);
  CHECK(strcmp(be->name, be->id == AIC_CODEC_VP8 ? "vp8" : "av1") == 0);
  be->state_free(NULL);
}

/* 30 frames through an encoder session and a separate decoder session. */
static void test_session(void) {
  clip_t c = {.w = 128, .h = 96};
  void *enc = state_new(true), *dec = state_new(false);
  aic_codec_params_t p = params_q(75);
  double min_psnr = 1e9;
  size_t total = 0;
  for (int t = 0; t < 30; t++) {
    CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
    CHECK(c.pkt[t].size > 0);
    CHECK(c.key[t] == (t == 0));
    total += c.pkt[t].size;
    double psnr = 0;
    CHECK_EQ_INT(clip_decode(&c, dec, t, t, &psnr), AIC_OK);
    if (psnr < min_psnr) min_psnr = psnr;
  }
  printf("  %s 128x96 q75: 30 frames %zu bytes (key %zu), min luma PSNR %.1f dB\n", be->name, total,
         c.pkt[0].size, min_psnr);
  CHECK(min_psnr > 30.0);
  /* Inter coding is working: a P-frame of a panning clip costs far less than the keyframe. */
  CHECK(c.pkt[15].size * 2 < c.pkt[0].size);
  clip_free(&c);
  be->state_free(enc);
  be->state_free(dec);
}

/* Higher quality: more bytes and higher PSNR, strictly, at every step. */
static void test_quality_monotonic(void) {
  static const double qualities[] = {5, 30, 55, 80, 100};
  double last_psnr = 0;
  size_t last_size = 0;
  for (size_t k = 0; k < sizeof qualities / sizeof qualities[0]; k++) {
    clip_t c = {.w = 96, .h = 64};
    void *enc = state_new(true), *dec = state_new(false);
    aic_codec_params_t p = params_q(qualities[k]);
    double psnr_sum = 0;
    size_t size = 0;
    for (int t = 0; t < 8; t++) {
      CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
      double psnr = 0;
      CHECK_EQ_INT(clip_decode(&c, dec, t, t, &psnr), AIC_OK);
      psnr_sum += psnr;
      size += c.pkt[t].size;
    }
    double psnr = psnr_sum / 8;
    printf("  %s quality %3.0f: %6zu bytes, luma PSNR %.2f dB\n", be->name, qualities[k], size,
           psnr);
    CHECK(size > last_size);
    CHECK(psnr > last_psnr);
    last_size = size;
    last_psnr = psnr;
    clip_free(&c);
    be->state_free(enc);
    be->state_free(dec);
  }
}

/* The engine's rate control moves quality frame by frame inside one session. */
static void test_quality_per_frame(void) {
  clip_t c = {.w = 128, .h = 96};
  void *enc = state_new(true), *dec = state_new(false);
  size_t seg[3] = {0, 0, 0};
  double seg_psnr[3] = {0, 0, 0};
  for (int t = 0; t < 30; t++) {
    int s = t / 10;
    aic_codec_params_t p = params_q(s == 1 ? 90 : 30);
    CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
    CHECK(c.key[t] == (t == 0));
    double psnr = 0;
    CHECK_EQ_INT(clip_decode(&c, dec, t, t, &psnr), AIC_OK);
    /* Skip each segment's first frame: it still pays for the switch. */
    if (t % 10 >= 2) {
      seg[s] += c.pkt[t].size;
      seg_psnr[s] += psnr / 8;
    }
  }
  printf("  %s per-frame quality 30/90/30: P bytes %zu/%zu/%zu, PSNR %.1f/%.1f/%.1f\n", be->name,
         seg[0], seg[1], seg[2], seg_psnr[0], seg_psnr[1], seg_psnr[2]);
  CHECK(seg[1] > 2 * seg[0]);
  CHECK(seg[1] > 2 * seg[2]);
  CHECK(seg_psnr[1] > seg_psnr[0] + 3);
  CHECK(seg_psnr[1] > seg_psnr[2] + 3);
  clip_free(&c);
  be->state_free(enc);
  be->state_free(dec);
}

/* A keyframe forced mid-stream is one, the frames around it are not, and a decoder can join
 * the stream there. */
static void test_forced_keyframe(void) {
  clip_t c = {.w = 96, .h = 64};
  void *enc = state_new(true), *dec = state_new(false), *late = state_new(false);
  for (int t = 0; t < 10; t++) {
    aic_codec_params_t p = params_q(60);
    p.keyframe = t == 5;
    CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
    CHECK(c.key[t] == (t == 0 || t == 5));
    CHECK_EQ_INT(clip_decode(&c, dec, t, t, NULL), AIC_OK);
  }
  /* A session decoder that missed the start refuses inter frames until the keyframe. */
  CHECK_EQ_INT(clip_decode(&c, late, 3, 3, NULL), AIC_ECORRUPT);
  CHECK_EQ_INT(clip_decode(&c, late, 4, 4, NULL), AIC_ECORRUPT);
  for (int t = 5; t < 10; t++) {
    double psnr = 0;
    CHECK_EQ_INT(clip_decode(&c, late, t, t, &psnr), AIC_OK);
    CHECK(psnr > 30.0);
  }
  CHECK_EQ_INT(clip_decode(&c, NULL, 5, 5, NULL), AIC_OK);
  clip_free(&c);
  be->state_free(enc);
  be->state_free(dec);
  be->state_free(late);
}

/* Frames without a session: keyframes both ways; an inter frame cannot decode alone. */
static void test_stateless(void) {
  clip_t c = {.w = 80, .h = 48};
  aic_codec_params_t p = params_q(75);
  CHECK_EQ_INT(clip_encode(&c, NULL, 7, &p), AIC_OK);
  CHECK(c.key[0]);
  double psnr = 0;
  CHECK_EQ_INT(clip_decode(&c, NULL, 0, 7, &psnr), AIC_OK);
  CHECK(psnr > 30.0);
  /* The keyframe flag in params changes nothing without a session. */
  p.keyframe = true;
  CHECK_EQ_INT(clip_encode(&c, NULL, 8, &p), AIC_OK);
  CHECK(c.key[1]);

  clip_t s = {.w = 80, .h = 48};
  void *enc = state_new(true);
  p.keyframe = false;
  for (int t = 0; t < 3; t++) CHECK_EQ_INT(clip_encode(&s, enc, t, &p), AIC_OK);
  CHECK(!s.key[2]);
  CHECK_EQ_INT(clip_decode(&s, NULL, 2, 2, NULL), AIC_ECORRUPT);
  /* A session keyframe decodes alone. */
  CHECK_EQ_INT(clip_decode(&s, NULL, 0, 0, &psnr), AIC_OK);
  CHECK(psnr > 30.0);
  clip_free(&s);
  clip_free(&c);
  be->state_free(enc);
}

static void roundtrip_size(uint32_t w, uint32_t h, int frames) {
  clip_t c = {.w = w, .h = h};
  void *enc = state_new(true), *dec = state_new(false);
  aic_codec_params_t p = params_q(80);
  for (int t = 0; t < frames; t++) {
    CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
    CHECK(c.key[t] == (t == 0));
    double psnr = 0;
    CHECK_EQ_INT(clip_decode(&c, dec, t, t, &psnr), AIC_OK);
    if (psnr <= 30.0) fprintf(stderr, "  %ux%u frame %d: PSNR %.2f\n", w, h, t, psnr);
    CHECK(psnr > 30.0);
  }
  clip_free(&c);
  be->state_free(enc);
  be->state_free(dec);
}

static void test_odd_sizes(void) {
  roundtrip_size(33, 17, 6);
  roundtrip_size(641, 359, 3);
  roundtrip_size(17, 33, 4);
  roundtrip_size(2, 2, 3);
  roundtrip_size(1, 1, 3);
}

/* A new size mid-session restarts the stream with a keyframe, on both sides. */
static void test_size_change(void) {
  static const uint32_t sizes[][2] = {{64, 48}, {64, 48}, {64, 48}, {81, 45},
                                      {81, 45}, {64, 48}, {64, 48}, {160, 90}};
  void *enc = state_new(true), *dec = state_new(false);
  aic_codec_params_t p = params_q(70);
  for (int t = 0; t < 8; t++) {
    clip_t c = {.w = sizes[t][0], .h = sizes[t][1]};
    CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
    bool changed = t == 0 || sizes[t][0] != sizes[t - 1][0] || sizes[t][1] != sizes[t - 1][1];
    CHECK(c.key[0] == changed);
    double psnr = 0;
    CHECK_EQ_INT(clip_decode(&c, dec, 0, t, &psnr), AIC_OK);
    CHECK(psnr > 30.0);
    /* The payload decodes only as the size it was coded at. */
    if (t == 3) {
      clip_t wrong = c;
      wrong.w = 64;
      wrong.h = 48;
      void *fresh = state_new(false);
      CHECK_EQ_INT(clip_decode(&wrong, fresh, 0, t, NULL), AIC_ECORRUPT);
      be->state_free(fresh);
    }
    clip_free(&c);
  }
  be->state_free(enc);
  be->state_free(dec);
}

/* Truncated and corrupted payloads fail cleanly, and the decoder recovers at the next
 * keyframe. Flipped bits may go undetected (the codecs have no checksums): those only must not
 * crash or report anything but success or AIC_ECORRUPT. */
static void test_damage(void) {
  clip_t c = {.w = 96, .h = 64};
  void *enc = state_new(true);
  for (int t = 0; t < 12; t++) {
    aic_codec_params_t p = params_q(70);
    p.keyframe = t == 8;
    CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
  }
  CHECK(c.key[0] && c.key[8]);

  /* Truncations of the keyframe, stateless. */
  size_t key_size = c.pkt[0].size;
  size_t cuts[] = {0, 1, 2, 5, 10, key_size / 4, key_size / 2, key_size * 3 / 4};
  for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
    clip_t cut = c;
    cut.pkt[0].size = cuts[k];
    int rc = clip_decode(&cut, NULL, 0, 0, NULL);
    if (rc != AIC_ECORRUPT) fprintf(stderr, "  keyframe cut to %zu: %d\n", cuts[k], rc);
    CHECK_EQ_INT(rc, AIC_ECORRUPT);
  }

  /* A truncated inter frame in a session: it fails, so do the frames after it, until the
   * keyframe at 8 resynchronises the decoder. */
  void *dec = state_new(false);
  for (int t = 0; t < 12; t++) {
    clip_t cut = c;
    if (t == 4) cut.pkt[4].size = c.pkt[4].size / 2;
    int rc = clip_decode(&cut, dec, t, t, NULL);
    CHECK_EQ_INT(rc, (t >= 4 && t < 8) ? AIC_ECORRUPT : AIC_OK);
  }
  be->state_free(dec);

  /* Bit flips and garbage: no crash, no other error. */
  uint32_t seed = 12345;
  int rejected = 0, trials = 0;
  for (int trial = 0; trial < 60; trial++) {
    int i = trial % 12;
    dec = state_new(false);
    for (int t = 0; t < i; t++) clip_decode(&c, dec, t, t, NULL);
    aic_buf_t damaged = {0};
    CHECK_EQ_INT(aic_buf_reserve(&damaged, c.pkt[i].size), AIC_OK);
    memcpy(damaged.data, c.pkt[i].data, c.pkt[i].size);
    damaged.size = c.pkt[i].size;
    int flips = 1 + trial % 4;
    for (int f = 0; f < flips; f++) {
      seed = hash32(seed + 1);
      damaged.data[seed % damaged.size] ^= (uint8_t)(1u << (seed >> 29));
    }
    clip_t d = c;
    d.pkt[i] = damaged;
    int rc = clip_decode(&d, dec, i, i, NULL);
    CHECK(rc == AIC_OK || rc == AIC_ECORRUPT);
    rc = clip_decode(&d, NULL, i, i, NULL);
    CHECK(rc == AIC_OK || rc == AIC_ECORRUPT);
    rejected += rc != AIC_OK;
    trials++;
    /* Garbage of the same size. */
    for (size_t b = 0; b < damaged.size; b++) damaged.data[b] = (uint8_t)hash32(seed + (uint32_t)b);
    rc = clip_decode(&d, dec, i, i, NULL);
    CHECK(rc == AIC_OK || rc == AIC_ECORRUPT);
    aic_buf_free(&damaged);
    be->state_free(dec);
  }
  printf("  %s: %d of %d bit-flipped payloads rejected statelessly\n", be->name, rejected, trials);
  clip_free(&c);
  be->state_free(enc);
}

/* Rate control at 500 kbps on 30 frames of 320x240: one second at 30 fps, two at 15 fps (the
 * frame rate must reach rate control, or the second clip comes out half the size). */
static void cbr_run(double fps) {
  clip_t c = {.w = 320, .h = 240};
  void *enc = state_new(true), *dec = state_new(false);
  aic_codec_params_t p = params_q(75);
  p.bitrate_kbps = 500;
  p.fps = fps;
  size_t total = 0;
  for (int t = 0; t < 30; t++) {
    CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
    CHECK(c.key[t] == (t == 0));
    CHECK_EQ_INT(clip_decode(&c, dec, t, t, NULL), AIC_OK);
    total += c.pkt[t].size;
  }
  double kbps = total * 8.0 / 1000.0 / (30 / fps);
  printf("  %s CBR 500 kbps, 320x240 at %.0f fps: %.0f kbps over 30 frames (keyframe %zu bytes)\n",
         be->name, fps, kbps, c.pkt[0].size);
  CHECK(kbps > 250 && kbps < 750);
  clip_free(&c);
  be->state_free(enc);
  be->state_free(dec);
}

static void test_cbr(void) {
  cbr_run(30);
  cbr_run(15);
}

/* Fixed quality, then rate control, then fixed quality again, with speed and thread changes,
 * in one session; only a thread change restarts the stream. */
static void test_mode_switch(void) {
  clip_t c = {.w = 128, .h = 96};
  void *enc = state_new(true), *dec = state_new(false);
  for (int t = 0; t < 16; t++) {
    aic_codec_params_t p = params_q(60);
    if (t >= 4 && t < 8) p.bitrate_kbps = 300;
    if (t >= 8) p.speed = t % 2 ? 0 : 9;
    if (t >= 12) p.threads = 2;
    CHECK_EQ_INT(clip_encode(&c, enc, t, &p), AIC_OK);
    CHECK(c.key[t] == (t == 0 || t == 12));
    double psnr = 0;
    CHECK_EQ_INT(clip_decode(&c, dec, t, t, &psnr), AIC_OK);
    CHECK(psnr > 28.0);
  }
  clip_free(&c);
  be->state_free(enc);
  be->state_free(dec);
}

/* Sessions on several threads at once: the backends keep no global mutable state. */
typedef struct session_job {
  uint32_t width; /* each thread its own size, so the contexts differ */
  int failures;
} session_job_t;

static void *session_thread(void *arg) {
  session_job_t *job = arg;
  int *failures = &job->failures;
  clip_t c = {.w = job->width, .h = 48};
  void *enc = NULL, *dec = NULL;
  if (be->state_create(true, &enc) || be->state_create(false, &dec)) {
    (*failures)++;
    be->state_free(enc);
    return NULL;
  }
  aic_codec_params_t p = params_q(70);
  for (int t = 0; t < 12; t++) {
    p.keyframe = t == 6;
    double psnr = 0;
    if (clip_encode(&c, enc, t, &p) != AIC_OK || c.key[t] != (t == 0 || t == 6) ||
        clip_decode(&c, dec, t, t, &psnr) != AIC_OK || psnr <= 30.0)
      (*failures)++;
  }
  clip_free(&c);
  be->state_free(enc);
  be->state_free(dec);
  return NULL;
}

static void test_concurrent_sessions(void) {
  enum { N = 4 };
  pthread_t threads[N];
  session_job_t jobs[N];
  for (int i = 0; i < N; i++) {
    jobs[i] = (session_job_t){.width = 64 + 17 * (uint32_t)i};
    CHECK_EQ_INT(pthread_create(&threads[i], NULL, session_thread, &jobs[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(threads[i], NULL);
    CHECK_EQ_INT(jobs[i].failures, 0);
  }
}

static void test_bad_arguments(void) {
  uint8_t *pic = picture_new(32, 16, 0);
  aic_frame_t f = frame_of(pic, 32, 16);
  aic_codec_params_t p = params_q(50);
  aic_buf_t out = {0};
  bool key = false;
  void *enc = state_new(true), *dec = state_new(false);

  aic_frame_t bad = f;
  bad.size--;
  CHECK_EQ_INT(be->encode(enc, &bad, &p, &out, &key), AIC_EINVAL);
  bad = f;
  bad.pix_fmt = AIC_PIX_NV12;
  CHECK_EQ_INT(be->encode(enc, &bad, &p, &out, &key), AIC_EINVAL);
  bad = f;
  bad.width = 0;
  CHECK_EQ_INT(be->encode(NULL, &bad, &p, &out, &key), AIC_EINVAL);
  aic_codec_params_t badp = p;
  badp.quality = NAN;
  CHECK_EQ_INT(be->encode(enc, &f, &badp, &out, &key), AIC_EINVAL);
  badp = p;
  badp.fps = 0;
  CHECK_EQ_INT(be->encode(enc, &f, &badp, &out, &key), AIC_EINVAL);
  CHECK_EQ_INT(be->encode(dec, &f, &p, &out, &key), AIC_EINVAL);
  CHECK(out.size == 0);

  /* VP8 headers hold 14-bit dimensions. */
  if (be->id == AIC_CODEC_VP8) {
    size_t wide_size = i420_size(16384, 2);
    uint8_t *wide = calloc(1, wide_size);
    aic_frame_t wf = frame_of(wide, 16384, 2);
    CHECK_EQ_INT(be->encode(NULL, &wf, &p, &out, &key), AIC_EUNSUPPORTED);
    free(wide);
  }

  /* Out-of-range speed, threads and quality are clamped, not refused. */
  badp = p;
  badp.speed = 42;
  badp.threads = 0;
  badp.quality = 250;
  CHECK_EQ_INT(be->encode(enc, &f, &badp, &out, &key), AIC_OK);
  CHECK(key && out.size > 0);

  aic_frame_t desc = frame_of(NULL, 32, 16);
  uint8_t *dst = malloc(desc.size);
  CHECK_EQ_INT(be->decode(dec, &desc, out.data, out.size, dst, desc.size - 1), AIC_EINVAL);
  CHECK_EQ_INT(be->decode(enc, &desc, out.data, out.size, dst, desc.size), AIC_EINVAL);
  CHECK_EQ_INT(be->decode(dec, &desc, out.data, 0, dst, desc.size), AIC_ECORRUPT);
  CHECK_EQ_INT(be->decode(dec, &desc, NULL, 0, dst, desc.size), AIC_ECORRUPT);
  CHECK_EQ_INT(be->decode(dec, &desc, out.data, out.size, dst, desc.size), AIC_OK);

  free(dst);
  free(pic);
  aic_buf_free(&out);
  be->state_free(enc);
  be->state_free(dec);
}

/* --- bench (AIC_VIDEO_BENCH=1) --- */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median rather than mean: the machine may be shared, and a few preempted frames should not
 * decide the figure. */
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void bench(void) {
  enum { W = 640, H = 360, N = 90 };
  uint8_t *pics[N];
  for (int t = 0; t < N; t++) pics[t] = picture_new(W, H, t);
  void *enc = state_new(true), *dec = state_new(false);
  aic_codec_params_t p = params_q(50);
  p.speed = 6;
  aic_frame_t desc = frame_of(NULL, W, H);
  uint8_t *dst = malloc(desc.size);
  double enc_ms[N], dec_ms[N], psnr_sum = 0;
  size_t bytes = 0;
  for (int t = 0; t < N; t++) {
    aic_frame_t f = frame_of(pics[t], W, H);
    aic_buf_t out = {0};
    bool key;
    double t0 = now_ms();
    CHECK_EQ_INT(be->encode(enc, &f, &p, &out, &key), AIC_OK);
    double t1 = now_ms();
    CHECK_EQ_INT(be->decode(dec, &desc, out.data, out.size, dst, desc.size), AIC_OK);
    double t2 = now_ms();
    enc_ms[t] = t1 - t0;
    dec_ms[t] = t2 - t1;
    if (t > 0) bytes += out.size;
    psnr_sum += luma_psnr(pics[t], dst, W, H);
    aic_buf_free(&out);
  }
  /* Frame 0 also pays for opening both codec contexts: reported apart. */
  printf(
      "  bench %s 640x360 q50 speed 6, 1 thread: first frame (open + keyframe) encode %.1f ms, "
      "decode %.1f ms; inter frames (median of %d): encode %.2f ms, decode %.2f ms, "
      "%.0f bytes/frame; luma PSNR %.2f dB\n",
      be->name, enc_ms[0], dec_ms[0], N - 1, median(enc_ms + 1, N - 1), median(dec_ms + 1, N - 1),
      (double)bytes / (N - 1), psnr_sum / N);
  free(dst);
  for (int t = 0; t < N; t++) free(pics[t]);
  be->state_free(enc);
  be->state_free(dec);
}

int main(void) {
  const aic_codec_backend_t *const backends[] = {&aic_codec_vp8, &aic_codec_av1};
  const char *bench_env = getenv("AIC_VIDEO_BENCH");
  for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
    be = backends[i];
    printf("%s\n", be->name);
    RUN(test_descriptor);
    RUN(test_session);
    RUN(test_quality_monotonic);
    RUN(test_quality_per_frame);
    RUN(test_forced_keyframe);
    RUN(test_stateless);
    RUN(test_odd_sizes);
    RUN(test_size_change);
    RUN(test_damage);
    RUN(test_cbr);
    RUN(test_mode_switch);
    RUN(test_concurrent_sessions);
    RUN(test_bad_arguments);
    if (bench_env && strcmp(bench_env, "1") == 0) RUN(bench);
  }
  return aic_test_finish();
}
