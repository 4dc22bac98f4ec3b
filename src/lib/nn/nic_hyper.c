/* The integer hyper-synthesis: z_hat -> the Gaussian table of every y symbol, bit for bit
 * train/quant.py's IntHyperSynthesis (docs/decisions/0002-neural-codec.md, "Bit-exact
 * decoding", item 4). Encoder and decoder both run it, so any difference here is a decoding
 * failure, not a quality loss.
 *
 * The convolutions are exact int32 sums from the plans (no bias: it is added here in int64);
 * everything else is int64 arithmetic whose ranges nic_build.c checked against the model:
 * |sum + bias| < 2^31 and mult < 2^31, so products stay below 2^62, and shift is 1..62. */
#include "aic/error.h"
#include "nic_internal.h"

/* floor(v / 2^s) for any sign. C leaves >> of a negative value implementation-defined, so the
 * negative case goes through ~v = -v - 1 >= 0: floor(v / 2^s) = ~((~v) >> s). */
static inline int64_t floor_shift(int64_t v, int s) {
  return v >= 0 ? v >> s : ~(~v >> s);
}

/* floor((v + 2^(s-1)) / 2^s): round half up, quant._rshift. */
static inline int64_t rshift(int64_t v, int s) {
  return floor_shift(v + ((int64_t)1 << (s - 1)), s);
}

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* a0[c] = clamp(rshift(z_hat[c] * in_mult[l][c], in_shift[l][c]), -127, 127), C x H x W in,
 * HWC s8 out. */
static void requant_in(const aic_nic_t *nic, const int32_t *z_hat, unsigned level, int8_t *a) {
  const int h = nic->frame.h[nic->z_level], w = nic->frame.w[nic->z_level], C = nic->Mz;
  const size_t plane = (size_t)h * w;
  const int32_t *mult = nic->in_mult + (size_t)level * C,
                *shift = nic->in_shift + (size_t)level * C;
  for (int c = 0; c < C; c++)
    for (size_t p = 0; p < plane; p++) {
      int64_t v = rshift((int64_t)z_hat[c * plane + p] * mult[c], shift[c]);
      a[p * C + c] = (int8_t)clamp64(v, -127, 127);
    }
}

/* a'[o] = clamp(rshift((acc[o] + bias[o]) * mult[o], shift[o]), 0, 255), then depth-to-space
 * and crop when the layer is followed by one (same placement as nic_pass.c's finish). */
static void requant_relu(const nic_layer_t *l, const int32_t *acc, int h, int w, int crop_h,
                         int crop_w, uint8_t *a) {
  const int O = l->out_ch;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const int32_t *s = acc + ((size_t)y * w + x) * O;
      for (int o = 0; o < O; o++) {
        size_t at;
        if (l->up) {
          int oy = 2 * y + ((o >> 1) & 1), ox = 2 * x + (o & 1);
          if (oy >= crop_h || ox >= crop_w) continue;
          at = ((size_t)oy * crop_w + ox) * (O / 4) + (o >> 2);
        } else {
          at = ((size_t)y * w + x) * O + o;
        }
        int64_t v = ((int64_t)s[o] + l->ibias[o]) * l->mult[o];
        a[at] = (uint8_t)clamp64(rshift(v, l->shift[o]), 0, 255);
      }
    }
}

/* idx[o] = clamp(floor((acc[o] + offset[l][o]) * mult[o] / 2^shift[o]), 0, 63), HWC in,
 * C x H x W out. */
static void requant_index(const nic_layer_t *l, const int32_t *acc, int h, int w, unsigned level,
                          uint8_t *index) {
  const int O = l->out_ch;
  const size_t plane = (size_t)h * w;
  const int32_t *off = l->offset + (size_t)level * O;
  for (size_t p = 0; p < plane; p++)
    for (int o = 0; o < O; o++) {
      int64_t v = ((int64_t)acc[p * O + o] + off[o]) * l->mult[o];
      index[o * plane + p] = (uint8_t)clamp64(floor_shift(v, l->shift[o]), 0, NIC_Y_TABLES - 1);
    }
}

int nic_hyper_run(aic_nic_t *nic, const int32_t *z_hat, unsigned level, uint8_t *index) {
  nic_frame_t *f = &nic->frame;
  requant_in(nic, z_hat, level, f->q);
  for (size_t i = 0; i < nic->h_s.count; i++) {
    const nic_layer_t *l = &nic->layers[nic->h_s.first + i];
    int rc = aic_nn_conv_run(l->plan, f->q, f->acc);
    if (rc != AIC_OK) return rc;
    const int out = nic_layer_out_level(l), conv = nic_layer_conv_level(l);
    if (l->op == NIC_QINDEX)
      requant_index(l, f->acc, f->h[conv], f->w[conv], level, index);
    else
      requant_relu(l, f->acc, f->h[conv], f->w[conv], f->h[out], f->w[out], f->q);
  }
  return AIC_OK;
}
