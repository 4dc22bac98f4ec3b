/* Internals of the learned-codec runner (nic.h), shared by its files:
 *   nic_build.c   the model's layers -> a checked layer list and entropy tables
 *   nic_frame.c   buffers and convolution plans for one frame size
 *   nic_pass.c    per-element passes (quantize, dequantize + depth-to-space, GDN, latents)
 *   nic_par.c     splits a pass over settings.threads threads (OpenMP)
 *   nic_run.c     the float transforms g_a, h_a, g_s
 *   nic_hyper.c   the integer hyper-synthesis (bit-exact: it chooses the probability tables)
 *   nic.c         the public API, the payload and the timing
 *
 * Activations are HWC (conv.h), latents at the API C x H x W. A "level" is a scale: 0 is the
 * frame, each stride-2 convolution adds one and each depth-to-space removes one; the size at
 * level k is the encoder's, ceil(n / 2) k times (models.down_sizes), which is what every
 * depth-to-space crops to. */
#ifndef AIC_NN_NIC_INTERNAL_H
#define AIC_NN_NIC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entropy/cdf.h"
#include "nic.h"

#define NIC_MAX_LEVEL 16 /* stride-2 steps a model may take (8192 is 1 after 13) */
#define NIC_Y_TABLES 64  /* the Gaussian tables of y; the index layer clamps to 0..63 */
/* The largest |y_hat|, |z_hat| an encoder writes: far beyond any real latent; the clamp keeps
 * float -> int conversions defined (and within nic_pass.c's exact rounding range). */
#define NIC_LATENT_MAX (1 << 20)

typedef enum nic_op {
  NIC_CONV,   /* conv2d, f32 or int8 (quantize, exact int32 sums, dequantize) */
  NIC_GDN,    /* gdn_lite:  x / (beta + gamma |x|) */
  NIC_IGDN,   /* igdn_lite: x * (beta + gamma |x|) */
  NIC_QCONV,  /* qconv2d: integer conv, requantized with ReLU to u8 (h_s) */
  NIC_QINDEX, /* qconv2d_index: integer conv to Gaussian table indices (last h_s layer) */
} nic_op_t;

#define NIC_BAND_THREADS 64 /* banded layers use at most this many threads */
/* A band of a layer's convolution output rows [oy0, oy1), run by one thread (banded layers,
 * nic_run.c): its input starts at row in0 and plans[plan] is built for its geometry. */
typedef struct nic_band {
  int thread, oy0, oy1, in0, plan;
} nic_band_t;

typedef struct nic_layer {
  const char *name;
  nic_op_t op;
  int in_ch, out_ch, kernel, stride;
  int level;                   /* level of the input; the output is at level + (stride == 2) - up */
  bool up;                     /* followed by depth-to-space by 2: out_ch / 4 channels, cropped */
  bool relu;                   /* NIC_CONV */
  bool int8;                   /* int8 weights (always for the integer ops) */
  bool in_u8;                  /* the input is never negative: u8 0..255, else s8 -127..127 */
  float in_scale;              /* int8 float layers: the input's quantization step */
  const void *weight;          /* int8_t or float, out x in x k x k (gamma: out x in) */
  const float *bias;           /* NIC_CONV bias or GDN beta, [out_ch] */
  float *mul;                  /* owned, int8 float layers: in_scale * weight scale[o] */
  const int32_t *ibias;        /* NIC_QCONV [out_ch] */
  const int32_t *mult, *shift; /* integer ops [out_ch] */
  const int32_t *offset;       /* NIC_QINDEX [levels x out_ch] */
  aic_nn_conv_plan_t *plan;    /* for the current frame size, or NULL */
  /* Banded (int8 NIC_CONV / NIC_GDN with enough rows): instead of plan, one single-threaded
   * plan per band geometry and thread, shared by that thread's bands of the same geometry. */
  nic_band_t *bands;
  int band_count;
  aic_nn_conv_plan_t **band_plans;
  int band_plan_count;
  /* A GDN banded with the convolution before it: band i covers the rows conv band i wrote, and
   * runs right after it on the same thread (nic_run.c). */
  bool paired;
} nic_layer_t;

typedef struct nic_stack {
  size_t first, count; /* layers[first .. first + count) */
} nic_stack_t;

enum { NIC_PART_ANALYSIS = 1, NIC_PART_HYPER = 2, NIC_PART_SYNTHESIS = 4 };

/* Everything that depends on the frame size. */
typedef struct nic_frame {
  int width, height; /* 0: nothing built */
  int h[NIC_MAX_LEVEL + 1], w[NIC_MAX_LEVEL + 1];
  unsigned built;         /* NIC_PART_* whose plans exist */
  float *fa;              /* the activation every float layer reads and writes */
  float *fb, *fc;         /* f32 layers: conv output before depth-to-space, |x|, GDN norm */
  int32_t *acc;           /* int8 layers: the int32 sums */
  void *q;                /* int8 layers: the quantized input (uint8_t or int8_t) */
  void *q2;               /* the same size: a banded convolution quantizes its output here (its
                           * input rows are still being read by other bands), then q and q2 swap */
  float *scratch;         /* per thread, band_floats each: a paired convolution's float output
                           * (its GDN's x), which then never goes to memory as frame.fa */
  size_t band_floats;     /* the most values of any band of any banded layer */
  size_t scratch_size;    /* floats allocated at scratch */
  uint8_t *rgb;           /* the _i420 calls' RGB24 picture, allocated on first use */
  int32_t *y_hat, *z_hat; /* C x H x W, for encode / decode */
  uint8_t *index;
  /* encoder, per y value: (|v| - 1/2) * 256 where v rounded to +-1, else 255 (nic.c's
   * apply_deadzone reads it) */
  uint8_t *y_near;
} nic_frame_t;

struct aic_nic {
  const aic_model_file_t *model;
  aic_nic_settings_t settings;
  aic_nn_impl_t impl;
  unsigned levels;
  int M, Mz; /* channels of y and z */
  int y_level, z_level;
  nic_layer_t *layers;
  size_t layer_count;
  nic_stack_t g_a, h_a, h_s, g_s;
  const float *gain_y, *gain_z, *igain; /* [levels x M], [levels x Mz], [levels x M] */
  const int32_t *in_mult, *in_shift;    /* h_s.in, [levels x Mz] */
  aic_cdf_table_t *z_tables;            /* levels x Mz */
  uint32_t *z_cdf;
  aic_cdf_table_t y_tables[NIC_Y_TABLES];
  uint32_t *y_cdf;
  /* the encoder's deadzone per y table: a y_near below this is coded as 0 (nic.c) */
  uint8_t y_zero_near[NIC_Y_TABLES];
  nic_frame_t frame;
  aic_nic_timing_t timing;
};

/* nic_build.c: fills the model-derived fields of nic (layers, stacks, tables) or returns
 * AIC_ECORRUPT with `why`, or AIC_ENOMEM. nic_unbuild frees what it allocated. */
int nic_build(aic_nic_t *nic, char *why, size_t why_size);
void nic_unbuild(aic_nic_t *nic);

/* nic_frame.c: makes the buffers for width x height and the plans of `parts` ready (rebuilding
 * everything when the size changed). Returns 0, AIC_ENOMEM, AIC_EUNSUPPORTED or AIC_EINVAL
 * (a plan the implementation refused). nic_frame_release frees it all. */
int nic_frame_prepare(aic_nic_t *nic, int width, int height, unsigned parts);
void nic_frame_release(aic_nic_t *nic);
/* Output level of a layer, and of its convolution's own output (before a depth-to-space). */
int nic_layer_out_level(const nic_layer_t *l);
int nic_layer_conv_level(const nic_layer_t *l);

/* nic_run.c: runs a float stack (g_a, h_a, g_s) in place on frame.fa; when input_ready the
 * first layer's quantized input is already in frame.q. Returns 0 or a plan's error. */
int nic_run_stack(aic_nic_t *nic, nic_stack_t stack, bool input_ready);

/* nic_hyper.c: the integer h_s from z_hat (C x H x W at z_level) to the table index of every
 * y symbol (C x H x W at y_level). Returns 0 or a plan's error. */
int nic_hyper_run(aic_nic_t *nic, const int32_t *z_hat, unsigned level, uint8_t *index);

/* nic_par.c: calls fn(ctx, begin, end) on contiguous ranges that cover [0, n) exactly once, at
 * most `threads` of them at once, each on its own thread. `work` (elements the whole pass
 * touches) below NIC_PAR_MIN_WORK runs fn(ctx, 0, n) on the calling thread: a team's start-up
 * and barrier cost more than a small pass. */
#define NIC_PAR_MIN_WORK ((size_t)1 << 16)
typedef void (*nic_par_fn_t)(void *ctx, size_t begin, size_t end);
void nic_par_for(int threads, size_t n, size_t work, nic_par_fn_t fn, void *ctx);

/* nic_pass.c: per-element passes, each split over `threads` (every element is computed alone,
 * so the split changes no result). A pass that ends a layer can also write the next int8
 * layer's quantized input from the float values it has just computed (nic_quant_t), which
 * saves reading them back from memory.
 *
 * A quantization: q = clamp(round_half_even(x / scale), lo, hi) with [lo, hi] = [0, 255] (u8,
 * of |x| when absolute) or [-127, 127]; NaN goes to lo. */
typedef struct nic_quant {
  void *q; /* uint8_t (u8) or int8_t, indexed like the float values; NULL: none */
  float scale;
  bool u8, absolute;
} nic_quant_t;
void nic_quantize(const float *x, size_t n, const nic_quant_t *quant, int threads);
void nic_abs(const float *x, size_t n, float *dst, int threads);

typedef struct nic_finish {
  int h, w, ch;      /* the convolution's output */
  const float *mul;  /* int32 input: value = acc * mul[o] (+ bias) */
  const float *bias; /* or NULL */
  bool relu, up;     /* up: depth-to-space by 2 into crop_h x crop_w x ch / 4 */
  int crop_h, crop_w;
  nic_quant_t quant; /* the next layer's input, or quant.q NULL */
  size_t dst_origin; /* dst[0] is this element of the output (a band's buffer), else 0 */
} nic_finish_t;
/* dst may be NULL when f->quant.q is set: the float values are then not stored. */
void nic_finish_i32(const int32_t *acc, const nic_finish_t *f, float *dst, int threads);
/* The same for convolution output rows [y0, y1) only, on the calling thread (banded layers). */
void nic_finish_i32_rows(const int32_t *acc, const nic_finish_t *f, float *dst, int y0, int y1);
void nic_finish_f32(const float *src, const nic_finish_t *f, float *dst, int threads);
/* x = x / norm or x * norm, norm = beta[c] + acc * mul[c] (int8) or the float norm. With
 * `next` (or NULL) the result is also quantized into next->q, and x is left as it was unless
 * keep. */
void nic_gdn_i32(float *x, const int32_t *acc, size_t pixels, int ch, const float *beta,
                 const float *mul, bool inverse, const nic_quant_t *next, bool keep, int threads);
/* The same for pixels [p0, p1) only, on the calling thread (banded layers); x and acc hold
 * those pixels only (x[0], acc[0]: pixel p0's first channel). */
void nic_gdn_i32_pixels(float *x, const int32_t *acc, size_t p0, size_t p1, int ch,
                        const float *beta, const float *mul, bool inverse, const nic_quant_t *next,
                        bool keep);
void nic_gdn_f32(float *x, const float *norm, size_t n, bool inverse, int threads);
/* RGB24 -> x = pixel / 255 as float (q NULL) or quantized with scale into q (u8). */
void nic_pixels_in(const uint8_t *rgb, size_t stride, int w, int h, float scale, float *x,
                   uint8_t *q, int threads);
/* BT.601 I420 <-> RGB24 of a width x height picture (core/convert_rows.h), split by rows. */
void nic_i420_to_rgb(const uint8_t *i420, int w, int h, uint8_t *rgb, int threads);
void nic_rgb_to_i420(const uint8_t *rgb, int w, int h, uint8_t *i420, int threads);
/* x -> round(clamp(x, 0, 1) * 255), HWC with 3 channels. */
void nic_pixels_out(const float *x, int w, int h, uint8_t *rgb, size_t stride, int threads);
/* HWC float -> C x H x W int32: round_half_even(v), v = x * gain[c] clamped to
 * +-NIC_LATENT_MAX; and, when near is not NULL, near[i] = min(254, (|v| - 1/2) * 256) where the
 * value rounded to +-1, 255 elsewhere (what nic.c's deadzone needs of v). */
void nic_latents_out(const float *x, int h, int w, int ch, const float *gain, int32_t *out,
                     uint8_t *near, int threads);
/* C x H x W int32 -> HWC float: latent * gain[c]. */
void nic_latents_in(const int32_t *in, int h, int w, int ch, const float *gain, float *x,
                    int threads);

#endif
