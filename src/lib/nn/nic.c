/* The learned-codec runner's API (nic.h): argument checks, the stages in order, the payload
 * (u32 z_size | z stream | y stream) and the timing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aic/error.h"
#include "conv_internal.h"
#include "entropy/latent_coder.h"
#include "nic_internal.h"
#include "core/byteorder.h"

void aic_nic_settings_default(aic_nic_settings_t *s) {
  if (!s) return;
  s->impl = AIC_NN_IMPL_AUTO;
  s->threads = 1;
  s->band_kib = 256;
  s->y_deadzone = AIC_NIC_Y_DEADZONE_DEFAULT;
  s->y_deadzone_per_bit = AIC_NIC_Y_DEADZONE_PER_BIT_DEFAULT;
}

/* Frequency of `value` in table t, or of its escape when the table does not cover it. */
static uint32_t table_freq(const aic_cdf_table_t *t, int32_t value) {
  int64_t s = (int64_t)value - t->offset;
  if (s < 0 || s > (int64_t)t->count - 2) s = t->count - 1;
  return t->cdf[s + 1] - t->cdf[s];
}

/* y_zero_near[t] from the settings and how many more bits +-1 costs than 0 in table t (the
 * dearer of +1 and -1). */
static void deadzone_thresholds(aic_nic_t *nic) {
  for (int t = 0; t < NIC_Y_TABLES; t++) {
    const aic_cdf_table_t *tab = &nic->y_tables[t];
    const uint32_t f0 = table_freq(tab, 0), fp = table_freq(tab, 1), fm = table_freq(tab, -1);
    const double extra = log2((double)f0 / (double)(fp < fm ? fp : fm));
    double scaled = nic->settings.y_deadzone_per_bit * (extra > 0.0 ? extra : 0.0);
    if (scaled > AIC_NIC_Y_DEADZONE_SCALED_MAX) scaled = AIC_NIC_Y_DEADZONE_SCALED_MAX;
    const long near = lround((nic->settings.y_deadzone + scaled) * 256.0);
    nic->y_zero_near[t] = (uint8_t)(near > 255 ? 255 : near);
  }
}

/* Codes as 0 the y values the deadzone takes (frame.y_near against the table each uses). */
static void apply_deadzone(aic_nic_t *nic, size_t ny) {
  nic_frame_t *f = &nic->frame;
  for (size_t i = 0; i < ny; i++)
    if (f->y_near[i] < nic->y_zero_near[f->index[i]]) f->y_hat[i] = 0;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

int aic_nic_create(const aic_model_file_t *model, const aic_nic_settings_t *settings,
                   aic_nic_t **out, char *why, size_t why_size) {
  if (why && why_size) why[0] = '\0';
  if (!out) return AIC_EINVAL;
  *out = NULL;
  if (!model) return AIC_EINVAL;
  aic_nic_settings_t s;
  aic_nic_settings_default(&s);
  if (settings) s = *settings;
  /* written so that a NaN deadzone fails it too */
  if (s.threads < 1 || s.band_kib < 0 || !(s.y_deadzone >= 0.0f && s.y_deadzone < 0.5f) ||
      !(s.y_deadzone_per_bit >= 0.0f && s.y_deadzone_per_bit <= 1.0f) ||
      (s.impl != AIC_NN_IMPL_AUTO && s.impl != AIC_NN_IMPL_REF && s.impl != AIC_NN_IMPL_DNNL))
    return AIC_EINVAL;
  /* What AUTO means is settled now (environment, oneDNN present), so that every plan of this
   * runner uses the same implementation whenever it can. */
  aic_nn_impl_t impl = aic_nn_impl_resolve(s.impl);
  const bool dnnl = impl != AIC_NN_IMPL_REF && aic_nn_dnnl_available() == AIC_OK;
  if (impl == AIC_NN_IMPL_DNNL && !dnnl) return AIC_EUNSUPPORTED;
  aic_nic_t *nic = calloc(1, sizeof *nic);
  if (!nic) return AIC_ENOMEM;
  nic->model = model;
  nic->settings = s;
  nic->settings.impl = impl == AIC_NN_IMPL_AUTO && !dnnl ? AIC_NN_IMPL_REF : impl;
  nic->impl = nic->settings.impl == AIC_NN_IMPL_REF ? AIC_NN_IMPL_REF : AIC_NN_IMPL_DNNL;
  int rc = nic_build(nic, why, why_size);
  if (rc != AIC_OK) goto fail;
  deadzone_thresholds(nic);
  *out = nic;
  return AIC_OK;
fail:
  aic_nic_free(&nic);
  return rc;
}

void aic_nic_free(aic_nic_t **nic) {
  if (!nic || !*nic) return;
  nic_frame_release(*nic);
  nic_unbuild(*nic);
  free(*nic);
  *nic = NULL;
}

unsigned aic_nic_levels(const aic_nic_t *nic) {
  return nic ? nic->levels : 0;
}

aic_nn_impl_t aic_nic_impl(const aic_nic_t *nic) {
  return nic ? nic->impl : AIC_NN_IMPL_REF;
}

static bool size_ok(int width, int height) {
  return width >= 1 && height >= 1 && width <= AIC_NIC_MAX_DIM && height <= AIC_NIC_MAX_DIM;
}

int aic_nic_shape(const aic_nic_t *nic, int width, int height, aic_nic_shape_t *shape) {
  if (!nic || !shape || !size_ok(width, height)) return AIC_EINVAL;
  int h = height, w = width; /* z_level >= y_level: h_a only goes down */
  for (int k = 0;; k++) {
    if (k == nic->y_level) {
      shape->y_h = h;
      shape->y_w = w;
    }
    if (k == nic->z_level) break;
    h = (h + 1) / 2;
    w = (w + 1) / 2;
  }
  shape->y_c = nic->M;
  shape->z_c = nic->Mz;
  shape->z_h = h;
  shape->z_w = w;
  return AIC_OK;
}

static bool image_ok(const aic_nic_t *nic, const void *rgb, size_t stride, int width, int height,
                     unsigned level) {
  return nic && rgb && size_ok(width, height) && stride >= (size_t)width * 3 && level < nic->levels;
}

/* g_a: RGB -> y (left in frame.fa) -> y_hat. */
static int run_analysis(aic_nic_t *nic, const uint8_t *rgb, size_t stride, unsigned level,
                        int32_t *y_hat, uint8_t *y_near) {
  nic_frame_t *f = &nic->frame;
  /* An int8 first convolution takes the pixels quantized directly (a table of 256 values). */
  const nic_layer_t *first = &nic->layers[nic->g_a.first];
  const bool direct = first->op == NIC_CONV && first->int8;
  nic_pixels_in(rgb, stride, f->width, f->height, first->in_scale, f->fa, direct ? f->q : NULL,
                nic->settings.threads);
  int rc = nic_run_stack(nic, nic->g_a, direct);
  if (rc != AIC_OK) return rc;
  const int k = nic->y_level;
  nic_latents_out(f->fa, f->h[k], f->w[k], nic->M, nic->gain_y + (size_t)level * nic->M, y_hat,
                  y_near, nic->settings.threads);
  return AIC_OK;
}

/* h_a: |y| (frame.fa, ungained) -> z -> z_hat. */
static int run_hyper_analysis(aic_nic_t *nic, unsigned level, int32_t *z_hat) {
  nic_frame_t *f = &nic->frame;
  const int ky = nic->y_level, kz = nic->z_level;
  const size_t n = (size_t)f->h[ky] * f->w[ky] * nic->M;
  nic_abs(f->fa, n, f->fa, nic->settings.threads);
  int rc = nic_run_stack(nic, nic->h_a, false);
  if (rc != AIC_OK) return rc;
  nic_latents_out(f->fa, f->h[kz], f->w[kz], nic->Mz, nic->gain_z + (size_t)level * nic->Mz, z_hat,
                  NULL, nic->settings.threads);
  return AIC_OK;
}

static int run_synthesis(aic_nic_t *nic, const int32_t *y_hat, unsigned level, uint8_t *rgb,
                         size_t stride) {
  nic_frame_t *f = &nic->frame;
  const int k = nic->y_level;
  nic_latents_in(y_hat, f->h[k], f->w[k], nic->M, nic->igain + (size_t)level * nic->M, f->fa,
                 nic->settings.threads);
  int rc = nic_run_stack(nic, nic->g_s, false);
  if (rc != AIC_OK) return rc;
  nic_pixels_out(f->fa, f->width, f->height, rgb, stride, nic->settings.threads);
  return AIC_OK;
}

int aic_nic_analyze(aic_nic_t *nic, const uint8_t *rgb, size_t stride, int width, int height,
                    unsigned level, int32_t *y_hat, int32_t *z_hat) {
  if (!image_ok(nic, rgb, stride, width, height, level) || !y_hat || !z_hat) return AIC_EINVAL;
  int rc = nic_frame_prepare(nic, width, height, NIC_PART_ANALYSIS);
  if (rc == AIC_OK) rc = run_analysis(nic, rgb, stride, level, y_hat, NULL);
  if (rc == AIC_OK) rc = run_hyper_analysis(nic, level, z_hat);
  return rc;
}

int aic_nic_scale_index(aic_nic_t *nic, const int32_t *z_hat, int width, int height, unsigned level,
                        uint8_t *index) {
  if (!nic || !z_hat || !index || !size_ok(width, height) || level >= nic->levels)
    return AIC_EINVAL;
  int rc = nic_frame_prepare(nic, width, height, NIC_PART_HYPER);
  return rc == AIC_OK ? nic_hyper_run(nic, z_hat, level, index) : rc;
}

int aic_nic_synthesize(aic_nic_t *nic, const int32_t *y_hat, int width, int height, unsigned level,
                       uint8_t *rgb, size_t stride) {
  if (!image_ok(nic, rgb, stride, width, height, level) || !y_hat) return AIC_EINVAL;
  int rc = nic_frame_prepare(nic, width, height, NIC_PART_SYNTHESIS);
  return rc == AIC_OK ? run_synthesis(nic, y_hat, level, rgb, stride) : rc;
}

static size_t y_count(const nic_frame_t *f, const aic_nic_t *nic) {
  return (size_t)nic->M * f->h[nic->y_level] * f->w[nic->y_level];
}
static size_t z_plane(const nic_frame_t *f, const aic_nic_t *nic) {
  return (size_t)f->h[nic->z_level] * f->w[nic->z_level];
}

static int write_streams(aic_nic_t *nic, unsigned level, aic_buf_t *out) {
  const nic_frame_t *f = &nic->frame;
  const size_t start = out->size;
  int rc = aic_buf_reserve(out, 4);
  if (rc != AIC_OK) return rc;
  out->size += 4;
  rc = aic_entropy_encode_factorized(nic->z_tables + (size_t)level * nic->Mz, (size_t)nic->Mz,
                                     f->z_hat, z_plane(f, nic), out);
  if (rc != AIC_OK) goto fail;
  const size_t z_size = out->size - start - 4;
  if (z_size > UINT32_MAX) {
    rc = AIC_ENOMEM;
    goto fail;
  }
  rc = aic_entropy_encode_indexed(nic->y_tables, NIC_Y_TABLES, f->index, f->y_hat, y_count(f, nic),
                                  out);
  if (rc != AIC_OK) goto fail;
  aic_put_le32(out->data + start, (uint32_t)z_size);
  return AIC_OK;
fail:
  out->size = start;
  return rc;
}

int aic_nic_encode(aic_nic_t *nic, const uint8_t *rgb, size_t stride, int width, int height,
                   unsigned level, aic_buf_t *out) {
  if (!image_ok(nic, rgb, stride, width, height, level) || !out) return AIC_EINVAL;
  nic->timing = (aic_nic_timing_t){0};
  double t0 = now_ms();
  int rc = nic_frame_prepare(nic, width, height, NIC_PART_ANALYSIS);
  double plans = now_ms() - t0;
  if (rc == AIC_OK) rc = run_analysis(nic, rgb, stride, level, nic->frame.y_hat, nic->frame.y_near);
  double t1 = now_ms();
  if (rc == AIC_OK) rc = nic_frame_prepare(nic, width, height, NIC_PART_HYPER);
  plans += now_ms() - t1;
  if (rc == AIC_OK) rc = run_hyper_analysis(nic, level, nic->frame.z_hat);
  if (rc == AIC_OK) rc = nic_hyper_run(nic, nic->frame.z_hat, level, nic->frame.index);
  if (rc == AIC_OK) apply_deadzone(nic, y_count(&nic->frame, nic));
  double t2 = now_ms();
  if (rc == AIC_OK) rc = write_streams(nic, level, out);
  double t3 = now_ms();
  nic->timing.analysis_ms = t1 - t0;
  nic->timing.hyper_ms = t2 - t1;
  nic->timing.entropy_ms = t3 - t2;
  nic->timing.plans_ms = plans;
  return rc;
}

/* Any failure to decode a stream is the payload's fault; memory is the only other cause. */
static int stream_error(int rc) {
  return rc == AIC_ENOMEM ? rc : AIC_ECORRUPT;
}

int aic_nic_decode(aic_nic_t *nic, const uint8_t *payload, size_t size, int width, int height,
                   unsigned level, uint8_t *rgb, size_t stride) {
  if (!image_ok(nic, rgb, stride, width, height, level) || (!payload && size)) return AIC_EINVAL;
  nic->timing = (aic_nic_timing_t){0};
  if (size < 4) return AIC_ECORRUPT;
  const size_t z_size = aic_get_le32(payload);
  if (z_size > size - 4) return AIC_ECORRUPT;
  const uint8_t *z = payload + 4, *y = z + z_size;
  const size_t y_size = size - 4 - z_size;
  double t0 = now_ms();
  int rc = nic_frame_prepare(nic, width, height, NIC_PART_HYPER | NIC_PART_SYNTHESIS);
  if (rc != AIC_OK) return rc;
  nic_frame_t *f = &nic->frame;
  double t1 = now_ms();
  nic->timing.plans_ms = t1 - t0;
  rc = aic_entropy_decode_factorized(nic->z_tables + (size_t)level * nic->Mz, (size_t)nic->Mz, z,
                                     z_size, f->z_hat, z_plane(f, nic));
  if (rc != AIC_OK) return stream_error(rc);
  double t2 = now_ms();
  if ((rc = nic_hyper_run(nic, f->z_hat, level, f->index)) != AIC_OK) return rc;
  double t3 = now_ms();
  rc = aic_entropy_decode_indexed(nic->y_tables, NIC_Y_TABLES, f->index, y, y_size, f->y_hat,
                                  y_count(f, nic));
  if (rc != AIC_OK) return stream_error(rc);
  double t4 = now_ms();
  rc = run_synthesis(nic, f->y_hat, level, rgb, stride);
  double t5 = now_ms();
  /* Building plans for a new size counts as the hyper stage, the first that needs them. */
  nic->timing.entropy_ms = (t2 - t1) + (t4 - t3);
  nic->timing.hyper_ms = (t1 - t0) + (t3 - t2);
  nic->timing.synthesis_ms = t5 - t4;
  return rc;
}

/* frame.rgb for a width x height picture (sizing the frame first, which frees it on a change) */
static int rgb_buffer(aic_nic_t *nic, int width, int height) {
  int rc = nic_frame_prepare(nic, width, height, 0);
  if (rc != AIC_OK) return rc;
  nic_frame_t *f = &nic->frame;
  if (!f->rgb && !(f->rgb = malloc((size_t)width * height * 3))) return AIC_ENOMEM;
  return AIC_OK;
}

int aic_nic_encode_i420(aic_nic_t *nic, const uint8_t *i420, int width, int height, unsigned level,
                        aic_buf_t *out) {
  if (!nic || !i420 || !out || !size_ok(width, height) || level >= nic->levels) return AIC_EINVAL;
  double t0 = now_ms();
  int rc = rgb_buffer(nic, width, height);
  if (rc != AIC_OK) return rc;
  nic_i420_to_rgb(i420, width, height, nic->frame.rgb, nic->settings.threads);
  double convert = now_ms() - t0;
  rc = aic_nic_encode(nic, nic->frame.rgb, (size_t)width * 3, width, height, level, out);
  nic->timing.convert_ms = convert;
  return rc;
}

int aic_nic_decode_i420(aic_nic_t *nic, const uint8_t *payload, size_t size, int width, int height,
                        unsigned level, uint8_t *i420) {
  if (!nic || !i420 || (!payload && size) || !size_ok(width, height) || level >= nic->levels)
    return AIC_EINVAL;
  int rc = rgb_buffer(nic, width, height);
  if (rc != AIC_OK) return rc;
  rc = aic_nic_decode(nic, payload, size, width, height, level, nic->frame.rgb, (size_t)width * 3);
  if (rc != AIC_OK) return rc;
  double t0 = now_ms();
  nic_rgb_to_i420(nic->frame.rgb, width, height, i420, nic->settings.threads);
  nic->timing.convert_ms = now_ms() - t0;
  return AIC_OK;
}

void aic_nic_last_timing(const aic_nic_t *nic, aic_nic_timing_t *timing) {
  if (!timing) return;
  *timing = nic ? nic->timing : (aic_nic_timing_t){0};
}
