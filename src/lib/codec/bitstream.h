/* The header every AIC bitstream starts with (layout in docs/bitstream.md): enough for a
 * receiver to decode a frame with nothing else, and a CRC so corruption is caught before any
 * codec sees the payload. */
#ifndef AIC_CODEC_BITSTREAM_H
#define AIC_CODEC_BITSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aic/codec.h"
#include "aic/frame.h"

#define AIC_BITSTREAM_VERSION 1
#define AIC_BITSTREAM_HEADER_SIZE 32

enum { AIC_BS_FLAG_KEYFRAME = 1u << 0 };

typedef struct aic_bitstream_header {
  aic_codec_id_t codec;
  uint8_t flags;
  aic_frame_t desc;  /* data/size unused: size is derived from the description */
  uint16_t model_id; /* 0: none */
  uint16_t model_version;
  uint32_t payload_size;
} aic_bitstream_header_t;

/* Writes the header for `payload` into out[0..31], computing the CRC over the header and the
 * payload. For audio, desc->size gives the sample count. Returns 0 or AIC_EINVAL / AIC_ELIMIT
 * (payload over 4 GiB). */
int aic_bitstream_header_write(const aic_bitstream_header_t *h, const uint8_t *payload,
                               uint8_t out[AIC_BITSTREAM_HEADER_SIZE]);

/* Parses and checks a whole bitstream: magic, version, header size, enum ranges, declared
 * payload size against the bytes present, CRC. On success fills *h with desc.size set to the
 * raw frame size, and *payload to the payload inside `buf`. Returns 0 or AIC_ECORRUPT with a
 * reason in `why`. Dimensions are checked against `limits`. */
int aic_bitstream_parse(const uint8_t *buf, size_t size, const aic_frame_limits_t *limits,
                        aic_bitstream_header_t *h, const uint8_t **payload, char *why,
                        size_t why_size);

#endif
