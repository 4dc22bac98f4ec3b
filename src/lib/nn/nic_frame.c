/* Buffers and convolution plans for one frame size. Sizing happens once per size: a frame of
 * the same size as the last one allocates nothing. Plans are built per part (analysis, hyper,
 * synthesis) on first use, so a decode-only runner never builds the encoder's. */
#include <stdlib.h>

#include "aic/error.h"
#include "nic_internal.h"

int nic_layer_out_level(const nic_layer_t *l) {
  return l->level + (l->stride == 2 ? 1 : 0) - (l->up ? 1 : 0);
}

static void free_plans(aic_nic_t *nic, nic_stack_t s) {
  for (size_t i = 0; i < s.count; i++) aic_nn_conv_plan_free(&nic->layers[s.first + i].plan);
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
  free(f->y_hat);
  free(f->z_hat);
  free(f->index);
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
  const int out = nic_layer_out_level(l), conv = out + (l->up ? 1 : 0);
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
  f->y_hat = alloc_elems(ny, sizeof(int32_t));
  f->z_hat = alloc_elems(nz, sizeof(int32_t));
  f->index = alloc_elems(ny, 1);
  if ((n.fa && !f->fa) || (n.fb && !f->fb) || (n.fc && !f->fc) || (n.acc && !f->acc) ||
      (n.q && !f->q) || !f->y_hat || !f->z_hat || !f->index)
    return AIC_ENOMEM;
  f->width = width;
  f->height = height;
  return AIC_OK;
}

static int build_plans(aic_nic_t *nic, nic_stack_t s) {
  const nic_frame_t *f = &nic->frame;
  for (size_t i = 0; i < s.count; i++) {
    nic_layer_t *l = &nic->layers[s.first + i];
    aic_nn_conv_desc_t d = {.kind = !l->int8   ? AIC_NN_CONV_F32
                                    : l->in_u8 ? AIC_NN_CONV_U8S8
                                               : AIC_NN_CONV_S8S8,
                            .in_ch = l->in_ch,
                            .out_ch = l->out_ch,
                            .kernel = l->kernel,
                            .stride = l->stride,
                            .in_h = f->h[l->level],
                            .in_w = f->w[l->level],
                            .weight = l->weight,
                            /* int8 layers add their (float or int64) bias outside the kernel; float
                             * GDN's beta is the 1x1 convolution's bias */
                            .bias = l->int8 ? NULL : l->bias};
    int rc = aic_nn_conv_plan_create(&d, nic->settings.impl, nic->settings.threads, &l->plan);
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
  return AIC_OK;
fail:
  nic_frame_release(nic);
  return rc;
}
