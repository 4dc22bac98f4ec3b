/* The float transforms (g_a, h_a, g_s) layer by layer on the frame's buffers. Every layer reads
 * and writes frame.fa; int8 layers go through frame.q (quantized input) and frame.acc (exact
 * int32 sums), f32 layers through frame.fb / fc. */
#include "aic/error.h"
#include "nic_internal.h"

static size_t elems(const nic_frame_t *f, int level, int ch) {
  return (size_t)f->h[level] * f->w[level] * ch;
}

static int run_conv(aic_nic_t *nic, const nic_layer_t *l, bool input_ready) {
  nic_frame_t *f = &nic->frame;
  const int out = nic_layer_out_level(l), conv = out + (l->up ? 1 : 0);
  nic_finish_t fin = {.h = f->h[conv],
                      .w = f->w[conv],
                      .ch = l->out_ch,
                      .relu = l->relu,
                      .up = l->up,
                      .crop_h = f->h[out],
                      .crop_w = f->w[out]};
  int rc;
  if (l->int8) {
    if (!input_ready)
      nic_quantize(f->fa, elems(f, l->level, l->in_ch), l->in_scale, l->in_u8, false, f->q);
    if ((rc = aic_nn_conv_run(l->plan, f->q, f->acc)) != AIC_OK) return rc;
    fin.mul = l->mul;
    fin.bias = l->bias;
    nic_finish_i32(f->acc, &fin, f->fa);
  } else {
    /* The float kernel adds the bias itself. */
    if ((rc = aic_nn_conv_run(l->plan, f->fa, f->fb)) != AIC_OK) return rc;
    nic_finish_f32(f->fb, &fin, f->fa);
  }
  return AIC_OK;
}

static int run_gdn(aic_nic_t *nic, const nic_layer_t *l) {
  nic_frame_t *f = &nic->frame;
  const size_t pixels = (size_t)f->h[l->level] * f->w[l->level];
  const size_t n = pixels * l->in_ch;
  const bool inverse = l->op == NIC_IGDN;
  int rc;
  if (l->int8) {
    nic_quantize(f->fa, n, l->in_scale, true, true, f->q);
    if ((rc = aic_nn_conv_run(l->plan, f->q, f->acc)) != AIC_OK) return rc;
    nic_gdn_i32(f->fa, f->acc, pixels, l->in_ch, l->bias, l->mul, inverse);
  } else {
    nic_abs(f->fa, n, f->fb);
    if ((rc = aic_nn_conv_run(l->plan, f->fb, f->fc)) != AIC_OK) return rc; /* + beta */
    nic_gdn_f32(f->fa, f->fc, n, inverse);
  }
  return AIC_OK;
}

int nic_run_stack(aic_nic_t *nic, nic_stack_t stack, bool input_ready) {
  for (size_t i = 0; i < stack.count; i++) {
    const nic_layer_t *l = &nic->layers[stack.first + i];
    int rc = l->op == NIC_CONV ? run_conv(nic, l, input_ready && i == 0) : run_gdn(nic, l);
    if (rc != AIC_OK) return rc;
  }
  return AIC_OK;
}
