/* The reference Gaussian conditional tables (see aic_gaussian_tables_build in
 * latent_coder.h). Runs at export time and in tests only: decoders get their tables from the
 * model file, so the libm calls here never decide what a decoder sees. */
#include <math.h>
#include <stdlib.h>

#include "aic/error.h"
#include "entropy/latent_coder.h"

/* The widest half width: 2 W + 1 values plus the escape must fit in a table. */
#define AIC_GAUSS_MAX_HALF_WIDTH ((AIC_CDF_MAX_SYMBOLS - 2) / 2)

double aic_gaussian_scale(size_t i, size_t n_scales, double scale_min, double scale_max) {
  if (n_scales < 2) return scale_min;
  double lmin = log(scale_min), lmax = log(scale_max);
  return exp(lmin + (double)i * (lmax - lmin) / (double)(n_scales - 1));
}

/* P(Y > t) for Y ~ N(0, s^2); erfc keeps the far tail accurate where 1 - cdf would cancel. */
static double upper_tail(double t, double s) {
  return 0.5 * erfc(t / (s * sqrt(2.0)));
}

/* The smallest W with P(|Y| > W + 1/2) <= tail_mass, by bisection (the tail is monotone). */
static uint32_t half_width(double s, double tail_mass) {
  uint32_t lo = 0, hi = AIC_GAUSS_MAX_HALF_WIDTH;
  if (2.0 * upper_tail(hi + 0.5, s) > tail_mass) return hi;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (2.0 * upper_tail(mid + 0.5, s) <= tail_mass)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

static int build_one(double s, double tail_mass, double *pmf, aic_cdf_table_t *t) {
  uint32_t w = half_width(s, tail_mass);
  for (uint32_t i = 0; i <= 2 * w; i++) {
    double a = fabs((double)i - (double)w);
    pmf[i] = upper_tail(a - 0.5, s) - upper_tail(a + 0.5, s);
  }
  double escape = 2.0 * upper_tail(w + 0.5, s);
  return aic_cdf_from_pmf(pmf, 2 * (size_t)w + 1, escape, -(int32_t)w, t);
}

void aic_cdf_tables_clear(aic_cdf_table_t *tables, size_t n) {
  if (!tables) return;
  for (size_t i = 0; i < n; i++) aic_cdf_table_clear(&tables[i]);
}

int aic_gaussian_tables_build(size_t n_scales, double scale_min, double scale_max, double tail_mass,
                              aic_cdf_table_t *tables) {
  if (!tables || n_scales < 1 || n_scales > AIC_ENTROPY_MAX_TABLES) return AIC_EINVAL;
  if (!(scale_min > 0.0 && scale_min <= scale_max && isfinite(scale_max))) return AIC_EINVAL;
  if (n_scales == 1 && scale_min != scale_max) return AIC_EINVAL;
  if (!(tail_mass > 0.0 && tail_mass < 1.0)) return AIC_EINVAL;
  double *pmf = malloc((2 * AIC_GAUSS_MAX_HALF_WIDTH + 1) * sizeof *pmf);
  if (!pmf) return AIC_ENOMEM;
  int rc = AIC_OK;
  size_t built = 0;
  for (; built < n_scales; built++) {
    double s = aic_gaussian_scale(built, n_scales, scale_min, scale_max);
    rc = build_one(s, tail_mass, pmf, &tables[built]);
    if (rc != AIC_OK) break;
  }
  free(pmf);
  if (rc != AIC_OK) aic_cdf_tables_clear(tables, built);
  return rc;
}
