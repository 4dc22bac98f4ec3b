#include "core/buf.h"

#include <stdlib.h>

#include "aic/error.h"

int aic_buf_reserve(aic_buf_t *buf, size_t extra) {
  if (!buf) return AIC_EINVAL;
  if (extra > SIZE_MAX - buf->size) return AIC_ENOMEM;
  size_t need = buf->size + extra;
  if (need <= buf->cap) return AIC_OK;
  size_t cap = buf->cap ? buf->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *p = realloc(buf->data, cap);
  if (!p) return AIC_ENOMEM;
  buf->data = p;
  buf->cap = cap;
  return AIC_OK;
}

void aic_buf_free(aic_buf_t *buf) {
  if (!buf) return;
  free(buf->data);
  buf->data = NULL;
  buf->size = buf->cap = 0;
}

uint8_t *aic_buf_release(aic_buf_t *buf, size_t *size) {
  uint8_t *p = buf->data;
  if (size) *size = buf->size;
  buf->data = NULL;
  buf->size = buf->cap = 0;
  return p;
}
