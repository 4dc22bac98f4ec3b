/* Convolution kernels of the learned codec, behind one interface with two implementations:
 * the portable C reference (conv_ref.c) and oneDNN (conv_dnnl.c), chosen at run time.
 *
 * Activations are HWC (channels last, row-major, no padding between rows). Weights are given
 * as the model file stores them, O x I x K x K (PyTorch order); an implementation repacks
 * them once at plan time. Padding is K / 2 on every side (zeros), stride 1 or 2, so the output
 * is ceil(h / stride) x ceil(w / stride).
 *
 * A plan can also cover a band of rows of a taller input (desc.band): its input is the rows
 * the band's outputs read, with pad_top / pad_bottom zero rows where the band touches the
 * picture's top or bottom. Int8 sums are exact, so a layer computed band by band gives the
 * same int32 values as the whole picture at once.
 *
 * Two kinds:
 *  - int8: input u8 (0..255) or s8 (-127..127), weights s8, output the exact int32 sums
 *    (+ an optional int32 bias). Exact integer arithmetic: every implementation and every ISA
 *    gives the same int32 values, which is what makes the decoder reproducible. The caller
 *    quantizes and dequantizes in C (nic.c), so no float rounding happens inside a kernel.
 *  - f32: input, weights, bias and output float; results may differ between implementations
 *    by rounding (used only for layers the exporter kept in float).
 *
 * A plan is built once per layer and input size and reused for every frame: it owns repacked
 * weights and, for oneDNN, the primitive. Running a plan allocates nothing. A plan is used by
 * one thread at a time (oneDNN parallelises inside with its own threads). */
#ifndef AIC_NN_CONV_H
#define AIC_NN_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum aic_nn_impl {
  AIC_NN_IMPL_AUTO = 0, /* oneDNN when it initialises, else the reference */
  AIC_NN_IMPL_REF = 1,  /* portable C */
  AIC_NN_IMPL_DNNL = 2  /* oneDNN (fails if it cannot be used) */
} aic_nn_impl_t;

typedef enum aic_nn_conv_kind {
  AIC_NN_CONV_U8S8 = 1, /* u8 input, s8 weights, s32 output */
  AIC_NN_CONV_S8S8 = 2, /* s8 input, s8 weights, s32 output */
  AIC_NN_CONV_F32 = 3   /* f32 input, weights, output */
} aic_nn_conv_kind_t;

typedef struct aic_nn_conv_desc {
  aic_nn_conv_kind_t kind;
  int in_ch, out_ch, kernel, stride; /* kernel odd, 1..7; stride 1 or 2 */
  int in_h, in_w;                    /* input size; the output size follows */
  const void *weight;                /* int8_t or float, O x I x K x K; borrowed for the call */
  const void *bias;                  /* int32_t (int8 kinds) or float (f32), [O], or NULL */
  /* band: the input is a band of rows; pad_top and pad_bottom (each 0..kernel / 2) zero rows
   * replace the K / 2 above and the ceil rule below, and the output has
   * (in_h + pad_top + pad_bottom - kernel) / stride + 1 rows (aic_nn_conv_out_rows). */
  bool band;
  int pad_top, pad_bottom;
} aic_nn_conv_desc_t;

typedef struct aic_nn_conv_plan aic_nn_conv_plan_t;

/* Builds a plan. impl AUTO/REF/DNNL as above; threads >= 1 is the oneDNN thread count (the
 * reference is single-threaded). Returns 0, AIC_EINVAL (bad desc), AIC_ENOMEM, or
 * AIC_EUNSUPPORTED (impl DNNL and oneDNN cannot build it). *out owns everything it needs. */
int aic_nn_conv_plan_create(const aic_nn_conv_desc_t *desc, aic_nn_impl_t impl, int threads,
                            aic_nn_conv_plan_t **out);
void aic_nn_conv_plan_free(aic_nn_conv_plan_t **plan);

/* Which implementation the plan runs: AIC_NN_IMPL_REF or AIC_NN_IMPL_DNNL. */
aic_nn_impl_t aic_nn_conv_plan_impl(const aic_nn_conv_plan_t *plan);

/* Runs the plan: src is in_h x in_w x in_ch (uint8_t, int8_t or float by kind), dst is
 * out_h x out_w x out_ch (int32_t for int8 kinds, float for f32). Returns 0, AIC_EINVAL, or
 * for oneDNN plans AIC_ENOMEM / AIC_EUNSUPPORTED when oneDNN fails while executing. */
int aic_nn_conv_run(aic_nn_conv_plan_t *plan, const void *src, void *dst);

/* Output size for an input size: ceil(n / stride). */
static inline int aic_nn_conv_out(int n, int stride) { return (n + stride - 1) / stride; }

/* Output rows of a descriptor (conv.h's rule, or the band's). */
static inline int aic_nn_conv_out_rows(const aic_nn_conv_desc_t *d) {
  return d->band ? (d->in_h + d->pad_top + d->pad_bottom - d->kernel) / d->stride + 1
                 : aic_nn_conv_out(d->in_h, d->stride);
}

/* Reference implementation, used by the plan and directly by tests. */
int aic_nn_conv_ref(const aic_nn_conv_desc_t *desc, const void *src, void *dst);

/* oneDNN: 0 when oneDNN can run here, else AIC_EUNSUPPORTED; the ISA name oneDNN chose
 * ("avx2", "avx512_core_vnni", ...) or "none". */
int aic_nn_dnnl_available(void);
const char *aic_nn_dnnl_isa(void);

#endif
