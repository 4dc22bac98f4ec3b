/* A growable byte buffer used by codec backends to write their output. */
#ifndef AIC_CORE_BUF_H
#define AIC_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct aic_buf {
  uint8_t *data;
  size_t size;
  size_t cap;
} aic_buf_t;

/* Makes room for at least `extra` more bytes after `size`. Returns 0 or AIC_ENOMEM. */
int aic_buf_reserve(aic_buf_t *buf, size_t extra);

/* Frees the storage and zeroes the buffer. */
void aic_buf_free(aic_buf_t *buf);

/* Hands the storage to the caller (who frees it with free()) and zeroes the buffer. */
uint8_t *aic_buf_release(aic_buf_t *buf, size_t *size);

#endif
