/* Buffers and convolution plans for one frame size. Sizing happens once per size: a frame of
 * the same size as the last one allocates nothing. Plans are built per part (analysis, hyper,
 * synthesis) on first use, so a decode-only runner never builds the encoder's. */
#include <stdlib.h>

#include "aic/error.h"
#include "nic_internal.h"

int nic_layer_conv_level(const nic_layer_t *l) {
  return l->level + (l->stride == 2 ? 1 : 0);
}

int nic_layer_out_level(const nic_layer_t *l) {
  return nic_layer_conv_level(l) - (l->up ? 1 : 0);
}

static void free_layer_plans(nic_layer_t *l) {
  aic_nn_conv_plan_free(&l->plan);
  for (int i = 0; i < l->band_plan_count; i++) aic_nn_conv_plan_free(&l->band_plans[i]);
  free(l->band_plans);
  free(l->bands);
  l->band_plans = NULL;
  l->bands = NULL;
  l->band_plan_count = l->band_count = 0;
  l->paired = false;
}

static void free_plans(aic_nic_t *nic, nic_stack_t s) {
  for (size_t i = 0; i < s.count; i++) free_layer_plans(&nic->layers[s.first + i]);
}

void nic_frame_release(aic_nic_t *nic) {
  nic_frame_t *f = &nic->frame;
  free_plans(nic, nic->g_a);
  free_plans(nic, nic->h_a);
  free_plans(nic, nic->h_s);
  free_plans(nic, nic->g_s);
  free(f->fa);
  free(f->fb);
  free(f->fc);
  free(f->acc);
  free(f->q);
  free(f->q2);
  free(f->scratch);
  free(f->rgb);
  free(f->y_hat);
  free(f->z_hat);
  free(f->index);
  free(f->y_near);
  *f = (nic_frame_t){0};
}

/* Element counts each buffer needs, over every layer. */
typedef struct needs {
  size_t fa, fb, fc, acc, q;
} needs_t;

static size_t max_size(size_t a, size_t b) {
  return a > b ? a : b;
}

static void layer_needs(const nic_frame_t *f, const nic_layer_t *l, needs_t *n) {
  const int out = nic_layer_out_level(l), conv = nic_layer_conv_level(l);
  const size_t in = (size_t)f->h[l->level] * f->w[l->level] * l->in_ch;
  const size_t sums = (size_t)f->h[conv] * f->w[conv] * l->out_ch;
  const size_t result = (size_t)f->h[out] * f->w[out] * (l->up ? l->out_ch / 4 : l->out_ch);
  const bool integer = l->op == NIC_QCONV || l->op == NIC_QINDEX;
  if (!integer) n->fa = max_size(n->fa, max_size(in, result));
  if (l->int8) {
    n->q = max_size(n->q, in);
    n->acc = max_size(n->acc, sums);
    if (l->op == NIC_QCONV) n->q = max_size(n->q, result); /* requantized in place */
  } else if (l->op == NIC_CONV) {
    n->fb = max_size(n->fb, sums);
  } else { /* f32 GDN: |x| and the norm */
    n->fb = max_size(n->fb, in);
    n->fc = max_size(n->fc, in);
  }
}

static void *alloc_elems(size_t n, size_t elem) {
  return n ? malloc(n * elem) : NULL;
}

static int size_frame(aic_nic_t *nic, int width, int height) {
  nic_frame_t *f = &nic->frame;
  f->h[0] = height;
  f->w[0] = width;
  for (int k = 1; k <= NIC_MAX_LEVEL; k++) {
    f->h[k] = (f->h[k - 1] + 1) / 2;
    f->w[k] = (f->w[k - 1] + 1) / 2;
  }
  needs_t n = {.fa = (size_t)width * height * 3, .q = (size_t)width * height * 3};
  for (size_t i = 0; i < nic->layer_count; i++) layer_needs(f, &nic->layers[i], &n);
  const size_t ny = (size_t)nic->M * f->h[nic->y_level] * f->w[nic->y_level];
  const size_t nz = (size_t)nic->Mz * f->h[nic->z_level] * f->w[nic->z_level];
  f->fa = alloc_elems(n.fa, sizeof(float));
  f->fb = alloc_elems(n.fb, sizeof(float));
  f->fc = alloc_elems(n.fc, sizeof(float));
  f->acc = alloc_elems(n.acc, sizeof(int32_t));
  f->q = alloc_elems(n.q, 1);
  f->q2 = alloc_elems(n.q, 1);
  f->y_hat = alloc_elems(ny, sizeof(int32_t));
  f->z_hat = alloc_elems(nz, sizeof(int32_t));
  f->index = alloc_elems(ny, 1);
  f->y_near = alloc_elems(ny, 1);
  if ((n.fa && !f->fa) || (n.fb && !f->fb) || (n.fc && !f->fc) || (n.acc && !f->acc) ||
      (n.q && (!f->q || !f->q2)) || !f->y_hat || !f->z_hat || !f->index || !f->y_near)
    return AIC_ENOMEM;
  f->width = width;
  f->height = height;
  return AIC_OK;
}

static aic_nn_conv_desc_t layer_desc(const nic_frame_t *f, const nic_layer_t *l) {
  return (aic_nn_conv_desc_t){.kind = !l->int8   ? AIC_NN_CONV_F32
                                      : l->in_u8 ? AIC_NN_CONV_U8S8
                                                 : AIC_NN_CONV_S8S8,
                              .in_ch = l->in_ch,
                              .out_ch = l->out_ch,
                              .kernel = l->kernel,
                              .stride = l->stride,
                              .in_h = f->h[l->level],
                              .in_w = f->w[l->level],
                              .weight = l->weight,
                              /* int8 layers add their (float or int64) bias outside the kernel;
                               * float GDN's beta is the 1x1 convolution's bias */
                              .bias = l->int8 ? NULL : l->bias};
}

/* Rows per band: about band_kib KiB of int32 sums, at least 1. 0 when the layer runs whole:
 * banding off, a float layer, or fewer than two bands' worth of rows per thread. */
static int band_rows(const aic_nic_t *nic, const nic_layer_t *l) {
  const nic_frame_t *f = &nic->frame;
  if (nic->settings.band_kib == 0 || !l->int8 ||
      (l->op != NIC_CONV && l->op != NIC_GDN && l->op != NIC_IGDN))
    return 0;
  const int conv = nic_layer_conv_level(l);
  const size_t row = (size_t)f->w[conv] * l->out_ch * sizeof(int32_t);
  size_t rows = (size_t)nic->settings.band_kib * 1024 / row;
  if (rows < 1) rows = 1;
  if ((size_t)f->h[conv] < 2 * rows * (size_t)nic->settings.threads) return 0;
  return (int)rows;
}

/* Band bd's plan: the one its thread already has for the same geometry, or a new one. */
static int band_plan(aic_nic_t *nic, nic_layer_t *l, nic_band_t *bd, aic_nn_conv_desc_t *d,
                     aic_nn_conv_desc_t *descs) {
  for (int k = 0; k < l->band_count - 1; k++) {
    const aic_nn_conv_desc_t *e = &descs[l->bands[k].plan];
    if (l->bands[k].thread == bd->thread && e->in_h == d->in_h && e->pad_top == d->pad_top &&
        e->pad_bottom == d->pad_bottom) {
      bd->plan = l->bands[k].plan;
      return AIC_OK;
    }
  }
  bd->plan = l->band_plan_count;
  descs[bd->plan] = *d;
  int rc = aic_nn_conv_plan_create(d, nic->settings.impl, 1, &l->band_plans[bd->plan]);
  if (rc == AIC_OK) l->band_plan_count++;
  return rc;
}

/* Room for n bands and their plans in l, and the descriptors the plans are matched by (the
 * caller frees them with bands_done). */
static int bands_alloc(nic_layer_t *l, int n, aic_nn_conv_desc_t **descs) {
  l->bands = calloc((size_t)n, sizeof *l->bands);
  l->band_plans = calloc((size_t)n, sizeof *l->band_plans);
  *descs = calloc((size_t)n, sizeof **descs);
  return l->bands && l->band_plans && *descs ? AIC_OK : AIC_ENOMEM;
}

/* Frees the descriptors; on an error also whatever l holds. Returns rc. */
static int bands_done(nic_layer_t *l, aic_nn_conv_desc_t *descs, int rc) {
  free(descs);
  if (rc != AIC_OK) free_layer_plans(l);
  return rc;
}

/* A GDN after a banded convolution: one band per convolution band, over the rows it wrote
 * (twice as many after a depth-to-space, cropped). A 1x1 convolution: no padding, no halo. */
static int build_paired_bands(aic_nic_t *nic, nic_layer_t *l, const nic_layer_t *conv) {
  const nic_frame_t *f = &nic->frame;
  const int up = conv->up ? 2 : 1, h = f->h[l->level];
  const int n = conv->band_count;
  aic_nn_conv_desc_t *descs;
  int rc = bands_alloc(l, n, &descs);
  for (int i = 0; i < n && rc == AIC_OK; i++) {
    const nic_band_t *cb = &conv->bands[i];
    const int y0 = cb->oy0 * up, y1 = cb->oy1 * up < h ? cb->oy1 * up : h;
    nic_band_t *bd = &l->bands[l->band_count++];
    *bd = (nic_band_t){.thread = cb->thread, .oy0 = y0, .oy1 = y1, .in0 = y0, .plan = -1};
    aic_nn_conv_desc_t d = layer_desc(f, l);
    d.band = true;
    d.in_h = y1 - y0;
    rc = band_plan(nic, l, bd, &d, descs);
  }
  if (rc == AIC_OK) l->paired = true;
  return bands_done(l, descs, rc);
}

/* The bands of a layer: each thread's share of the output rows (contiguous, as even as rows
 * allow), cut into bands of `rows`; a plan per distinct (thread, input rows, padding). */
static int build_bands(aic_nic_t *nic, nic_layer_t *l, int rows) {
  const nic_frame_t *f = &nic->frame;
  const int T = nic->settings.threads < NIC_BAND_THREADS ? nic->settings.threads : NIC_BAND_THREADS;
  const int K = l->kernel, S = l->stride, P = K / 2;
  const int conv = nic_layer_conv_level(l), H = f->h[conv], in_h = f->h[l->level];
  int n = 0;
  for (int t = 0; t < T; t++) {
    const int a = H * t / T, b = H * (t + 1) / T;
    n += (b - a + rows - 1) / rows;
  }
  aic_nn_conv_desc_t *descs;
  int rc = bands_alloc(l, n, &descs);
  for (int t = 0; t < T && rc == AIC_OK; t++) {
    for (int y = H * t / T, end = H * (t + 1) / T; y < end && rc == AIC_OK; y += rows) {
      nic_band_t *bd = &l->bands[l->band_count++];
      const int y1 = y + rows < end ? y + rows : end;
      const int first = y * S - P, last = (y1 - 1) * S - P + K - 1;
      aic_nn_conv_desc_t d = layer_desc(f, l);
      d.band = true;
      d.pad_top = first < 0 ? -first : 0;
      d.pad_bottom = last > in_h - 1 ? last - (in_h - 1) : 0;
      d.in_h = (last < in_h - 1 ? last : in_h - 1) - (first > 0 ? first : 0) + 1;
      *bd =
          (nic_band_t){.thread = t, .oy0 = y, .oy1 = y1, .in0 = first > 0 ? first : 0, .plan = -1};
      const size_t floats = (size_t)(y1 - y) * f->w[conv] * (size_t)l->out_ch;
      if (floats > nic->frame.band_floats) nic->frame.band_floats = floats;
      rc = band_plan(nic, l, bd, &d, descs);
    }
  }
  return bands_done(l, descs, rc);
}

static int build_plans(aic_nic_t *nic, nic_stack_t s) {
  const nic_frame_t *f = &nic->frame;
  for (size_t i = 0; i < s.count; i++) {
    nic_layer_t *l = &nic->layers[s.first + i];
    const nic_layer_t *prev = i > 0 ? l - 1 : NULL;
    const int rows = band_rows(nic, l);
    int rc;
    if (rows > 0 && prev && prev->op == NIC_CONV && prev->band_count > 0 && l->op != NIC_CONV) {
      rc = build_paired_bands(nic, l, prev);
    } else if (rows > 0) {
      rc = build_bands(nic, l, rows);
    } else {
      aic_nn_conv_desc_t d = layer_desc(f, l);
      rc = aic_nn_conv_plan_create(&d, nic->settings.impl, nic->settings.threads, &l->plan);
    }
    if (rc != AIC_OK) {
      free_plans(nic, s);
      return rc;
    }
  }
  return AIC_OK;
}

int nic_frame_prepare(aic_nic_t *nic, int width, int height, unsigned parts) {
  nic_frame_t *f = &nic->frame;
  int rc;
  if (f->width != width || f->height != height) {
    nic_frame_release(nic);
    if ((rc = size_frame(nic, width, height)) != AIC_OK) goto fail;
  }
  const struct {
    unsigned part;
    nic_stack_t a, b;
  } parts_of[] = {{NIC_PART_ANALYSIS, nic->g_a, nic->h_a},
                  {NIC_PART_HYPER, nic->h_s, {0, 0}},
                  {NIC_PART_SYNTHESIS, nic->g_s, {0, 0}}};
  for (size_t i = 0; i < sizeof parts_of / sizeof parts_of[0]; i++) {
    if (!(parts & parts_of[i].part) || (f->built & parts_of[i].part)) continue;
    if ((rc = build_plans(nic, parts_of[i].a)) != AIC_OK) return rc;
    if ((rc = build_plans(nic, parts_of[i].b)) != AIC_OK) {
      free_plans(nic, parts_of[i].a);
      return rc;
    }
    f->built |= parts_of[i].part;
  }
  /* every part built so far may pair layers: the scratch fits the largest band of any */
  const size_t need = f->band_floats * (size_t)nic->settings.threads;
  if (need > f->scratch_size) {
    float *p = realloc(f->scratch, need * sizeof *p);
    if (!p) return AIC_ENOMEM;
    f->scratch = p;
    f->scratch_size = need;
  }
  return AIC_OK;
fail:
  nic_frame_release(nic);
  return rc;
}
