/* Convolution plans (conv.h): one object in front of the two implementations. AUTO prefers
 * oneDNN and falls back to the reference when oneDNN cannot build the layer; the environment
 * variable AIC_NN_IMPL=ref|dnnl pins AUTO to one of them (for benchmarks and for checking one
 * implementation against the other without rebuilding). */
#include <stdlib.h>
#include <string.h>

#include "aic/error.h"
#include "conv_dnnl.h"
#include "conv_internal.h"

struct aic_nn_conv_plan {
  aic_nn_impl_t impl; /* REF or DNNL */
  aic_nn_ref_conv_t *ref;
  aic_nn_dnnl_conv_t *dnnl;
};

aic_nn_impl_t aic_nn_impl_resolve(aic_nn_impl_t requested) {
  if (requested != AIC_NN_IMPL_AUTO) return requested;
  const char *env = getenv("AIC_NN_IMPL");
  if (env && strcmp(env, "ref") == 0) return AIC_NN_IMPL_REF;
  if (env && strcmp(env, "dnnl") == 0) return AIC_NN_IMPL_DNNL;
  return AIC_NN_IMPL_AUTO;
}

int aic_nn_conv_plan_create(const aic_nn_conv_desc_t *desc, aic_nn_impl_t impl, int threads,
                            aic_nn_conv_plan_t **out) {
  if (!out) return AIC_EINVAL;
  *out = NULL;
  if (threads < 1 || aic_nn_conv_desc_check(desc) != AIC_OK) return AIC_EINVAL;
  if (impl != AIC_NN_IMPL_AUTO && impl != AIC_NN_IMPL_REF && impl != AIC_NN_IMPL_DNNL)
    return AIC_EINVAL;
  impl = aic_nn_impl_resolve(impl);
  aic_nn_conv_plan_t *p = calloc(1, sizeof *p);
  if (!p) return AIC_ENOMEM;
  int rc = AIC_EUNSUPPORTED;
  if (impl != AIC_NN_IMPL_REF) {
    rc = aic_nn_dnnl_conv_create(desc, threads, &p->dnnl);
    p->impl = AIC_NN_IMPL_DNNL;
    /* Only "cannot do it" falls back; a memory failure is a failure whichever kernel runs. */
    if (rc != AIC_OK && (impl == AIC_NN_IMPL_DNNL || rc != AIC_EUNSUPPORTED)) goto fail;
  }
  if (rc != AIC_OK) {
    rc = aic_nn_ref_conv_create(desc, &p->ref);
    p->impl = AIC_NN_IMPL_REF;
    if (rc != AIC_OK) goto fail;
  }
  *out = p;
  return AIC_OK;
fail:
  aic_nn_conv_plan_free(&p);
  return rc;
}

void aic_nn_conv_plan_free(aic_nn_conv_plan_t **plan) {
  if (!plan || !*plan) return;
  aic_nn_ref_conv_free(&(*plan)->ref);
  aic_nn_dnnl_conv_free(&(*plan)->dnnl);
  free(*plan);
  *plan = NULL;
}

aic_nn_impl_t aic_nn_conv_plan_impl(const aic_nn_conv_plan_t *plan) {
  return plan ? plan->impl : AIC_NN_IMPL_REF;
}

int aic_nn_conv_run(aic_nn_conv_plan_t *plan, const void *src, void *dst) {
  if (!plan || !src || !dst) return AIC_EINVAL;
  if (plan->impl == AIC_NN_IMPL_DNNL) return aic_nn_dnnl_conv_run(plan->dnnl, src, dst);
  return aic_nn_ref_conv_run(plan->ref, src, dst);
}
