/* Integer CDF tables for the rANS coder, and coding of one int32 value under one table.
 *
 * A table codes the values offset .. offset + count - 2 as symbols 0 .. count - 2; the last
 * symbol (count - 1) is the escape. A value outside the table's range is coded as the escape
 * followed by bypass bits (see "Escapes" below), so every int32 value can be coded under any
 * table, and a model only has to cover the values it expects.
 *
 * Bit-exactness: the decoder only ever looks at the integer cdf[] of a table. Tables shipped
 * with a model are read from the model file and checked with aic_cdf_validate(); the float
 * builders (aic_cdf_from_pmf here, aic_gaussian_tables_build in latent_coder.h) are for the
 * exporter's reference and for tests, and are deterministic for the same float inputs.
 *
 * Escapes: after the escape symbol, one bypass bit says whether the value lies below the
 * table (1) or above it (0), then its distance d >= 1 from the nearest end of the range is
 * written Elias-gamma style: n = floor(log2 d) zero bits, a one bit, then the n low bits of d
 * (at most 16 per rANS operation). d < 2^32 for any int32 value, so n <= 31 and a decoder that
 * reads a 32nd zero prefix bit knows the stream is corrupt. The gamma code is cheap for the small
 * overshoots that a narrow table produces, and all bits go through the same rANS stream, so
 * there is no second stream to keep in sync. */
#ifndef AIC_ENTROPY_CDF_H
#define AIC_ENTROPY_CDF_H

#include <stddef.h>
#include <stdint.h>

#include "aic/error.h"
#include "rans.h" /* relative, as in rans.h */

/* Most symbols (escape included) a table may have. Every symbol costs at least 1/65536 of the
 * probability mass, so 8192 symbols already give 1/8 of the mass to the frequency floor: a
 * larger table is a malformed model file, not a useful one (CompressAI's widest Gaussian table,
 * scale 256 at tail mass 1e-9, has about 3100 symbols). */
#define AIC_CDF_MAX_SYMBOLS 8192u

typedef struct aic_cdf_table {
  uint32_t count; /* symbols including the escape, 2 .. AIC_CDF_MAX_SYMBOLS */
  int32_t offset; /* the value of symbol 0 */
  /* count + 1 entries: cdf[0] = 0, cdf[count] = 1 << 16, strictly increasing, so every symbol
   * has a frequency of at least 1. Owned by whoever filled the table: the builders below
   * allocate it (release with aic_cdf_table_clear); a model loader fills its own. */
  uint32_t *cdf;
} aic_cdf_table_t;

/* Checks everything the coders rely on: count in range, cdf[0] = 0, cdf[count] = 1 << 16,
 * strictly increasing, and offset + count - 2 representable as int32. Returns 0 or AIC_EINVAL
 * (a model loader reports that as AIC_ECORRUPT for its file). */
int aic_cdf_validate(const aic_cdf_table_t *t);

/* Builds a table for the values offset .. offset + n_values - 1 with probabilities pmf[] and
 * an escape symbol of probability escape_mass. The probabilities need not sum to 1 (they are
 * normalised); each must be finite and in [0, 1], and not all may be 0.
 *
 * Determinism: each probability is rounded once, to a multiple of 2^-32 (llround of an exact
 * power-of-two scaling, so the same doubles always give the same integers on any IEEE
 * machine); everything after that is integer arithmetic. This runs when a model is exported or
 * loaded, not per image, but encoder and decoder sides must still agree bit for bit when both
 * build from the same floats, hence no float arithmetic past the rounding.
 *
 * The integer step: the smallest masses get the floor of 1 for as long as their proportional
 * share of what is left would be below 1 (water-filling); the other symbols split the
 * remaining units in proportion to their masses, by floor division, and the units the floors
 * leave go one each to the largest remainders, ties to the lower symbol. The total is exactly
 * 1 << 16 and every frequency is at least 1.
 *
 * Returns 0 (out then owns a new cdf), AIC_EINVAL, or AIC_ENOMEM. */
int aic_cdf_from_pmf(const double *pmf, size_t n_values, double escape_mass, int32_t offset,
                     aic_cdf_table_t *out);

/* Frees a cdf allocated by the builders and zeroes the table. */
void aic_cdf_table_clear(aic_cdf_table_t *t);

/* The symbol whose interval holds `slot`: the largest s with cdf[s] <= slot.
 *
 * A branch-free binary search over cdf[] rather than a slot-to-symbol lookup table: a full
 * table would be 1 << 16 entries per cdf (128 KiB, times 64 scales), and even a reduced 12-bit
 * table costs 8 KiB per cdf and a fix-up scan; the model's tables are small (tens to a few
 * thousand symbols, i.e. 5-12 steps that stay in L1), so the search is about as fast and needs
 * no memory beyond the model's own tables. */
static inline uint32_t aic_cdf_find(const aic_cdf_table_t *t, uint32_t slot) {
  const uint32_t *base = t->cdf;
  uint32_t len = t->count;
  while (len > 1) {
    uint32_t half = len >> 1;
    base = base[half] <= slot ? base + half : base;
    len -= half;
  }
  return (uint32_t)(base - t->cdf);
}

/* Escape paths, kept out of line: they are rare by construction. */
int aic_cdf_put_escape(aic_rans_enc_t *e, unsigned lane, const aic_cdf_table_t *t, int32_t v);
int aic_cdf_get_escape(aic_rans_dec_t *d, unsigned lane, const aic_cdf_table_t *t, int32_t *v);

/* Codes `v` under `t` (which must be valid) on one lane, escape bits included. Values are
 * coded in the reverse of their decoding order, like every rANS operation. Returns 0 or
 * AIC_ENOMEM. */
static inline int aic_cdf_put_value(aic_rans_enc_t *e, unsigned lane, const aic_cdf_table_t *t,
                                    int32_t v) {
  int64_t s = (int64_t)v - t->offset;
  if (s < 0 || s >= (int64_t)t->count - 1) return aic_cdf_put_escape(e, lane, t, v);
  int rc = aic_rans_enc_reserve(e, 1);
  if (rc != AIC_OK) return rc;
  aic_rans_enc_put(e, lane, t->cdf[s], t->cdf[s + 1] - t->cdf[s]);
  return AIC_OK;
}

/* Decodes one value under `t` (which must be valid) from one lane. Returns 0 or AIC_ECORRUPT (a
 * malformed escape); running out of bytes shows up in d->overrun and aic_rans_dec_finish. */
static inline int aic_cdf_get_value(aic_rans_dec_t *d, unsigned lane, const aic_cdf_table_t *t,
                                    int32_t *v) {
  uint32_t s = aic_cdf_find(t, aic_rans_dec_peek(d, lane));
  aic_rans_dec_advance(d, lane, t->cdf[s], t->cdf[s + 1] - t->cdf[s]);
  if (s == t->count - 1) return aic_cdf_get_escape(d, lane, t, v);
  *v = (int32_t)((int64_t)t->offset + s);
  return AIC_OK;
}

#endif
