/* Internals shared by the convolution files: the reference implementation's plan object
 * (conv_ref.c), the descriptor check both implementations apply, and the choice of
 * implementation (conv_plan.c). Not part of conv.h because only libaic's nn/ files use them. */
#ifndef AIC_NN_CONV_INTERNAL_H
#define AIC_NN_CONV_INTERNAL_H

#include "conv.h"

/* 0 when desc describes a convolution conv.h allows (kind, channels, odd kernel 1..7,
 * stride 1 or 2, sizes >= 1, weights present, int32 sums that cannot overflow), else
 * AIC_EINVAL. */
int aic_nn_conv_desc_check(const aic_nn_conv_desc_t *desc);

/* The implementation a request resolves to before any plan is built: AUTO becomes REF or DNNL
 * when the environment variable AIC_NN_IMPL is "ref" or "dnnl", else stays AUTO. */
aic_nn_impl_t aic_nn_impl_resolve(aic_nn_impl_t requested);

/* The reference plan: repacked weights and a zero-bordered copy of the input, so that running
 * it allocates nothing. desc->weight and bias are borrowed for the call only. */
typedef struct aic_nn_ref_conv aic_nn_ref_conv_t;
int aic_nn_ref_conv_create(const aic_nn_conv_desc_t *desc, aic_nn_ref_conv_t **out);
int aic_nn_ref_conv_run(aic_nn_ref_conv_t *conv, const void *src, void *dst);
void aic_nn_ref_conv_free(aic_nn_ref_conv_t **conv);

#endif
