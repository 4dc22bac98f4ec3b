/* An rANS coder with two interleaved 32-bit states ("lanes"), byte-wise renormalisation and
 * 16-bit probabilities.
 *
 * The coder sees only (start, freq) pairs out of a total of 1 << 16; the tables live in
 * entropy/cdf.h. rANS is last-in first-out: the encoder must be fed the operations in the
 * REVERSE of the order the decoder will perform them, each on the same lane as in the decoder.
 * aic_rans_enc_finish() then reverses the bytes so that the decoder reads forward.
 *
 * Stream layout: the decoder's initial state of lane 0, then of lane 1 (4 bytes each,
 * little-endian), then the renormalisation bytes of both lanes in the order the decoder
 * consumes them. An empty sequence is 8 bytes: AIC_RANS_L twice.
 *
 * Why two lanes: decoding a symbol is one long dependency chain (state -> slot -> table search
 * -> state); with consecutive symbols on alternate lanes, the CPU overlaps two chains. Measured
 * on x86-64: 1.35x faster decoding when neighbouring symbols share a table, 1.05x when every
 * symbol picks a random one (then mispredicted search lengths dominate), for 4 extra bytes per
 * stream. The lanes share one byte
 * stream; since every operation reads and writes its bytes in exactly mirrored order, any
 * assignment of operations to lanes decodes, as long as both sides use the same one.
 *
 * Why these constants: with each state kept in [L, 256 L) = [2^23, 2^31) and 16-bit
 * frequencies, every encode step emits at most 2 bytes and every decode step reads at most 2,
 * the state fits in 32 bits with room for (x / freq) << 16, and the coding loss from the
 * integer division is far below 0.1% (ryg_rans uses the same numbers).
 *
 * Neither side allocates per symbol or keeps global state: the structs below are the whole
 * state, so separate coders may run on separate threads. */
#ifndef AIC_ENTROPY_RANS_H
#define AIC_ENTROPY_RANS_H

#include <stddef.h>
#include <stdint.h>

#include "aic/error.h"
/* Relative to this header, so that targets without src/lib on their include path (the fuzzers)
 * can include the entropy headers too. */
#include "../core/buf.h"

#define AIC_RANS_PREC_BITS 16
#define AIC_RANS_TOTAL (1u << AIC_RANS_PREC_BITS)
#define AIC_RANS_L (1u << 23)
#define AIC_RANS_LANES 2u
/* An encode step writes at most this many bytes (freq 1 needs 16 bits shifted out). */
#define AIC_RANS_MAX_BYTES_PER_OP 2u
/* Bypass (equiprobable) bits are coded at most this many per operation. */
#define AIC_RANS_MAX_BYPASS_BITS 16u

typedef struct aic_rans_enc {
  uint32_t x[AIC_RANS_LANES];
  aic_buf_t *out; /* borrowed; the stream is appended after out->size at init */
  size_t base;    /* out->size at init: where this stream starts */
} aic_rans_enc_t;

typedef struct aic_rans_dec {
  uint32_t x[AIC_RANS_LANES];
  const uint8_t *p;   /* next byte to read */
  const uint8_t *end; /* one past the last byte of the stream */
  int overrun;        /* sticky: the decoder wanted a byte past `end` */
} aic_rans_dec_t;

/* Starts a stream appended to `out` (which keeps ownership of its storage). Returns 0 or
 * AIC_EINVAL. */
int aic_rans_enc_init(aic_rans_enc_t *e, aic_buf_t *out);

/* Makes room for `ops` more operations, so that the next `ops` calls of put/put_bits cannot
 * fail. Returns 0 or AIC_ENOMEM. */
static inline int aic_rans_enc_reserve(aic_rans_enc_t *e, size_t ops) {
  if (ops > SIZE_MAX / AIC_RANS_MAX_BYTES_PER_OP) return AIC_ENOMEM;
  if (e->out->cap - e->out->size >= ops * AIC_RANS_MAX_BYTES_PER_OP) return AIC_OK;
  return aic_buf_reserve(e->out, ops * AIC_RANS_MAX_BYTES_PER_OP);
}

/* Codes the interval [start, start + freq) of 1 << 16 on lane `lane` (0 or 1). Needs
 * 1 <= freq, start + freq <= 1 << 16 and room reserved with aic_rans_enc_reserve (the caller's
 * tables are validated, so this does not check again in the hot loop). */
static inline void aic_rans_enc_put(aic_rans_enc_t *e, unsigned lane, uint32_t start,
                                    uint32_t freq) {
  uint32_t x = e->x[lane];
  /* Largest state that still maps into [L, 256 L) after the step. */
  uint32_t x_max = ((AIC_RANS_L >> AIC_RANS_PREC_BITS) << 8) * freq;
  aic_buf_t *b = e->out;
  while (x >= x_max) {
    b->data[b->size++] = (uint8_t)x;
    x >>= 8;
  }
  e->x[lane] = ((x / freq) << AIC_RANS_PREC_BITS) + (x % freq) + start;
}

/* Codes the low `nbits` (1..16) bits of `v` as equiprobable bits, as one operation. */
static inline void aic_rans_enc_put_bits(aic_rans_enc_t *e, unsigned lane, uint32_t v,
                                         unsigned nbits) {
  unsigned shift = AIC_RANS_PREC_BITS - nbits;
  uint32_t mask = (1u << nbits) - 1u;
  aic_rans_enc_put(e, lane, (v & mask) << shift, 1u << shift);
}

/* Flushes the states and turns the appended bytes into the forward stream. Returns 0 or
 * AIC_ENOMEM (then out->size is back where init found it). */
int aic_rans_enc_finish(aic_rans_enc_t *e);

/* Drops everything appended since init (for error paths). */
void aic_rans_enc_abort(aic_rans_enc_t *e);

/* Reads the initial states. Returns 0, or AIC_ECORRUPT when the stream is shorter than 8 bytes
 * or a state is one no encoder can produce. `data` stays borrowed. */
int aic_rans_dec_init(aic_rans_dec_t *d, const uint8_t *data, size_t size);

/* The slot in [0, 1 << 16) that the next symbol's interval must contain. */
static inline uint32_t aic_rans_dec_peek(const aic_rans_dec_t *d, unsigned lane) {
  return d->x[lane] & (AIC_RANS_TOTAL - 1u);
}

/* Consumes the symbol whose interval [start, start + freq) contains the peeked slot. Reading
 * past the end sets `overrun` and leaves the state at L so loops still terminate; the caller
 * checks `overrun` (or aic_rans_dec_finish) before trusting anything it decoded. */
static inline void aic_rans_dec_advance(aic_rans_dec_t *d, unsigned lane, uint32_t start,
                                        uint32_t freq) {
  uint32_t x = d->x[lane];
  x = freq * (x >> AIC_RANS_PREC_BITS) + (x & (AIC_RANS_TOTAL - 1u)) - start;
  while (x < AIC_RANS_L) {
    if (d->p == d->end) {
      d->overrun = 1;
      x = AIC_RANS_L;
      break;
    }
    x = (x << 8) | *d->p++;
  }
  d->x[lane] = x;
}

/* Reads `nbits` (1..16) equiprobable bits written by aic_rans_enc_put_bits. */
static inline uint32_t aic_rans_dec_get_bits(aic_rans_dec_t *d, unsigned lane, unsigned nbits) {
  unsigned shift = AIC_RANS_PREC_BITS - nbits;
  uint32_t v = aic_rans_dec_peek(d, lane) >> shift;
  aic_rans_dec_advance(d, lane, v << shift, 1u << shift);
  return v;
}

/* The end check, after the last symbol: returns 0 when the stream was read exactly to its end
 * and both states came back to the encoder's initial value, AIC_ECORRUPT otherwise. */
int aic_rans_dec_finish(const aic_rans_dec_t *d);

#endif
