/* Per-element passes of the learned codec (nic_internal.h). They mirror train/quant.py's
 * FakeQuant and train/models.py operation by operation in float32, so that an int8 layer sees
 * the same integers as the exporter's simulation: division by the step (not a multiplication by
 * its inverse), round half to even (torch.round), no
 * fused multiply-add (CMakeLists.txt turns contraction off). */
#if defined(__GNUC__) && !defined(__clang__)
/* Vectorise these loops (see conv_ref.c); float compares may then be if-converted, which GCC
 * allows only when they are not treated as trapping (no value changes, only FP flags). */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")
#endif

#include <float.h>
#include <math.h>

#include "nic_internal.h"

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

void nic_quantize(const float *x, size_t n, float scale, bool u8, bool absolute, void *q) {
  if (u8 && absolute) {
    uint8_t *out = q;
    for (size_t i = 0; i < n; i++)
      out[i] = (uint8_t)(int)round_even(clampf(fabsf(x[i]) / scale, 0.0f, 255.0f));
  } else if (u8) {
    uint8_t *out = q;
    for (size_t i = 0; i < n; i++)
      out[i] = (uint8_t)(int)round_even(clampf(x[i] / scale, 0.0f, 255.0f));
  } else {
    int8_t *out = q;
    for (size_t i = 0; i < n; i++)
      out[i] = (int8_t)(int)round_even(clampf(x[i] / scale, -127.0f, 127.0f));
  }
}

void nic_abs(const float *x, size_t n, float *dst) {
  for (size_t i = 0; i < n; i++) dst[i] = fabsf(x[i]);
}

/* n outputs of a convolution, `step` channels apart from channel o (src / acc already point at
 * channel o): acc * mul + bias (int32 sums) or src (+ bias), then the ReLU. Both callers pass
 * a constant acc or src, so each specialises to one simple loop. */
static inline void finish_run(const nic_finish_t *f, const int32_t *acc, const float *src, int o,
                              int n, int step, float *dst) {
  const float *mul = f->mul ? f->mul + o : NULL, *bias = f->bias ? f->bias + o : NULL;
  if (acc)
    for (int c = 0; c < n; c++) dst[c] = (float)acc[c * step] * mul[c * step] + bias[c * step];
  else if (bias)
    for (int c = 0; c < n; c++) dst[c] = src[c * step] + bias[c * step];
  else
    for (int c = 0; c < n; c++) dst[c] = src[c * step];
  if (f->relu)
    for (int c = 0; c < n; c++) dst[c] = isgreater(dst[c], 0.0f) ? dst[c] : 0.0f;
}

static inline void finish(const int32_t *acc, const float *src, const nic_finish_t *f, float *dst) {
  if (!f->up) {
    const size_t pixels = (size_t)f->h * f->w;
    for (size_t p = 0; p < pixels; p++) {
      const size_t at = p * f->ch;
      finish_run(f, acc ? acc + at : NULL, src ? src + at : NULL, 0, f->ch, 1, dst + at);
    }
    return;
  }
  /* PyTorch's PixelShuffle: channel 4c + 2i + j goes to channel c at (2y + i, 2x + j); the crop
   * drops the last row / column of an odd size. */
  const int C = f->ch / 4;
  for (int y = 0; y < f->h; y++)
    for (int i = 0; i < 2 && 2 * y + i < f->crop_h; i++)
      for (int x = 0; x < f->w; x++)
        for (int j = 0; j < 2 && 2 * x + j < f->crop_w; j++) {
          const int o = 2 * i + j;
          const size_t at = ((size_t)y * f->w + x) * f->ch + o;
          float *d = dst + ((size_t)(2 * y + i) * f->crop_w + 2 * x + j) * C;
          finish_run(f, acc ? acc + at : NULL, src ? src + at : NULL, o, C, 4, d);
        }
}

/* f->bias is required here: every int8 convolution has one. */
void nic_finish_i32(const int32_t *acc, const nic_finish_t *f, float *dst) {
  finish(acc, NULL, f, dst);
}

void nic_finish_f32(const float *src, const nic_finish_t *f, float *dst) {
  finish(NULL, src, f, dst);
}

void nic_gdn_i32(float *x, const int32_t *acc, size_t pixels, int ch, const float *beta,
                 const float *mul, bool inverse) {
  /* the two directions as separate loops: no branch inside, so they vectorise */
  for (size_t p = 0; p < pixels; p++) {
    float *v = x + p * ch;
    const int32_t *a = acc + p * ch;
    if (inverse)
      for (int c = 0; c < ch; c++) v[c] = v[c] * (beta[c] + (float)a[c] * mul[c]);
    else
      for (int c = 0; c < ch; c++) v[c] = v[c] / (beta[c] + (float)a[c] * mul[c]);
  }
}

void nic_gdn_f32(float *x, const float *norm, size_t n, bool inverse) {
  if (inverse)
    for (size_t i = 0; i < n; i++) x[i] = x[i] * norm[i];
  else
    for (size_t i = 0; i < n; i++) x[i] = x[i] / norm[i];
}

void nic_pixels_in(const uint8_t *rgb, size_t stride, int w, int h, float scale, float *x,
                   uint8_t *q) {
  /* 256 possible inputs: compute each once, exactly as the float pass would. */
  float fx[256];
  uint8_t fq[256];
  for (int v = 0; v < 256; v++) {
    fx[v] = (float)v / 255.0f;
    if (q) nic_quantize(&fx[v], 1, scale, true, false, &fq[v]);
  }
  for (int y = 0; y < h; y++) {
    const uint8_t *row = rgb + (size_t)y * stride;
    size_t at = (size_t)y * w * 3;
    for (int i = 0; i < 3 * w; i++) {
      if (q)
        q[at + i] = fq[row[i]];
      else
        x[at + i] = fx[row[i]];
    }
  }
}

void nic_pixels_out(const float *x, int w, int h, uint8_t *rgb, size_t stride) {
  for (int y = 0; y < h; y++) {
    const float *s = x + (size_t)y * w * 3;
    uint8_t *row = rgb + (size_t)y * stride;
    for (int i = 0; i < 3 * w; i++)
      row[i] = (uint8_t)(int)round_even(clampf(s[i], 0.0f, 1.0f) * 255.0f);
  }
}

void nic_latents_out(const float *x, int h, int w, int ch, const float *gain, int32_t *out) {
  const size_t plane = (size_t)h * w;
  const float lim = (float)NIC_LATENT_MAX;
  for (size_t p = 0; p < plane; p++)
    for (int c = 0; c < ch; c++)
      out[c * plane + p] = (int32_t)round_even(clampf(x[p * ch + c] * gain[c], -lim, lim));
}

void nic_latents_in(const int32_t *in, int h, int w, int ch, const float *gain, float *x) {
  const size_t plane = (size_t)h * w;
  for (size_t p = 0; p < plane; p++)
    for (int c = 0; c < ch; c++) x[p * ch + c] = (float)in[c * plane + p] * gain[c];
}
