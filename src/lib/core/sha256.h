/* SHA-256 (FIPS 180-4), used to check model files (docs/model-format.md). libaic links no
 * crypto library, and a model file only needs an integrity check, not speed. */
#ifndef AIC_CORE_SHA256_H
#define AIC_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define AIC_SHA256_SIZE 32

typedef struct aic_sha256 {
  uint32_t h[8];
  uint64_t bytes; /* message length so far */
  uint8_t block[64];
  size_t fill; /* bytes waiting in block */
} aic_sha256_t;

/* These cannot fail: every argument must be valid (data may be NULL only when size is 0). */
void aic_sha256_init(aic_sha256_t *s);
void aic_sha256_update(aic_sha256_t *s, const void *data, size_t size);
/* Writes the digest; `s` must be initialized again before reuse. */
void aic_sha256_final(aic_sha256_t *s, uint8_t out[AIC_SHA256_SIZE]);
/* One-shot digest of `size` bytes. */
void aic_sha256(const void *data, size_t size, uint8_t out[AIC_SHA256_SIZE]);

#endif
