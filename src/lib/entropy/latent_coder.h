/* Entropy coding of a learned codec's integer latents under the model's probability tables.
 *
 * Two coders, one per kind of prior:
 *  - factorized: one table per channel, shared by every position of that channel (the
 *    hyper-latent z of a hyperprior model, or y of a factorized-prior model);
 *  - indexed: every symbol names its own table by a uint8 index into a shared set (the
 *    Gaussian conditional of y: the model turns the predicted scale into a table index with its
 *    own integer arithmetic, so both sides choose the same table bit for bit).
 *
 * Each call codes one self-contained rANS stream (entropy/rans.h) and APPENDS it to `out`;
 * framing several streams (z then y) is the container's job. The size of the stream is the
 * real number of bytes the latents cost: 4 bytes of final state plus the coded bits.
 *
 * Ownership: tables, symbols, index and data are borrowed for the call. On success `out` has
 * grown by the stream; on any error out->size is unchanged (its capacity may have grown).
 * Decoders fill symbols[] (garbage on error).
 *
 * Every function is reentrant: no global state, no allocation beyond `out`. */
#ifndef AIC_ENTROPY_LATENT_CODER_H
#define AIC_ENTROPY_LATENT_CODER_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h" /* relative, as in rans.h */
#include "cdf.h"

/* The most tables an indexed coder can address. */
#define AIC_ENTROPY_MAX_TABLES 256u

/* symbols is channel-major, n_channels x n_per_channel (C x H x W), coded with tables[c] for
 * channel c. n_channels >= 1; every table must pass aic_cdf_validate. Any int32 is codable.
 * Returns 0, AIC_EINVAL (bad argument or table), or AIC_ENOMEM. */
int aic_entropy_encode_factorized(const aic_cdf_table_t *tables, size_t n_channels,
                                  const int32_t *symbols, size_t n_per_channel, aic_buf_t *out);

/* Decodes exactly n_channels x n_per_channel symbols from the whole of data[0..size).
 * Returns 0, AIC_EINVAL (bad argument or table), or AIC_ECORRUPT (the stream ends early, has
 * bytes left over, fails the end-of-stream state check, or holds a malformed escape). */
int aic_entropy_decode_factorized(const aic_cdf_table_t *tables, size_t n_channels,
                                  const uint8_t *data, size_t size, int32_t *symbols,
                                  size_t n_per_channel);

/* symbols[i] is coded with tables[index[i]]. 1 <= n_tables <= AIC_ENTROPY_MAX_TABLES.
 * Returns 0, AIC_EINVAL (bad argument or table, or an index >= n_tables), or AIC_ENOMEM. */
int aic_entropy_encode_indexed(const aic_cdf_table_t *tables, size_t n_tables, const uint8_t *index,
                               const int32_t *symbols, size_t n, aic_buf_t *out);

/* Decodes n symbols from the whole of data[0..size). An index >= n_tables gives AIC_ECORRUPT,
 * since at decode time the indices come from decoded side information. Otherwise as
 * aic_entropy_decode_factorized. */
int aic_entropy_decode_indexed(const aic_cdf_table_t *tables, size_t n_tables, const uint8_t *index,
                               const uint8_t *data, size_t size, int32_t *symbols, size_t n);

/* Reference decoders: the same contract and results as the two above, one symbol at a time
 * through the generic rANS primitives. The default decoders decode two symbols per step; tests
 * and the fuzzer check them against these. */
int aic_entropy_decode_factorized_ref(const aic_cdf_table_t *tables, size_t n_channels,
                                      const uint8_t *data, size_t size, int32_t *symbols,
                                      size_t n_per_channel);
int aic_entropy_decode_indexed_ref(const aic_cdf_table_t *tables, size_t n_tables,
                                   const uint8_t *index, const uint8_t *data, size_t size,
                                   int32_t *symbols, size_t n);

/* The scale of table i of n_scales: log-spaced from scale_min to scale_max,
 * exp(log(min) + i * (log(max) - log(min)) / (n_scales - 1)) (CompressAI's layout). Exporter
 * reference only: the model maps its predicted scales to indices itself. */
double aic_gaussian_scale(size_t i, size_t n_scales, double scale_min, double scale_max);

/* Builds the standard zero-mean Gaussian conditional tables into tables[0..n_scales): for
 * scale s, the values -W..W with W the smallest half width whose two-sided tail beyond W + 0.5
 * is at most tail_mass (W <= 4095), pmf(v) = P(v - 1/2 < Y < v + 1/2) for Y ~ N(0, s^2) from
 * erfc in double, the tail as the escape's mass, then aic_cdf_from_pmf.
 *
 * erfc comes from the C library and may differ by an ulp between libms, which could move a
 * frequency by one unit. That is why this is a reference for the exporter and for tests only:
 * the tables a decoder uses are read from the model file (integers, checked with
 * aic_cdf_validate), so no libm result can ever reach the decoder at run time.
 *
 * 1 <= n_scales <= AIC_ENTROPY_MAX_TABLES, 0 < scale_min <= scale_max (equal when
 * n_scales == 1), 0 < tail_mass < 1. Returns 0 (free the tables with aic_cdf_tables_clear),
 * AIC_EINVAL, or AIC_ENOMEM (then nothing is left allocated). */
int aic_gaussian_tables_build(size_t n_scales, double scale_min, double scale_max, double tail_mass,
                              aic_cdf_table_t *tables);

/* aic_cdf_table_clear on each of n tables. */
void aic_cdf_tables_clear(aic_cdf_table_t *tables, size_t n);

#endif
