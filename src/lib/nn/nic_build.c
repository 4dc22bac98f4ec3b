/* Reads a loaded .aicm model into the runner's layer list and entropy tables. The loader has
 * checked the file's structure; this checks that its layers form the network the runner
 * executes (docs/decisions/0002-neural-codec.md, "What the model file carries"):
 *
 *   g_a   conv2d / gdn_lite ...            3 channels at level 0 -> M at y_level
 *   gain  y [L, M], z [L, Mz]              (encoder gains)
 *   abs
 *   h_a   conv2d ...                       M -> Mz at z_level
 *   z     entropy_factorized [L * Mz tables]
 *   h_s.in requant_in [L, Mz]
 *   h_s   qconv2d (+ depth_to_space) ... qconv2d_index    back to M at y_level
 *   y     entropy_gaussian [64 tables]
 *   igain gain y [L, M]
 *   g_s   conv2d / igdn_lite / depth_to_space ...          back to 3 at level 0
 *
 * The stacks are read generically (any number of layers, channels, odd kernels up to 7), but
 * every shape has to chain, every tensor has to have the dtype and dims its role needs, and the
 * integer layers' constants have to keep the int64 arithmetic of nic_hyper.c in range. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "nic_internal.h"

typedef struct builder {
  aic_nic_t *nic;
  const aic_model_file_t *m;
  size_t next, count; /* model layers */
  char *why;
  size_t why_size;
  int ch, level; /* the activation the next layer reads */
  bool nonneg;   /* ... and whether it is never negative (abs, ReLU, pixels) */
} builder_t;

typedef enum stack_kind { STACK_GA, STACK_HA, STACK_HS, STACK_GS } stack_kind_t;
static const char *const stack_names[] = {"g_a", "h_a", "h_s", "g_s"};

static int fail(builder_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(builder_t *b, const char *fmt, ...) {
  if (b->why && b->why_size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->why, b->why_size, fmt, ap);
    va_end(ap);
  }
  return AIC_ECORRUPT;
}

static const aic_layer_t *peek(const builder_t *b) {
  return b->next < b->count ? aic_model_layer(b->m, b->next) : NULL;
}

static bool is(const aic_layer_t *l, const char *type) {
  return l && strcmp(l->type, type) == 0;
}

/* The next layer, which must have `type`. */
static int expect(builder_t *b, const char *type, const aic_layer_t **out) {
  const aic_layer_t *l = peek(b);
  if (!l) return fail(b, "the model ends where a '%s' layer should follow", type);
  if (!is(l, type))
    return fail(b, "layer '%s' is a '%s' where a '%s' layer should follow", l->name, l->type, type);
  b->next++;
  *out = l;
  return AIC_OK;
}

static void shape_text(unsigned rank, const uint32_t *dims, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (unsigned i = 0; i < rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? "x%u" : "%u", (unsigned)dims[i]);
}

/* The tensor under `role`, which must be of `dtype` and exactly `dims`; f32 values finite. */
static int tensor(builder_t *b, const aic_layer_t *l, const char *role, aic_dtype_t dtype,
                  unsigned rank, const uint32_t *dims, const aic_tensor_t **out) {
  const aic_tensor_t *t = aic_layer_tensor(l, role);
  if (!t) return fail(b, "layer '%s' has no '%s' tensor", l->name, role);
  bool ok = t->dtype == dtype && t->rank == rank;
  for (unsigned i = 0; ok && i < rank; i++) ok = t->dims[i] == dims[i];
  if (!ok) {
    char want[64], got[64];
    shape_text(rank, dims, want, sizeof want);
    shape_text(t->rank, t->dims, got, sizeof got);
    return fail(b, "layer '%s': tensor '%s' (%s) is %s [%s], expected %s [%s]", l->name, t->name,
                role, aic_dtype_name(t->dtype), got, aic_dtype_name(dtype), want);
  }
  if (dtype == AIC_DTYPE_F32)
    for (size_t i = 0; i < t->count; i++)
      if (!isfinite(((const float *)t->data)[i]))
        return fail(b, "layer '%s': tensor '%s' holds a non-finite value", l->name, t->name);
  *out = t;
  return AIC_OK;
}

#define DIMS(...) ((const uint32_t[]){__VA_ARGS__})

/* Weights of a float layer: f32, or int8 per output channel with the input's scale. Fills
 * weight, int8, in_scale and mul. */
static int weights(builder_t *b, const aic_layer_t *l, const char *role, unsigned rank,
                   const uint32_t *dims, nic_layer_t *n) {
  const aic_tensor_t *t = aic_layer_tensor(l, role);
  if (t && t->dtype == AIC_DTYPE_I8) {
    int rc = tensor(b, l, role, AIC_DTYPE_I8, rank, dims, &t);
    if (rc != AIC_OK) return rc;
    if (t->quant != AIC_QUANT_CHANNEL || t->axis != 0 || t->zero_point != 0)
      return fail(b,
                  "layer '%s': int8 tensor '%s' is not quantized per output channel "
                  "(axis 0, zero point 0)",
                  l->name, t->name);
    const aic_tensor_t *s;
    if ((rc = tensor(b, l, "in_scale", AIC_DTYPE_F32, 1, DIMS(1), &s)) != AIC_OK) return rc;
    n->in_scale = *(const float *)s->data;
    if (!(n->in_scale > 0.0f))
      return fail(b, "layer '%s': in_scale %g is not positive", l->name, (double)n->in_scale);
    /* the exact int32 sums of conv.h: every product at most 255 * 128 */
    int64_t terms = 1;
    for (unsigned k = 1; k < rank; k++) terms *= dims[k];
    if (terms * 255 * 128 > INT32_MAX)
      return fail(b, "layer '%s': too many int8 products per output for int32 sums", l->name);
    n->mul = malloc(dims[0] * sizeof *n->mul);
    if (!n->mul) return AIC_ENOMEM;
    for (uint32_t o = 0; o < dims[0]; o++) n->mul[o] = n->in_scale * t->scales[o];
    n->int8 = true;
  } else {
    int rc = tensor(b, l, role, AIC_DTYPE_F32, rank, dims, &t);
    if (rc != AIC_OK) return rc;
  }
  n->weight = t->data;
  return AIC_OK;
}

static int check_chain(builder_t *b, const aic_layer_t *l) {
  if ((int)l->in != b->ch)
    return fail(b, "layer '%s' takes %u channels but receives %d", l->name, l->in, b->ch);
  bool relu_ok = is(l, "conv2d") || is(l, "qconv2d");
  if (strcmp(l->act, "none") != 0 && !(relu_ok && strcmp(l->act, "relu") == 0))
    return fail(b, "layer '%s': activation '%s' is not supported here", l->name, l->act);
  return AIC_OK;
}

static int conv_shape(builder_t *b, const aic_layer_t *l, bool down_ok, nic_layer_t *n) {
  if (l->kernel % 2 == 0 || l->kernel > 7)
    return fail(b, "layer '%s': kernel %u (odd, at most 7 supported)", l->name, l->kernel);
  if (l->stride != 1 && !(down_ok && l->stride == 2))
    return fail(b, "layer '%s': stride %u not supported here", l->name, l->stride);
  n->name = l->name;
  n->in_ch = (int)l->in;
  n->out_ch = (int)l->out;
  n->kernel = (int)l->kernel;
  n->stride = (int)l->stride;
  n->level = b->level;
  n->in_u8 = b->nonneg;
  if (l->stride == 2 && ++b->level > NIC_MAX_LEVEL)
    return fail(b, "layer '%s': more than %d stride-2 steps", l->name, NIC_MAX_LEVEL);
  return AIC_OK;
}

static int parse_conv(builder_t *b, const aic_layer_t *l, bool down_ok, nic_layer_t *n) {
  int rc = conv_shape(b, l, down_ok, n);
  if (rc != AIC_OK) return rc;
  const aic_tensor_t *bias;
  if ((rc = weights(b, l, "weight", 4, DIMS(l->out, l->in, l->kernel, l->kernel), n)) ||
      (rc = tensor(b, l, "bias", AIC_DTYPE_F32, 1, DIMS(l->out), &bias)))
    return rc;
  n->op = NIC_CONV;
  n->bias = bias->data;
  n->relu = strcmp(l->act, "relu") == 0;
  b->ch = n->out_ch;
  b->nonneg = n->relu;
  return AIC_OK;
}

static int parse_gdn(builder_t *b, const aic_layer_t *l, bool inverse, nic_layer_t *n) {
  if (l->out != l->in) return fail(b, "layer '%s': %u channels in, %u out", l->name, l->in, l->out);
  const aic_tensor_t *beta;
  int rc;
  if ((rc = tensor(b, l, "beta", AIC_DTYPE_F32, 1, DIMS(l->in), &beta)) ||
      (rc = weights(b, l, "gamma", 2, DIMS(l->in, l->in), n)))
    return rc;
  n->name = l->name;
  n->op = inverse ? NIC_IGDN : NIC_GDN;
  n->in_ch = n->out_ch = (int)l->in;
  n->kernel = n->stride = 1;
  n->level = b->level;
  n->in_u8 = true; /* gamma multiplies |x| */
  n->bias = beta->data;
  b->nonneg = false;
  return AIC_OK;
}

/* |v| + the largest possible int32 sum of the layer must fit int32, so that nic_hyper.c's
 * int64 products (< 2^31 * 2^31) cannot overflow. */
static int check_int_terms(builder_t *b, const aic_layer_t *l, const aic_tensor_t *t) {
  const int64_t sums = (int64_t)l->kernel * l->kernel * l->in * 255 * 128;
  if (sums > INT32_MAX) return fail(b, "layer '%s': its int32 sums could overflow", l->name);
  const int32_t *v = t->data;
  for (size_t i = 0; i < t->count; i++)
    if (llabs((long long)v[i]) > INT32_MAX - sums)
      return fail(b, "layer '%s': %s[%zu] = %d would overflow the accumulator", l->name, t->name, i,
                  (int)v[i]);
  return AIC_OK;
}

/* Requantization constants: mult in [2^30, 2^31), shift in 1..62 (quant.mult_shift). */
static int check_mult_shift(builder_t *b, const aic_layer_t *l, const aic_tensor_t *mult,
                            const aic_tensor_t *shift) {
  const int32_t *m = mult->data, *s = shift->data;
  for (size_t i = 0; i < mult->count; i++)
    if (m[i] < (1 << 30) || s[i] < 1 || s[i] > 62)
      return fail(b, "layer '%s': multiplier %d / 2^%d at %zu out of range", l->name, (int)m[i],
                  (int)s[i], i);
  return AIC_OK;
}

static int parse_qconv(builder_t *b, const aic_layer_t *l, bool index, nic_layer_t *n) {
  int rc = conv_shape(b, l, false, n);
  if (rc != AIC_OK) return rc;
  if (index != (strcmp(l->act, "none") == 0))
    return fail(b, "layer '%s': activation must be %s", l->name, index ? "none" : "relu");
  const aic_tensor_t *w, *mult, *shift, *terms;
  const unsigned L = b->nic->levels;
  if ((rc = tensor(b, l, "weight", AIC_DTYPE_I8, 4, DIMS(l->out, l->in, l->kernel, l->kernel),
                   &w)) ||
      (rc = tensor(b, l, "mult", AIC_DTYPE_I32, 1, DIMS(l->out), &mult)) ||
      (rc = tensor(b, l, "shift", AIC_DTYPE_I32, 1, DIMS(l->out), &shift)) ||
      (rc = index ? tensor(b, l, "offset", AIC_DTYPE_I32, 2, DIMS(L, l->out), &terms)
                  : tensor(b, l, "bias", AIC_DTYPE_I32, 1, DIMS(l->out), &terms)) ||
      (rc = check_mult_shift(b, l, mult, shift)) || (rc = check_int_terms(b, l, terms)))
    return rc;
  n->op = index ? NIC_QINDEX : NIC_QCONV;
  n->int8 = true;
  n->weight = w->data;
  n->mult = mult->data;
  n->shift = shift->data;
  if (index)
    n->offset = terms->data;
  else
    n->ibias = terms->data;
  b->ch = n->out_ch;
  b->nonneg = true;
  return AIC_OK;
}

/* depth_to_space folds into the layer before it: that layer's output is rearranged and
 * cropped on the way out. */
static int parse_up(builder_t *b, const aic_layer_t *l, nic_layer_t *prev) {
  if (!prev || (prev->op != NIC_CONV && prev->op != NIC_QCONV) || prev->up)
    return fail(b, "layer '%s': depth_to_space must follow a convolution", l->name);
  if (l->stride != 2 || l->in != 4 * l->out)
    return fail(b, "layer '%s': only depth-to-space by 2 (4C -> C channels) is supported", l->name);
  if (b->level < 1) return fail(b, "layer '%s': upsamples beyond the frame size", l->name);
  prev->up = true;
  b->ch = (int)l->out;
  b->level--;
  return AIC_OK;
}

static bool accepts(stack_kind_t kind, const aic_layer_t *l) {
  switch (kind) {
    case STACK_GA: return is(l, "conv2d") || is(l, "gdn_lite");
    case STACK_HA: return is(l, "conv2d");
    case STACK_HS: return is(l, "qconv2d") || is(l, "qconv2d_index") || is(l, "depth_to_space");
    case STACK_GS: return is(l, "conv2d") || is(l, "igdn_lite") || is(l, "depth_to_space");
  }
  return false;
}

static int parse_stack(builder_t *b, stack_kind_t kind, nic_stack_t *s) {
  aic_nic_t *nic = b->nic;
  s->first = nic->layer_count;
  s->count = 0;
  bool convs = false, done = false;
  const aic_layer_t *l;
  while (!done && (l = peek(b)) != NULL && accepts(kind, l)) {
    b->next++;
    int rc = check_chain(b, l);
    if (rc != AIC_OK) return rc;
    if (is(l, "depth_to_space")) {
      rc = parse_up(b, l, s->count ? &nic->layers[nic->layer_count - 1] : NULL);
      if (rc != AIC_OK) return rc;
      continue;
    }
    nic_layer_t *n = &nic->layers[nic->layer_count++];
    s->count++;
    const bool down_ok = kind == STACK_GA || kind == STACK_HA;
    if (is(l, "conv2d"))
      rc = parse_conv(b, l, down_ok, n);
    else if (is(l, "gdn_lite") || is(l, "igdn_lite"))
      rc = parse_gdn(b, l, is(l, "igdn_lite"), n);
    else
      rc = parse_qconv(b, l, (done = is(l, "qconv2d_index")), n);
    if (rc != AIC_OK) return rc;
    convs |= n->op == NIC_CONV || n->op == NIC_QINDEX;
  }
  if (!convs) {
    l = peek(b);
    return fail(b, "%s: no %s before %s", stack_names[kind],
                kind == STACK_HS ? "qconv2d_index layer" : "convolution",
                l ? l->name : "the end of the model");
  }
  return AIC_OK;
}

/* A set of CDF tables from count / offset / cdf tensors, copied into owned uint32 arrays and
 * validated one by one. */
static int parse_tables(builder_t *b, const aic_layer_t *l, uint32_t n, aic_cdf_table_t *tables,
                        uint32_t **storage) {
  const aic_tensor_t *count, *offset, *cdf = aic_layer_tensor(l, "cdf");
  int rc;
  if ((rc = tensor(b, l, "count", AIC_DTYPE_I32, 1, DIMS(n), &count)) ||
      (rc = tensor(b, l, "offset", AIC_DTYPE_I32, 1, DIMS(n), &offset)))
    return rc;
  const int32_t *cn = count->data, *off = offset->data;
  size_t total = 0;
  for (uint32_t t = 0; t < n; t++) {
    if (cn[t] < 2 || (uint32_t)cn[t] > AIC_CDF_MAX_SYMBOLS)
      return fail(b, "layer '%s': table %u has %d symbols", l->name, t, (int)cn[t]);
    total += (size_t)cn[t] + 1;
  }
  if (!cdf || cdf->dtype != AIC_DTYPE_I32 || cdf->rank != 1 || cdf->count != total)
    return fail(b, "layer '%s': the cdf tensor must be i32 [%zu] for these counts", l->name, total);
  uint32_t *u = malloc(total * sizeof *u);
  if (!u) return AIC_ENOMEM;
  *storage = u;
  const int32_t *src = cdf->data;
  for (size_t i = 0; i < total; i++) u[i] = (uint32_t)src[i]; /* negative: refused below */
  for (uint32_t t = 0; t < n; t++) {
    tables[t] = (aic_cdf_table_t){.count = (uint32_t)cn[t], .offset = off[t], .cdf = u};
    if (aic_cdf_validate(&tables[t]) != AIC_OK)
      return fail(b, "layer '%s': table %u is not a valid CDF", l->name, t);
    u += cn[t] + 1;
  }
  return AIC_OK;
}

static int parse_same_ch(builder_t *b, const char *type, int ch, const aic_layer_t **l) {
  int rc = expect(b, type, l);
  if (rc != AIC_OK) return rc;
  if ((int)(*l)->in != ch || (int)(*l)->out != ch)
    return fail(b, "layer '%s': %u -> %u channels, expected %d", (*l)->name, (*l)->in, (*l)->out,
                ch);
  if (strcmp((*l)->act, "none") != 0)
    return fail(b, "layer '%s': activation '%s' is not supported here", (*l)->name, (*l)->act);
  return AIC_OK;
}

/* After g_a: the gains, |y| and h_a, z's tables and the input requantization of h_s. */
static int parse_encoder_side(builder_t *b) {
  aic_nic_t *nic = b->nic;
  const unsigned L = nic->levels;
  const aic_layer_t *gain, *l;
  const aic_tensor_t *t;
  int rc;
  if ((rc = parse_same_ch(b, "gain", nic->M, &gain)) ||
      (rc = tensor(b, gain, "y", AIC_DTYPE_F32, 2, DIMS(L, nic->M), &t)))
    return rc;
  nic->gain_y = t->data;
  if ((rc = parse_same_ch(b, "abs", nic->M, &l))) return rc;
  b->nonneg = true;
  if ((rc = parse_stack(b, STACK_HA, &nic->h_a))) return rc;
  nic->Mz = b->ch;
  nic->z_level = b->level;
  if ((rc = tensor(b, gain, "z", AIC_DTYPE_F32, 2, DIMS(L, nic->Mz), &t))) return rc;
  nic->gain_z = t->data;
  nic->z_tables = calloc((size_t)L * nic->Mz, sizeof *nic->z_tables);
  if (!nic->z_tables) return AIC_ENOMEM;
  if ((rc = parse_same_ch(b, "entropy_factorized", nic->Mz, &l)) ||
      (rc = parse_tables(b, l, L * (uint32_t)nic->Mz, nic->z_tables, &nic->z_cdf)))
    return rc;
  const aic_tensor_t *mult, *shift;
  if ((rc = parse_same_ch(b, "requant_in", nic->Mz, &l)) ||
      (rc = tensor(b, l, "mult", AIC_DTYPE_I32, 2, DIMS(L, nic->Mz), &mult)) ||
      (rc = tensor(b, l, "shift", AIC_DTYPE_I32, 2, DIMS(L, nic->Mz), &shift)) ||
      (rc = check_mult_shift(b, l, mult, shift)))
    return rc;
  nic->in_mult = mult->data;
  nic->in_shift = shift->data;
  b->nonneg = false;
  return AIC_OK;
}

/* After h_s: y's tables and the inverse gains. */
static int parse_decoder_side(builder_t *b) {
  aic_nic_t *nic = b->nic;
  const aic_layer_t *l;
  const aic_tensor_t *t;
  int rc;
  if ((rc = parse_same_ch(b, "entropy_gaussian", nic->M, &l)) ||
      (rc = parse_tables(b, l, NIC_Y_TABLES, nic->y_tables, &nic->y_cdf)))
    return rc;
  if (aic_layer_tensor(l, "scale") &&
      (rc = tensor(b, l, "scale", AIC_DTYPE_F32, 1, DIMS(NIC_Y_TABLES), &t)))
    return rc;
  if ((rc = parse_same_ch(b, "gain", nic->M, &l)) ||
      (rc = tensor(b, l, "y", AIC_DTYPE_F32, 2, DIMS(nic->levels, nic->M), &t)))
    return rc;
  nic->igain = t->data;
  return AIC_OK;
}

int nic_build(aic_nic_t *nic, char *why, size_t why_size) {
  builder_t b = {.nic = nic,
                 .m = nic->model,
                 .count = aic_model_layer_count(nic->model),
                 .why = why,
                 .why_size = why_size,
                 .ch = 3,
                 .nonneg = true};
  nic->levels = aic_model_levels(nic->model);
  nic->layers = calloc(b.count ? b.count : 1, sizeof *nic->layers);
  if (!nic->layers) return AIC_ENOMEM;
  int rc;
  if ((rc = parse_stack(&b, STACK_GA, &nic->g_a))) return rc;
  nic->M = b.ch;
  nic->y_level = b.level;
  if ((rc = parse_encoder_side(&b)) || (rc = parse_stack(&b, STACK_HS, &nic->h_s))) return rc;
  if (b.level != nic->y_level || b.ch != nic->M)
    return fail(&b, "h_s ends with %d channels at 1/%d scale, y has %d at 1/%d", b.ch, 1 << b.level,
                nic->M, 1 << nic->y_level);
  if ((rc = parse_decoder_side(&b))) return rc;
  b.nonneg = false;
  if ((rc = parse_stack(&b, STACK_GS, &nic->g_s))) return rc;
  if (b.level != 0 || b.ch != 3)
    return fail(&b, "g_s ends with %d channels at 1/%d scale, not RGB at full size", b.ch,
                1 << b.level);
  const aic_layer_t *extra = peek(&b);
  if (extra) return fail(&b, "layer '%s' ('%s') follows the synthesis", extra->name, extra->type);
  return AIC_OK;
}

void nic_unbuild(aic_nic_t *nic) {
  for (size_t i = 0; nic->layers && i < nic->layer_count; i++) free(nic->layers[i].mul);
  free(nic->layers);
  free(nic->z_tables);
  free(nic->z_cdf);
  free(nic->y_cdf);
  nic->layers = NULL;
  nic->z_tables = NULL;
  nic->z_cdf = nic->y_cdf = NULL;
  nic->layer_count = 0;
}
