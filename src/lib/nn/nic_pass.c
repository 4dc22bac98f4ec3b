/* Per-element passes of the learned codec (nic_internal.h). They mirror train/quant.py's
 * FakeQuant and train/models.py operation by operation in float32, so that an int8 layer sees
 * the same integers as the exporter's simulation: division by the step (not a multiplication by
 * its inverse), round half to even (torch.round), no
 * fused multiply-add (CMakeLists.txt turns contraction off).
 *
 * Each pass is a serial kernel over a range of rows, pixels or elements, which nic_par_for
 * splits over threads; the kernels keep their loops simple so that GCC vectorises them. A value
 * that is quantized as well as (or instead of) stored is computed by the same operations in the
 * same order either way, so fusing changes no integer. */
#if defined(__GNUC__) && !defined(__clang__)
/* Vectorise these loops (see conv_ref.c); float compares may then be if-converted, which GCC
 * allows only when they are not treated as trapping (no value changes, only FP flags). */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")
#endif

#include <float.h>
#include <math.h>

#include "core/convert_rows.h"
#include "nic_internal.h"

/* Each kernel also in an AVX2 version, chosen at load time when the CPU has it (ifunc): twice
 * the vector width for the divisions and conversions that bound these loops. Plain AVX2, no
 * FMA, and IEEE operations round the same at any width, so both versions give the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define KERNEL
#endif

/* finish_rows has two callers, each passing a constant NULL acc or src; GCC declines to inline
 * a body that large by itself, and without the constant the loops neither specialise nor
 * vectorise. */
#if defined(__GNUC__)
#define SPECIALISE inline __attribute__((always_inline))
#else
#define SPECIALISE inline
#endif

/* clamp to [lo, hi], NaN to lo: a float -> int conversion must never see NaN or overflow. */
static inline float clampf(float v, float lo, float hi) {
  /* Quiet comparisons: GCC if-converts (and so vectorises) these, not the signalling < and >. */
  v = isgreater(v, lo) ? v : lo;
  return isless(v, hi) ? v : hi;
}

/* round half to even of |v| <= 2^22 as adding and removing 1.5 * 2^23 does it under the
 * default rounding mode: the same result as nearbyintf, but plain arithmetic the compiler can
 * vectorise. Needs float arithmetic in float (FLT_EVAL_METHOD 0, true of SSE and NEON). */
#if FLT_EVAL_METHOD == 0
static inline float round_even(float v) {
  const float magic = 12582912.0f;
  return (v + magic) - magic;
}
#else
static inline float round_even(float v) {
  return nearbyintf(v);
}
#endif

/* Channels a fused pass computes into a stack buffer before quantizing them, when the float
 * values themselves are not kept. */
#define BLOCK 256
/* Values a pass computes into a stack buffer to quantize them in one run (finish_rows). */
#define RUN_FLOATS 2048

/* quant->q[at .. at + n) from x[0 .. n) */
static inline void quant_run(const float *x, size_t n, const nic_quant_t *quant, size_t at) {
  const float scale = quant->scale;
  if (quant->u8 && quant->absolute) {
    uint8_t *out = (uint8_t *)quant->q + at;
    for (size_t i = 0; i < n; i++)
      out[i] = (uint8_t)(int)round_even(clampf(fabsf(x[i]) / scale, 0.0f, 255.0f));
  } else if (quant->u8) {
    uint8_t *out = (uint8_t *)quant->q + at;
    for (size_t i = 0; i < n; i++)
      out[i] = (uint8_t)(int)round_even(clampf(x[i] / scale, 0.0f, 255.0f));
  } else {
    int8_t *out = (int8_t *)quant->q + at;
    for (size_t i = 0; i < n; i++)
      out[i] = (int8_t)(int)round_even(clampf(x[i] / scale, -127.0f, 127.0f));
  }
}

typedef struct quantize_ctx {
  const float *x;
  const nic_quant_t *quant;
} quantize_ctx_t;

KERNEL static void quantize_range(void *ctx, size_t begin, size_t end) {
  const quantize_ctx_t *c = ctx;
  quant_run(c->x + begin, end - begin, c->quant, begin);
}

void nic_quantize(const float *x, size_t n, const nic_quant_t *quant, int threads) {
  quantize_ctx_t c = {x, quant};
  nic_par_for(threads, n, n, quantize_range, &c);
}

typedef struct abs_ctx {
  const float *x;
  float *dst;
} abs_ctx_t;

KERNEL static void abs_range(void *ctx, size_t begin, size_t end) {
  const abs_ctx_t *c = ctx;
  for (size_t i = begin; i < end; i++) c->dst[i] = fabsf(c->x[i]);
}

void nic_abs(const float *x, size_t n, float *dst, int threads) {
  abs_ctx_t c = {x, dst};
  nic_par_for(threads, n, n, abs_range, &c);
}

/* n consecutive outputs of a convolution from channel o (src / acc already point at it):
 * acc * mul + bias (int32 sums) or src (+ bias), then the ReLU. Both callers pass a constant acc
 * or src, so each specialises to one simple loop. */
static SPECIALISE void finish_run(const nic_finish_t *f, const int32_t *acc, const float *src,
                                  int o, int n, float *dst) {
  const float *mul = f->mul ? f->mul + o : NULL, *bias = f->bias ? f->bias + o : NULL;
  if (acc)
    for (int c = 0; c < n; c++) dst[c] = (float)acc[c] * mul[c] + bias[c];
  else if (bias)
    for (int c = 0; c < n; c++) dst[c] = src[c] + bias[c];
  else
    for (int c = 0; c < n; c++) dst[c] = src[c];
  if (f->relu)
    for (int c = 0; c < n; c++) dst[c] = isgreater(dst[c], 0.0f) ? dst[c] : 0.0f;
}

/* One pixel's outputs, into dst[at ..] and / or (quant) quant.q[at ..]; in blocks through a
 * stack buffer when dst is NULL. */
static SPECIALISE void finish_pixel(const nic_finish_t *f, const int32_t *acc, const float *src,
                                    float *dst, size_t at, bool quant) {
  float tmp[BLOCK];
  for (int c0 = 0; c0 < f->ch; c0 += BLOCK) {
    const int m = f->ch - c0 < BLOCK ? f->ch - c0 : BLOCK;
    float *out = dst ? dst + (at - f->dst_origin) + c0 : tmp;
    finish_run(f, acc ? acc + c0 : NULL, src ? src + c0 : NULL, c0, m, out);
    if (quant && f->quant.q) quant_run(out, (size_t)m, &f->quant, at + (size_t)c0);
  }
}

/* One pixel's outputs with depth-to-space, as PyTorch's PixelShuffle: channel 4c + 2i + j goes
 * to channel c at (2y + i, 2x + j); the crop drops the last row / column of an odd size. The
 * 4C values are computed in a run (contiguous, so it vectorises) and then dealt out to the four
 * positions; a position without a destination (cropped, or dst NULL) gets a stack buffer. */
static SPECIALISE void finish_pixel_up(const nic_finish_t *f, const int32_t *acc, const float *src,
                                       float *dst, int y, int x, bool quant) {
  float tmp[4 * BLOCK], spare[4][BLOCK];
  const int C = f->ch / 4;
  for (int c0 = 0; c0 < C; c0 += BLOCK) {
    const int m = C - c0 < BLOCK ? C - c0 : BLOCK;
    finish_run(f, acc ? acc + 4 * c0 : NULL, src ? src + 4 * c0 : NULL, 4 * c0, 4 * m, tmp);
    float *d[4];
    size_t at[4];
    bool inside[4];
    for (int o = 0; o < 4; o++) {
      const int yy = 2 * y + (o >> 1), xx = 2 * x + (o & 1);
      inside[o] = yy < f->crop_h && xx < f->crop_w;
      at[o] = ((size_t)yy * f->crop_w + xx) * C + c0;
      d[o] = inside[o] && dst ? dst + (at[o] - f->dst_origin) : spare[o];
    }
    float *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3];
    for (int c = 0; c < m; c++) {
      d0[c] = tmp[4 * c];
      d1[c] = tmp[4 * c + 1];
      d2[c] = tmp[4 * c + 2];
      d3[c] = tmp[4 * c + 3];
    }
    if (quant && f->quant.q)
      for (int o = 0; o < 4; o++)
        if (inside[o]) quant_run(d[o], (size_t)m, &f->quant, at[o]);
  }
}

/* Convolution output rows [y0, y1). The next layer's quantized input is written a row (or, with
 * dst NULL, a stack buffer of pixels) at a time rather than per pixel: a pixel has as few as 24
 * channels, and the vectorised u8 quantization takes 32 values at a time, so per pixel it ran
 * mostly in its scalar remainder. Each value is quantized alone: the grouping changes nothing. */
static SPECIALISE void finish_rows(const int32_t *acc, const float *src, const nic_finish_t *f,
                                   float *dst, int y0, int y1) {
  const bool quant = f->quant.q != NULL;
  for (int y = y0; y < y1; y++) {
    const size_t row = (size_t)y * f->w * f->ch;
    if (f->up && dst) {
      for (int x = 0; x < f->w; x++) {
        const size_t at = row + (size_t)x * f->ch;
        finish_pixel_up(f, acc ? acc + at : NULL, src ? src + at : NULL, dst, y, x, false);
      }
      const size_t out_row = (size_t)f->crop_w * (f->ch / 4);
      for (int yy = 2 * y; quant && yy < 2 * y + 2 && yy < f->crop_h; yy++)
        quant_run(dst + (yy * out_row - f->dst_origin), out_row, &f->quant, yy * out_row);
    } else if (f->up || (!dst && f->ch > RUN_FLOATS)) {
      for (int x = 0; x < f->w; x++) {
        const size_t at = row + (size_t)x * f->ch;
        if (f->up)
          finish_pixel_up(f, acc ? acc + at : NULL, src ? src + at : NULL, dst, y, x, true);
        else
          finish_pixel(f, acc ? acc + at : NULL, src ? src + at : NULL, dst, at, true);
      }
    } else if (dst) {
      for (int x = 0; x < f->w; x++) {
        const size_t at = row + (size_t)x * f->ch;
        finish_pixel(f, acc ? acc + at : NULL, src ? src + at : NULL, dst, at, false);
      }
      if (quant) quant_run(dst + (row - f->dst_origin), (size_t)f->w * f->ch, &f->quant, row);
    } else {
      float tmp[RUN_FLOATS];
      const int per = RUN_FLOATS / f->ch;
      for (int x0 = 0; x0 < f->w; x0 += per) {
        const int x1 = x0 + per < f->w ? x0 + per : f->w;
        for (int x = x0; x < x1; x++) {
          const size_t at = row + (size_t)x * f->ch;
          finish_run(f, acc ? acc + at : NULL, src ? src + at : NULL, 0, f->ch,
                     tmp + (size_t)(x - x0) * f->ch);
        }
        if (quant) quant_run(tmp, (size_t)(x1 - x0) * f->ch, &f->quant, row + (size_t)x0 * f->ch);
      }
    }
  }
}

typedef struct finish_ctx {
  const int32_t *acc;
  const float *src;
  const nic_finish_t *f;
  float *dst;
} finish_ctx_t;

/* f->bias is required here: every int8 convolution has one. */
KERNEL static void finish_i32_range(void *ctx, size_t begin, size_t end) {
  const finish_ctx_t *c = ctx;
  finish_rows(c->acc, NULL, c->f, c->dst, (int)begin, (int)end);
}

KERNEL static void finish_f32_range(void *ctx, size_t begin, size_t end) {
  const finish_ctx_t *c = ctx;
  finish_rows(NULL, c->src, c->f, c->dst, (int)begin, (int)end);
}

void nic_finish_i32(const int32_t *acc, const nic_finish_t *f, float *dst, int threads) {
  finish_ctx_t c = {.acc = acc, .f = f, .dst = dst};
  nic_par_for(threads, (size_t)f->h, (size_t)f->h * f->w * f->ch, finish_i32_range, &c);
}

void nic_finish_i32_rows(const int32_t *acc, const nic_finish_t *f, float *dst, int y0, int y1) {
  finish_ctx_t c = {.acc = acc, .f = f, .dst = dst};
  finish_i32_range(&c, (size_t)y0, (size_t)y1);
}

void nic_finish_f32(const float *src, const nic_finish_t *f, float *dst, int threads) {
  finish_ctx_t c = {.src = src, .f = f, .dst = dst};
  nic_par_for(threads, (size_t)f->h, (size_t)f->h * f->w * f->ch, finish_f32_range, &c);
}

typedef struct gdn_ctx {
  float *x;
  const int32_t *acc;
  int ch;
  const float *beta, *mul;
  bool inverse, keep;
  const nic_quant_t *next;
  size_t origin; /* x and acc hold the values of pixels from this one on */
} gdn_ctx_t;

/* One pixel's n channels (x, a, beta, mul already at its first), written to out: x itself, or
 * a stack buffer. The two directions as separate loops: no branch inside, so they vectorise. */
static inline void gdn_run(const float *x, const int32_t *a, const float *beta, const float *mul,
                           int n, bool inverse, float *out) {
  if (inverse)
    for (int c = 0; c < n; c++) out[c] = x[c] * (beta[c] + (float)a[c] * mul[c]);
  else
    for (int c = 0; c < n; c++) out[c] = x[c] / (beta[c] + (float)a[c] * mul[c]);
}

/* As finish_rows, the quantization runs over many pixels at once: in place over the range
 * (keep), or over a stack buffer of whole pixels. */
KERNEL static void gdn_i32_range(void *ctx, size_t begin, size_t end) {
  const gdn_ctx_t *g = ctx;
  const int ch = g->ch;
  if (g->keep) {
    for (size_t p = begin; p < end; p++)
      gdn_run(g->x + (p - g->origin) * ch, g->acc + (p - g->origin) * ch, g->beta, g->mul, ch,
              g->inverse, g->x + (p - g->origin) * ch);
    if (g->next)
      quant_run(g->x + (begin - g->origin) * ch, (end - begin) * ch, g->next, begin * ch);
    return;
  }
  if (ch > RUN_FLOATS) {
    float tmp[BLOCK];
    for (size_t p = begin; p < end; p++) {
      const size_t at = p * ch;
      const int32_t *a = g->acc + (p - g->origin) * ch;
      for (int c0 = 0; c0 < ch; c0 += BLOCK) {
        const int m = ch - c0 < BLOCK ? ch - c0 : BLOCK;
        gdn_run(g->x + (p - g->origin) * ch + c0, a + c0, g->beta + c0, g->mul + c0, m, g->inverse,
                tmp);
        quant_run(tmp, (size_t)m, g->next, at + (size_t)c0);
      }
    }
    return;
  }
  float tmp[RUN_FLOATS];
  const size_t per = RUN_FLOATS / ch;
  for (size_t p0 = begin; p0 < end; p0 += per) {
    const size_t p1 = p0 + per < end ? p0 + per : end;
    for (size_t p = p0; p < p1; p++)
      gdn_run(g->x + (p - g->origin) * ch, g->acc + (p - g->origin) * ch, g->beta, g->mul, ch,
              g->inverse, tmp + (p - p0) * ch);
    quant_run(tmp, (p1 - p0) * ch, g->next, p0 * ch);
  }
}

void nic_gdn_i32(float *x, const int32_t *acc, size_t pixels, int ch, const float *beta,
                 const float *mul, bool inverse, const nic_quant_t *next, bool keep, int threads) {
  gdn_ctx_t g = {x, acc, ch, beta, mul, inverse, keep || !next, next, 0};
  nic_par_for(threads, pixels, pixels * ch, gdn_i32_range, &g);
}

void nic_gdn_i32_pixels(float *x, const int32_t *acc, size_t p0, size_t p1, int ch,
                        const float *beta, const float *mul, bool inverse, const nic_quant_t *next,
                        bool keep) {
  gdn_ctx_t g = {x, acc, ch, beta, mul, inverse, keep || !next, next, p0};
  gdn_i32_range(&g, p0, p1);
}

typedef struct gdn_f32_ctx {
  float *x;
  const float *norm;
  bool inverse;
} gdn_f32_ctx_t;

KERNEL static void gdn_f32_range(void *ctx, size_t begin, size_t end) {
  const gdn_f32_ctx_t *g = ctx;
  float *x = g->x;
  const float *norm = g->norm;
  if (g->inverse)
    for (size_t i = begin; i < end; i++) x[i] = x[i] * norm[i];
  else
    for (size_t i = begin; i < end; i++) x[i] = x[i] / norm[i];
}

void nic_gdn_f32(float *x, const float *norm, size_t n, bool inverse, int threads) {
  gdn_f32_ctx_t g = {x, norm, inverse};
  nic_par_for(threads, n, n, gdn_f32_range, &g);
}

typedef struct pixels_in_ctx {
  const uint8_t *rgb;
  size_t stride;
  int w;
  float *x;
  uint8_t *q;
  const float *fx;
  const uint8_t *fq;
} pixels_in_ctx_t;

KERNEL static void pixels_in_rows(void *ctx, size_t begin, size_t end) {
  const pixels_in_ctx_t *c = ctx;
  const size_t n = (size_t)3 * c->w;
  const float *fx = c->fx;
  const uint8_t *fq = c->fq;
  for (size_t y = begin; y < end; y++) {
    const uint8_t *row = c->rgb + y * c->stride;
    if (c->q) {
      uint8_t *q = c->q + y * n;
      for (size_t i = 0; i < n; i++) q[i] = fq[row[i]];
    } else {
      float *x = c->x + y * n;
      for (size_t i = 0; i < n; i++) x[i] = fx[row[i]];
    }
  }
}

void nic_pixels_in(const uint8_t *rgb, size_t stride, int w, int h, float scale, float *x,
                   uint8_t *q, int threads) {
  /* 256 possible inputs: compute each once, exactly as the float pass would. */
  float fx[256];
  uint8_t fq[256];
  const nic_quant_t quant = {.q = fq, .scale = scale, .u8 = true};
  for (int v = 0; v < 256; v++) fx[v] = (float)v / 255.0f;
  if (q) quant_run(fx, 256, &quant, 0);
  pixels_in_ctx_t c = {rgb, stride, w, x, q, fx, fq};
  nic_par_for(threads, (size_t)h, (size_t)h * w * 3, pixels_in_rows, &c);
}

typedef struct pixels_out_ctx {
  const float *x;
  int w;
  uint8_t *rgb;
  size_t stride;
} pixels_out_ctx_t;

KERNEL static void pixels_out_rows(void *ctx, size_t begin, size_t end) {
  const pixels_out_ctx_t *c = ctx;
  const size_t n = (size_t)3 * c->w;
  for (size_t y = begin; y < end; y++) {
    const float *s = c->x + y * n;
    uint8_t *row = c->rgb + y * c->stride;
    for (size_t i = 0; i < n; i++)
      row[i] = (uint8_t)(int)round_even(clampf(s[i], 0.0f, 1.0f) * 255.0f);
  }
}

void nic_pixels_out(const float *x, int w, int h, uint8_t *rgb, size_t stride, int threads) {
  pixels_out_ctx_t c = {x, w, rgb, stride};
  nic_par_for(threads, (size_t)h, (size_t)h * w * 3, pixels_out_rows, &c);
}

typedef struct latents_ctx {
  const float *x;
  const int32_t *in;
  float *xo;
  int32_t *out;
  size_t plane;
  int ch;
  const float *gain;
  uint8_t *near;
} latents_ctx_t;

KERNEL static void latents_out_range(void *ctx, size_t begin, size_t end) {
  const latents_ctx_t *l = ctx;
  const float *x = l->x, *gain = l->gain;
  const float lim = (float)NIC_LATENT_MAX;
  int32_t *out = l->out;
  uint8_t *near = l->near;
  const size_t plane = l->plane;
  const int ch = l->ch;
  for (size_t p = begin; p < end; p++)
    for (int c = 0; c < ch; c++) {
      const float v = clampf(x[p * ch + c] * gain[c], -lim, lim);
      const int32_t q = (int32_t)round_even(v);
      out[c * plane + p] = q;
      if (near) {
        /* |v| in [1/2, 3/2] here; 254 at most so that a threshold of 255 zeroes them all */
        const float d = clampf((fabsf(v) - 0.5f) * 256.0f, 0.0f, 254.0f);
        near[c * plane + p] = q == 1 || q == -1 ? (uint8_t)d : 255;
      }
    }
}

void nic_latents_out(const float *x, int h, int w, int ch, const float *gain, int32_t *out,
                     uint8_t *near, int threads) {
  const size_t plane = (size_t)h * w;
  latents_ctx_t l = {.x = x, .out = out, .plane = plane, .ch = ch, .gain = gain, .near = near};
  nic_par_for(threads, plane, plane * ch, latents_out_range, &l);
}

KERNEL static void latents_in_range(void *ctx, size_t begin, size_t end) {
  const latents_ctx_t *l = ctx;
  const int32_t *in = l->in;
  const float *gain = l->gain;
  float *x = l->xo;
  const size_t plane = l->plane;
  const int ch = l->ch;
  for (size_t p = begin; p < end; p++)
    for (int c = 0; c < ch; c++) x[p * ch + c] = (float)in[c * plane + p] * gain[c];
}

void nic_latents_in(const int32_t *in, int h, int w, int ch, const float *gain, float *x,
                    int threads) {
  const size_t plane = (size_t)h * w;
  latents_ctx_t l = {.in = in, .xo = x, .plane = plane, .ch = ch, .gain = gain};
  nic_par_for(threads, plane, plane * ch, latents_in_range, &l);
}

typedef struct convert_ctx {
  const uint8_t *src;
  int w, h;
  uint8_t *dst;
} convert_ctx_t;

static void i420_to_rgb_range(void *ctx, size_t begin, size_t end) {
  const convert_ctx_t *c = ctx;
  aic_i420_to_rgb24_rows(c->src, (uint32_t)c->w, (uint32_t)c->h, (uint32_t)begin, (uint32_t)end,
                         c->dst);
}

void nic_i420_to_rgb(const uint8_t *i420, int w, int h, uint8_t *rgb, int threads) {
  convert_ctx_t c = {i420, w, h, rgb};
  nic_par_for(threads, (size_t)h, (size_t)w * h * 3, i420_to_rgb_range, &c);
}

/* over chroma rows: each covers two luma rows */
static void rgb_to_i420_range(void *ctx, size_t begin, size_t end) {
  const convert_ctx_t *c = ctx;
  aic_rgb24_to_i420_rows(c->src, (uint32_t)c->w, (uint32_t)c->h, (uint32_t)begin, (uint32_t)end,
                         c->dst);
}

void nic_rgb_to_i420(const uint8_t *rgb, int w, int h, uint8_t *i420, int threads) {
  convert_ctx_t c = {rgb, w, h, i420};
  nic_par_for(threads, (size_t)(h + 1) / 2, (size_t)w * h * 3, rgb_to_i420_range, &c);
}
