#include "entropy/latent_coder.h"

#include "aic/error.h"

/* Consecutive symbols alternate lanes, so the CPU can decode two at a time. */
static inline unsigned lane_of(size_t k) {
  return (unsigned)(k & 1);
}

static int tables_ok(const aic_cdf_table_t *tables, size_t n) {
  if (!tables) return 0;
  for (size_t i = 0; i < n; i++)
    if (aic_cdf_validate(&tables[i]) != AIC_OK) return 0;
  return 1;
}

/* n_channels x n_per_channel, refusing a product that does not fit. */
static int factorized_count(size_t n_channels, size_t n_per_channel, size_t *n) {
  if (n_channels == 0) return 0;
  if (n_per_channel > SIZE_MAX / sizeof(int32_t) / n_channels) return 0;
  *n = n_channels * n_per_channel;
  return 1;
}

int aic_entropy_encode_factorized(const aic_cdf_table_t *tables, size_t n_channels,
                                  const int32_t *symbols, size_t n_per_channel, aic_buf_t *out) {
  size_t n;
  if (!out || !factorized_count(n_channels, n_per_channel, &n) || (n && !symbols))
    return AIC_EINVAL;
  if (!tables_ok(tables, n_channels)) return AIC_EINVAL;
  aic_rans_enc_t e;
  int rc = aic_rans_enc_init(&e, out);
  if (rc != AIC_OK) return rc;
  /* rANS is LIFO: the last symbol goes in first. Symbol k of the stream is on lane k % 2.
   * (n == 0 skips the loop: symbols may be NULL then, and NULL + 0 is undefined.) */
  for (size_t c = n ? n_channels : 0; c-- > 0;) {
    const aic_cdf_table_t *t = &tables[c];
    const int32_t *row = symbols + c * n_per_channel;
    for (size_t i = n_per_channel; i-- > 0;) {
      rc = aic_cdf_put_value(&e, lane_of(c * n_per_channel + i), t, row[i]);
      if (rc != AIC_OK) goto error;
    }
  }
  return aic_rans_enc_finish(&e);
error:
  aic_rans_enc_abort(&e);
  return rc;
}

/* The reference decoder of a run of symbols: one symbol at a time through the generic
 * per-lane primitives. Symbol i of the run has stream position k0 + i (which fixes its lane) and
 * table tables[index[i]], or tables[0] for all when index is NULL. */
static int decode_run_ref(aic_rans_dec_t *d, size_t k0, const aic_cdf_table_t *tables,
                          const uint8_t *index, int32_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const aic_cdf_table_t *t = index ? &tables[index[i]] : tables;
    /* Stop at the first sign of damage instead of decoding garbage to the end. */
    if (aic_cdf_get_value(d, lane_of(k0 + i), t, &out[i]) != AIC_OK || d->overrun)
      return AIC_ECORRUPT;
  }
  return AIC_OK;
}

/* Brings a decoder state back into [L, 256 L) after a step (at most two bytes). */
static inline int renorm(uint32_t *x, const uint8_t **p, const uint8_t *end) {
  while (*x < AIC_RANS_L) {
    if (*p == end) return AIC_ECORRUPT;
    *x = (*x << 8) | *(*p)++;
  }
  return AIC_OK;
}

/* The same, two symbols per iteration with both states in registers, so that the two table
 * searches (the long part of each step) run side by side. Pairs with an escape go through
 * decode_run_ref. Tested against it in tests/unit/test_entropy.c. */
static inline int decode_run_fast(aic_rans_dec_t *d, size_t k0, const aic_cdf_table_t *tables,
                                  const uint8_t *index, int32_t *out, size_t n) {
  size_t i = 0;
  if (n > 0 && lane_of(k0) == 1) { /* align the pairs on lane 0 */
    if (decode_run_ref(d, k0, tables, index, out, 1) != AIC_OK) return AIC_ECORRUPT;
    i = 1;
  }
  uint32_t x0 = d->x[0], x1 = d->x[1];
  const uint8_t *p = d->p, *end = d->end;
  for (; i + 1 < n; i += 2) {
    const aic_cdf_table_t *ta = index ? &tables[index[i]] : tables;
    const aic_cdf_table_t *tb = index ? &tables[index[i + 1]] : tables;
    uint32_t sa = aic_cdf_find(ta, x0 & (AIC_RANS_TOTAL - 1u));
    uint32_t sb = aic_cdf_find(tb, x1 & (AIC_RANS_TOTAL - 1u));
    if (sa == ta->count - 1 || sb == tb->count - 1) {
      d->x[0] = x0;
      d->x[1] = x1;
      d->p = p;
      if (decode_run_ref(d, k0 + i, tables, index ? index + i : NULL, out + i, 2) != AIC_OK)
        return AIC_ECORRUPT;
      x0 = d->x[0];
      x1 = d->x[1];
      p = d->p;
      continue;
    }
    x0 = (ta->cdf[sa + 1] - ta->cdf[sa]) * (x0 >> AIC_RANS_PREC_BITS) +
         (x0 & (AIC_RANS_TOTAL - 1u)) - ta->cdf[sa];
    if (renorm(&x0, &p, end) != AIC_OK) return AIC_ECORRUPT;
    x1 = (tb->cdf[sb + 1] - tb->cdf[sb]) * (x1 >> AIC_RANS_PREC_BITS) +
         (x1 & (AIC_RANS_TOTAL - 1u)) - tb->cdf[sb];
    if (renorm(&x1, &p, end) != AIC_OK) return AIC_ECORRUPT;
    out[i] = (int32_t)((int64_t)ta->offset + sa);
    out[i + 1] = (int32_t)((int64_t)tb->offset + sb);
  }
  d->x[0] = x0;
  d->x[1] = x1;
  d->p = p;
  if (i < n) return decode_run_ref(d, k0 + i, tables, index ? index + i : NULL, out + i, 1);
  return AIC_OK;
}

typedef int (*decode_run_fn)(aic_rans_dec_t *, size_t, const aic_cdf_table_t *, const uint8_t *,
                             int32_t *, size_t);

static int decode_run_fast_fn(aic_rans_dec_t *d, size_t k0, const aic_cdf_table_t *tables,
                              const uint8_t *index, int32_t *out, size_t n) {
  return decode_run_fast(d, k0, tables, index, out, n);
}

static int decode_factorized(const aic_cdf_table_t *tables, size_t n_channels, const uint8_t *data,
                             size_t size, int32_t *symbols, size_t n_per_channel,
                             decode_run_fn run) {
  size_t n;
  if (!factorized_count(n_channels, n_per_channel, &n) || (n && !symbols) || (size && !data))
    return AIC_EINVAL;
  if (!tables_ok(tables, n_channels)) return AIC_EINVAL;
  aic_rans_dec_t d;
  int rc = aic_rans_dec_init(&d, data, size);
  if (rc != AIC_OK) return rc;
  for (size_t c = 0; n && c < n_channels; c++) {
    size_t k0 = c * n_per_channel;
    if (run(&d, k0, &tables[c], NULL, symbols + k0, n_per_channel) != AIC_OK) return AIC_ECORRUPT;
  }
  return aic_rans_dec_finish(&d);
}

int aic_entropy_decode_factorized(const aic_cdf_table_t *tables, size_t n_channels,
                                  const uint8_t *data, size_t size, int32_t *symbols,
                                  size_t n_per_channel) {
  return decode_factorized(tables, n_channels, data, size, symbols, n_per_channel,
                           decode_run_fast_fn);
}

int aic_entropy_decode_factorized_ref(const aic_cdf_table_t *tables, size_t n_channels,
                                      const uint8_t *data, size_t size, int32_t *symbols,
                                      size_t n_per_channel) {
  return decode_factorized(tables, n_channels, data, size, symbols, n_per_channel, decode_run_ref);
}

static int indexed_args_ok(const aic_cdf_table_t *tables, size_t n_tables, const uint8_t *index,
                           const int32_t *symbols, size_t n) {
  if (n_tables < 1 || n_tables > AIC_ENTROPY_MAX_TABLES) return 0;
  if (n > SIZE_MAX / sizeof(int32_t) || (n && (!index || !symbols))) return 0;
  return tables_ok(tables, n_tables);
}

/* Checked once up front so that the hot loops index tables[] without a test. */
static int indices_ok(const uint8_t *index, size_t n, size_t n_tables) {
  uint8_t max = 0;
  for (size_t i = 0; i < n; i++) max = index[i] > max ? index[i] : max;
  return n == 0 || max < n_tables;
}

int aic_entropy_encode_indexed(const aic_cdf_table_t *tables, size_t n_tables, const uint8_t *index,
                               const int32_t *symbols, size_t n, aic_buf_t *out) {
  if (!out || !indexed_args_ok(tables, n_tables, index, symbols, n)) return AIC_EINVAL;
  if (!indices_ok(index, n, n_tables)) return AIC_EINVAL;
  aic_rans_enc_t e;
  int rc = aic_rans_enc_init(&e, out);
  if (rc != AIC_OK) return rc;
  for (size_t i = n; i-- > 0;) {
    rc = aic_cdf_put_value(&e, lane_of(i), &tables[index[i]], symbols[i]);
    if (rc != AIC_OK) goto error;
  }
  return aic_rans_enc_finish(&e);
error:
  aic_rans_enc_abort(&e);
  return rc;
}

static int decode_indexed(const aic_cdf_table_t *tables, size_t n_tables, const uint8_t *index,
                          const uint8_t *data, size_t size, int32_t *symbols, size_t n,
                          decode_run_fn run) {
  if (!indexed_args_ok(tables, n_tables, index, symbols, n) || (size && !data)) return AIC_EINVAL;
  if (!indices_ok(index, n, n_tables)) return AIC_ECORRUPT;
  aic_rans_dec_t d;
  int rc = aic_rans_dec_init(&d, data, size);
  if (rc != AIC_OK) return rc;
  if (run(&d, 0, tables, index, symbols, n) != AIC_OK) return AIC_ECORRUPT;
  return aic_rans_dec_finish(&d);
}

int aic_entropy_decode_indexed(const aic_cdf_table_t *tables, size_t n_tables, const uint8_t *index,
                               const uint8_t *data, size_t size, int32_t *symbols, size_t n) {
  return decode_indexed(tables, n_tables, index, data, size, symbols, n, decode_run_fast_fn);
}

int aic_entropy_decode_indexed_ref(const aic_cdf_table_t *tables, size_t n_tables,
                                   const uint8_t *index, const uint8_t *data, size_t size,
                                   int32_t *symbols, size_t n) {
  return decode_indexed(tables, n_tables, index, data, size, symbols, n, decode_run_ref);
}
