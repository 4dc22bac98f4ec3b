/* libFuzzer target for the entropy coders (src/lib/entropy): hostile bitstreams under tables of
 * every shape must give a clean AIC_ECORRUPT or symbols that re-encode to exactly the same
 * bytes (the format is a bijection), never a crash, an out-of-bounds read or a leak.
 *
 * Input layout:
 *   [0]     flags: bit 0 round trip (the payload is symbols to encode, decode and compare, then
 *           a damaged copy is decoded) instead of decode; bit 1 the indexed decoder gets one
 *           out-of-range index; bit 2 the tables are raw cdf values from the input (the
 *           validator decides) instead of built from a shape
 *   [1]     number of tables - 1 (mod 8)
 *   [2..3]  number of symbols, little-endian, at most 2048
 *   then per table 3 bytes (count, shape, offset), plus 2 bytes per cdf entry in raw mode
 *   rest    the payload
 * Every size is bounded, so memory stays small whatever the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* src/lib is not on the fuzzers' include path; these headers find their own dependencies. */
#include "../src/lib/entropy/latent_coder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TABLES 8
#define MAX_SYMBOLS 2048
#define MAX_COUNT 66

typedef struct reader {
  const uint8_t *p;
  size_t left;
} reader_t;

static int take(reader_t *r, size_t n, const uint8_t **out) {
  if (r->left < n) return 0;
  *out = r->p;
  r->p += n;
  r->left -= n;
  return 1;
}

/* A table from a one-byte shape: weights from a few integer families (flat, geometric, peaked,
 * hashed), as exact dyadic doubles so the builder's result is a function of the input alone. */
static int shaped_table(uint32_t count, uint8_t shape, int32_t offset, aic_cdf_table_t *t) {
  double pmf[MAX_COUNT];
  uint32_t n = count - 1;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t w;
    switch (shape & 3) {
      case 0: w = 1; break;
      case 1: w = 1u << (i < 30 ? 30 - i : 0); break;
      case 2: w = i == n / 2 ? 1u << 30 : (shape >> 2); break;
      default: w = ((i + 1) * 2654435761u * (shape | 1u)) >> 16; break;
    }
    pmf[i] = (double)w * 0x1.0p-30;
  }
  double escape = (shape & 0x80) ? 0.0 : 0x1.0p-20;
  return aic_cdf_from_pmf(pmf, n, escape, offset, t);
}

/* A table straight from the input, valid or not. */
static void raw_table(uint32_t count, const uint8_t *b, int32_t offset, uint32_t *cdf,
                      aic_cdf_table_t *t) {
  cdf[0] = 0;
  for (uint32_t i = 1; i < count; i++) cdf[i] = (uint32_t)b[2 * i] | (uint32_t)b[2 * i + 1] << 8;
  cdf[count] = 1u << 16;
  *t = (aic_cdf_table_t){.count = count, .offset = offset, .cdf = cdf};
}

/* Decodes with both coders, each through the fast and the reference decoder: the two must agree,
 * and any success must re-encode to the same bytes. */
static void decode_both(const aic_cdf_table_t *t, size_t nt, const uint8_t *idx, int idx_bad,
                        size_t n, const uint8_t *bs, size_t bs_size, int32_t *sym, int32_t *ref) {
  size_t per = n / nt;
  int rc = aic_entropy_decode_factorized(t, nt, bs, bs_size, sym, per);
  if (rc != AIC_OK && rc != AIC_ECORRUPT) abort();
  if (aic_entropy_decode_factorized_ref(t, nt, bs, bs_size, ref, per) != rc) abort();
  aic_buf_t re = {0};
  if (rc == AIC_OK) {
    if (memcmp(sym, ref, nt * per * sizeof *sym) != 0) abort();
    if (aic_entropy_encode_factorized(t, nt, sym, per, &re) != AIC_OK) abort();
    if (re.size != bs_size || memcmp(re.data, bs, bs_size) != 0) abort();
    aic_buf_free(&re);
  }
  rc = aic_entropy_decode_indexed(t, nt, idx, bs, bs_size, sym, n);
  if (rc != AIC_OK && rc != AIC_ECORRUPT) abort();
  if (idx_bad && rc != AIC_ECORRUPT) abort();
  if (aic_entropy_decode_indexed_ref(t, nt, idx, bs, bs_size, ref, n) != rc) abort();
  if (rc == AIC_OK) {
    if (memcmp(sym, ref, n * sizeof *sym) != 0) abort();
    if (aic_entropy_encode_indexed(t, nt, idx, sym, n, &re) != AIC_OK) abort();
    if (re.size != bs_size || memcmp(re.data, bs, bs_size) != 0) abort();
    aic_buf_free(&re);
  }
}

/* Symbols from the payload: one byte each around the table, 0x80 starts a raw int32 so that
 * escapes of every size are reached. */
static size_t payload_symbols(reader_t *r, int32_t bias, int32_t *sym, size_t n) {
  size_t k = 0;
  const uint8_t *b;
  while (k < n && take(r, 1, &b)) {
    const uint8_t *v;
    if (b[0] == 0x80 && take(r, 4, &v))
      sym[k++] = (int32_t)((uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
                           (uint32_t)v[3] << 24);
    else
      sym[k++] = (int32_t)((uint32_t)bias + (uint32_t)(int32_t)(int8_t)b[0]); /* wraps */
  }
  return k;
}

static void round_trip(const aic_cdf_table_t *t, size_t nt, const uint8_t *idx, reader_t *r,
                       size_t n, int32_t *sym, int32_t *dec, int32_t *ref) {
  const uint8_t *flip;
  if (!take(r, 2, &flip)) return;
  n = payload_symbols(r, t[0].offset, sym, n);
  size_t per = n / nt;
  aic_buf_t out = {0};
  if (aic_entropy_encode_factorized(t, nt, sym, per, &out) != AIC_OK) abort();
  if (aic_entropy_decode_factorized(t, nt, out.data, out.size, dec, per) != AIC_OK) abort();
  if (memcmp(dec, sym, nt * per * sizeof *sym) != 0) abort();
  aic_buf_free(&out);
  if (aic_entropy_encode_indexed(t, nt, idx, sym, n, &out) != AIC_OK) abort();
  if (aic_entropy_decode_indexed(t, nt, idx, out.data, out.size, dec, n) != AIC_OK) abort();
  if (memcmp(dec, sym, n * sizeof *sym) != 0) abort();
  /* One flipped bit, then decode the damaged stream with both coders. */
  size_t at = ((size_t)flip[0] | (size_t)flip[1] << 8) % (out.size * 8);
  out.data[at / 8] ^= (uint8_t)(1u << (at % 8));
  decode_both(t, nt, idx, 0, n, out.data, out.size, dec, ref);
  aic_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader_t r = {data, size};
  const uint8_t *h;
  if (!take(&r, 4, &h)) return 0;
  int round = h[0] & 1, bad_index = h[0] & 2, raw = h[0] & 4;
  size_t nt = 1 + h[1] % MAX_TABLES;
  size_t n = ((size_t)h[2] | (size_t)h[3] << 8) % (MAX_SYMBOLS + 1);

  aic_cdf_table_t t[MAX_TABLES];
  uint32_t raw_cdf[MAX_TABLES][MAX_COUNT + 1];
  size_t built = 0;
  int valid = 1;
  for (; built < nt; built++) {
    const uint8_t *b;
    if (!take(&r, 3, &b)) break;
    uint32_t count = 2 + b[0] % (MAX_COUNT - 1);
    /* Offsets near both ends of int32 too, where escapes overflow if done wrong. */
    int32_t offset = (b[2] & 0xc0) == 0xc0   ? INT32_MAX - (int32_t)count + 2 - (b[2] & 7)
                     : (b[2] & 0xc0) == 0x80 ? INT32_MIN + (b[2] & 7)
                                             : (int8_t)b[2];
    if (raw) {
      const uint8_t *c;
      if (!take(&r, 2 * count, &c)) break;
      raw_table(count, c, offset, raw_cdf[built], &t[built]);
      if (aic_cdf_validate(&t[built]) != AIC_OK) valid = 0;
    } else if (shaped_table(count, b[1], offset, &t[built]) != AIC_OK) {
      break; /* only an offset too close to INT32_MAX: not an interesting input */
    }
  }
  uint8_t idx[MAX_SYMBOLS];
  int32_t *sym = malloc(MAX_SYMBOLS * sizeof *sym);
  int32_t *dec = malloc(MAX_SYMBOLS * sizeof *dec);
  int32_t *ref = malloc(MAX_SYMBOLS * sizeof *ref);
  if (built < nt || !sym || !dec || !ref) goto done;
  for (size_t i = 0; i < n; i++) idx[i] = (uint8_t)((i * 7 + (i >> 3)) % nt);
  if (!valid) {
    /* Malformed tables never reach the coder. */
    aic_buf_t out = {0};
    if (aic_entropy_encode_factorized(t, nt, sym, 0, &out) != AIC_EINVAL) abort();
    if (aic_entropy_decode_indexed(t, nt, idx, r.p, r.left, dec, 0) != AIC_EINVAL) abort();
    goto done;
  }
  if (round) {
    round_trip(t, nt, idx, &r, n, sym, dec, ref);
  } else {
    int idx_bad = bad_index && n > 0;
    if (idx_bad) idx[n / 2] = (uint8_t)nt;
    decode_both(t, nt, idx, idx_bad, n, r.p, r.left, dec, ref);
  }
done:
  if (!raw) aic_cdf_tables_clear(t, built);
  free(sym);
  free(dec);
  free(ref);
  return 0;
}
