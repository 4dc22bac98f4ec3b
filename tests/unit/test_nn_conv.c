/* The learned codec's convolutions (nn/conv.h): oneDNN (conv_dnnl.c) against the reference
 * (aic_nn_conv_ref) and against an exact oracle in this file (int64 sums for int8, double sums
 * for f32), over many shapes, the extremes of the int8 ranges and malformed descriptors.
 *
 * int8 kinds must agree bit for bit. f32 results may differ by rounding: a sum of n products
 * plus a bias, added in any order with float roundings, is within gamma(n + 2) * S of the true
 * value, where S is the sum of the terms' magnitudes and gamma(m) = m u / (1 - m u), u = 2^-24
 * (Higham, Accuracy and Stability of Numerical Algorithms, 3.1; the + 2 covers a rounded
 * product and the bias). Each implementation is checked against the double oracle with that
 * bound: it holds for any summation order, FMA or not, and is tight enough to catch a missing
 * or extra tap in small layers, where S is a few terms.
 *
 * When oneDNN cannot run here (aic_nn_dnnl_available() != 0) the oneDNN parts print SKIP and
 * pass. `test_nn_conv --bench` instead times nic-rt's layers at 640x360 (printed, not checked).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aic/error.h"
#include "aic_test.h"
#include "nn/conv.h"
#include "nn/conv_dnnl.h"

static bool have_dnnl;
static double max_f32_err; /* largest |oneDNN f32 - exact| / S seen, for the summary line */

/* ---- deterministic random numbers ---- */

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}
static int rnd_in(int lo, int hi) { /* lo..hi inclusive */
  return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}
static float rnd_f(void) { /* -1..1 */
  return (float)((double)(rnd() & 0xFFFFFF) / 8388608.0 - 1.0);
}

/* ---- a layer: descriptor plus owned tensors ---- */

typedef struct layer {
  aic_nn_conv_desc_t d;
  void *w, *b, *src;
  size_t n_in, n_out, n_w;
} layer_t;

static size_t elem(aic_nn_conv_kind_t k) {
  return k == AIC_NN_CONV_F32 ? 4 : 1;
}

static void layer_alloc(layer_t *l, aic_nn_conv_kind_t kind, int in_ch, int out_ch, int k, int s,
                        int h, int w, bool bias) {
  memset(l, 0, sizeof *l);
  l->d = (aic_nn_conv_desc_t){kind, in_ch, out_ch, k, s, h, w, NULL, NULL, false, 0, 0};
  l->n_in = (size_t)h * w * in_ch;
  l->n_out = (size_t)aic_nn_conv_out(h, s) * aic_nn_conv_out(w, s) * out_ch;
  l->n_w = (size_t)out_ch * in_ch * k * k;
  l->w = malloc(l->n_w * elem(kind));
  l->src = malloc(l->n_in * elem(kind));
  l->b = bias ? malloc((size_t)out_ch * 4) : NULL;
  if (!l->w || !l->src || (bias && !l->b)) {
    fprintf(stderr, "out of memory\n");
    exit(EXIT_FAILURE);
  }
  l->d.weight = l->w;
  l->d.bias = l->b;
}

static void layer_free(layer_t *l) {
  free(l->w);
  free(l->b);
  free(l->src);
}

/* Random contents: int8 over the full ranges (-128 weights and inputs now and then), biases
 * small or, now and then, large enough that oneDNN cannot add them exactly in float. */
static void layer_fill(layer_t *l, bool minus128) {
  const aic_nn_conv_kind_t kind = l->d.kind;
  if (kind == AIC_NN_CONV_F32) {
    float *w = l->w, *s = l->src, *b = l->b;
    for (size_t i = 0; i < l->n_w; i++) w[i] = rnd_f();
    for (size_t i = 0; i < l->n_in; i++) s[i] = rnd_f();
    for (int o = 0; b && o < l->d.out_ch; o++) b[o] = rnd_f();
    return;
  }
  int8_t *w = l->w;
  for (size_t i = 0; i < l->n_w; i++) w[i] = (int8_t)rnd_in(minus128 ? -128 : -127, 127);
  if (kind == AIC_NN_CONV_U8S8) {
    uint8_t *s = l->src;
    for (size_t i = 0; i < l->n_in; i++) s[i] = (uint8_t)rnd_in(0, 255);
  } else {
    int8_t *s = l->src;
    for (size_t i = 0; i < l->n_in; i++) s[i] = (int8_t)rnd_in(minus128 ? -128 : -127, 127);
  }
  int32_t *b = l->b;
  const int big = rnd() % 3 == 0;
  for (int o = 0; b && o < l->d.out_ch; o++)
    b[o] = big ? rnd_in(-(1 << 28), 1 << 28) : rnd_in(-(1 << 20), 1 << 20);
}

/* ---- the oracle: a direct loop over conv.h's definition ---- */

static void oracle(const aic_nn_conv_desc_t *d, const void *src, int64_t *exact_i, double *exact_f,
                   double *mag) {
  const int K = d->kernel, S = d->stride, C = d->in_ch, O = d->out_ch;
  const int oh = aic_nn_conv_out(d->in_h, S), ow = aic_nn_conv_out(d->in_w, S);
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++)
      for (int o = 0; o < O; o++) {
        int64_t si = 0;
        double sf = 0, sm = 0;
        for (int ky = 0; ky < K; ky++)
          for (int kx = 0; kx < K; kx++) {
            int iy = y * S + ky - K / 2, ix = x * S + kx - K / 2;
            if (iy < 0 || ix < 0 || iy >= d->in_h || ix >= d->in_w) continue;
            size_t in = ((size_t)iy * d->in_w + ix) * C;
            for (int c = 0; c < C; c++) {
              size_t wi = (((size_t)o * C + c) * K + ky) * K + kx;
              if (d->kind == AIC_NN_CONV_F32) {
                double t = (double)((const float *)src)[in + c] * ((const float *)d->weight)[wi];
                sf += t;
                sm += t < 0 ? -t : t;
              } else {
                int v = d->kind == AIC_NN_CONV_U8S8 ? ((const uint8_t *)src)[in + c]
                                                    : ((const int8_t *)src)[in + c];
                si += (int64_t)v * ((const int8_t *)d->weight)[wi];
              }
            }
          }
        size_t i = ((size_t)y * ow + x) * O + o;
        if (d->kind == AIC_NN_CONV_F32) {
          double b = d->bias ? ((const float *)d->bias)[o] : 0.0;
          exact_f[i] = sf + b;
          mag[i] = sm + (b < 0 ? -b : b);
        } else {
          exact_i[i] = si + (d->bias ? ((const int32_t *)d->bias)[o] : 0);
        }
      }
}

static double gamma_n(double n) {
  const double u = 1.0 / 16777216.0;
  return n * u / (1.0 - n * u);
}

/* Output buffers with a guard zone: an implementation must write exactly n_out values. */
enum { GUARD = 64 };
static const uint32_t GUARD_WORD = 0xA5C3E1F7u;
static void *out_alloc(size_t n) {
  uint32_t *p = malloc((n + GUARD) * 4);
  if (!p) exit(EXIT_FAILURE);
  for (size_t i = 0; i < n + GUARD; i++) p[i] = GUARD_WORD;
  return p;
}
static bool guard_ok(const void *p, size_t n) {
  const uint32_t *q = p;
  for (size_t i = n; i < n + GUARD; i++)
    if (q[i] != GUARD_WORD) return false;
  return true;
}

/* Checks out (n_out values of the layer's output type) against the oracle; returns the number
 * of mismatches and prints the first. */
static size_t compare(const layer_t *l, const char *who, const void *out, const int64_t *ei,
                      const double *ef, const double *mag) {
  size_t bad = 0;
  const double g = gamma_n((double)l->d.in_ch * l->d.kernel * l->d.kernel + 2);
  for (size_t i = 0; i < l->n_out; i++) {
    bool ok;
    double got, want;
    if (l->d.kind == AIC_NN_CONV_F32) {
      got = ((const float *)out)[i];
      want = ef[i];
      ok = got - want <= g * mag[i] && want - got <= g * mag[i];
      if (who[0] == 'd' && mag[i] > 0) {
        double e = (got > want ? got - want : want - got) / mag[i];
        if (e > max_f32_err) max_f32_err = e;
      }
    } else {
      got = ((const int32_t *)out)[i];
      want = (double)ei[i];
      ok = ((const int32_t *)out)[i] == ei[i];
    }
    if (!ok && bad++ == 0)
      fprintf(stderr, "%s: kind %d %dx%d %d->%d k%d s%d bias %d: [%zu] = %.12g, want %.12g\n", who,
              l->d.kind, l->d.in_h, l->d.in_w, l->d.in_ch, l->d.out_ch, l->d.kernel, l->d.stride,
              l->d.bias != NULL, i, got, want);
  }
  return bad;
}

/* Runs the layer through the reference and (when available) oneDNN with `threads`, and checks
 * both against the oracle, the guard zones and the untouched input. */
static void check_layer(const layer_t *l, int threads) {
  int64_t *ei = malloc(l->n_out * sizeof *ei);
  double *ef = malloc(l->n_out * sizeof *ef), *mag = malloc(l->n_out * sizeof *mag);
  void *ref = out_alloc(l->n_out), *dn = out_alloc(l->n_out);
  void *src_copy = malloc(l->n_in * elem(l->d.kind));
  if (!ei || !ef || !mag || !src_copy) exit(EXIT_FAILURE);
  memcpy(src_copy, l->src, l->n_in * elem(l->d.kind));
  oracle(&l->d, l->src, ei, ef, mag);

  CHECK_EQ_INT(aic_nn_conv_ref(&l->d, l->src, ref), AIC_OK);
  CHECK_EQ_INT(compare(l, "ref", ref, ei, ef, mag), 0);
  CHECK(guard_ok(ref, l->n_out));

  if (have_dnnl) {
    aic_nn_dnnl_conv_t *c = NULL;
    int rc = aic_nn_dnnl_conv_create(&l->d, threads, &c);
    CHECK_EQ_INT(rc, AIC_OK);
    if (rc == AIC_OK) {
      CHECK_EQ_INT(aic_nn_dnnl_conv_run(c, l->src, dn), AIC_OK);
      CHECK_EQ_INT(compare(l, "dnnl", dn, ei, ef, mag), 0);
      CHECK(guard_ok(dn, l->n_out));
      CHECK(memcmp(src_copy, l->src, l->n_in * elem(l->d.kind)) == 0);
      if (l->d.kind != AIC_NN_CONV_F32)
        CHECK(memcmp(ref, dn, l->n_out * 4) == 0); /* implied by the above; said plainly */
    }
    aic_nn_dnnl_conv_free(&c);
    CHECK(c == NULL);
  }
  free(ei);
  free(ef);
  free(mag);
  free(ref);
  free(dn);
  free(src_copy);
}

/* ---- tests ---- */

static void test_available(void) {
  int rc = aic_nn_dnnl_available();
  CHECK(rc == 0 || rc == AIC_EUNSUPPORTED);
  CHECK_EQ_INT(aic_nn_dnnl_available(), rc); /* stable */
  const char *isa = aic_nn_dnnl_isa();
  CHECK(isa != NULL && isa[0] != '\0');
  if (rc == 0) {
    CHECK(strcmp(isa, "none") != 0);
    printf("oneDNN available, ISA %s\n", isa);
  } else {
    CHECK(strcmp(isa, "none") == 0);
    printf("SKIP: oneDNN unavailable here: oneDNN parts of this test are skipped\n");
  }
}

static const int channel_list[] = {1, 2, 3, 5, 12, 16, 24, 31, 48, 64, 96, 129, 256, 300};
static const int size_list[][2] = {{1, 1}, {2, 3}, {7, 5}, {33, 17}, {64, 36}};
enum { N_CH = sizeof channel_list / sizeof channel_list[0], N_SIZES = 5 };

/* Many shapes: every listed channel count on both sides, every size, kernels 1/3/5 (and now
 * and then 7), strides 1/2, with and without bias, all three kinds, 1 and 2 threads. Sizes
 * shrink until the layer is at most ~2e7 multiply-adds, to keep the oracle quick. */
static void test_random_shapes(void) {
  static const aic_nn_conv_kind_t kinds[] = {AIC_NN_CONV_U8S8, AIC_NN_CONV_S8S8, AIC_NN_CONV_F32};
  static const int kernels[] = {1, 3, 5, 3, 1, 5, 7};
  int n = 0;
  for (int i = 0; i < 3 * 2 * N_CH * 2; i++) {
    aic_nn_conv_kind_t kind = kinds[i % 3];
    int in_ch = (i / 3) % 4 == 3 ? rnd_in(1, 300) : channel_list[(i / 3) % N_CH];
    int out_ch = (i / 5) % 4 == 1 ? rnd_in(1, 300) : channel_list[(i * 5 + 3) % N_CH];
    int k = kernels[i % 7];
    int s = 1 + (i / 2) % 2;
    int si = (i / 6 + i) % N_SIZES;
    int h = size_list[si][0], w = size_list[si][1];
    if (i % 4 == 3) { /* the other orientation too */
      h = size_list[si][1];
      w = size_list[si][0];
    }
    for (;;) {
      double macs = (double)aic_nn_conv_out(h, s) * aic_nn_conv_out(w, s) * in_ch * out_ch * k * k;
      if (macs <= 2e7 || si == 0) break;
      si--;
      h = size_list[si][0];
      w = size_list[si][1];
    }
    layer_t l;
    layer_alloc(&l, kind, in_ch, out_ch, k, s, h, w, (i / 4) % 2 == 0);
    layer_fill(&l, kind != AIC_NN_CONV_F32 && i % 5 == 0);
    check_layer(&l, 1 + i % 2);
    layer_free(&l);
    n++;
  }
  printf("random shapes: %d layers checked%s\n", n, have_dnnl ? "" : " (reference only)");
}

/* The int8 extremes: products of 255 (or -128) with +-127 (or -128) over 300 channels and a
 * 5x5 kernel, where a 16-bit pair sum saturates and a float-rounded int32 would lose bits
 * (|sums| up to 255 * 127 * 7500 = 2.4e8 > 2^24), with biases near +-2^30. */
static void test_extremes(void) {
  const int C = 300, O = 40, K = 5, H = 9, W = 8;
  if (!have_dnnl) printf("SKIP: test_extremes oneDNN part (no oneDNN)\n");
  for (int variant = 0; variant < 5; variant++) {
    aic_nn_conv_kind_t kind = variant < 2 ? AIC_NN_CONV_U8S8 : AIC_NN_CONV_S8S8;
    layer_t l;
    layer_alloc(&l, kind, C, O, K, variant % 2 ? 2 : 1, H, W, variant != 4);
    int8_t *w = l.w;
    for (size_t i = 0; i < l.n_w; i++) {
      size_t o = i / ((size_t)C * K * K);
      switch (o % 4) {
        case 0: w[i] = 127; break;
        case 1: w[i] = -127; break;
        case 2: w[i] = (int8_t)(i % 2 ? 127 : -127); break;
        default: w[i] = variant >= 3 ? -128 : (int8_t)(i % 3 ? 127 : -127); break;
      }
    }
    if (kind == AIC_NN_CONV_U8S8) {
      memset(l.src, 255, l.n_in);
    } else {
      int8_t *s = l.src;
      for (size_t i = 0; i < l.n_in; i++)
        s[i] = (int8_t)(variant == 2 ? 127 : variant == 3 ? -128 : (i / C) % 2 ? 127 : -127);
    }
    int32_t *b = l.b;
    for (int o = 0; b && o < O; o++) b[o] = o % 2 ? -(1 << 30) + o : (1 << 30) - o;
    check_layer(&l, 2);
    layer_free(&l);
  }
}

/* 7-bit weights (what train/quant.py exports for g_a / g_s / h_a): u8 input with |w| <= 64
 * and s8 input with even weights run natively, without splitting the input, and must still be
 * exact at the extremes: 255 (or -128 / 127) times +-64 (or -128 / 126) over a 5x5 kernel of
 * 300 channels, whose sums also exceed 2^24 (so the plan is cut into parts), and with random
 * values of the same ranges. */
static void test_narrow_weights(void) {
  const int C = 300, O = 24, K = 5, H = 9, W = 8;
  for (int variant = 0; variant < 6; variant++) {
    const bool u8 = variant < 3, random = variant == 2 || variant == 5;
    layer_t l;
    layer_alloc(&l, u8 ? AIC_NN_CONV_U8S8 : AIC_NN_CONV_S8S8, C, O, K, variant % 2 ? 2 : 1, H, W,
                true);
    int8_t *w = l.w;
    const int hi = u8 ? 64 : 126, lo = u8 ? -64 : -128;
    for (size_t i = 0; i < l.n_w; i++) {
      const size_t o = i / ((size_t)C * K * K);
      if (random)
        w[i] = (int8_t)(u8 ? rnd_in(-64, 64) : 2 * rnd_in(-64, 63));
      else
        w[i] = (int8_t)(o % 3 == 0 ? hi : o % 3 == 1 ? lo : i % 2 ? hi : lo);
    }
    if (u8) {
      uint8_t *s = l.src;
      for (size_t i = 0; i < l.n_in; i++) s[i] = (uint8_t)(random ? rnd_in(0, 255) : 255);
    } else {
      int8_t *s = l.src;
      for (size_t i = 0; i < l.n_in; i++)
        s[i] = (int8_t)(random ? rnd_in(-128, 127) : variant == 3 ? 127 : (i / C) % 2 ? 127 : -128);
    }
    int32_t *b = l.b;
    for (int o = 0; o < O; o++) b[o] = o % 2 ? -(1 << 30) + o : rnd_in(-(1 << 20), 1 << 20);
    check_layer(&l, 2);
    if (have_dnnl) {
      aic_nn_dnnl_conv_t *c = NULL;
      CHECK_EQ_INT(aic_nn_dnnl_conv_create(&l.d, 1, &c), AIC_OK);
      CHECK_EQ_INT(aic_nn_dnnl_conv_groups(c), 1);
      aic_nn_dnnl_conv_free(&c);
    }
    layer_free(&l);
  }
}

/* One plan, many runs: the handles are set per run, so each run must see its own input. */
static void test_plan_reuse(void) {
  if (!have_dnnl) {
    printf("SKIP: test_plan_reuse (no oneDNN)\n");
    return;
  }
  static const aic_nn_conv_kind_t kinds[] = {AIC_NN_CONV_U8S8, AIC_NN_CONV_S8S8, AIC_NN_CONV_F32};
  for (int k = 0; k < 3; k++) {
    layer_t l;
    layer_alloc(&l, kinds[k], 24, 48, 3, 2, 33, 17, true);
    layer_fill(&l, false);
    aic_nn_dnnl_conv_t *c = NULL;
    CHECK_EQ_INT(aic_nn_dnnl_conv_create(&l.d, 2, &c), AIC_OK);
    void *want = out_alloc(l.n_out), *got = out_alloc(l.n_out);
    for (int run = 0; c && run < 3; run++) {
      layer_fill(&l, false); /* new input (and weights/bias in l, which the plan ignores) */
      CHECK_EQ_INT(aic_nn_dnnl_conv_run(c, l.src, got), AIC_OK);
      if (run == 0) memcpy(want, got, l.n_out * 4);
      CHECK(memcmp(want, got, l.n_out * 4) != 0 || run == 0);
    }
    aic_nn_dnnl_conv_free(&c);
    free(want);
    free(got);
    layer_free(&l);
  }
  /* And against the reference, with the plan's weights borrowed only during create. */
  layer_t l;
  layer_alloc(&l, AIC_NN_CONV_U8S8, 48, 64, 3, 1, 33, 17, true);
  layer_fill(&l, false);
  aic_nn_dnnl_conv_t *c = NULL;
  CHECK_EQ_INT(aic_nn_dnnl_conv_create(&l.d, 1, &c), AIC_OK);
  int32_t *want = out_alloc(l.n_out), *got = out_alloc(l.n_out);
  CHECK_EQ_INT(aic_nn_conv_ref(&l.d, l.src, want), AIC_OK);
  memset(l.w, 0x55, l.n_w); /* the plan owns its weights */
  for (int run = 0; c && run < 3; run++) {
    CHECK_EQ_INT(aic_nn_dnnl_conv_run(c, l.src, got), AIC_OK);
    CHECK(memcmp(want, got, l.n_out * 4) == 0);
  }
  aic_nn_dnnl_conv_free(&c);
  free(want);
  free(got);
  layer_free(&l);
}

/* The same plan with 1 and 2 threads gives the same int8 output. */
static void test_threads(void) {
  if (!have_dnnl) {
    printf("SKIP: test_threads (no oneDNN)\n");
    return;
  }
  layer_t l;
  layer_alloc(&l, AIC_NN_CONV_U8S8, 64, 96, 3, 1, 64, 36, true);
  layer_fill(&l, false);
  int32_t *a = out_alloc(l.n_out), *b = out_alloc(l.n_out);
  aic_nn_dnnl_conv_t *c1 = NULL, *c2 = NULL;
  CHECK_EQ_INT(aic_nn_dnnl_conv_create(&l.d, 1, &c1), AIC_OK);
  CHECK_EQ_INT(aic_nn_dnnl_conv_create(&l.d, 2, &c2), AIC_OK);
  if (c1 && c2) {
    CHECK_EQ_INT(aic_nn_dnnl_conv_run(c1, l.src, a), AIC_OK);
    CHECK_EQ_INT(aic_nn_dnnl_conv_run(c2, l.src, b), AIC_OK);
    CHECK(memcmp(a, b, l.n_out * 4) == 0);
  }
  aic_nn_dnnl_conv_free(&c1);
  aic_nn_dnnl_conv_free(&c2);
  free(a);
  free(b);
  layer_free(&l);
}

/* Plans built and run at the same time from two threads (as aicd's runner pool does): each
 * has its own stream and scratchpad, so both must give the reference's output. */
typedef struct worker {
  const layer_t *l;
  const int32_t *want;
  int ok;
} worker_t;

static void *worker_main(void *arg) {
  worker_t *w = arg;
  int32_t *got = out_alloc(w->l->n_out);
  aic_nn_dnnl_conv_t *c = NULL;
  w->ok = aic_nn_dnnl_conv_create(&w->l->d, 1, &c) == AIC_OK;
  for (int run = 0; w->ok && run < 4; run++)
    w->ok = aic_nn_dnnl_conv_run(c, w->l->src, got) == AIC_OK &&
            memcmp(w->want, got, w->l->n_out * 4) == 0;
  aic_nn_dnnl_conv_free(&c);
  free(got);
  return NULL;
}

static void test_concurrent_plans(void) {
  if (!have_dnnl) {
    printf("SKIP: test_concurrent_plans (no oneDNN)\n");
    return;
  }
  layer_t l[2];
  layer_alloc(&l[0], AIC_NN_CONV_U8S8, 48, 64, 3, 2, 64, 36, true);
  layer_alloc(&l[1], AIC_NN_CONV_S8S8, 64, 48, 3, 1, 33, 17, true);
  worker_t w[2];
  pthread_t th[2];
  int32_t *want[2];
  for (int i = 0; i < 2; i++) {
    layer_fill(&l[i], false);
    want[i] = out_alloc(l[i].n_out);
    CHECK_EQ_INT(aic_nn_conv_ref(&l[i].d, l[i].src, want[i]), AIC_OK);
    w[i] = (worker_t){&l[i], want[i], 0};
  }
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    CHECK(w[i].ok);
    free(want[i]);
    layer_free(&l[i]);
  }
}

/* The plan API in front (conv_plan.c) with each implementation asked for by name. */
/* A layer computed band by band (desc.band: the input rows each band's outputs read, zero rows
 * where it meets the picture's edge) gives the whole layer's int32 rows exactly, for both
 * implementations, every stride and kernel, odd heights (the ceil rule at the bottom) and bands
 * of 1..3 rows. */
static void test_bands(void) {
  for (int it = 0; it < 48; it++) {
    const aic_nn_conv_kind_t kind = it % 2 ? AIC_NN_CONV_S8S8 : AIC_NN_CONV_U8S8;
    const int k = 1 + 2 * (it / 2 % 3), s = 1 + it / 6 % 2, h = rnd_in(k, 17), w = rnd_in(1, 9);
    layer_t l;
    layer_alloc(&l, kind, rnd_in(1, 9), rnd_in(1, 12), k, s, h, w, false);
    layer_fill(&l, false);
    const int oh = aic_nn_conv_out(h, s), ow = aic_nn_conv_out(w, s), O = l.d.out_ch;
    int32_t *whole = malloc(l.n_out * 4), *band = malloc(l.n_out * 4);
    CHECK_EQ_INT(aic_nn_conv_ref(&l.d, l.src, whole), AIC_OK);
    for (int impl = AIC_NN_IMPL_REF; impl <= AIC_NN_IMPL_DNNL; impl++) {
      if (impl == AIC_NN_IMPL_DNNL && !have_dnnl) continue;
      memset(band, 0x55, l.n_out * 4);
      const int rows = 1 + it % 3;
      for (int y = 0; y < oh; y += rows) {
        const int y1 = y + rows < oh ? y + rows : oh;
        const int first = y * s - k / 2, last = (y1 - 1) * s - k / 2 + k - 1;
        aic_nn_conv_desc_t d = l.d;
        d.band = true;
        d.pad_top = first < 0 ? -first : 0;
        d.pad_bottom = last > h - 1 ? last - (h - 1) : 0;
        const int in0 = first > 0 ? first : 0;
        d.in_h = (last < h - 1 ? last : h - 1) - in0 + 1;
        CHECK_EQ_INT(aic_nn_conv_out_rows(&d), y1 - y);
        aic_nn_conv_plan_t *p = NULL;
        CHECK_EQ_INT(aic_nn_conv_plan_create(&d, (aic_nn_impl_t)impl, 1, &p), AIC_OK);
        if (!p) continue;
        const uint8_t *src = (const uint8_t *)l.src + (size_t)in0 * w * l.d.in_ch;
        CHECK_EQ_INT(aic_nn_conv_run(p, src, band + (size_t)y * ow * O), AIC_OK);
        aic_nn_conv_plan_free(&p);
      }
      CHECK(memcmp(band, whole, l.n_out * 4) == 0);
    }
    free(whole);
    free(band);
    layer_free(&l);
  }
}

static void test_plan_api(void) {
  layer_t l;
  layer_alloc(&l, AIC_NN_CONV_S8S8, 12, 24, 5, 2, 33, 17, true);
  layer_fill(&l, false);
  int32_t *want = out_alloc(l.n_out), *got = out_alloc(l.n_out);
  CHECK_EQ_INT(aic_nn_conv_ref(&l.d, l.src, want), AIC_OK);
  aic_nn_conv_plan_t *p = NULL;
  CHECK_EQ_INT(aic_nn_conv_plan_create(&l.d, AIC_NN_IMPL_REF, 1, &p), AIC_OK);
  CHECK_EQ_INT(aic_nn_conv_plan_impl(p), AIC_NN_IMPL_REF);
  CHECK_EQ_INT(aic_nn_conv_run(p, l.src, got), AIC_OK);
  CHECK(memcmp(want, got, l.n_out * 4) == 0);
  aic_nn_conv_plan_free(&p);
  if (have_dnnl) {
    CHECK_EQ_INT(aic_nn_conv_plan_create(&l.d, AIC_NN_IMPL_DNNL, 2, &p), AIC_OK);
    CHECK_EQ_INT(aic_nn_conv_plan_impl(p), AIC_NN_IMPL_DNNL);
    memset(got, 0, l.n_out * 4);
    CHECK_EQ_INT(aic_nn_conv_run(p, l.src, got), AIC_OK);
    CHECK(memcmp(want, got, l.n_out * 4) == 0);
    aic_nn_conv_plan_free(&p);
  } else {
    CHECK_EQ_INT(aic_nn_conv_plan_create(&l.d, AIC_NN_IMPL_DNNL, 1, &p), AIC_EUNSUPPORTED);
    CHECK(p == NULL);
    printf("SKIP: test_plan_api oneDNN part (no oneDNN)\n");
  }
  free(want);
  free(got);
  layer_free(&l);
}

static void expect_refused(const aic_nn_conv_desc_t *d, int threads) {
  aic_nn_dnnl_conv_t *c = (aic_nn_dnnl_conv_t *)&c; /* not NULL: create must clear it */
  CHECK_EQ_INT(aic_nn_dnnl_conv_create(d, threads, &c), AIC_EINVAL);
  CHECK(c == NULL);
  aic_nn_conv_plan_t *p = NULL;
  CHECK_EQ_INT(aic_nn_conv_plan_create(d, AIC_NN_IMPL_DNNL, threads, &p), AIC_EINVAL);
  CHECK(p == NULL);
}

static void test_bad_descs(void) {
  int8_t w[3 * 4 * 9 * 9] = {0};
  const aic_nn_conv_desc_t good = {AIC_NN_CONV_U8S8, 4, 3, 3, 1, 8, 8, w, NULL, false, 0, 0};
  aic_nn_conv_desc_t d;
  static const int bad_kernels[] = {0, 2, 4, 8, 9, -1};
  for (size_t i = 0; i < sizeof bad_kernels / sizeof bad_kernels[0]; i++) {
    d = good;
    d.kernel = bad_kernels[i];
    expect_refused(&d, 1);
  }
  static const int bad_strides[] = {0, 3, -1};
  for (size_t i = 0; i < sizeof bad_strides / sizeof bad_strides[0]; i++) {
    d = good;
    d.stride = bad_strides[i];
    expect_refused(&d, 1);
  }
  d = good, d.in_ch = 0, expect_refused(&d, 1);
  d = good, d.out_ch = 0, expect_refused(&d, 1);
  d = good, d.in_ch = -3, expect_refused(&d, 1);
  d = good, d.in_h = 0, expect_refused(&d, 1);
  d = good, d.in_w = 0, expect_refused(&d, 1);
  d = good, d.weight = NULL, expect_refused(&d, 1);
  d = good, d.kind = (aic_nn_conv_kind_t)0, expect_refused(&d, 1);
  d = good, d.kind = (aic_nn_conv_kind_t)99, expect_refused(&d, 1);
  /* bands: padding 0..K/2 on each side, and at least one output row */
  d = good, d.band = true, d.pad_top = 2, expect_refused(&d, 1);
  d = good, d.band = true, d.pad_bottom = -1, expect_refused(&d, 1);
  d = good, d.band = true, d.in_h = 2, expect_refused(&d, 1);
  d = good, d.band = true, d.in_h = 2, d.pad_top = 1, expect_refused(&d, 0);
  expect_refused(NULL, 1);
  expect_refused(&good, 0);
  expect_refused(&good, -2);
  CHECK_EQ_INT(aic_nn_dnnl_conv_create(&good, 1, NULL), AIC_EINVAL);

  /* The good one is fine, and run refuses NULL arguments. */
  if (have_dnnl) {
    aic_nn_dnnl_conv_t *c = NULL;
    uint8_t src[8 * 8 * 4] = {0};
    int32_t dst[8 * 8 * 3];
    CHECK_EQ_INT(aic_nn_dnnl_conv_create(&good, 1, &c), AIC_OK);
    CHECK_EQ_INT(aic_nn_dnnl_conv_run(c, NULL, dst), AIC_EINVAL);
    CHECK_EQ_INT(aic_nn_dnnl_conv_run(c, src, NULL), AIC_EINVAL);
    CHECK_EQ_INT(aic_nn_dnnl_conv_run(NULL, src, dst), AIC_EINVAL);
    CHECK_EQ_INT(aic_nn_dnnl_conv_run(c, src, dst), AIC_OK);
    aic_nn_dnnl_conv_free(&c);
  }
  aic_nn_dnnl_conv_free(NULL);
  aic_nn_dnnl_conv_t *none = NULL;
  aic_nn_dnnl_conv_free(&none);
}

/* ---- --bench: nic-rt's layers at 640x360 ---- */

typedef struct bench_layer {
  const char *name;
  int h, w, in_ch, out_ch, k, s;
} bench_layer_t;

static const bench_layer_t nic_rt_layers[] = {
    {"g_a conv0", 360, 640, 3, 48, 5, 2},      {"g_a gdn0 1x1", 180, 320, 48, 48, 1, 1},
    {"g_a conv1", 180, 320, 48, 64, 3, 2},     {"g_a gdn1 1x1", 90, 160, 64, 64, 1, 1},
    {"g_a conv2", 90, 160, 64, 64, 3, 2},      {"g_a gdn2 1x1", 45, 80, 64, 64, 1, 1},
    {"g_a conv3", 45, 80, 64, 96, 3, 2},       {"g_s conv0", 23, 40, 96, 256, 3, 1},
    {"g_s igdn0 1x1", 45, 80, 64, 64, 1, 1},   {"g_s conv1", 45, 80, 64, 192, 3, 1},
    {"g_s igdn1 1x1", 90, 160, 48, 48, 1, 1},  {"g_s conv2", 90, 160, 48, 96, 3, 1},
    {"g_s igdn2 1x1", 180, 320, 24, 24, 1, 1}, {"g_s conv3", 180, 320, 24, 12, 3, 1},
};
enum { N_BENCH = sizeof nic_rt_layers / sizeof nic_rt_layers[0] };

static double clock_ms(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

typedef struct timing {
  double wall, cpu; /* ms; cpu is the process's CPU time, all threads */
} timing_t;

/* Best of `reps` runs (the best, because the machine is shared), or -1s if the plan cannot be
 * built. */
static timing_t time_layer(const layer_t *l, aic_nn_impl_t impl, int threads, int reps) {
  timing_t best = {-1, -1};
  aic_nn_conv_plan_t *p = NULL;
  if (aic_nn_conv_plan_create(&l->d, impl, threads, &p) != AIC_OK) return best;
  void *dst = out_alloc(l->n_out);
  best = (timing_t){1e30, 1e30};
  aic_nn_conv_run(p, l->src, dst); /* warm-up: first touch, caches */
  for (int r = 0; r < reps; r++) {
    double w = clock_ms(CLOCK_MONOTONIC), c = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    aic_nn_conv_run(p, l->src, dst);
    w = clock_ms(CLOCK_MONOTONIC) - w;
    c = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c;
    if (w < best.wall) best.wall = w;
    if (c < best.cpu) best.cpu = c;
  }
  free(dst);
  aic_nn_conv_plan_free(&p);
  return best;
}

static void bench_kind(aic_nn_conv_kind_t kind) {
  const bool f32 = kind == AIC_NN_CONV_F32;
  printf("\n%s, ms per layer: wall / process CPU time (all threads), best of 7 (ref: 3)\n",
         f32 ? "f32" : "int8 (u8 x s8 -> s32)");
  printf("%-15s %-22s %6s | %15s | %15s | %15s\n", "layer", "shape", "MMAC", "oneDNN 1 thread",
         "oneDNN 2 thr.", "ref (1 thread)");
  timing_t total[3] = {{0, 0}, {0, 0}, {0, 0}};
  double macs_total = 0;
  for (int i = 0; i < N_BENCH; i++) {
    const bench_layer_t *b = &nic_rt_layers[i];
    double macs = (double)aic_nn_conv_out(b->h, b->s) * aic_nn_conv_out(b->w, b->s) * b->in_ch *
                  b->out_ch * b->k * b->k;
    macs_total += macs;
    layer_t l;
    layer_alloc(&l, kind, b->in_ch, b->out_ch, b->k, b->s, b->h, b->w, true);
    layer_fill(&l, false);
    if (!f32) { /* trained weights are mostly small: a triangular distribution, not uniform */
      int8_t *w = l.w;
      for (size_t j = 0; j < l.n_w; j++)
        w[j] = (int8_t)((rnd_in(-127, 127) + rnd_in(-127, 127)) / 2);
      int32_t *bb = l.b;
      for (int o = 0; o < b->out_ch; o++) bb[o] = rnd_in(-(1 << 16), 1 << 16);
    }
    timing_t t[3] = {{-1, -1}, {-1, -1}, {-1, -1}};
    if (have_dnnl) {
      t[0] = time_layer(&l, AIC_NN_IMPL_DNNL, 1, 7);
      t[1] = time_layer(&l, AIC_NN_IMPL_DNNL, 2, 7);
    }
    t[2] = time_layer(&l, AIC_NN_IMPL_REF, 1, 3);
    layer_free(&l);
    char shape[32];
    snprintf(shape, sizeof shape, "%dx%d %d->%d k%d s%d", b->h, b->w, b->in_ch, b->out_ch, b->k,
             b->s);
    printf("%-15s %-22s %6.0f | %6.2f / %6.2f | %6.2f / %6.2f | %6.2f / %6.2f\n", b->name, shape,
           macs / 1e6, t[0].wall, t[0].cpu, t[1].wall, t[1].cpu, t[2].wall, t[2].cpu);
    for (int j = 0; j < 3; j++) {
      total[j].wall += t[j].wall;
      total[j].cpu += t[j].cpu;
    }
  }
  printf("%-15s %-22s %6.0f | %6.2f / %6.2f | %6.2f / %6.2f | %6.2f / %6.2f\n", "total per frame",
         "", macs_total / 1e6, total[0].wall, total[0].cpu, total[1].wall, total[1].cpu,
         total[2].wall, total[2].cpu);
}

static int bench(void) {
  printf("nic-rt's layers at 640x360 (g_a then g_s); oneDNN ISA %s\n",
         have_dnnl ? aic_nn_dnnl_isa() : "none (unavailable: its columns are -1)");
  bench_kind(AIC_NN_CONV_U8S8);
  bench_kind(AIC_NN_CONV_F32);
  return EXIT_SUCCESS;
}

int main(int argc, char **argv) {
  have_dnnl = aic_nn_dnnl_available() == 0;
  if (argc > 1 && strcmp(argv[1], "--bench") == 0) return bench();
  RUN(test_available);
  RUN(test_bad_descs);
  RUN(test_extremes);
  RUN(test_narrow_weights);
  RUN(test_plan_reuse);
  RUN(test_threads);
  RUN(test_concurrent_plans);
  RUN(test_plan_api);
  RUN(test_bands);
  RUN(test_random_shapes);
  if (have_dnnl)
    printf("f32: max |oneDNN - exact| / sum|terms| = %.3g (u = 2^-24 = %.3g)\n", max_f32_err,
           1.0 / 16777216.0);
  return aic_test_finish();
}
