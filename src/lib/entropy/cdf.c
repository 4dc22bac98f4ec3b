#include "entropy/cdf.h"

#include <math.h>
#include <stdlib.h>

int aic_cdf_validate(const aic_cdf_table_t *t) {
  if (!t || !t->cdf) return AIC_EINVAL;
  if (t->count < 2 || t->count > AIC_CDF_MAX_SYMBOLS) return AIC_EINVAL;
  if ((int64_t)t->offset + (int64_t)(t->count - 2) > INT32_MAX) return AIC_EINVAL;
  const uint32_t *cdf = t->cdf;
  if (cdf[0] != 0 || cdf[t->count] != AIC_RANS_TOTAL) return AIC_EINVAL;
  for (uint32_t i = 0; i < t->count; i++)
    if (cdf[i + 1] <= cdf[i]) return AIC_EINVAL;
  return AIC_OK;
}

void aic_cdf_table_clear(aic_cdf_table_t *t) {
  if (!t) return;
  free(t->cdf);
  t->cdf = NULL;
  t->count = 0;
  t->offset = 0;
}

typedef struct keyed {
  uint64_t key;
  uint32_t idx;
} keyed_t;

/* Both orders are total (the index breaks ties), so qsort's instability cannot make the
 * result depend on the C library. */
static int by_key_up(const void *pa, const void *pb) {
  const keyed_t *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int by_key_down(const void *pa, const void *pb) {
  const keyed_t *a = pa, *b = pb;
  if (a->key != b->key) return a->key > b->key ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Integer frequencies from the rounded masses q[0..count), written to freq[0..count). */
static void quantize(const uint64_t *q, uint32_t count, uint64_t total_q, keyed_t *k,
                     uint32_t *freq) {
  for (uint32_t i = 0; i < count; i++) k[i] = (keyed_t){q[i], i};
  qsort(k, count, sizeof *k, by_key_up);
  /* Water-filling: the smallest masses get the floor of 1 as long as their proportional share
   * of what is left would be below 1. The largest mass always qualifies (total_q > 0), so the
   * loop stops with at least one proportional symbol. */
  uint32_t floored = 0;
  uint64_t rest = total_q;
  while (floored < count - 1 && k[floored].key * (AIC_RANS_TOTAL - floored) < rest) {
    rest -= k[floored].key;
    freq[k[floored].idx] = 1;
    floored++;
  }
  /* q <= 2^32 and the budget <= 2^16, so the products fit in 64 bits. */
  uint64_t budget = AIC_RANS_TOTAL - floored;
  uint64_t given = 0;
  keyed_t *prop = k + floored;
  uint32_t n_prop = count - floored;
  for (uint32_t j = 0; j < n_prop; j++) {
    uint64_t num = prop[j].key * budget;
    freq[prop[j].idx] = (uint32_t)(num / rest);
    given += num / rest;
    prop[j].key = num % rest;
  }
  /* The floors leave fewer than n_prop units: one each to the largest remainders. */
  qsort(prop, n_prop, sizeof *prop, by_key_down);
  for (uint64_t j = 0; j < budget - given; j++) freq[prop[j].idx]++;
}

int aic_cdf_from_pmf(const double *pmf, size_t n_values, double escape_mass, int32_t offset,
                     aic_cdf_table_t *out) {
  if (!out || !pmf || n_values < 1 || n_values > AIC_CDF_MAX_SYMBOLS - 1) return AIC_EINVAL;
  if ((int64_t)offset + (int64_t)(n_values - 1) > INT32_MAX) return AIC_EINVAL;
  uint32_t count = (uint32_t)n_values + 1;
  uint64_t *q = malloc(count * sizeof *q);
  keyed_t *k = malloc(count * sizeof *k);
  uint32_t *cdf = malloc((count + 1) * sizeof *cdf);
  int rc = AIC_ENOMEM;
  if (!q || !k || !cdf) goto error;
  rc = AIC_EINVAL;
  uint64_t total_q = 0;
  for (uint32_t i = 0; i < count; i++) {
    double p = i < n_values ? pmf[i] : escape_mass;
    if (!(p >= 0.0 && p <= 1.0)) goto error; /* also refuses NaN */
    /* The only rounding: p * 2^32 is exact, llround is correctly rounded. */
    q[i] = (uint64_t)llround(ldexp(p, 32));
    total_q += q[i];
  }
  if (total_q == 0) goto error;
  quantize(q, count, total_q, k, cdf + 1);
  cdf[0] = 0;
  for (uint32_t i = 0; i < count; i++) cdf[i + 1] += cdf[i];
  aic_cdf_table_t t = {.count = count, .offset = offset, .cdf = cdf};
  if (aic_cdf_validate(&t) != AIC_OK) goto error; /* cannot happen; keeps the contract local */
  free(q);
  free(k);
  *out = t;
  return AIC_OK;
error:
  free(q);
  free(k);
  free(cdf);
  return rc;
}

/* The table's value range [lo, hi]. Validation keeps hi within int32. */
static int64_t range_lo(const aic_cdf_table_t *t) {
  return t->offset;
}
static int64_t range_hi(const aic_cdf_table_t *t) {
  return (int64_t)t->offset + t->count - 2;
}

int aic_cdf_put_escape(aic_rans_enc_t *e, unsigned lane, const aic_cdf_table_t *t, int32_t v) {
  uint32_t below = v < range_lo(t);
  uint64_t d = below ? (uint64_t)(range_lo(t) - v) : (uint64_t)(v - range_hi(t));
  unsigned n = 0;
  while (d >> (n + 1)) n++;
  /* escape + side + prefix (n + 1) + at most two mantissa chunks */
  int rc = aic_rans_enc_reserve(e, n + 5);
  if (rc != AIC_OK) return rc;
  /* The decoder's order, reversed: mantissa (low chunk last), prefix, side, escape symbol. */
  if (n > AIC_RANS_MAX_BYPASS_BITS) {
    aic_rans_enc_put_bits(e, lane, (uint32_t)d, AIC_RANS_MAX_BYPASS_BITS);
    aic_rans_enc_put_bits(e, lane, (uint32_t)(d >> AIC_RANS_MAX_BYPASS_BITS),
                          n - AIC_RANS_MAX_BYPASS_BITS);
  } else if (n > 0) {
    aic_rans_enc_put_bits(e, lane, (uint32_t)d, n);
  }
  aic_rans_enc_put_bits(e, lane, 1, 1);
  for (unsigned i = 0; i < n; i++) aic_rans_enc_put_bits(e, lane, 0, 1);
  aic_rans_enc_put_bits(e, lane, below, 1);
  uint32_t esc = t->count - 1;
  aic_rans_enc_put(e, lane, t->cdf[esc], AIC_RANS_TOTAL - t->cdf[esc]);
  return AIC_OK;
}

int aic_cdf_get_escape(aic_rans_dec_t *d, unsigned lane, const aic_cdf_table_t *t, int32_t *v) {
  uint32_t below = aic_rans_dec_get_bits(d, lane, 1);
  unsigned n = 0;
  while (aic_rans_dec_get_bits(d, lane, 1) == 0)
    if (++n > 31) return AIC_ECORRUPT; /* no int32 is that far from any table */
  uint64_t dist = (uint64_t)1 << n;
  if (n > AIC_RANS_MAX_BYPASS_BITS) {
    dist |= (uint64_t)aic_rans_dec_get_bits(d, lane, n - AIC_RANS_MAX_BYPASS_BITS)
            << AIC_RANS_MAX_BYPASS_BITS;
    dist |= aic_rans_dec_get_bits(d, lane, AIC_RANS_MAX_BYPASS_BITS);
  } else if (n > 0) {
    dist |= aic_rans_dec_get_bits(d, lane, n);
  }
  int64_t val = below ? range_lo(t) - (int64_t)dist : range_hi(t) + (int64_t)dist;
  if (val < INT32_MIN || val > INT32_MAX) return AIC_ECORRUPT;
  *v = (int32_t)val;
  return AIC_OK;
}
