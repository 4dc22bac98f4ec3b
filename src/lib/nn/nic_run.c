/* The float transforms (g_a, h_a, g_s) layer by layer on the frame's buffers. Every layer reads
 * and writes frame.fa; int8 layers go through frame.q (quantized input) and frame.acc (exact
 * int32 sums), f32 layers through frame.fb / fc.
 *
 * A layer followed by an int8 layer also writes that layer's frame.q as it computes its output
 * (nic_quant_t), so the next layer starts with its input ready; frame.fa is then written only
 * when the next layer reads it too (GDN: x / norm). */
#include "aic/error.h"
#include "nic_internal.h"

static size_t elems(const nic_frame_t *f, int level, int ch) {
  return (size_t)f->h[level] * f->w[level] * ch;
}

/* The quantized input of `next` (or NULL: the end of the stack) as the layer before it can
 * write it; false when next quantizes nothing. *float_too: next reads frame.fa as well. */
static bool next_input(const nic_frame_t *f, const nic_layer_t *next, nic_quant_t *quant,
                       bool *float_too) {
  *quant = (nic_quant_t){0};
  *float_too = true;
  if (!next || !next->int8) return false;
  if (next->op == NIC_CONV) {
    *quant = (nic_quant_t){.q = f->q, .scale = next->in_scale, .u8 = next->in_u8};
    *float_too = false;
    return true;
  }
  if (next->op == NIC_GDN || next->op == NIC_IGDN) {
    /* its 1x1 convolution takes |x|; the division or product takes x */
    *quant = (nic_quant_t){.q = f->q, .scale = next->in_scale, .u8 = true, .absolute = true};
    return true;
  }
  return false; /* the integer ops run in nic_hyper.c, never after a float layer */
}

static int run_conv(aic_nic_t *nic, const nic_layer_t *l, const nic_layer_t *next, bool *ready) {
  nic_frame_t *f = &nic->frame;
  const int threads = nic->settings.threads;
  const int out = nic_layer_out_level(l), conv = out + (l->up ? 1 : 0);
  nic_finish_t fin = {.h = f->h[conv],
                      .w = f->w[conv],
                      .ch = l->out_ch,
                      .relu = l->relu,
                      .up = l->up,
                      .crop_h = f->h[out],
                      .crop_w = f->w[out]};
  bool float_too;
  const bool fused = next_input(f, next, &fin.quant, &float_too);
  float *dst = float_too ? f->fa : NULL;
  int rc;
  if (l->int8) {
    if (!*ready) {
      const nic_quant_t in = {.q = f->q, .scale = l->in_scale, .u8 = l->in_u8};
      nic_quantize(f->fa, elems(f, l->level, l->in_ch), &in, threads);
    }
    if ((rc = aic_nn_conv_run(l->plan, f->q, f->acc)) != AIC_OK) return rc;
    fin.mul = l->mul;
    fin.bias = l->bias;
    nic_finish_i32(f->acc, &fin, dst, threads);
  } else {
    /* The float kernel adds the bias itself. */
    if ((rc = aic_nn_conv_run(l->plan, f->fa, f->fb)) != AIC_OK) return rc;
    nic_finish_f32(f->fb, &fin, dst, threads);
  }
  *ready = fused;
  return AIC_OK;
}

static int run_gdn(aic_nic_t *nic, const nic_layer_t *l, const nic_layer_t *next, bool *ready) {
  nic_frame_t *f = &nic->frame;
  const int threads = nic->settings.threads;
  const size_t pixels = (size_t)f->h[l->level] * f->w[l->level];
  const size_t n = pixels * l->in_ch;
  const bool inverse = l->op == NIC_IGDN;
  int rc;
  if (l->int8) {
    if (!*ready) {
      const nic_quant_t in = {.q = f->q, .scale = l->in_scale, .u8 = true, .absolute = true};
      nic_quantize(f->fa, n, &in, threads);
    }
    if ((rc = aic_nn_conv_run(l->plan, f->q, f->acc)) != AIC_OK) return rc;
    nic_quant_t quant;
    bool float_too;
    const bool fused = next_input(f, next, &quant, &float_too);
    nic_gdn_i32(f->fa, f->acc, pixels, l->in_ch, l->bias, l->mul, inverse, fused ? &quant : NULL,
                float_too, threads);
    *ready = fused;
  } else {
    nic_abs(f->fa, n, f->fb, threads);
    if ((rc = aic_nn_conv_run(l->plan, f->fb, f->fc)) != AIC_OK) return rc; /* + beta */
    nic_gdn_f32(f->fa, f->fc, n, inverse, threads);
    *ready = false;
  }
  return AIC_OK;
}

int nic_run_stack(aic_nic_t *nic, nic_stack_t stack, bool input_ready) {
  bool ready = input_ready; /* the current layer's frame.q holds its input */
  for (size_t i = 0; i < stack.count; i++) {
    const nic_layer_t *l = &nic->layers[stack.first + i];
    const nic_layer_t *next = i + 1 < stack.count ? l + 1 : NULL;
    int rc = l->op == NIC_CONV ? run_conv(nic, l, next, &ready) : run_gdn(nic, l, next, &ready);
    if (rc != AIC_OK) return rc;
  }
  return AIC_OK;
}
