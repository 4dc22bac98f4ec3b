/* The portable C convolution (conv.h): HWC activations, one output pixel at a time.
 *
 * For each output pixel the K x K x I input patch is gathered into a contiguous scratch row
 * (zeros outside the picture, int8 inputs widened to int16), and every output channel is one
 * dot product of that row with the channel's weights, repacked at plan time to
 * O x (K x K x I) in the same order. The gather costs K*K*I copies per pixel against
 * O*K*K*I multiply-adds, and leaves the inner loop a plain contiguous dot product.
 *
 * Int8: int16 x int16 products summed in int32 (exact: conv_desc_check bounds the sums), eight
 * output channels per pass over the row so that each input element is loaded once for eight
 * sums. Written as plain reduction loops, which GCC turns into pmaddwd-style code (x86) or its
 * equivalent elsewhere - but only under its "dynamic" vectorizer cost model: the "very cheap"
 * model of -O2 refuses loops of unknown length. Hence the pragma below (4x faster here);
 * clang's -O2 vectorizer needs no help.
 *
 * Float: one output channel at a time, eight partial sums (a fixed summation order, so the
 * result does not depend on the compiler; C forbids reassociating the plain loop). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "conv_internal.h"

/* F32_LANES partial float sums; int16 rows padded to a multiple of I16_ALIGN elements (one
 * 128-bit vector) so that the vectorised dot products never run a scalar tail. */
enum { F32_LANES = 8, I16_ALIGN = 8 };

struct aic_nn_ref_conv {
  aic_nn_conv_kind_t kind;
  int in_ch, out_ch, kernel, stride, in_h, in_w, out_h, out_w;
  int pad_top;  /* zero rows above the input */
  size_t row;   /* K * K * I: the patch of one output pixel */
  size_t span;  /* row, for int8 kinds rounded up to I16_ALIGN (zero weights and inputs) */
  void *weight; /* out_ch x span, int16_t (int8 kinds) or float */
  void *bias;   /* out_ch int32_t or float, or NULL */
  void *patch;  /* span int16_t or float: scratch of run(), zero tail */
};

/* a * b * c without wrapping, or 0 when it would not fit in size_t. */
static size_t mul3(size_t a, size_t b, size_t c) {
  if (a != 0 && b > SIZE_MAX / a) return 0;
  const size_t ab = a * b;
  if (ab != 0 && c > SIZE_MAX / ab) return 0;
  return ab * c;
}

int aic_nn_conv_desc_check(const aic_nn_conv_desc_t *d) {
  if (!d || !d->weight) return AIC_EINVAL;
  if (d->kind != AIC_NN_CONV_U8S8 && d->kind != AIC_NN_CONV_S8S8 && d->kind != AIC_NN_CONV_F32)
    return AIC_EINVAL;
  if (d->in_ch < 1 || d->out_ch < 1 || d->in_ch > 65536 || d->out_ch > 65536) return AIC_EINVAL;
  if (d->kernel < 1 || d->kernel > 7 || d->kernel % 2 == 0) return AIC_EINVAL;
  if (d->stride != 1 && d->stride != 2) return AIC_EINVAL;
  if (d->in_h < 1 || d->in_w < 1) return AIC_EINVAL;
  if (d->band &&
      (d->pad_top < 0 || d->pad_top > d->kernel / 2 || d->pad_bottom < 0 ||
       d->pad_bottom > d->kernel / 2 || d->in_h + d->pad_top + d->pad_bottom < d->kernel))
    return AIC_EINVAL;
  /* Input and output sizes must be addressable. */
  if (!mul3((size_t)d->in_h, (size_t)d->in_w, (size_t)d->in_ch * sizeof(float)) ||
      !mul3((size_t)d->in_h, (size_t)d->in_w, (size_t)d->out_ch * sizeof(float)))
    return AIC_EINVAL;
  /* The int32 sums are exact only while the largest possible sum fits (|x| <= 255, |w| <= 128). */
  if (d->kind != AIC_NN_CONV_F32 &&
      (int64_t)d->kernel * d->kernel * d->in_ch * 255 * 128 > INT32_MAX)
    return AIC_EINVAL;
  return AIC_OK;
}

void aic_nn_ref_conv_free(aic_nn_ref_conv_t **conv) {
  if (!conv || !*conv) return;
  free((*conv)->weight);
  free((*conv)->bias);
  free((*conv)->patch);
  free(*conv);
  *conv = NULL;
}

/* O x I x K x K -> O x (K x K x I), int8 widened to int16. */
static void repack(aic_nn_ref_conv_t *c, const void *weight) {
  const int K = c->kernel, I = c->in_ch;
  for (int o = 0; o < c->out_ch; o++)
    for (int i = 0; i < I; i++)
      for (int k = 0; k < K * K; k++) {
        size_t from = ((size_t)o * I + i) * K * K + k, to = (size_t)o * c->span + (size_t)k * I + i;
        if (c->kind == AIC_NN_CONV_F32)
          ((float *)c->weight)[to] = ((const float *)weight)[from];
        else
          ((int16_t *)c->weight)[to] = ((const int8_t *)weight)[from];
      }
}

int aic_nn_ref_conv_create(const aic_nn_conv_desc_t *desc, aic_nn_ref_conv_t **out) {
  if (!out) return AIC_EINVAL;
  *out = NULL;
  if (aic_nn_conv_desc_check(desc) != AIC_OK) return AIC_EINVAL;
  aic_nn_ref_conv_t *c = calloc(1, sizeof *c);
  if (!c) return AIC_ENOMEM;
  const size_t elem = desc->kind == AIC_NN_CONV_F32 ? sizeof(float) : sizeof(int16_t);
  c->kind = desc->kind;
  c->in_ch = desc->in_ch;
  c->out_ch = desc->out_ch;
  c->kernel = desc->kernel;
  c->stride = desc->stride;
  c->in_h = desc->in_h;
  c->in_w = desc->in_w;
  c->out_h = aic_nn_conv_out_rows(desc);
  c->out_w = aic_nn_conv_out(desc->in_w, desc->stride);
  c->pad_top = desc->band ? desc->pad_top : desc->kernel / 2;
  c->row = (size_t)desc->kernel * desc->kernel * desc->in_ch;
  c->span =
      desc->kind == AIC_NN_CONV_F32 ? c->row : (c->row + I16_ALIGN - 1) / I16_ALIGN * I16_ALIGN;
  c->weight = calloc(mul3((size_t)desc->out_ch, c->span, elem), 1);
  c->patch = calloc(c->span, elem);
  if (!c->weight || !c->patch) goto fail;
  repack(c, desc->weight);
  if (desc->bias) {
    c->bias = malloc((size_t)desc->out_ch * 4); /* int32_t or float */
    if (!c->bias) goto fail;
    memcpy(c->bias, desc->bias, (size_t)desc->out_ch * 4);
  }
  *out = c;
  return AIC_OK;
fail:
  aic_nn_ref_conv_free(&c);
  return AIC_ENOMEM;
}

/* The patch of output pixel (oy, ox): K rows of K * I elements, each row one contiguous run of
 * the HWC input clipped to the picture, zeros for the rest. T the input type, P the patch's. */
#define GATHER(NAME, T, P)                                                               \
  static void NAME(const aic_nn_ref_conv_t *c, const T *src, int oy, int ox, P *patch) { \
    const int K = c->kernel, I = c->in_ch, pad = K / 2;                                  \
    const int y0 = oy * c->stride - c->pad_top, x0 = ox * c->stride - pad;               \
    const int kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + K > c->in_w ? c->in_w - x0 : K;         \
    for (int ky = 0; ky < K; ky++) {                                                     \
      P *d = patch + (size_t)ky * K * I;                                                 \
      const int y = y0 + ky;                                                             \
      if (y < 0 || y >= c->in_h) {                                                       \
        memset(d, 0, (size_t)(K * I) * sizeof *d);                                       \
        continue;                                                                        \
      }                                                                                  \
      memset(d, 0, (size_t)(kx0 * I) * sizeof *d);                                       \
      const T *s = src + ((size_t)y * c->in_w + x0 + kx0) * I;                           \
      const size_t n = (size_t)(kx1 - kx0) * I;                                          \
      for (size_t i = 0; i < n; i++) d[(size_t)kx0 * I + i] = (P)s[i];                   \
      memset(d + (size_t)kx1 * I, 0, (size_t)(K - kx1) * I * sizeof *d);                 \
    }                                                                                    \
  }

GATHER(gather_u8, uint8_t, int16_t)
GATHER(gather_s8, int8_t, int16_t)
GATHER(gather_f32, float, float)

/* Eight int32 sums of the patch with eight consecutive weight rows. */
static inline void dot8_i16(const int16_t *a, const int16_t *w, size_t n, int32_t *out) {
  const int16_t *w1 = w + n, *w2 = w1 + n, *w3 = w2 + n, *w4 = w3 + n, *w5 = w4 + n, *w6 = w5 + n,
                *w7 = w6 + n;
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  for (size_t i = 0; i < n; i++) {
    const int32_t x = a[i];
    s0 += x * w[i];
    s1 += x * w1[i];
    s2 += x * w2[i];
    s3 += x * w3[i];
    s4 += x * w4[i];
    s5 += x * w5[i];
    s6 += x * w6[i];
    s7 += x * w7[i];
  }
  out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
  out[4] = s4, out[5] = s5, out[6] = s6, out[7] = s7;
}

static inline int32_t dot_i16(const int16_t *a, const int16_t *w, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * w[i];
  return s;
}

static inline float dot_f32(const float *a, const float *w, size_t n) {
  float s[F32_LANES] = {0};
  size_t i = 0;
  for (; i + F32_LANES <= n; i += F32_LANES)
    for (int j = 0; j < F32_LANES; j++) s[j] += a[i + j] * w[i + j];
  float t = 0.0f;
  for (; i < n; i++) t += a[i] * w[i];
  for (int j = 0; j < F32_LANES; j++) t += s[j];
  return t;
}

/* Biases are added in uint32 so that one pushing a sum past int32 wraps (implementation-
 * defined) instead of overflowing (undefined). */
static void sums_i32(const aic_nn_ref_conv_t *c, int32_t *out) {
  const int16_t *patch = c->patch, *w = c->weight;
  const int32_t *bias = c->bias;
  int o = 0;
  for (; o + 8 <= c->out_ch; o += 8) dot8_i16(patch, w + (size_t)o * c->span, c->span, out + o);
  for (; o < c->out_ch; o++) out[o] = dot_i16(patch, w + (size_t)o * c->span, c->span);
  if (bias)
    for (o = 0; o < c->out_ch; o++) out[o] = (int32_t)((uint32_t)out[o] + (uint32_t)bias[o]);
}

static void sums_f32(const aic_nn_ref_conv_t *c, float *out) {
  const float *patch = c->patch, *w = c->weight, *bias = c->bias;
  for (int o = 0; o < c->out_ch; o++)
    out[o] = dot_f32(patch, w + (size_t)o * c->row, c->row) + (bias ? bias[o] : 0.0f);
}

int aic_nn_ref_conv_run(aic_nn_ref_conv_t *c, const void *src, void *dst) {
  if (!c || !src || !dst) return AIC_EINVAL;
  for (int oy = 0; oy < c->out_h; oy++)
    for (int ox = 0; ox < c->out_w; ox++) {
      const size_t at = ((size_t)oy * c->out_w + ox) * c->out_ch;
      switch (c->kind) {
        case AIC_NN_CONV_U8S8:
          gather_u8(c, src, oy, ox, c->patch);
          sums_i32(c, (int32_t *)dst + at);
          break;
        case AIC_NN_CONV_S8S8:
          gather_s8(c, src, oy, ox, c->patch);
          sums_i32(c, (int32_t *)dst + at);
          break;
        case AIC_NN_CONV_F32:
          gather_f32(c, src, oy, ox, c->patch);
          sums_f32(c, (float *)dst + at);
          break;
      }
    }
  return AIC_OK;
}

int aic_nn_conv_ref(const aic_nn_conv_desc_t *desc, const void *src, void *dst) {
  if (!src || !dst) return AIC_EINVAL;
  aic_nn_ref_conv_t *c;
  int rc = aic_nn_ref_conv_create(desc, &c);
  if (rc != AIC_OK) return rc;
  rc = aic_nn_ref_conv_run(c, src, dst);
  aic_nn_ref_conv_free(&c);
  return rc;
}
