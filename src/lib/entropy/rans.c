#include "entropy/rans.h"

#include "aic/error.h"

int aic_rans_enc_init(aic_rans_enc_t *e, aic_buf_t *out) {
  if (!e || !out) return AIC_EINVAL;
  for (unsigned l = 0; l < AIC_RANS_LANES; l++) e->x[l] = AIC_RANS_L;
  e->out = out;
  e->base = out->size;
  return AIC_OK;
}

void aic_rans_enc_abort(aic_rans_enc_t *e) {
  if (e && e->out) e->out->size = e->base;
}

int aic_rans_enc_finish(aic_rans_enc_t *e) {
  int rc = aic_buf_reserve(e->out, 4 * AIC_RANS_LANES);
  if (rc != AIC_OK) {
    aic_rans_enc_abort(e);
    return rc;
  }
  aic_buf_t *b = e->out;
  /* Last lane first and most significant byte first, so that after the reversal below the
   * stream opens with lane 0's state, then lane 1's, each little-endian. */
  for (unsigned l = AIC_RANS_LANES; l-- > 0;)
    for (int i = 3; i >= 0; i--) b->data[b->size++] = (uint8_t)(e->x[l] >> (8 * i));
  for (size_t i = e->base, j = b->size - 1; i < j; i++, j--) {
    uint8_t t = b->data[i];
    b->data[i] = b->data[j];
    b->data[j] = t;
  }
  return AIC_OK;
}

int aic_rans_dec_init(aic_rans_dec_t *d, const uint8_t *data, size_t size) {
  if (!d || (!data && size)) return AIC_EINVAL;
  for (unsigned l = 0; l < AIC_RANS_LANES; l++) d->x[l] = AIC_RANS_L;
  d->p = d->end = data;
  d->overrun = 0;
  if (size < 4 * AIC_RANS_LANES) return AIC_ECORRUPT;
  for (unsigned l = 0; l < AIC_RANS_LANES; l++, data += 4) {
    uint32_t x = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                 (uint32_t)data[3] << 24;
    /* The encoder's states never leave [L, 256 L); anything else cannot have been written by
     * it, and letting it through would break the decoder's no-overflow arithmetic. */
    if (x < AIC_RANS_L || x >= AIC_RANS_L << 8) return AIC_ECORRUPT;
    d->x[l] = x;
  }
  d->p = data;
  d->end = data + (size - 4 * AIC_RANS_LANES);
  return AIC_OK;
}

int aic_rans_dec_finish(const aic_rans_dec_t *d) {
  if (d->overrun || d->p != d->end) return AIC_ECORRUPT;
  for (unsigned l = 0; l < AIC_RANS_LANES; l++)
    if (d->x[l] != AIC_RANS_L) return AIC_ECORRUPT;
  return AIC_OK;
}
