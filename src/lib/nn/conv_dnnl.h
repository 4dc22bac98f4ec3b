/* oneDNN implementation of conv.h's plans (conv_dnnl.c); conv_plan.c dispatches to it. Keeps
 * every oneDNN 2.x API call in one file (the 2.x C API changed in 3.x). */
#ifndef AIC_NN_CONV_DNNL_H
#define AIC_NN_CONV_DNNL_H

#include "conv.h"

typedef struct aic_nn_dnnl_conv aic_nn_dnnl_conv_t;

/* Builds the primitive for desc (repacks the weights; desc->weight and bias are borrowed for
 * the call only). Returns 0, AIC_EINVAL, AIC_ENOMEM or AIC_EUNSUPPORTED. */
int aic_nn_dnnl_conv_create(const aic_nn_conv_desc_t *desc, int threads, aic_nn_dnnl_conv_t **out);
/* Same contract as aic_nn_conv_run. */
int aic_nn_dnnl_conv_run(aic_nn_dnnl_conv_t *conv, const void *src, void *dst);
void aic_nn_dnnl_conv_free(aic_nn_dnnl_conv_t **conv);
/* Input channels the primitive sees per channel of the layer: 1 when it runs natively, 2 or 3
 * when the input is split for exactness (conv_dnnl.c); 0 for NULL. For tests and benchmarks. */
int aic_nn_dnnl_conv_groups(const aic_nn_dnnl_conv_t *conv);

#endif
