/* Little-endian integers in byte buffers: every format libaic reads or writes (bitstream
 * header, codec payloads, model files) is little-endian whatever the host. */
#ifndef AIC_CORE_BYTEORDER_H
#define AIC_CORE_BYTEORDER_H

#include <stdint.h>

static inline void aic_put_le16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static inline void aic_put_le32(uint8_t *p, uint32_t v) {
  aic_put_le16(p, v & 0xFFFFu);
  aic_put_le16(p + 2, v >> 16);
}

static inline uint32_t aic_get_le16(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t aic_get_le32(const uint8_t *p) {
  return aic_get_le16(p) | aic_get_le16(p + 2) << 16;
}

static inline uint64_t aic_get_le64(const uint8_t *p) {
  return (uint64_t)aic_get_le32(p) | (uint64_t)aic_get_le32(p + 4) << 32;
}

#endif
